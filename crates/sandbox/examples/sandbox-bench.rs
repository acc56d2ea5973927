//! Throughput and latency of trivial executions, each in a fresh isolated runtime + context,
//! on 1 and 2 threads, next to a process-per-execution Node.js baseline (`node -e`).
//!
//! Run: `cargo run --release -p nsl-sandbox --example sandbox-bench [-- ITERATIONS NODE_ITERATIONS]`

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nsl_sandbox::{ExecutionRequest, NoFetch, NoSecrets, Sandbox, SandboxConfig, Status};

const SOURCE: &str =
    "export default async function main(args) { return { sum: args.a + args.b }; }";
const NODE_SOURCE: &str = "async function main(args) { return { sum: args.a + args.b }; } \
     main(JSON.parse(process.argv[1])).then(r => process.stdout.write(JSON.stringify(r)));";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(idx).copied().unwrap_or_default()
}

/// CPU time (user + system) of the calling thread, from /proc (10 ms resolution).
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // CLK_TCK is 100 on Linux.
    Some(Duration::from_millis((utime + stime) * 10))
}

struct Figures {
    label: String,
    count: usize,
    wall: Duration,
    lat: Vec<Duration>,
    /// CPU time the executing threads used (None when /proc is unavailable or for node).
    cpu: Option<Duration>,
}

impl Figures {
    fn print(&self) {
        let rate = self.count as f64 / self.wall.as_secs_f64();
        let per_cpu = match self.cpu {
            Some(cpu) if !cpu.is_zero() => {
                format!("{:>9.1}", self.count as f64 / cpu.as_secs_f64())
            }
            _ => format!("{:>9}", "-"),
        };
        println!(
            "{:<34} {:>6} runs {:>9.1} exec/s (wall) {per_cpu} exec/CPU-s  p50 {:>8.3} ms  p99 {:>8.3} ms",
            self.label,
            self.count,
            rate,
            percentile(&self.lat, 0.50).as_secs_f64() * 1e3,
            percentile(&self.lat, 0.99).as_secs_f64() * 1e3,
        );
    }
    fn rate(&self) -> f64 {
        self.count as f64 / self.wall.as_secs_f64()
    }
}

fn sandbox_run(sandbox: &Arc<Sandbox>, threads: usize, per_thread: usize) -> Figures {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let sandbox = sandbox.clone();
            std::thread::spawn(move || {
                let mut lat = Vec::with_capacity(per_thread);
                let cpu0 = thread_cpu();
                for i in 0..per_thread {
                    let req = ExecutionRequest {
                        source: SOURCE.to_string(),
                        args: serde_json::json!({ "a": i, "b": t }),
                        ..ExecutionRequest::default()
                    };
                    let t0 = Instant::now();
                    let report = sandbox.execute(&req);
                    lat.push(t0.elapsed());
                    assert_eq!(report.status, Status::Ok, "{report:?}");
                }
                let cpu = match (cpu0, thread_cpu()) {
                    (Some(a), Some(b)) => Some(b.saturating_sub(a)),
                    _ => None,
                };
                (lat, cpu)
            })
        })
        .collect();
    let mut lat = Vec::new();
    let mut cpu = Some(Duration::ZERO);
    for h in handles {
        match h.join() {
            Ok((l, c)) => {
                lat.extend(l);
                cpu = cpu.zip(c).map(|(a, b)| a + b);
            }
            Err(_) => panic!("bench thread panicked"),
        }
    }
    let wall = start.elapsed();
    lat.sort();
    Figures {
        label: format!("nsl-sandbox, {threads} thread(s)"),
        count: threads * per_thread,
        wall,
        lat,
        cpu,
    }
}

fn node_run(threads: usize, per_thread: usize) -> Option<Figures> {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let mut lat = Vec::with_capacity(per_thread);
                for i in 0..per_thread {
                    let t0 = Instant::now();
                    let out = Command::new("node")
                        .arg("-e")
                        .arg(NODE_SOURCE)
                        .arg(format!("{{\"a\":{i},\"b\":{t}}}"))
                        .output()
                        .ok()?;
                    lat.push(t0.elapsed());
                    if !out.status.success() {
                        return None;
                    }
                }
                Some(lat)
            })
        })
        .collect();
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.join().ok()??);
    }
    let wall = start.elapsed();
    lat.sort();
    Some(Figures {
        label: format!("node -e per execution, {threads} thr"),
        count: threads * per_thread,
        wall,
        lat,
        cpu: None,
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let iterations: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let node_iterations: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(40);
    let sandbox = Arc::new(Sandbox::new(
        SandboxConfig::default(),
        Arc::new(NoFetch),
        Arc::new(NoSecrets),
    ));
    // Warm-up.
    let _ = sandbox_run(&sandbox, 1, 200);
    println!(
        "trivial function, fresh runtime+context per execution; {} CPU(s) available",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    let s1 = sandbox_run(&sandbox, 1, iterations);
    let s2 = sandbox_run(&sandbox, 2, iterations / 2);
    s1.print();
    s2.print();
    let n1 = node_run(1, node_iterations);
    let n2 = node_run(2, node_iterations / 2);
    match (n1, n2) {
        (Some(n1), Some(n2)) => {
            n1.print();
            n2.print();
            println!(
                "speed-up vs node: {:.0}x (1 thread), {:.0}x (2 threads)",
                s1.rate() / n1.rate(),
                s2.rate() / n2.rate()
            );
        }
        _ => println!("node baseline unavailable (is `node` on PATH?)"),
    }
}
