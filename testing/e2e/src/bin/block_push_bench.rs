//! How late a follower learns of a new block: woken by neo-go's pushed `block_added` versus
//! polling `getblockcount` every 100 ms (the oracle follower's two modes). Prints figures; asserts
//! nothing.
//!
//! ```sh
//! cargo run -p nsl-e2e --bin block-push-bench -- [BLOCKS=150] [BLOCK_MS=100] [POLL_MS=100]
//! ```
//!
//! One privnet; four tasks watch it at once:
//! - `probe`: `getblockcount` every 2 ms: the first sighting of each height approximates the
//!   moment the block was persisted (neo-go answers the new count once the block is stored);
//! - `push`: the follower loop of `nsl_oracle` with block push: `getblockcount`, then wait for a
//!   pushed block (`EventStream`) or the poll interval;
//! - `poll`: the same loop without push (sleep the poll interval);
//! - `event`: the arrival of the `block_added` event itself.
//!
//! The delay of a height is its sighting by a task minus the earliest sighting by any task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use neo_rpc::RpcClient;
use neo_rpc::ws::{Event, EventStream, StreamItem, StreamOptions, Subscription};
use nsl_e2e::{ChainConfig, start_chain_with};
use tokio::sync::Notify;

type Seen = Arc<Mutex<HashMap<u32, Instant>>>;

fn record(seen: &Seen, heights: std::ops::RangeInclusive<u32>, at: Instant) {
    let mut map = seen.lock().unwrap();
    for h in heights {
        map.entry(h).or_insert(at);
    }
}

/// A follower loop: read the height, then wait for `wake` (if any) or `interval`.
async fn follower(rpc: RpcClient, interval: Duration, wake: Option<Arc<Notify>>, seen: Seen) {
    let mut known: Option<u32> = None;
    loop {
        if let Ok(count) = rpc.get_block_count().await {
            let height = count - 1;
            let at = Instant::now();
            if let Some(k) = known
                && height > k
            {
                record(&seen, k + 1..=height, at);
            }
            known = Some(known.map_or(height, |k| k.max(height)));
        }
        match &wake {
            Some(w) => {
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    () = w.notified() => {}
                }
            }
            None => tokio::time::sleep(interval).await,
        }
    }
}

fn stats(name: &str, delays: &mut [f64]) {
    delays.sort_by(f64::total_cmp);
    let n = delays.len();
    if n == 0 {
        println!("{name:>6}: no samples");
        return;
    }
    let pct = |p: f64| delays[((n as f64 - 1.0) * p).round() as usize];
    let mean = delays.iter().sum::<f64>() / n as f64;
    println!(
        "{name:>6}: n={n:>4}  mean {mean:6.1} ms  p50 {:6.1} ms  p90 {:6.1} ms  p99 {:6.1} ms  max {:6.1} ms",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        delays[n - 1]
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: BLOCKS BLOCK_MS POLL_MS"))
        .collect();
    let blocks = args.first().copied().unwrap_or(150) as u32;
    let block_ms = args.get(1).copied().unwrap_or(100);
    let poll = Duration::from_millis(args.get(2).copied().unwrap_or(100));
    let chain = start_chain_with(ChainConfig::with_block_time(Duration::from_millis(
        block_ms,
    )))
    .await;
    let rpc = chain.rpc().clone();
    let names = ["probe", "push", "poll", "event"];
    let seen: Vec<Seen> = names.iter().map(|_| Seen::default()).collect();

    let wake = Arc::new(Notify::new());
    let mut stream = EventStream::connect(
        chain.rpc_url(),
        vec![Subscription::blocks()],
        StreamOptions::default(),
    )
    .await
    .expect("neo-go serves /ws");
    let (w, event_seen) = (wake.clone(), seen[3].clone());
    let drops = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let d = drops.clone();
    let watcher = tokio::spawn(async move {
        loop {
            match stream.next().await {
                StreamItem::Event(Event::Block(b)) => {
                    record(&event_seen, b.index..=b.index, Instant::now());
                    w.notify_one();
                }
                StreamItem::Disconnected { .. } => {
                    d.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                _ => {}
            }
        }
    });
    let tasks = [
        tokio::spawn(follower(
            rpc.clone(),
            Duration::from_millis(2),
            None,
            seen[0].clone(),
        )),
        tokio::spawn(follower(rpc.clone(), poll, Some(wake), seen[1].clone())),
        tokio::spawn(follower(rpc.clone(), poll, None, seen[2].clone())),
    ];
    let start = rpc.get_block_count().await.unwrap();
    // Skip the first heights (tasks starting up), measure `blocks` heights.
    let (first, last) = (start + 3, start + 3 + blocks - 1);
    while rpc.get_block_count().await.unwrap() <= last + 2 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    watcher.abort();
    for t in tasks {
        t.abort();
    }
    let maps: Vec<_> = seen.iter().map(|s| s.lock().unwrap().clone()).collect();
    let mut delays: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for h in first..=last {
        let times: Vec<Option<Instant>> = maps.iter().map(|m| m.get(&h).copied()).collect();
        let Some(earliest) = times.iter().flatten().min().copied() else {
            continue;
        };
        for (i, t) in times.iter().enumerate() {
            if let Some(t) = t {
                delays[i].push(t.duration_since(earliest).as_secs_f64() * 1000.0);
            }
        }
    }
    println!(
        "block time {block_ms} ms, poll interval {} ms, heights {first}..={last}; \
         delay after the earliest sighting of each height:",
        poll.as_millis()
    );
    for (name, d) in names.iter().zip(delays.iter_mut()) {
        stats(name, d);
    }
    println!(
        "websocket disconnects during the run: {}",
        drops.load(std::sync::atomic::Ordering::Relaxed)
    );
}
