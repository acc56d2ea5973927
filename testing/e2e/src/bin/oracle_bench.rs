//! `oracle-bench`: how fast the oracle service answers a block full of requests on a privnet.
//!
//! ```text
//! cargo run --release -p nsl-e2e --bin oracle-bench -- [--rounds N] [--per-block 100]
//!     [--block-ms 1000] [--db sqlite|postgres] [--workers W] [--native PCT] [--warmup 1]
//!     [--poll-ms P] [--pool N] [--rpc-stats]
//! ```
//!
//! Starts a neo-go privnet (`--block-ms`, 1 s by default) with the node key designated for the
//! Oracle role, deploys the gateway and both example consumers, and runs the oracle service
//! (`nsl_oracle::service::OracleService`) in-process against a local HTTP price source. Each
//! round pre-signs `--per-block` request transactions (`--native` percent through Neo's native
//! OracleContract, the rest through the gateway consumer), sends them all right after a block
//! arrives so that they land in one block (checked and reported), and waits until every answer
//! is confirmed. Rounds do not overlap. `--warmup` rounds run first and are not counted.
//!
//! Printed: requests, how many were answered in the block after the request's block, two after,
//! ...; the node overhead (`nsl_oracle_overhead_seconds`: follower saw the block's events ->
//! response broadcast, minus the fetch) and the fetch time (`nsl_oracle_fetch_seconds`) as
//! p50/p99/max, read through this binary's own `metrics` recorder; store calls per request
//! (count and time by method); with `--rpc-stats`, the service's JSON-RPC calls by method
//! (count, time to first response byte), through a counting proxy in front of the node (one
//! more loopback hop, so overhead figures of such a run are slightly pessimistic).
//!
//! Figures only, no assertion; see `docs/benchmarks.md` for recorded runs.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use neo::tx::Transaction;
use neo_rpc::{ONE_GAS, RpcClient};
use nsl_e2e::{OracleChain, OracleChainConfig, price_server};
use nsl_egress::{Egress, EgressPolicy};
use nsl_oracle::service::{
    ChainEntry, NewRequest, OracleStore, OutboxRow, OutboxWrite, RequestDetail, RequestFilter,
    RequestRow, RequestState, ServiceConfig,
};
use nsl_store::{Backend, StoreResult, UnixMillis, test_utils::TestDb};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::watch;

const USAGE: &str = "usage: oracle-bench [--rounds N] [--per-block N] [--block-ms MS] \
    [--db sqlite|postgres] [--workers W] [--native PCT] [--warmup N] [--poll-ms MS] [--pool N] [--max-batch N] [--rpc-stats]";

#[derive(Debug, Clone)]
struct Args {
    rounds: usize,
    per_block: usize,
    block_ms: u64,
    db: Backend,
    workers: Option<usize>,
    native_pct: usize,
    warmup: usize,
    poll_ms: Option<u64>,
    pool: u32,
    max_batch: Option<usize>,
    rpc_stats: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        rounds: 5,
        per_block: 100,
        block_ms: 1000,
        db: Backend::Sqlite,
        workers: None,
        native_pct: 0,
        warmup: 1,
        poll_ms: None,
        pool: 10,
        max_batch: None,
        rpc_stats: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--rpc-stats" {
            args.rpc_stats = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--rounds" => args.rounds = num(&value)? as usize,
            "--per-block" => args.per_block = (num(&value)? as usize).max(1),
            "--block-ms" => args.block_ms = num(&value)?.max(50),
            "--workers" => args.workers = Some((num(&value)? as usize).max(1)),
            "--native" => args.native_pct = (num(&value)? as usize).min(100),
            "--warmup" => args.warmup = num(&value)? as usize,
            "--poll-ms" => args.poll_ms = Some(num(&value)?.max(1)),
            "--max-batch" => args.max_batch = Some((num(&value)? as usize).clamp(1, 256)),
            "--pool" => args.pool = u32::try_from(num(&value)?.clamp(1, 1000)).unwrap_or(10),
            "--db" => {
                args.db = match value.as_str() {
                    "sqlite" => Backend::Sqlite,
                    "postgres" | "postgresql" => Backend::Postgres,
                    other => return Err(format!("--db: sqlite or postgres, not {other}")),
                }
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------
// Metrics: a recorder that keeps every histogram sample.

#[derive(Default)]
struct Samples(Mutex<HashMap<String, Vec<f64>>>);

impl Samples {
    fn take(&self, name: &str) -> Vec<f64> {
        self.0
            .lock()
            .map(|mut m| m.remove(name).unwrap_or_default())
            .unwrap_or_default()
    }

    fn clear(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }
}

struct SampleHistogram {
    name: String,
    samples: Arc<Samples>,
}

impl metrics::HistogramFn for SampleHistogram {
    fn record(&self, value: f64) {
        if let Ok(mut m) = self.samples.0.lock() {
            m.entry(self.name.clone()).or_default().push(value);
        }
    }
}

struct BenchRecorder(Arc<Samples>);

impl Recorder for BenchRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(SampleHistogram {
            name: key.name().to_owned(),
            samples: self.0.clone(),
        }))
    }
}

/// Nearest-rank percentile of sorted `v` (`q` in 0..=1).
fn percentile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// `n=…  p50 … ms  p99 … ms  max … ms` of samples in seconds.
fn summary_ms(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return "no samples".into();
    }
    format!(
        "n={}  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        v.len(),
        percentile(&v, 0.5) * 1e3,
        percentile(&v, 0.99) * 1e3,
        v[v.len() - 1] * 1e3
    )
}

// ---------------------------------------------------------------------------------------------
// Store calls: a delegating OracleStore that times every call.

#[derive(Default)]
struct CallStats(Mutex<BTreeMap<String, (u64, Duration)>>);

impl CallStats {
    fn add(&self, name: &str, took: Duration) {
        if let Ok(mut m) = self.0.lock() {
            let e = m.entry(name.to_owned()).or_default();
            e.0 += 1;
            e.1 += took;
        }
    }

    fn snapshot(&self) -> BTreeMap<String, (u64, Duration)> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    fn clear(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }
}

fn print_calls(title: &str, stats: &BTreeMap<String, (u64, Duration)>, requests: usize) {
    println!("{title} (per request = calls / {requests} requests):");
    println!(
        "  {:<28} {:>8} {:>12} {:>12} {:>12}",
        "call", "calls", "per request", "mean ms", "total s"
    );
    let mut rows: Vec<_> = stats.iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1.1));
    for (name, (n, total)) in rows {
        println!(
            "  {:<28} {:>8} {:>12.2} {:>12.3} {:>12.3}",
            name,
            n,
            *n as f64 / requests.max(1) as f64,
            total.as_secs_f64() * 1e3 / (*n).max(1) as f64,
            total.as_secs_f64()
        );
    }
}

struct TimedStore {
    inner: Arc<dyn OracleStore>,
    stats: Arc<CallStats>,
}

macro_rules! timed {
    ($self:ident, $name:literal, $call:expr) => {{
        let started = Instant::now();
        let out = $call.await;
        $self.stats.add($name, started.elapsed());
        out
    }};
}

#[async_trait]
impl OracleStore for TimedStore {
    async fn set_cursor(
        &self,
        chain: &str,
        source: &str,
        next_block: i64,
        now: UnixMillis,
    ) -> StoreResult<()> {
        self.inner.set_cursor(chain, source, next_block, now).await
    }
    async fn submit_tx(
        &self,
        tx: &nsl_oracle::service::NewOutboxTx,
        now: UnixMillis,
    ) -> StoreResult<bool> {
        self.inner.submit_tx(tx, now).await
    }
    async fn pending_txs(&self, chain: &str) -> StoreResult<Vec<nsl_oracle::service::OutboxTx>> {
        self.inner.pending_txs(chain).await
    }
    async fn outbox_tx(&self, tx_hash: &str) -> StoreResult<Option<nsl_oracle::service::OutboxTx>> {
        self.inner.outbox_tx(tx_hash).await
    }
    async fn mark_tx(
        &self,
        tx_hash: &str,
        state: nsl_oracle::service::TxState,
        block: Option<i64>,
        detail: Option<&str>,
        now: UnixMillis,
    ) -> StoreResult<bool> {
        self.inner.mark_tx(tx_hash, state, block, detail, now).await
    }
    async fn record_requests(
        &self,
        chain: &str,
        requests: &[NewRequest],
        claim: Option<(&str, UnixMillis)>,
        now: UnixMillis,
    ) -> StoreResult<Vec<RequestRow>> {
        timed!(
            self,
            "record_requests",
            self.inner.record_requests(chain, requests, claim, now)
        )
    }
    async fn enter_chain(
        &self,
        chain: &str,
        source: &str,
        genesis: &str,
        now: UnixMillis,
    ) -> StoreResult<ChainEntry> {
        timed!(
            self,
            "enter_chain",
            self.inner.enter_chain(chain, source, genesis, now)
        )
    }
    async fn cursor(&self, chain: &str, source: &str) -> StoreResult<Option<i64>> {
        timed!(self, "cursor", self.inner.cursor(chain, source))
    }
    async fn record_block(
        &self,
        chain: &str,
        source: &str,
        next_block: i64,
        requests: &[NewRequest],
        claim: Option<(&str, UnixMillis)>,
        now: UnixMillis,
    ) -> StoreResult<Vec<RequestRow>> {
        timed!(
            self,
            "record_block",
            self.inner
                .record_block(chain, source, next_block, requests, claim, now)
        )
    }
    async fn claim(
        &self,
        owner: &str,
        until: UnixMillis,
        limit: i64,
        now: UnixMillis,
    ) -> StoreResult<Vec<RequestRow>> {
        timed!(self, "claim", self.inner.claim(owner, until, limit, now))
    }
    async fn store_answer(
        &self,
        id: &str,
        owner: &str,
        code: i64,
        result: &[u8],
        now: UnixMillis,
    ) -> StoreResult<bool> {
        timed!(
            self,
            "store_answer",
            self.inner.store_answer(id, owner, code, result, now)
        )
    }
    async fn write_outboxes(
        &self,
        owner: &str,
        writes: &[OutboxWrite],
        now: UnixMillis,
    ) -> StoreResult<Vec<bool>> {
        timed!(
            self,
            "write_outboxes",
            self.inner.write_outboxes(owner, writes, now)
        )
    }
    async fn mark_sent(&self, id: &str, now: UnixMillis) -> StoreResult<()> {
        timed!(self, "mark_sent", self.inner.mark_sent(id, now))
    }
    async fn mark_sent_many(&self, ids: &[String], now: UnixMillis) -> StoreResult<()> {
        timed!(self, "mark_sent_many", self.inner.mark_sent_many(ids, now))
    }
    async fn mark_confirmed(&self, id: &str, block: i64, now: UnixMillis) -> StoreResult<bool> {
        timed!(
            self,
            "mark_confirmed",
            self.inner.mark_confirmed(id, block, now)
        )
    }
    async fn mark_final(
        &self,
        id: &str,
        state: RequestState,
        detail: &str,
        now: UnixMillis,
    ) -> StoreResult<()> {
        timed!(
            self,
            "mark_final",
            self.inner.mark_final(id, state, detail, now)
        )
    }
    async fn requeue(
        &self,
        id: &str,
        tx_hash: &str,
        why: &str,
        now: UnixMillis,
    ) -> StoreResult<bool> {
        timed!(self, "requeue", self.inner.requeue(id, tx_hash, why, now))
    }
    async fn release(&self, id: &str, owner: &str) -> StoreResult<()> {
        timed!(self, "release", self.inner.release(id, owner))
    }
    async fn release_owner(&self, owner: &str) -> StoreResult<u64> {
        timed!(self, "release_owner", self.inner.release_owner(owner))
    }
    async fn in_flight(&self) -> StoreResult<Vec<(RequestRow, OutboxRow)>> {
        timed!(self, "in_flight", self.inner.in_flight())
    }
    async fn request(&self, id: &str) -> StoreResult<Option<RequestDetail>> {
        timed!(self, "request", self.inner.request(id))
    }
    async fn list_requests(&self, filter: &RequestFilter) -> StoreResult<Vec<RequestRow>> {
        timed!(self, "list_requests", self.inner.list_requests(filter))
    }
    async fn count_by_state(&self) -> StoreResult<Vec<(String, i64)>> {
        timed!(self, "count_by_state", self.inner.count_by_state())
    }
}

// ---------------------------------------------------------------------------------------------
// RPC calls: a counting HTTP/1.1 proxy in front of the node (`--rpc-stats`).

/// Forward every connection to `upstream`; count JSON-RPC requests by method and time each
/// until the first byte of its response (the client does not pipeline, so responses come back
/// in request order).
async fn rpc_proxy(upstream: SocketAddr, stats: Arc<CallStats>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the RPC proxy");
    let addr = listener.local_addr().expect("RPC proxy address");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let stats = stats.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let pending: Arc<Mutex<VecDeque<(String, Instant)>>> = Arc::default();
                let pending_up = pending.clone();
                let up = async move {
                    let mut buf = Vec::with_capacity(8192);
                    let mut chunk = vec![0u8; 65536];
                    loop {
                        // One request: head, then Content-Length bytes of body.
                        let head_end = loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i + 4;
                            }
                            match cr.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        while buf.len() < head_end + len {
                            match cr.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let body = &buf[head_end..head_end + len];
                        let method = serde_json::from_slice::<serde_json::Value>(body)
                            .ok()
                            .and_then(|v| v.get("method")?.as_str().map(str::to_owned))
                            .unwrap_or_else(|| "?".into());
                        if let Ok(mut p) = pending_up.lock() {
                            p.push_back((method, Instant::now()));
                        }
                        if sw.write_all(&buf[..head_end + len]).await.is_err() {
                            return;
                        }
                        buf.drain(..head_end + len);
                    }
                };
                let down = async move {
                    let mut chunk = vec![0u8; 65536];
                    loop {
                        match sr.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                let first = pending.lock().ok().and_then(|mut p| p.pop_front());
                                if let Some((method, sent)) = first {
                                    stats.add(&method, sent.elapsed());
                                }
                                if cw.write_all(&chunk[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                };
                tokio::select! {
                    () = up => {}
                    () = down => {}
                }
            });
        }
    });
    addr
}

// ---------------------------------------------------------------------------------------------

/// Wait until the chain's block count passes `count`; returns the new count.
async fn next_block(rpc: &RpcClient, count: u32) -> u32 {
    loop {
        if let Ok(c) = rpc.get_block_count().await
            && c > count
        {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Every row of the store (newest first).
async fn all_rows(store: &dyn OracleStore) -> Vec<RequestRow> {
    let mut out = Vec::new();
    loop {
        let page = store
            .list_requests(&RequestFilter {
                limit: 500,
                offset: i64::try_from(out.len()).unwrap_or(i64::MAX),
                ..RequestFilter::default()
            })
            .await
            .expect("list requests");
        let n = page.len();
        out.extend(page);
        if n < 500 {
            return out;
        }
    }
}

struct Round {
    /// Block of the requests (the most common one when they split).
    block: u32,
    /// Requests per block they landed in.
    landed: BTreeMap<u32, usize>,
    /// Time to send all transactions after the block arrived.
    send: Duration,
    /// From the next block's arrival (as polled here) to the last answer confirmed (as polled).
    answered_after: Duration,
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .try_init();
    let samples = Arc::new(Samples::default());
    metrics::set_global_recorder(BenchRecorder(samples.clone()))
        .expect("install the bench metrics recorder");

    let total_rounds = args.rounds + args.warmup;
    let total = total_rounds * args.per_block;
    let native_per_round = args.per_block * args.native_pct / 100;
    let gateway_per_round = args.per_block - native_per_round;
    let started = Instant::now();
    let block_time = Duration::from_millis(args.block_ms);
    let config = OracleChainConfig {
        block_time,
        user_gas: (100 + 3 * total as i64) * ONE_GAS,
        node_gas: (100 + total as i64) * ONE_GAS,
        // Each gateway request holds its fee (0.1 GAS) and the consumer's budget (1 GAS) until
        // answered.
        deposit: (10 + (gateway_per_round * total_rounds) as i64 * 6 / 5) * ONE_GAS,
    };
    let (env, server) = tokio::join!(OracleChain::start(config), price_server());
    let db = TestDb::new(args.db).await;
    let rpc = env.rpc().clone();
    let store_stats = Arc::new(CallStats::default());
    let rpc_stats = Arc::new(CallStats::default());
    // The service's own pool, sized like the node's `database.max_connections` (default 10).
    let service_store = nsl_store::Store::connect_url(db.url(), args.pool, Duration::from_secs(5))
        .await
        .expect("open the service's pool");
    let store: Arc<dyn OracleStore> = Arc::new(TimedStore {
        inner: Arc::new(service_store),
        stats: store_stats.clone(),
    });
    let service_rpc = if args.rpc_stats {
        let upstream: SocketAddr = rpc
            .url()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("node RPC address");
        let proxy = rpc_proxy(upstream, rpc_stats.clone()).await;
        RpcClient::new(format!("http://{proxy}")).expect("proxy client")
    } else {
        rpc.clone()
    };
    let mut service_config = ServiceConfig {
        start_block: Some(rpc.get_block_count().await.expect("block count")),
        ..ServiceConfig::default()
    };
    if let Some(w) = args.workers {
        service_config.workers = w;
    }
    if let Some(p) = args.poll_ms {
        service_config.poll_interval = Duration::from_millis(p);
    }
    if let Some(b) = args.max_batch {
        service_config.max_batch = b;
    }
    let max_batch = service_config.max_batch;
    let (workers, poll) = (service_config.workers, service_config.poll_interval);
    let service = env
        .service(
            service_rpc,
            store.clone(),
            Egress::new(EgressPolicy::development()).expect("egress"),
            service_config,
        )
        .await;
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(service.run(rx));
    let setup = started.elapsed();

    let url = server.url("/price");
    let gateway_script = env.gateway_request_script(&url, "$.data.price");
    let native_script = env.native_request_script(&url, "$.data.price", ONE_GAS / 5);
    let mut rounds = Vec::new();
    let mut request_txs: HashMap<String, usize> = HashMap::new();
    for round in 0..total_rounds {
        if round == args.warmup {
            samples.clear();
            store_stats.clear();
            rpc_stats.clear();
        }
        // Pre-sign: one test run per script for the system fee (+10% for growing ids).
        let fees = env.user.local_fees().await.expect("fee policy");
        let mut txs: Vec<Transaction> = Vec::with_capacity(args.per_block);
        for (script, n) in [
            (&gateway_script, gateway_per_round),
            (&native_script, native_per_round),
        ] {
            if n == 0 {
                continue;
            }
            let test = env
                .user
                .invoker()
                .invoke_script(script)
                .await
                .and_then(|r| r.into_halt())
                .expect("request test run");
            let system_fee = test.gasconsumed + test.gasconsumed / 10;
            for _ in 0..n {
                txs.push(
                    env.user
                        .make_tx_local(script, system_fee, &fees)
                        .expect("sign request"),
                );
            }
        }
        let raw: Vec<Vec<u8>> = txs.iter().map(Transaction::to_bytes).collect();
        // Right after a block: all requests should make the next one.
        let count = rpc.get_block_count().await.expect("block count");
        let count = next_block(&rpc, count).await;
        let sending = Instant::now();
        let mut sends = tokio::task::JoinSet::new();
        for tx in raw {
            let rpc = rpc.clone();
            sends.spawn(async move { rpc.send_raw_transaction(&tx).await });
        }
        while let Some(r) = sends.join_next().await {
            r.expect("send task").expect("request refused by the node");
        }
        let send = sending.elapsed();
        next_block(&rpc, count).await;
        let block_seen = Instant::now();
        // Where they landed.
        let mut landed: BTreeMap<u32, usize> = BTreeMap::new();
        let deadline = Instant::now() + block_time * 20;
        for tx in &txs {
            let height = loop {
                match rpc.get_transaction_height(&tx.hash()).await {
                    Ok(h) => break h,
                    Err(_) if Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(e) => panic!("request {} not included: {e}", tx.hash()),
                }
            };
            *landed.entry(height).or_default() += 1;
            request_txs.insert(tx.hash().to_string(), round);
        }
        let block = landed
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(b, _)| *b)
            .unwrap_or_default();
        // Wait for every answer of this round.
        let expected = (round + 1) * args.per_block;
        let deadline = Instant::now() + block_time * 60 + Duration::from_secs(30);
        loop {
            // The bench reads the database directly (not through the timed store).
            let counts = db.store.count_by_state().await.expect("count rows");
            let confirmed = counts
                .iter()
                .filter(|(s, _)| s == "confirmed")
                .map(|(_, n)| *n as usize)
                .sum::<usize>();
            let ended = counts
                .iter()
                .filter(|(s, _)| s == "failed" || s == "expired")
                .map(|(_, n)| *n as usize)
                .sum::<usize>();
            if confirmed + ended >= expected {
                break;
            }
            if Instant::now() > deadline {
                eprintln!("round {round}: not all answered in time: {counts:?}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        rounds.push(Round {
            block,
            landed,
            send,
            answered_after: block_seen.elapsed(),
        });
    }
    let run_time = started.elapsed() - setup;
    stop.send(true).expect("stop the service");
    task.await
        .expect("service task")
        .expect("service stopped cleanly");

    // Results from the node's rows: request block and the block the chain has the response in.
    let rows = all_rows(&db.store).await;
    let overhead = samples.take("nsl_oracle_overhead_seconds");
    let fetch = samples.take("nsl_oracle_fetch_seconds");
    let answer = samples.take("nsl_oracle_answer_seconds");
    let store_calls = store_stats.snapshot();
    let rpc_calls = rpc_stats.snapshot();

    let measured: Vec<&RequestRow> = rows
        .iter()
        .filter(|r| {
            request_txs
                .get(&r.tx_hash)
                .is_some_and(|round| *round >= args.warmup)
        })
        .collect();
    let requests = args.rounds * args.per_block;
    let mut distribution: BTreeMap<i64, usize> = BTreeMap::new();
    let mut unanswered = 0;
    let mut by_round: Vec<BTreeMap<i64, usize>> = vec![BTreeMap::new(); total_rounds];
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    for r in &measured {
        *codes
            .entry(format!(
                "{} {} code {:?}",
                r.kind.as_str(),
                r.state.as_str(),
                r.code
            ))
            .or_default() += 1;
        match (r.state, r.confirmed_block) {
            (RequestState::Confirmed, Some(b)) => {
                let d = b - r.block_index;
                *distribution.entry(d).or_default() += 1;
                if let Some(round) = request_txs.get(&r.tx_hash) {
                    *by_round[*round].entry(d).or_default() += 1;
                }
            }
            _ => unanswered += 1,
        }
    }

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("== oracle-bench ==");
    println!(
        "privnet block time {} ms (neo-go TimePerBlock); {} rounds of {} requests ({} gateway, {} native) after {} warm-up round(s); store {:?} (pool {}); workers {workers}; max_batch {max_batch}; poll {} ms; rpc proxy {}",
        args.block_ms,
        args.rounds,
        args.per_block,
        gateway_per_round,
        native_per_round,
        args.warmup,
        args.db,
        args.pool,
        poll.as_millis(),
        if args.rpc_stats { "on" } else { "off" }
    );
    println!(
        "machine: {cpus} CPUs, load average {}; setup {:.1} s, rounds {:.1} s",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        setup.as_secs_f64(),
        run_time.as_secs_f64()
    );
    println!();
    println!(
        "round  request block  landed in          send ms  answered (blocks after the request block)   last answer after request block seen"
    );
    for (i, r) in rounds.iter().enumerate() {
        let tag = if i < args.warmup { " (warm-up)" } else { "" };
        let landed = r
            .landed
            .iter()
            .map(|(b, n)| format!("{b}:{n}"))
            .collect::<Vec<_>>()
            .join(",");
        let answered = by_round[i]
            .iter()
            .map(|(d, n)| format!("+{d}:{n}"))
            .collect::<Vec<_>>()
            .join(" ");
        println!(
            "{:>5}  {:>13}  {:<17}  {:>7.0}  {:<42}  {:.0} ms{tag}",
            i,
            r.block,
            if r.landed.len() == 1 {
                format!("one block ({landed})")
            } else {
                format!("SPLIT {landed}")
            },
            r.send.as_secs_f64() * 1e3,
            answered,
            r.answered_after.as_secs_f64() * 1e3
        );
    }
    let split = rounds
        .iter()
        .skip(args.warmup)
        .filter(|r| r.landed.len() > 1)
        .count();
    println!();
    println!(
        "requests measured: {} of {requests} expected; rounds whose requests split over blocks: {split}",
        measured.len()
    );
    println!("outcomes: {codes:?}");
    println!("blocks to answer (confirmed block - request block):");
    for (d, n) in &distribution {
        println!(
            "  +{d}: {n:>6}  ({:.1}%)",
            100.0 * *n as f64 / measured.len().max(1) as f64
        );
    }
    if unanswered > 0 {
        println!("  not answered: {unanswered}");
    }
    let next = distribution.get(&1).copied().unwrap_or(0);
    println!(
        "answered in the next block: {next} of {} = {:.1}% (goal >= 99%)",
        measured.len(),
        100.0 * next as f64 / measured.len().max(1) as f64
    );
    println!(
        "node overhead (event seen -> broadcast, minus fetch): {}",
        summary_ms(overhead)
    );
    println!(
        "fetch (nsl_oracle_fetch_seconds):                      {}",
        summary_ms(fetch)
    );
    println!(
        "request row created -> confirmed (nsl_oracle_answer_seconds): {}",
        summary_ms(answer)
    );
    println!();
    print_calls("store calls", &store_calls, requests);
    if args.rpc_stats {
        print_calls(
            "RPC calls of the service (time to first response byte)",
            &rpc_calls,
            requests,
        );
    }
}
