//! `vrf-bench`: ECVRF-P256-SHA256-TAI prove and verify throughput on one
//! core (this process is single-threaded). Build in release:
//!
//! ```text
//! cargo build --release -p nsl-vrf --bin vrf-bench
//! target/release/vrf-bench [--seconds S]
//! ```
//!
//! Prints operations per second of wall time and per second of this thread's
//! CPU time (from `/proc/thread-self/stat`, so that a loaded machine still
//! shows what one fully available core does), microseconds per operation,
//! and the load average. Goal (issue #11): prove >= 5,000/s,
//! verify >= 3,000/s on one core.

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
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average at start: {}", load.trim());
    }

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

    let (n, timing) = run(budget, |i| {
        black_box(prove(&sk, black_box(&alpha(i))));
    });
    report("prove", n, timing, 5_000.0);

    let (n, timing) = run(budget, |i| {
        let (a, proof) = &proofs[(i % 512) as usize];
        black_box(verify(&pk, black_box(a), black_box(proof)).expect("valid proof"));
    });
    report("verify", n, timing, 3_000.0);
}

/// Wall time and this thread's CPU time of a run.
struct Timing {
    wall: Duration,
    cpu: Option<Duration>,
}

/// This thread's user + system CPU time (Linux; clock ticks of 10 ms).
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the
    // parenthesised command name.
    let rest = stat.rsplit_once(") ")?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Call `op(i)` for i = 0, 1, ... until `budget` has passed; count and time.
fn run(budget: Duration, mut op: impl FnMut(u64)) -> (u64, Timing) {
    let cpu_start = thread_cpu();
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        for _ in 0..64 {
            op(n);
            n += 1;
        }
        let wall = start.elapsed();
        if wall >= budget {
            let cpu = cpu_start
                .zip(thread_cpu())
                .map(|(a, b)| b.saturating_sub(a))
                .filter(|d| !d.is_zero());
            return (n, Timing { wall, cpu });
        }
    }
}

fn report(name: &str, n: u64, t: Timing, goal: f64) {
    let per_wall_sec = n as f64 / t.wall.as_secs_f64();
    let per_cpu_sec = t.cpu.map(|c| n as f64 / c.as_secs_f64());
    let micros = t.wall.as_secs_f64() * 1e6 / n as f64;
    let best = per_cpu_sec.unwrap_or(per_wall_sec);
    let verdict = if best >= goal { "meets" } else { "BELOW" };
    let cpu = per_cpu_sec.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.0}"));
    println!(
        "{name:<7} {per_wall_sec:>7.0} /s wall  {cpu:>7} /CPU-s  {micros:>7.1} us/op wall  \
         ({n} ops in {:.2} s; goal {goal:.0}/s per core: {verdict})",
        t.wall.as_secs_f64()
    );
}

fn usage() -> ! {
    eprintln!("usage: vrf-bench [--seconds S]   (S in (0, 600], default 3)");
    std::process::exit(2);
}
