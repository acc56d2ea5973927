//! `oracle-bench`: how fast an oracle answers a block full of requests on a privnet, ours or
//! neo-go's own on the same chain settings.
//!
//! ```text
//! cargo run --release -p nsl-e2e --bin oracle-bench -- [--oracle nsl|neogo] [--rounds N]
//!     [--per-block 100] [--native-burst N] [--block-ms 1000] [--db sqlite|postgres]
//!     [--workers W] [--native PCT] [--warmup 1] [--poll-ms P] [--pool N] [--rpc-stats]
//!     [--http] [--mempool-ms 10] [--neogo-concurrency N] [--service oracle|vrf]
//! ```
//!
//! Starts a neo-go privnet (`--block-ms`, 1 s by default), deploys the gateway and both example
//! consumers, and runs one oracle: with `--oracle nsl` (default) the node key is designated for
//! the Oracle role and the oracle service (`nsl_oracle::service::OracleService`) runs in-process;
//! with `--oracle neogo` neo-go's own oracle service runs instead (the validator key designated,
//! ours not started; native requests only; `--neogo-concurrency`: its `MaxConcurrentRequests`,
//! default 10). Both fetch the same local HTTPS price source (neo-go
//! fetches https only; `--http`: ours fetches plain http). Each round pre-signs `--per-block`
//! request transactions (`--native` percent through Neo's native OracleContract, the rest through
//! the gateway consumer) or, with `--native-burst N`, ONE transaction making N native requests;
//! sends them right after a block arrives so that they land in one block (checked and
//! reported), and waits until every answer is in. Rounds do not overlap. `--warmup` rounds run
//! first and are not counted.
//!
//! Printed: for gateway requests (from the node's rows) and native requests (from the
//! `OracleResponse` transactions on chain, whoever sent them) the share answered in the block
//! after the request's block, within 2 and within 5 blocks; for native requests the time from
//! the request block's arrival (as this bench polls it) to the response transaction in neo-go's
//! mempool (`getrawmempool` every `--mempool-ms`), the same measure for both oracles. For ours
//! also: the node overhead (`nsl_oracle_overhead_seconds`: follower saw the block's events ->
//! response broadcast, minus the fetch), the fetch time, the per-stage times
//! (`nsl_oracle_stage_seconds`), read through this binary's own `metrics` recorder; store calls
//! per request (count and time by method); with `--rpc-stats`, the service's JSON-RPC calls by
//! method (count, time to first response byte), through a counting proxy in front of the node
//! (one more loopback hop, so overhead figures of such a run are slightly pessimistic).
//!
//! `--service vrf` (with `--oracle nsl`, gateway requests only): the gateway requests are
//! verifiable-randomness requests (`gatewayConsumer.requestService("vrf", words || seed)`, a
//! 3 GAS budget each) answered by the node's `vrf` handler over a software vault whose key is
//! registered with `setVrfKey`. Printed besides the block shares: the time from the request
//! block's arrival to the answering transaction in the mempool, the GAS of the answering
//! transactions per answer, and the count of answers the bench verified itself (alpha
//! recomputed from chain data, the `RandomnessFulfilled` proof checked with `nsl_vrf::verify`
//! against the key the gateway publishes, beta compared); an answer that does not verify is an
//! error (exit code 1).
//!
//! Figures only, no assertion; see `docs/benchmarks.md` for recorded runs.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use neo::tx::Transaction;
use neo_rpc::Invoker;
use neo_rpc::types::VmState;
use neo_rpc::{ONE_GAS, RpcClient};
use nsl_e2e::{OracleChain, OracleChainConfig, PRICE_BODY, price_server};
use nsl_egress::{Egress, EgressPolicy};
use nsl_oracle::service::{
    ChainEntry, NewRequest, NodeKey, OracleService, OracleStore, OutboxRow, OutboxWrite,
    RequestDetail, RequestFilter, RequestRow, RequestState, ServiceConfig,
};
use nsl_store::{Backend, StoreResult, UnixMillis, test_utils::TestDb};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::watch;

const USAGE: &str = "usage: oracle-bench [--oracle nsl|neogo] [--rounds N] [--per-block N] \
    [--native-burst N] [--block-ms MS] [--db sqlite|postgres] [--workers W] [--native PCT] \
    [--warmup N] [--poll-ms MS] [--pool N] [--max-batch N] [--rpc-stats] [--http] [--mempool-ms MS] \
    [--neogo-concurrency N] [--service oracle|vrf]";

/// Words asked for by each `--service vrf` request.
const VRF_WORDS: u8 = 2;

/// Response budget of each `--service vrf` request (generous: the answer costs far less).
const VRF_BUDGET: i64 = 3 * ONE_GAS;

/// Which gateway service the gateway requests ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServiceKind {
    Oracle,
    Vrf,
}

/// Which oracle answers: ours (`nsl`, neo-go's off) or neo-go's own (ours not started).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OracleImpl {
    Nsl,
    NeoGo,
}

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
    oracle: OracleImpl,
    native_burst: usize,
    http: bool,
    mempool_ms: u64,
    neogo_concurrency: Option<u32>,
    service: ServiceKind,
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
        oracle: OracleImpl::Nsl,
        native_burst: 0,
        http: false,
        mempool_ms: 10,
        neogo_concurrency: None,
        service: ServiceKind::Oracle,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--rpc-stats" {
            args.rpc_stats = true;
            continue;
        }
        if flag == "--http" {
            args.http = true;
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
            "--native-burst" => args.native_burst = (num(&value)? as usize).min(1000),
            "--mempool-ms" => args.mempool_ms = num(&value)?,
            "--neogo-concurrency" => {
                args.neogo_concurrency =
                    Some(u32::try_from(num(&value)?.clamp(1, 10_000)).unwrap_or(10));
            }
            "--oracle" => {
                args.oracle = match value.as_str() {
                    "nsl" => OracleImpl::Nsl,
                    "neogo" | "neo-go" => OracleImpl::NeoGo,
                    other => return Err(format!("--oracle: nsl or neogo, not {other}")),
                }
            }
            "--service" => {
                args.service = match value.as_str() {
                    "oracle" => ServiceKind::Oracle,
                    "vrf" => ServiceKind::Vrf,
                    other => return Err(format!("--service: oracle or vrf, not {other}")),
                }
            }
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
    if args.oracle == OracleImpl::NeoGo && args.native_burst == 0 && args.native_pct < 100 {
        return Err(
            "--oracle neogo: neo-go's oracle answers native requests only; use --native 100 or --native-burst N"
                .into(),
        );
    }
    if args.service == ServiceKind::Vrf
        && (args.oracle != OracleImpl::Nsl || args.native_pct > 0 || args.native_burst > 0)
    {
        return Err("--service vrf: gateway requests answered by nsl only (--oracle nsl, no --native, no --native-burst)".into());
    }
    Ok(args)
}

/// The node's software vault as the randomness service's prover.
struct BenchProver(Arc<nsl_enclave::SoftwareVault>);

impl nsl_randomness::VrfProver for BenchProver {
    fn public_key(&self) -> Result<[u8; 33], String> {
        nsl_enclave::Vault::vrf_public_key(&*self.0).map_err(|e| e.to_string())
    }

    fn prove(&self, alpha: &[u8]) -> Result<nsl_randomness::VrfOutput, String> {
        let p = nsl_enclave::Vault::vrf_prove(&*self.0, alpha).map_err(|e| e.to_string())?;
        Ok(nsl_randomness::VrfOutput {
            beta: p.beta,
            proof: p.proof,
        })
    }
}

/// Script of `gatewayConsumer.requestService("vrf", words || seed)`.
fn vrf_request_script(env: &OracleChain, seed: &str) -> Vec<u8> {
    let mut payload = vec![VRF_WORDS];
    payload.extend_from_slice(seed.as_bytes());
    neo_rpc::call_script(
        &env.gateway_consumer,
        "requestService",
        &[neo::Arg::String("vrf".into()), neo::Arg::Bytes(payload)],
    )
    .expect("requestService script")
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
        // `name{label=value,...}` when labelled.
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = if labels.is_empty() {
            key.name().to_owned()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        Histogram::from_arc(Arc::new(SampleHistogram {
            name,
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
                        // A WebSocket upgrade (the follower's block and log push): counted
                        // once, then the socket's frames are forwarded as they are.
                        if head.contains("upgrade: websocket") {
                            if let Ok(mut p) = pending_up.lock() {
                                p.push_back(("(websocket)".into(), Instant::now()));
                            }
                            if sw.write_all(&buf).await.is_err() {
                                return;
                            }
                            let _ = tokio::io::copy(&mut cr, &mut sw).await;
                            return;
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

// ---------------------------------------------------------------------------------------------
// HTTPS price source (neo-go's oracle fetches https only): the egress crate's TLS fixtures.

/// The egress crate's TLS test fixtures: a test CA and a server certificate for 127.0.0.1.
fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/egress/tests/fixtures")
        .join(name)
}

/// An HTTPS server on 127.0.0.1 answering [`PRICE_BODY`] as `application/json` on every path.
async fn https_price_server() -> SocketAddr {
    use tokio_rustls::TlsAcceptor;
    use tokio_rustls::rustls::ServerConfig;
    use tokio_rustls::rustls::crypto::ring;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(fixture("server.pem"))
        .expect("server.pem")
        .collect::<Result<_, _>>()
        .expect("certificates");
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).expect("server.key");
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the HTTPS server");
    let addr = listener.local_addr().expect("HTTPS server address");
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") && n < buf.len() {
                    match tls.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => n += k,
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    PRICE_BODY.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(PRICE_BODY.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

// ---------------------------------------------------------------------------------------------
// Chain watcher: every block (arrival here, OracleResponse ids) and the mempool, seen from
// outside, the same way for neo-go's oracle and ours.

#[derive(Default)]
struct ChainLog {
    /// Block index -> when this watcher first saw the height.
    arrived: HashMap<u32, Instant>,
    /// Native request id -> (block of its OracleResponse transaction, that transaction's hash).
    responses: HashMap<u64, (u32, String)>,
    /// Transaction hash -> when the mempool watcher first listed it.
    mempool: HashMap<String, Instant>,
}

fn watch_chain(rpc: RpcClient, from: u32, mempool_ms: u64) -> Arc<Mutex<ChainLog>> {
    let log = Arc::new(Mutex::new(ChainLog::default()));
    let blocks = log.clone();
    let block_rpc = rpc.clone();
    tokio::spawn(async move {
        let mut next = from;
        loop {
            let Ok(count) = block_rpc.get_block_count().await else {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            let now = Instant::now();
            if let Ok(mut l) = blocks.lock() {
                for i in next..count {
                    l.arrived.entry(i).or_insert(now);
                }
            }
            while next < count {
                // Raw JSON: neo-go prints an empty oracle result as `null`, which the typed
                // block refuses.
                let Ok(block) = block_rpc
                    .call::<serde_json::Value>("getblock", serde_json::json!([next, 1]))
                    .await
                else {
                    break;
                };
                let mut found = Vec::new();
                for tx in block["tx"].as_array().into_iter().flatten() {
                    for a in tx["attributes"].as_array().into_iter().flatten() {
                        if a["type"] == "OracleResponse"
                            && let Some(id) = a["id"].as_u64()
                        {
                            found.push((id, tx["hash"].as_str().unwrap_or("").to_owned()));
                        }
                    }
                }
                if let Ok(mut l) = blocks.lock() {
                    for (id, hash) in found {
                        l.responses.entry(id).or_insert((next, hash));
                    }
                }
                next += 1;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    if mempool_ms > 0 {
        let pool = log.clone();
        tokio::spawn(async move {
            loop {
                if let Ok(hashes) = rpc
                    .call::<Vec<String>>("getrawmempool", serde_json::json!([]))
                    .await
                {
                    let now = Instant::now();
                    if let Ok(mut l) = pool.lock() {
                        for h in hashes {
                            l.mempool.entry(h).or_insert(now);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(mempool_ms)).await;
            }
        });
    }
    log
}

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
    /// Request transactions per block they landed in.
    landed: BTreeMap<u32, usize>,
    /// Time to send all transactions after the block arrived.
    send: Duration,
    /// From the next block's arrival (as polled here) to the last answer seen (as polled).
    answered_after: Duration,
}

/// A native request of a measured round: the OracleContract's id and the block of its request.
struct NativeRequest {
    id: u64,
    round: usize,
    block: u32,
}

/// `+1 … (x%)  <=2 … (x%)  <=5 … (x%)  not answered …` of block distances.
fn within(distances: &[Option<i64>]) -> String {
    let n = distances.len().max(1) as f64;
    let count = |max: i64| {
        distances
            .iter()
            .filter(|d| d.is_some_and(|d| d <= max))
            .count()
    };
    let (b1, b2, b5) = (count(1), count(2), count(5));
    format!(
        "next block {b1} ({:.1}%), within 2 blocks {b2} ({:.1}%), within 5 blocks {b5} ({:.1}%), not answered {}",
        100.0 * b1 as f64 / n,
        100.0 * b2 as f64 / n,
        100.0 * b5 as f64 / n,
        distances.iter().filter(|d| d.is_none()).count()
    )
}

/// Script of `n` native requests in one transaction: `nativeConsumer.requestBurst(url, filter,
/// gasForResponse, n)` (two notifications per request; an execution may emit at most 512). The
/// URL carries the round (`?r<round>`): the OracleContract keeps at most 256 pending requests
/// per URL.
fn native_burst_script(env: &OracleChain, base: &str, round: usize, n: usize) -> Vec<u8> {
    neo_rpc::call_script(
        &env.native_consumer,
        "requestBurst",
        &[
            neo::Arg::String(format!("{base}?r{round}")),
            neo::Arg::String("$.data.price".into()),
            neo::Arg::Int(GAS_FOR_RESPONSE.into()),
            neo::Arg::Int((n as i64).into()),
        ],
    )
    .expect("requestBurst script")
}

/// gasForResponse of every native request (as `OracleChain::native_request`).
const GAS_FOR_RESPONSE: i64 = ONE_GAS / 5;

/// `--service vrf`: the answers of `rows` checked and measured from chain data. Returns the
/// report lines and the number of answers that did not verify.
async fn vrf_report(
    rpc: &RpcClient,
    env: &OracleChain,
    rows: &[&RequestRow],
    chain_log: &Mutex<ChainLog>,
    key: &nsl_vrf::PublicKey,
) -> (Vec<String>, usize) {
    let norm = |h: &str| h.trim_start_matches("0x").to_ascii_lowercase();
    // Every answering transaction: its fee and its RandomnessFulfilled events.
    let mut txs: BTreeMap<String, (i64, usize)> = BTreeMap::new();
    // Request id -> (alpha, beta, proof) of its event.
    type Fulfilled = (Vec<u8>, Vec<u8>, Vec<u8>);
    let mut events: HashMap<i64, Fulfilled> = HashMap::new();
    for r in rows {
        let Some(hash) = r.response_tx_hash.as_deref() else {
            continue;
        };
        if txs.contains_key(&norm(hash)) {
            txs.get_mut(&norm(hash)).expect("present").1 += 1;
            continue;
        }
        let tx: serde_json::Value = rpc
            .call("getrawtransaction", serde_json::json!([hash, true]))
            .await
            .expect("answering transaction");
        let fee = |f: &str| {
            tx[f]
                .as_str()
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or_default()
        };
        txs.insert(norm(hash), (fee("sysfee") + fee("netfee"), 1));
        let parsed: neo::UInt256 = hash.parse().expect("transaction hash");
        let log = rpc
            .get_application_log(&parsed)
            .await
            .expect("answer application log");
        for n in log.executions.iter().flat_map(|e| e.notifications.iter()) {
            if n.contract != env.gateway || n.eventname != "RandomnessFulfilled" {
                continue;
            }
            let f = n.state.as_array().expect("event fields");
            let field = |i: usize| f[i].as_bytes().unwrap_or_default();
            events.insert(
                f[0].as_i64().expect("request id"),
                (field(1), field(2), field(3)),
            );
        }
    }
    // Verify each answer: alpha from chain data, the proof against the published key.
    let mut block_hashes: HashMap<i64, neo::UInt256> = HashMap::new();
    let (mut verified, mut failed) = (0usize, 0usize);
    let requester = env.gateway_consumer.to_bytes_le();
    for r in rows {
        if r.response_tx_hash.is_none() {
            continue;
        }
        let Some((alpha_ev, beta, proof)) = events.get(&r.request_id) else {
            eprintln!("vrf request {}: no RandomnessFulfilled event", r.request_id);
            failed += 1;
            continue;
        };
        let block_hash = match block_hashes.get(&r.block_index) {
            Some(h) => *h,
            None => {
                let h: neo::UInt256 = rpc
                    .call("getblockhash", serde_json::json!([r.block_index]))
                    .await
                    .expect("getblockhash");
                block_hashes.insert(r.block_index, h);
                h
            }
        };
        let payload = r.payload.clone().unwrap_or_default();
        let seed = payload.get(1..).unwrap_or_default();
        let alpha = nsl_randomness::vrf::chain_alpha(
            u64::try_from(r.request_id).expect("request id"),
            &requester,
            seed,
            &block_hash.to_bytes_le(),
        );
        let ok = alpha_ev.as_slice() == alpha
            && nsl_vrf::Proof::from_bytes(proof)
                .ok()
                .and_then(|p| nsl_vrf::verify(key, &alpha, &p).ok())
                .is_some_and(|b| b.as_slice() == beta.as_slice());
        if ok {
            verified += 1;
        } else {
            eprintln!(
                "ERROR: vrf request {} (tx {}): the answer does not verify",
                r.request_id, r.tx_hash
            );
            failed += 1;
        }
    }
    // Request block seen -> answering transaction in the mempool.
    let mut to_mempool = Vec::new();
    let mut not_seen = 0;
    if let Ok(log) = chain_log.lock() {
        let pool: HashMap<String, Instant> =
            log.mempool.iter().map(|(h, t)| (norm(h), *t)).collect();
        for r in rows {
            let Some(hash) = r.response_tx_hash.as_deref() else {
                continue;
            };
            let arrived = u32::try_from(r.block_index)
                .ok()
                .and_then(|b| log.arrived.get(&b));
            match (arrived, pool.get(&norm(hash))) {
                (Some(a), Some(p)) => {
                    to_mempool.push(p.saturating_duration_since(*a).as_secs_f64())
                }
                _ => not_seen += 1,
            }
        }
    }
    let answers: usize = txs.values().map(|(_, n)| n).sum();
    let gas: i64 = txs.values().map(|(f, _)| f).sum();
    let lines = vec![
        format!(
            "vrf answers verified by the bench (alpha from chain data, proof against the published key, beta compared): {verified} of {} measured requests; NOT verified: {failed}",
            rows.len()
        ),
        format!(
            "vrf: request block seen -> answer in the mempool ({not_seen} not seen there): {}",
            summary_ms(to_mempool)
        ),
        format!(
            "vrf: GAS per answer (system + network fee of the answering transactions / answers): {:.5} GAS ({} answers in {} transactions)",
            gas as f64 / answers.max(1) as f64 / ONE_GAS as f64,
            answers,
            txs.len()
        ),
    ];
    (lines, failed)
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
    let burst = args.native_burst;
    let per_round = if burst > 0 { burst } else { args.per_block };
    let total = total_rounds * per_round;
    let native_per_round = if burst > 0 {
        burst
    } else {
        args.per_block * args.native_pct / 100
    };
    let gateway_per_round = per_round - native_per_round;
    let started = Instant::now();
    let block_time = Duration::from_millis(args.block_ms);
    let neogo = args.oracle == OracleImpl::NeoGo;
    let vrf_bench = args.service == ServiceKind::Vrf;
    let config = OracleChainConfig {
        block_time,
        // A native request costs 0.5 GAS (the oracle price) + gasForResponse + fees.
        // `--service vrf`: the user also deposits 4 GAS per request (below).
        user_gas: (100 + if vrf_bench { 7 } else { 3 } * total as i64) * ONE_GAS,
        node_gas: (100 + total as i64) * ONE_GAS,
        // Each gateway request holds its fee (0.1 GAS) and the consumer's budget (1 GAS; 3 GAS
        // for `--service vrf`) until answered.
        deposit: (10
            + if vrf_bench {
                (gateway_per_round * total_rounds) as i64 * 4
            } else {
                (gateway_per_round * total_rounds) as i64 * 6 / 5
            })
            * ONE_GAS,
        neogo_oracle: neogo.then(|| nsl_devchain::NeoGoOracle {
            allow_private_host: true,
            ca_file: Some(fixture("ca.pem")),
            allowed_content_types: Vec::new(),
            max_concurrent_requests: args.neogo_concurrency,
        }),
    };
    let (env, server, https) = tokio::join!(
        OracleChain::start(config),
        price_server(),
        https_price_server()
    );
    let db = if vrf_bench {
        TestDb::new(
            args.db,
            &[&nsl_chain::MIGRATIONS, &nsl_randomness::MIGRATIONS],
        )
        .await
    } else {
        TestDb::new(args.db, &[&nsl_chain::MIGRATIONS]).await
    };
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
    let egress = if args.http {
        EgressPolicy::development()
    } else {
        EgressPolicy {
            allow_private_hosts: true,
            extra_ca_files: vec![fixture("ca.pem")],
            ..EgressPolicy::default()
        }
    };
    let (stop, rx) = watch::channel(false);
    // `--service vrf`: the node's vault, its VRF key registered with the gateway, the `vrf`
    // handler, and a 3 GAS budget per request.
    let vault_dir = tempfile::tempdir().expect("vault dir");
    let mut vrf_key = None;
    let task = if vrf_bench {
        let vault = Arc::new(
            nsl_enclave::SoftwareVault::open(nsl_enclave::SoftwareVaultConfig {
                data_dir: vault_dir.path().join("vault"),
                kek: nsl_enclave::KekSource::Key(nsl_enclave::Kek::generate().expect("kek")),
            })
            .expect("vault"),
        );
        let key = nsl_enclave::Vault::vrf_public_key(&*vault).expect("vrf key");
        nsl_devchain::register_vrf_key(&env.owner, &env.gateway, &key)
            .await
            .expect("setVrfKey");
        let published = Invoker::new(rpc.clone())
            .call_item(&env.gateway, "vrfKey", &[])
            .await
            .expect("vrfKey")
            .as_bytes()
            .expect("vrfKey bytes");
        vrf_key = Some(nsl_vrf::PublicKey::from_sec1(&published).expect("the gateway's VRF key"));
        env.user
            .call(
                &env.gateway_consumer,
                "setGasBudget",
                &[neo::Arg::Int(VRF_BUDGET.into())],
            )
            .await
            .and_then(neo_rpc::TxOutcome::into_halt)
            .expect("setGasBudget");
        let chain_view: Arc<dyn nsl_randomness::GatewayView> = Arc::new(
            nsl_randomness::RpcGatewayView::new(rpc.clone(), env.gateway),
        );
        let randomness = nsl_randomness::RandomnessService::new(
            nsl_store::Store::connect_url(db.url(), 4, Duration::from_secs(5))
                .await
                .expect("open the randomness pool"),
            Arc::new(BenchProver(vault)),
            Some(chain_view),
            &nsl_config::RandomnessConfig::default(),
        );
        service_config.gateway = Some(env.gateway);
        service_config.start_block = Some(rpc.get_block_count().await.expect("block count"));
        let service = OracleService::new(
            store.clone(),
            service_rpc,
            Egress::new(egress).expect("egress"),
            NodeKey(env.node_key.clone()),
            service_config,
            vec![
                nsl_randomness::RandomnessGatewayHandler::new(randomness, env.node_key.clone())
                    .into_handler(),
            ],
        )
        .await
        .expect("start the oracle service");
        Some(tokio::spawn(service.run(rx)))
    } else if neogo {
        None
    } else {
        let service = env
            .service(
                service_rpc,
                store.clone(),
                Egress::new(egress).expect("egress"),
                service_config,
            )
            .await;
        Some(tokio::spawn(service.run(rx)))
    };
    let chain_log = watch_chain(
        rpc.clone(),
        rpc.get_block_count().await.expect("block count"),
        args.mempool_ms,
    );
    let setup = started.elapsed();

    // neo-go fetches https only; ours fetches the same https source unless `--http`.
    let url = if args.http && !neogo {
        server.url("/price")
    } else {
        format!("https://{https}/price")
    };
    let mut rounds = Vec::new();
    let mut request_txs: HashMap<String, usize> = HashMap::new();
    let mut native: Vec<NativeRequest> = Vec::new();
    for round in 0..total_rounds {
        if round == args.warmup {
            samples.clear();
            store_stats.clear();
            rpc_stats.clear();
        }
        // Pre-sign: one test run per kind of script for the system fee (+10% for growing ids
        // and URL lengths).
        let fees = env.user.local_fees().await.expect("fee policy");
        let test_fee = |script: Vec<u8>| {
            let invoker = env.user.invoker().clone();
            async move {
                let test = invoker
                    .invoke_script(&script)
                    .await
                    .and_then(|r| r.into_halt())
                    .expect("request test run");
                test.gasconsumed
            }
        };
        let mut txs: Vec<(Transaction, bool)> = Vec::with_capacity(per_round);
        if burst > 0 {
            // A test run may spend at most 100 GAS (neo-go `MaxGasInvoke`), less than a burst
            // of 250 costs: extrapolate from bursts of 1 and 2.
            let f1 = test_fee(native_burst_script(&env, &url, round, 1)).await;
            let f2 = test_fee(native_burst_script(&env, &url, round, 2)).await;
            let fee = f1 + (f2 - f1) * (burst as i64 - 1);
            let script = native_burst_script(&env, &url, round, burst);
            txs.push((
                env.user
                    .make_tx_local(&script, fee + fee / 10, &fees)
                    .expect("sign the burst"),
                true,
            ));
        } else {
            for (native, n) in [(false, gateway_per_round), (true, native_per_round)] {
                if n == 0 {
                    continue;
                }
                let script = |i: usize| {
                    let u = format!("{url}?r{round}i{i}");
                    if native {
                        env.native_request_script(&u, "$.data.price", GAS_FOR_RESPONSE)
                    } else if vrf_bench {
                        vrf_request_script(&env, &format!("r{round}i{i}"))
                    } else {
                        env.gateway_request_script(&u, "$.data.price")
                    }
                };
                let fee = test_fee(script(0)).await;
                for i in 0..n {
                    txs.push((
                        env.user
                            .make_tx_local(&script(i), fee + fee / 10, &fees)
                            .expect("sign request"),
                        native,
                    ));
                }
            }
        }
        let raw: Vec<Vec<u8>> = txs.iter().map(|(tx, _)| tx.to_bytes()).collect();
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
        // Where they landed, and the OracleContract's ids of the native requests.
        let mut landed: BTreeMap<u32, usize> = BTreeMap::new();
        let mut round_ids = Vec::new();
        let deadline = Instant::now() + block_time * 20;
        for (tx, is_native) in &txs {
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
            if *is_native {
                let log = rpc
                    .get_application_log(&tx.hash())
                    .await
                    .expect("request application log");
                if let Some(e) = log.executions.iter().find(|e| e.vmstate != VmState::Halt) {
                    panic!(
                        "request transaction {} {:?} (gas {}): {:?}",
                        tx.hash(),
                        e.vmstate,
                        e.gasconsumed,
                        e.exception
                    );
                }
                for n in log.executions.iter().flat_map(|e| e.notifications.iter()) {
                    if n.contract == neo_rpc::native::ORACLE && n.eventname == "OracleRequest" {
                        let id = n.args()[0].as_u64().expect("OracleRequest id");
                        round_ids.push(id);
                        native.push(NativeRequest {
                            id,
                            round,
                            block: height,
                        });
                    }
                }
            }
        }
        assert_eq!(
            round_ids.len(),
            native_per_round,
            "one OracleRequest per native request"
        );
        let block = landed
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(b, _)| *b)
            .unwrap_or_default();
        // Wait for every answer of this round: gateway ones from the node's rows, native ones
        // from the OracleResponse transactions on chain (whoever sent them).
        let expected_rows = (round + 1) * gateway_per_round;
        let deadline = Instant::now() + block_time * 60 + Duration::from_secs(30);
        loop {
            let gateway_done = if gateway_per_round == 0 {
                true
            } else {
                // The bench reads the database directly (not through the timed store).
                let counts = db.store.count_by_state().await.expect("count rows");
                let ended = counts
                    .iter()
                    .filter(|(s, _)| s == "confirmed" || s == "failed" || s == "expired")
                    .map(|(_, n)| *n as usize)
                    .sum::<usize>();
                ended >= expected_rows
            };
            let native_done = chain_log
                .lock()
                .map(|l| round_ids.iter().all(|id| l.responses.contains_key(id)))
                .unwrap_or(false);
            if gateway_done && native_done {
                break;
            }
            if Instant::now() > deadline {
                eprintln!("round {round}: not all answered in time");
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
    if let Some(task) = task {
        task.await
            .expect("service task")
            .expect("service stopped cleanly");
    }

    // Gateway results from the node's rows: request block and the block the chain has the
    // response in.
    let rows = all_rows(&db.store).await;
    let overhead = samples.take("nsl_oracle_overhead_seconds");
    let fetch = samples.take("nsl_oracle_fetch_seconds");
    let answer = samples.take("nsl_oracle_answer_seconds");
    let stages: Vec<(String, Vec<f64>)> = [
        "block_to_read",
        "block_to_events",
        "events_to_recorded",
        "worker_start",
        "fetched",
        "signed",
        "outbox_written",
        "broadcast",
    ]
    .iter()
    .map(|s| {
        (
            (*s).to_owned(),
            samples.take(&format!("nsl_oracle_stage_seconds{{stage={s}}}")),
        )
    })
    .collect();
    let store_calls = store_stats.snapshot();
    let rpc_calls = rpc_stats.snapshot();

    let measured: Vec<&RequestRow> = rows
        .iter()
        .filter(|r| {
            r.kind.as_str() == "gateway"
                && request_txs
                    .get(&r.tx_hash)
                    .is_some_and(|round| *round >= args.warmup)
        })
        .collect();
    let mut by_round: Vec<BTreeMap<i64, usize>> = vec![BTreeMap::new(); total_rounds];
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut gateway_distances = Vec::new();
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
                gateway_distances.push(Some(d));
                if let Some(round) = request_txs.get(&r.tx_hash) {
                    *by_round[*round].entry(d).or_default() += 1;
                }
            }
            _ => gateway_distances.push(None),
        }
    }
    // Native results from the chain, the same for neo-go's oracle and ours.
    let mut native_distances = Vec::new();
    let mut to_mempool = Vec::new();
    let mut not_in_mempool = 0;
    // Mempool delays of responses that made the next block and of those that missed it: where
    // the cut-off lies.
    let (mut made_it, mut missed) = (Vec::new(), Vec::new());
    let mut native_rounds = 0;
    if let Ok(log) = chain_log.lock() {
        for r in &native {
            if r.round < args.warmup {
                if let Some((b, _)) = log.responses.get(&r.id) {
                    let d = i64::from(*b) - i64::from(r.block);
                    *by_round[r.round].entry(d).or_default() += 1;
                }
                continue;
            }
            native_rounds += 1;
            match log.responses.get(&r.id) {
                Some((b, hash)) => {
                    let d = i64::from(*b) - i64::from(r.block);
                    native_distances.push(Some(d));
                    *by_round[r.round].entry(d).or_default() += 1;
                    match (log.arrived.get(&r.block), log.mempool.get(hash)) {
                        (Some(arrived), Some(pooled)) => {
                            let delay = pooled.saturating_duration_since(*arrived).as_secs_f64();
                            to_mempool.push(delay);
                            let slot = if d <= 1 { &mut made_it } else { &mut missed };
                            slot.push(delay);
                        }
                        _ => not_in_mempool += 1,
                    }
                }
                None => native_distances.push(None),
            }
        }
    }

    let (vrf_lines, vrf_failed) = match &vrf_key {
        Some(key) => vrf_report(&rpc, &env, &measured, &chain_log, key).await,
        None => (Vec::new(), 0),
    };

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("== oracle-bench ==");
    println!(
        "oracle {}{}; privnet block time {} ms (neo-go TimePerBlock); {} rounds of {} requests ({} gateway, {} native{}) after {} warm-up round(s); source {}; store {:?} (pool {}); workers {workers}; max_batch {max_batch}; poll {} ms; rpc proxy {}; mempool watch {}",
        if neogo {
            "neo-go's own (ours off)"
        } else {
            "nsl (neo-go's off)"
        },
        if vrf_bench {
            ", gateway requests: service vrf (2 words, 3 GAS budget)"
        } else {
            ""
        },
        args.block_ms,
        args.rounds,
        per_round,
        gateway_per_round,
        native_per_round,
        if burst > 0 {
            ", all in ONE transaction"
        } else {
            ", one transaction each"
        },
        args.warmup,
        if url.starts_with("https") {
            "https"
        } else {
            "http"
        },
        args.db,
        args.pool,
        poll.as_millis(),
        if args.rpc_stats { "on" } else { "off" },
        if args.mempool_ms > 0 {
            format!("every {} ms", args.mempool_ms)
        } else {
            "off".into()
        }
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
        "rounds whose request transactions split over blocks: {split}; outcomes of gateway rows: {codes:?}"
    );
    if gateway_per_round > 0 {
        println!(
            "gateway requests ({}, from the node's rows): {}",
            gateway_distances.len(),
            within(&gateway_distances)
        );
    }
    for line in &vrf_lines {
        println!("{line}");
    }
    if native_per_round > 0 {
        println!(
            "native requests ({native_rounds}, OracleResponse transactions on chain): {}",
            within(&native_distances)
        );
        println!(
            "native: request block seen -> response in the mempool (polled every {} ms; {} not seen there): {}",
            args.mempool_ms,
            not_in_mempool,
            summary_ms(to_mempool)
        );
        let fold =
            |v: &[f64], f: fn(f64, f64) -> f64, init: f64| v.iter().copied().fold(init, f) * 1e3;
        println!(
            "  in the next block: latest in the mempool {:.1} ms after the request block ({} responses); later blocks: earliest {:.1} ms ({})",
            fold(&made_it, f64::max, f64::NAN),
            made_it.len(),
            fold(&missed, f64::min, f64::NAN),
            missed.len()
        );
    }
    if !neogo {
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
        println!(
            "stages (nsl_oracle_stage_seconds; block_to_*: from the block's timestamp, the rest from the events read):"
        );
        for (name, v) in stages {
            println!("  {name:<20} {}", summary_ms(v));
        }
        println!();
        print_calls("store calls", &store_calls, args.rounds * per_round);
        if args.rpc_stats {
            print_calls(
                "RPC calls of the service (time to first response byte)",
                &rpc_calls,
                args.rounds * per_round,
            );
        }
    }
    if vrf_failed > 0 {
        eprintln!("ERROR: {vrf_failed} vrf answer(s) did not verify");
        std::process::exit(1);
    }
}
