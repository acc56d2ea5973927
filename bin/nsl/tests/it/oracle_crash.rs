//! Crash safety of the oracle service, with the real binary: `nsl serve` (SQLite or PostgreSQL,
//! oracle service on) is SIGKILLed at a precise point of answering one request, started again on the same data
//! directory, and the chain must show the request answered exactly once.
//!
//! The kill points are real boundaries the test controls, not hooks in the node:
//!
//! ```text
//! nsl serve ──JSON-RPC──▶ rpc_proxy::Proxy ──▶ neo-go privnet (2 s blocks, node key = Oracle)
//!           ──GET /price─▶ rpc_proxy::Proxy ──▶ price server
//!
//! Fetching         the proxy holds the node's GET /price          ─▶ SIGKILL (nothing fetched)
//! BeforeBroadcast  the proxy holds every sendrawtransaction        ─▶ SIGKILL (outbox written,
//!                                                                       nothing broadcast)
//! AfterBroadcast   the proxy forwards sendrawtransaction just after ─▶ SIGKILL (in the mempool,
//!                  a block and returns neo-go's answer                  not in a block)
//! ```
//!
//! After the restart the test waits for the answer and checks what a user would: the consumer
//! got the value once, the gateway's `getRequest` says fulfilled (native: the OracleContract no
//! longer holds the request), the blocks from the request to the current height hold exactly one
//! transaction from the node (HALT) and exactly one `ServiceResponse` / `DataReceived` for the
//! request, and where a response was signed before the kill, the confirmed transaction is that
//! one (same hash: not rebuilt). The node's own row (its SQLite file) ends `confirmed`.
//!
//! Each test starts its own chain, proxies and temporary directory; the node process is killed
//! when the test ends, also when it fails.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use neo::{Arg, PrivateKey, StackItem, UInt160, UInt256};
use neo_rpc::{Invoker, RpcClient};
use nsl_e2e::rpc_proxy::{Intercepted, Match, Proxy, Trap};
use nsl_e2e::{OracleChain, OracleChainConfig, PriceServer, price_server};
use nsl_oracle::service::{OracleStore, RequestDetail, RequestFilter, RequestState};
use nsl_store::Backend;
use nsl_store::test_utils::TestDb;
use tokio::io::{AsyncBufReadExt as _, BufReader};

/// Long enough for "broadcast but not yet in a block" to hold while the test kills the node and
/// looks at the mempool (the broadcast is released right after a block), short enough to keep
/// the setup (five blocks) quick.
const BLOCK_TIME: Duration = Duration::from_secs(2);

/// How long a claim on a row lasts (`ServiceConfig::claim_lease`). A restarted node keeps its
/// instance name (`<host>:<data dir>`) and releases its own claims at start, so a row whose fetch
/// was cut by the kill must be answered well before the lease would have let it go.
const CLAIM_LEASE: Duration = Duration::from_secs(30);

/// Where the node is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KillPoint {
    /// The fetch of the URL is in flight (request recorded, nothing fetched).
    Fetching,
    /// The signed response is in the outbox; nothing was broadcast.
    BeforeBroadcast,
    /// neo-go accepted the response into its mempool; it is not in a block yet.
    AfterBroadcast,
}

/// Which oracle path the request takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// NSL gateway: `gatewayConsumer.requestValue` answered with `gateway.fulfill`.
    Gateway,
    /// Neo's native OracleContract: `oracleConsumer.requestData` answered with an
    /// `OracleResponse` transaction.
    Native,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_request_survives_kill_during_fetch() {
    crash_and_restart(Kind::Gateway, KillPoint::Fetching, Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_request_survives_kill_during_fetch_postgres() {
    crash_and_restart(Kind::Gateway, KillPoint::Fetching, Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_request_survives_kill_before_broadcast() {
    crash_and_restart(Kind::Gateway, KillPoint::BeforeBroadcast, Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_request_survives_kill_before_broadcast_postgres() {
    crash_and_restart(Kind::Gateway, KillPoint::BeforeBroadcast, Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_request_survives_kill_after_broadcast() {
    crash_and_restart(Kind::Gateway, KillPoint::AfterBroadcast, Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_request_survives_kill_after_broadcast_postgres() {
    crash_and_restart(Kind::Gateway, KillPoint::AfterBroadcast, Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_request_survives_kill_before_broadcast() {
    crash_and_restart(Kind::Native, KillPoint::BeforeBroadcast, Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_request_survives_kill_before_broadcast_postgres() {
    crash_and_restart(Kind::Native, KillPoint::BeforeBroadcast, Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_request_survives_kill_after_broadcast() {
    crash_and_restart(Kind::Native, KillPoint::AfterBroadcast, Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_request_survives_kill_after_broadcast_postgres() {
    crash_and_restart(Kind::Native, KillPoint::AfterBroadcast, Backend::Postgres).await;
}

/// A request whose worker dies every time it works on it (here: SIGKILL while its fetch hangs)
/// is not worked on forever: with `oracle.max_attempts = 2`, the third start answers it with code
/// `Error` without fetching, and the consumer receives that answer once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_request_whose_worker_always_dies_is_answered_error() {
    let env = Env::setup().await;
    let server_url = format!("http://{}", env.server.addr);
    let fetch_proxy = Proxy::start(&server_url, Match::Path("/price".into()), Trap::Hold).await;
    let price_url = format!("{}/price", fetch_proxy.url());
    let tmp = tempfile::tempdir().expect("temp dir");
    let start_block = env.rpc().get_block_count().await.expect("height") - 1;
    let config = NodeConfig {
        dir: tmp.path().to_owned(),
        rpc_url: env.chain.rpc_url().to_owned(),
        gateway: env.gateway,
        node_key: env.node_key.clone(),
        start_block,
        max_attempts: Some(2),
        db_url: None,
    };
    let mut node = Node::start(&config, 1).await;
    let request = env.request(Kind::Native, &price_url).await;
    // Two runs, each killed while its worker waits for the (never answered) fetch.
    for run in 1..=2u32 {
        if run > 1 {
            node = Node::start(&config, run).await;
        }
        let deadline = Instant::now() + Duration::from_secs(90);
        while fetch_proxy.matched() < run as usize {
            assert!(
                Instant::now() < deadline,
                "run {run} never fetched: {}",
                node.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        node.sigkill().await;
    }
    let store = open_store(&config).await;
    let row = request_row(&store, &request).await;
    assert_eq!(row.request.state, RequestState::Seen, "{row:#?}");
    assert_eq!(row.request.attempts, 2, "{row:#?}");
    assert!(
        !env.answered(&request).await,
        "answered before the third start"
    );

    // Third start: the row has had its attempts; answered with Error, nothing fetched.
    let mut node = Node::start(&config, 3).await;
    let row = wait_confirmed(&store, &request, Duration::from_secs(60), &node).await;
    assert_eq!(row.request.code, Some(0xff), "{row:#?}");
    assert_eq!(
        fetch_proxy.matched(),
        2,
        "no fetch after the attempts ran out"
    );
    let count = env
        .read(&env.native_consumer, "getResponseCount", &[])
        .await;
    assert_eq!(count.as_i64().unwrap(), 1, "callbacks received");
    let last = env.read(&env.native_consumer, "getLastResponse", &[]).await;
    let last = last.as_array().expect("getLastResponse");
    assert_eq!(last[1].as_i64().unwrap(), 0xff, "code Error");
    assert!(
        last[2].as_bytes().unwrap_or_default().is_empty(),
        "empty result"
    );
    let key = nsl_oracle::native::request_key(request.id);
    let stored = env
        .rpc()
        .get_storage(&nsl_oracle::native::ORACLE_CONTRACT, &key)
        .await
        .expect("getstorage");
    assert_eq!(stored, None, "the request is finished on chain");
    node.stop().await;
}

/// Start the node, make one request, wait for the kill point, SIGKILL, check the state at the
/// kill, restart on the same data directory, wait for the answer, check it came exactly once.
async fn crash_and_restart(kind: Kind, kill: KillPoint, backend: Backend) {
    let started = Instant::now();
    // PostgreSQL: a database of this test only (dropped at the end); SQLite: the node's file.
    let pg = match backend {
        Backend::Postgres => Some(TestDb::postgres(nsl_node::MIGRATIONS).await),
        Backend::Sqlite => None,
    };
    let env = Env::setup().await;
    let setup_time = started.elapsed();

    // The kill point's proxy: in front of the price server for a fetch, of neo-go otherwise.
    let server_url = format!("http://{}", env.server.addr);
    let (rpc_proxy, fetch_proxy) = match kill {
        KillPoint::Fetching => (
            None,
            Some(Proxy::start(&server_url, Match::Path("/price".into()), Trap::Hold).await),
        ),
        KillPoint::BeforeBroadcast | KillPoint::AfterBroadcast => {
            let trap = if kill == KillPoint::BeforeBroadcast {
                Trap::Hold
            } else {
                Trap::ForwardAfterNextBlock
            };
            let send = Match::RpcMethod("sendrawtransaction".into());
            (
                Some(Proxy::start(env.chain.rpc_url(), send, trap).await),
                None,
            )
        }
    };
    let trap = rpc_proxy
        .as_ref()
        .or(fetch_proxy.as_ref())
        .expect("one proxy");
    let rpc_url = rpc_proxy
        .as_ref()
        .map_or_else(|| env.chain.rpc_url().to_owned(), Proxy::url);
    let price_url = match &fetch_proxy {
        Some(p) => format!("{}/price", p.url()),
        None => format!("{server_url}/price"),
    };

    let tmp = tempfile::tempdir().expect("temp dir");
    let start_block = env.rpc().get_block_count().await.expect("height") - 1;
    let config = NodeConfig {
        dir: tmp.path().to_owned(),
        rpc_url,
        gateway: env.gateway,
        node_key: env.node_key.clone(),
        start_block,
        max_attempts: None,
        db_url: pg.as_ref().map(|db| db.url().to_owned()),
    };
    let mut node = Node::start(&config, 1).await;

    let request = env.request(kind, &price_url).await;
    let hit = trap.tripped(Duration::from_secs(90)).await;
    let killed_at = Instant::now();
    node.sigkill().await;

    // The state the kill left, on chain and in the node's database.
    let store = open_store(&config).await;
    let row = request_row(&store, &request).await;
    let broadcast = response_tx_of(kill, &hit);
    match kill {
        KillPoint::Fetching => {
            assert_eq!(row.request.state, RequestState::Seen, "{row:#?}");
            assert!(row.outbox.is_none(), "{row:#?}");
        }
        KillPoint::BeforeBroadcast => {
            // The outbox row is written before the broadcast, with the transaction the proxy held.
            assert_eq!(row.request.state, RequestState::Outbox, "{row:#?}");
            let stored = row.outbox.as_ref().expect("outbox row");
            assert_eq!(Some(stored.tx_hash.parse().unwrap()), broadcast, "{row:#?}");
        }
        KillPoint::AfterBroadcast => {
            assert!(
                matches!(row.request.state, RequestState::Outbox | RequestState::Sent),
                "{row:#?}"
            );
            let stored = row.outbox.as_ref().expect("outbox row");
            assert_eq!(Some(stored.tx_hash.parse().unwrap()), broadcast, "{row:#?}");
        }
    }
    let mempool = env.mempool().await;
    if let Some(hash) = broadcast {
        assert!(
            env.rpc().get_transaction_height(&hash).await.is_err(),
            "{kill:?}: the response {hash} must not be in a block at the kill (killed after {:?})",
            killed_at.elapsed()
        );
        assert_eq!(
            mempool.contains(&hash),
            kill == KillPoint::AfterBroadcast,
            "{kill:?}: response {hash} in the mempool at the kill: {mempool:?}"
        );
    }
    assert!(!env.answered(&request).await, "answered before the restart");

    // Restart on the same data directory; the proxy lets everything through from now on.
    trap.pass_through();
    let restarted = Instant::now();
    let mut node = Node::start(&config, 2).await;
    let wait = match kill {
        KillPoint::Fetching => CLAIM_LEASE - Duration::from_secs(5),
        _ => Duration::from_secs(60),
    };
    let row = wait_confirmed(&store, &request, wait, &node).await;
    let answer_time = restarted.elapsed();
    let confirmed_block = row.request.confirmed_block.expect("confirmed block");
    // Let a duplicate (if the node sent one) reach a block before counting.
    env.wait_height(u32::try_from(confirmed_block).unwrap() + 2)
        .await;

    // What the user sees.
    let responses = env.node_transactions(start_block, &request).await;
    assert_eq!(
        responses.len(),
        1,
        "{kind:?}/{kill:?}: the node sent exactly one response: {responses:#?}\n{}",
        node.logs()
    );
    let response = &responses[0];
    assert!(response.halt, "{response:#?}");
    assert_eq!(response.request_events, 1, "{response:#?}");
    assert_eq!(response.consumer_events, 1, "{response:#?}");
    assert_eq!(i64::from(response.block), confirmed_block, "{row:#?}");
    assert_eq!(
        row.request
            .response_tx_hash
            .as_deref()
            .map(|h| h.parse().unwrap()),
        Some(response.hash),
        "{row:#?}"
    );
    if let Some(hash) = broadcast {
        assert_eq!(
            response.hash, hash,
            "{kill:?}: the transaction signed before the kill is the one confirmed"
        );
        let outboxes = row.history.iter().filter(|h| h.state == "outbox").count();
        assert_eq!(outboxes, 1, "not rebuilt: {row:#?}");
    }
    env.assert_answered_once(&request).await;
    if let Some(p) = &fetch_proxy {
        // The fetch cut by the kill and the one after the restart; nothing else.
        assert_eq!(p.matched(), 2, "fetches of /price");
    }
    assert_eq!(env.requests_pending(&store).await, 0);

    node.stop().await;
    println!(
        "{kind:?}/{kill:?}: setup {setup_time:.1?}, answered {answer_time:.1?} after the restart, \
         total {:.1?}",
        started.elapsed()
    );
}

/// The request the test made.
#[derive(Debug, Clone, Copy)]
struct Request {
    kind: Kind,
    /// The gateway's or the OracleContract's request id.
    id: u64,
}

/// The response transaction the node handed to the proxy before the kill (the bytes of the
/// trapped `sendrawtransaction`). After the broadcast, neo-go's answer must say it has it: the
/// node may send the same bytes twice at once (worker and sender), so the answer that tripped the
/// trap can also be "already in the mempool".
fn response_tx_of(kill: KillPoint, hit: &Intercepted) -> Option<UInt256> {
    if kill == KillPoint::Fetching {
        return None;
    }
    let request = hit.request_json();
    let b64 = request["params"][0].as_str().expect("base64 transaction");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    let hash = neo::tx::Transaction::from_bytes(&bytes)
        .expect("a transaction")
        .hash();
    if kill == KillPoint::AfterBroadcast {
        let answer = hit.response_json();
        let accepted = answer["result"]["hash"]
            .as_str()
            .and_then(|h| h.parse::<UInt256>().ok())
            == Some(hash);
        let known = answer["error"]["code"].as_i64().is_some_and(|c| {
            c == neo_rpc::codes::ALREADY_EXISTS || c == neo_rpc::codes::ALREADY_IN_POOL
        });
        assert!(
            accepted || known,
            "neo-go has the response {hash}: {answer}"
        );
    }
    Some(hash)
}

// --- the chain ------------------------------------------------------------------------------

/// The chain of `nsl_e2e::OracleChain` (the node key designated as Oracle, funded and registered
/// with the gateway; gateway, gateway consumer with a deposit and native consumer deployed) and
/// the price server.
struct Env {
    oracle: OracleChain,
    server: PriceServer,
}

impl std::ops::Deref for Env {
    type Target = OracleChain;
    fn deref(&self) -> &OracleChain {
        &self.oracle
    }
}

impl Env {
    async fn setup() -> Env {
        let (oracle, server) = tokio::join!(
            OracleChain::start(OracleChainConfig::with_block_time(BLOCK_TIME)),
            price_server()
        );
        Env { oracle, server }
    }

    fn rpc(&self) -> &RpcClient {
        self.chain.rpc()
    }

    async fn read(&self, contract: &UInt160, method: &str, args: &[Arg]) -> StackItem {
        Invoker::new(self.rpc().clone())
            .call_item(contract, method, args)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// Make one request for `url` filtered by `$.data.price` (waits for its block).
    async fn request(&self, kind: Kind, url: &str) -> Request {
        let id = match kind {
            Kind::Gateway => {
                u64::try_from(self.gateway_request(url, "$.data.price").await).expect("request id")
            }
            Kind::Native => self.native_request(url, "$.data.price").await,
        };
        Request { kind, id }
    }

    /// Whether the consumer has an answer to `request`.
    async fn answered(&self, request: &Request) -> bool {
        match request.kind {
            Kind::Gateway => !self
                .read(&self.gateway_consumer, "getResult", &[id_arg(request)])
                .await
                .as_array()
                .expect("getResult array")
                .is_empty(),
            Kind::Native => {
                self.read(&self.native_consumer, "getResponseCount", &[])
                    .await
                    .as_i64()
                    .expect("count")
                    > 0
            }
        }
    }

    /// The consumer holds the filtered value, received once, and the request is closed.
    async fn assert_answered_once(&self, request: &Request) {
        match request.kind {
            Kind::Gateway => {
                let result = self
                    .read(&self.gateway_consumer, "getResult", &[id_arg(request)])
                    .await;
                let result = result.as_array().expect("getResult");
                assert_eq!(result.len(), 2, "{result:?}");
                assert_eq!(result[0].as_i64().unwrap(), 0, "code Success");
                assert_eq!(result[1].as_bytes().unwrap(), b"[42.17]");
                let record = self
                    .read(&self.gateway, "getRequest", &[id_arg(request)])
                    .await;
                let record = record.as_array().expect("getRequest");
                assert_eq!(record[11].as_i64().unwrap(), 1, "status fulfilled");
                assert_eq!(record[12].as_i64().unwrap(), 0, "code");
                assert!(record[14].as_bool().unwrap(), "callbackOk");
            }
            Kind::Native => {
                let count = self
                    .read(&self.native_consumer, "getResponseCount", &[])
                    .await;
                assert_eq!(count.as_i64().unwrap(), 1, "callbacks received");
                let last = self
                    .read(&self.native_consumer, "getLastResponse", &[])
                    .await;
                let last = last.as_array().expect("getLastResponse");
                assert_eq!(last[1].as_i64().unwrap(), 0, "code Success");
                assert_eq!(last[2].as_bytes().unwrap(), b"[42.17]");
                // Finished: the OracleContract no longer holds the request.
                let key = nsl_oracle::native::request_key(request.id);
                let stored = self
                    .rpc()
                    .get_storage(&nsl_oracle::native::ORACLE_CONTRACT, &key)
                    .await
                    .expect("getstorage");
                assert_eq!(stored, None, "request {} still pending", request.id);
            }
        }
    }

    /// Hashes in neo-go's mempool.
    async fn mempool(&self) -> Vec<UInt256> {
        let hashes: Vec<String> = self
            .rpc()
            .call("getrawmempool", serde_json::json!([]))
            .await
            .expect("getrawmempool");
        hashes.iter().map(|h| h.parse().expect("hash")).collect()
    }

    async fn wait_height(&self, index: u32) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.rpc().get_block_count().await.expect("height") <= index {
            assert!(Instant::now() < deadline, "block {index} not reached");
            tokio::time::sleep(BLOCK_TIME / 4).await;
        }
    }

    /// Every transaction the node sent in the blocks from `from` (the node's first block) to the
    /// current one (gateway: sent from the node account; native: carrying an `OracleResponse`
    /// attribute, as only the node answers on this chain), with what its execution emitted.
    async fn node_transactions(&self, from: u32, request: &Request) -> Vec<NodeTx> {
        let height = self.rpc().get_block_count().await.expect("height") - 1;
        let node_address = self.node_key.address();
        let mut found = Vec::new();
        for index in from..=height {
            let block = self.rpc().get_block(index).await.expect("getblock");
            for tx in &block.tx {
                let oracle_response = tx.attributes.iter().any(|a| a["type"] == "OracleResponse");
                if tx.sender != node_address && !oracle_response {
                    continue;
                }
                let log = self
                    .rpc()
                    .get_application_log(&tx.hash)
                    .await
                    .expect("getapplicationlog");
                let notifications: Vec<_> = log
                    .executions
                    .iter()
                    .flat_map(|e| e.notifications.iter())
                    .collect();
                let of_request = |n: &&&neo_rpc::types::Notification, contract, event| {
                    n.contract == contract
                        && n.eventname == event
                        && n.args().first().and_then(|a| a.as_u64().ok()) == Some(request.id)
                };
                let (request_events, consumer_events) = match request.kind {
                    Kind::Gateway => (
                        notifications
                            .iter()
                            .filter(|n| of_request(n, self.gateway, "ServiceResponse"))
                            .count(),
                        notifications
                            .iter()
                            .filter(|n| of_request(n, self.gateway_consumer, "ValueReceived"))
                            .count(),
                    ),
                    Kind::Native => (
                        tx.attributes
                            .iter()
                            .filter(|a| {
                                a["type"] == "OracleResponse"
                                    && (a["id"].as_u64() == Some(request.id)
                                        || a["id"].as_str() == Some(&request.id.to_string()))
                            })
                            .count(),
                        notifications
                            .iter()
                            .filter(|n| {
                                n.contract == self.native_consumer && n.eventname == "DataReceived"
                            })
                            .count(),
                    ),
                };
                found.push(NodeTx {
                    hash: tx.hash,
                    block: index,
                    halt: log.executions.iter().all(|e| e.vmstate.is_halt()),
                    request_events,
                    consumer_events,
                });
            }
        }
        found
    }

    /// Rows of the node's database not in a final state.
    async fn requests_pending(&self, store: &nsl_store::Store) -> usize {
        let rows = store
            .list_requests(&RequestFilter {
                limit: 100,
                ..RequestFilter::default()
            })
            .await
            .expect("list requests");
        rows.iter()
            .filter(|r| r.state != RequestState::Confirmed)
            .count()
    }
}

fn id_arg(request: &Request) -> Arg {
    Arg::Int(request.id.into())
}

/// A transaction the node sent.
#[derive(Debug)]
struct NodeTx {
    hash: UInt256,
    block: u32,
    halt: bool,
    /// Gateway: `ServiceResponse` events for the request; native: `OracleResponse` attributes
    /// for the request id.
    request_events: usize,
    /// `ValueReceived` / `DataReceived` events of the consumer.
    consumer_events: usize,
}

// --- the node's database ----------------------------------------------------------------------

async fn open_store(config: &NodeConfig) -> nsl_store::Store {
    let url = config.db_url.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}",
            config.dir.join("data").join("nsl.db").display()
        )
    });
    nsl_store::Store::connect_url(&url, 2, Duration::from_secs(10))
        .await
        .expect("open the node's database")
}

/// The node's row for `request` (recorded before any kill point, so it must exist).
async fn request_row(store: &nsl_store::Store, request: &Request) -> RequestDetail {
    let rows = store
        .list_requests(&RequestFilter {
            limit: 100,
            ..RequestFilter::default()
        })
        .await
        .expect("list requests");
    let row = rows
        .iter()
        .find(|r| r.request_id == i64::try_from(request.id).unwrap())
        .unwrap_or_else(|| panic!("no row for {request:?}: {rows:#?}"));
    store
        .request(&row.id)
        .await
        .expect("request detail")
        .expect("row")
}

/// Wait until the node's row for `request` is `confirmed`.
async fn wait_confirmed(
    store: &nsl_store::Store,
    request: &Request,
    within: Duration,
    node: &Node,
) -> RequestDetail {
    let deadline = Instant::now() + within;
    loop {
        let row = request_row(store, request).await;
        if row.request.state == RequestState::Confirmed {
            return row;
        }
        assert!(
            Instant::now() < deadline,
            "{request:?} not confirmed within {within:?} of the restart: {row:#?}\n{}",
            node.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// --- the node process -------------------------------------------------------------------------

/// How `nsl serve` is started (the same for both runs), as `nsl dev` does it.
struct NodeConfig {
    dir: PathBuf,
    rpc_url: String,
    gateway: UInt160,
    node_key: PrivateKey,
    start_block: u32,
    /// `oracle.max_attempts`; `None`: the default.
    max_attempts: Option<u32>,
    /// `database.url`; `None`: SQLite in the data dir.
    db_url: Option<String>,
}

/// A running `nsl serve`, SIGKILLed on drop.
struct Node {
    child: Option<tokio::process::Child>,
    dir: PathBuf,
}

impl Node {
    /// Start `nsl serve` (run `run` of the test: its log is `node-<run>.log`) and wait until it
    /// listens; the oracle service is running by then.
    async fn start(config: &NodeConfig, run: u32) -> Node {
        let log_path = config.dir.join(format!("node-{run}.log"));
        let log = std::fs::File::create(&log_path).expect("node log");
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_nsl"));
        for (k, _) in std::env::vars() {
            if k.starts_with("NSL_") || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(&config.dir)
            .env("NSL_NODE__DATA_DIR", config.dir.join("data"))
            .env("NSL_VAULT__DEV_MODE", "true")
            .env("NSL_ORACLE__ENABLED", "true")
            .env("NSL_ORACLE__RPC_URL", &config.rpc_url)
            .env("NSL_ORACLE__GATEWAY_HASH", config.gateway.to_string())
            .env("NSL_ORACLE__NODE_KEY", &*config.node_key.to_wif())
            .env("NSL_ORACLE__ALLOW_HTTP", "true")
            .env("NSL_ORACLE__ALLOW_PRIVATE_HOSTS", "true")
            .env("NSL_ORACLE__POLL_INTERVAL_MS", "100")
            .env("NSL_ORACLE__START_BLOCK", config.start_block.to_string())
            .envs(
                config
                    .db_url
                    .as_ref()
                    .map(|url| ("NSL_DATABASE__URL", url.clone())),
            )
            .envs(
                config
                    .max_attempts
                    .map(|n| ("NSL_ORACLE__MAX_ATTEMPTS", n.to_string())),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true);
        // The node must not outlive the test process, even if that one is killed.
        #[cfg(target_os = "linux")]
        {
            // SAFETY: only async-signal-safe calls (prctl) between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("spawn nsl serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut node = Node {
            child: Some(child),
            dir: config.dir.clone(),
        };
        let mut lines = BufReader::new(stdout).lines();
        let listening = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("listening") {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(
            matches!(listening, Ok(true)),
            "nsl serve (run {run}) did not start listening: {}",
            node.logs()
        );
        // Keep draining stdout so the node never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        if let Some(status) = node
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
        {
            panic!("nsl serve exited at start ({status}): {}", node.logs());
        }
        node
    }

    /// SIGKILL and reap; panics unless the process died of it.
    async fn sigkill(&mut self) {
        use std::os::unix::process::ExitStatusExt as _;
        let mut child = self.child.take().expect("running");
        child.start_kill().expect("SIGKILL");
        let status = child.wait().await.expect("wait");
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "the node died of SIGKILL, not on its own ({status}): {}",
            self.logs()
        );
    }

    /// SIGTERM; the node stops cleanly (exit 0) within 30 s.
    async fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        let pid = i32::try_from(child.id().expect("pid")).expect("pid");
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .unwrap_or_else(|_| panic!("no exit within 30 s of SIGTERM: {}", self.logs()))
            .expect("wait");
        assert!(status.success(), "exit {status}: {}", self.logs());
    }

    /// The last lines of every run's log, for failure messages.
    fn logs(&self) -> String {
        let mut out = String::new();
        for run in 1..=3 {
            let path = self.dir.join(format!("node-{run}.log"));
            if let Ok(text) = std::fs::read_to_string(&path) {
                let lines: Vec<&str> = text.lines().collect();
                let tail = &lines[lines.len().saturating_sub(40)..];
                out.push_str(&format!(
                    "\n--- {} ---\n{}",
                    path.display(),
                    tail.join("\n")
                ));
            }
        }
        out
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            // Reap it so no zombie outlives the test (the runtime may already be gone).
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                // SAFETY: waitpid(2) on our own child's pid.
                unsafe {
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
            }
        }
    }
}
