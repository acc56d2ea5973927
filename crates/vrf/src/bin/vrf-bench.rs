//! `vrf-bench`: ECVRF-P256-SHA256-TAI prove and verify throughput on one
//! core (this process is single-threaded). Build in release:
//!
//! ```text
//! cargo build --release -p nsl-vrf --bin vrf-bench
//! target/release/vrf-bench [--seconds S]
//! ```
//!
//! Prints operations per second and microseconds per operation. Goal
//! (issue #11): prove >= 5,000/s, verify >= 3,000/s on one core.

use std::hint::black_box;
use std::time::{Duration, Instant};

use nsl_vrf::{Proof, SecretKey, prove, verify};

fn main() {
    let mut seconds = 3.0_f64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--seconds", Some(v)) => match v.parse::<f64>() {
                Ok(s) if s > 0.0 && s <= 600.0 => seconds = s,
                _ => usage(),
            },
            _ => usage(),
        }
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; figures are meaningless. Use --release.");
    }
    let budget = Duration::from_secs_f64(seconds);

    // A fixed key and distinct 72-byte inputs (the size of a gateway alpha).
    let sk = SecretKey::from_bytes(&[0x5a; 32]).expect("valid scalar");
    let pk = sk.public_key();
    let alpha = |i: u64| {
        let mut a = [0u8; 72];
        a[..8].copy_from_slice(&i.to_be_bytes());
        a
    };

    // Warm up, and proofs for the verify run.
    let proofs: Vec<([u8; 72], Proof)> = (0..512)
        .map(|i| {
            let a = alpha(i);
            (a, prove(&sk, &a))
        })
        .collect();

    let (n, elapsed) = run(budget, |i| {
        black_box(prove(&sk, black_box(&alpha(i))));
    });
    report("prove", n, elapsed, 5_000.0);

    let (n, elapsed) = run(budget, |i| {
        let (a, proof) = &proofs[(i % 512) as usize];
        black_box(verify(&pk, black_box(a), black_box(proof)).expect("valid proof"));
    });
    report("verify", n, elapsed, 3_000.0);
}

/// Call `op(i)` for i = 0, 1, ... until `budget` has passed; count and time.
fn run(budget: Duration, mut op: impl FnMut(u64)) -> (u64, Duration) {
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        for _ in 0..64 {
            op(n);
            n += 1;
        }
        let elapsed = start.elapsed();
        if elapsed >= budget {
            return (n, elapsed);
        }
    }
}

fn report(name: &str, n: u64, elapsed: Duration, goal: f64) {
    let per_sec = n as f64 / elapsed.as_secs_f64();
    let micros = elapsed.as_secs_f64() * 1e6 / n as f64;
    let verdict = if per_sec >= goal { "meets" } else { "BELOW" };
    println!(
        "{name:<7} {per_sec:>9.0} /s  {micros:>8.1} us/op  ({n} ops in {:.2} s; goal {goal:.0}/s: {verdict})",
        elapsed.as_secs_f64()
    );
}

fn usage() -> ! {
    eprintln!("usage: vrf-bench [--seconds S]   (S in (0, 600], default 3)");
    std::process::exit(2);
}
