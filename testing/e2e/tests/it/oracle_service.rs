//! End to end: the oracle service runtime (`nsl_oracle::service`) on a real neo-go privnet with a
//! fresh SQLite store.
//!
//! One key is designated for the Oracle role at genesis, funded, and registered with the
//! gateway (`addNode`). The example consumers ask for a URL served by a local HTTP server; the
//! service (follower, workers, sender, running in-process) records the requests, fetches through
//! `nsl-egress` (development policy), signs, writes the outbox, broadcasts and confirms. The
//! consumers' callbacks must hold the filtered value, and each request row must end `confirmed`
//! with its whole history.
//!
//! The crash test stops the service right after the outbox row is committed and before the
//! broadcast (a store wrapper that fails the worker at that point), starts a new service on the
//! same database, and checks that the stored transaction (same hash) answers the request once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use neo::{Arg, StackItem, UInt160};
use neo_rpc::{Invoker, ONE_GAS, RpcClient};
use nsl_e2e::rpc_proxy::{Match, Proxy, Trap};
use nsl_e2e::{
    OracleChain, OracleChainConfig, PRICE_BODY, PriceServer, price_server, test_block_time,
};
use nsl_egress::{Egress, EgressPolicy};
use nsl_oracle::service::{
    ChainEntry, NewRequest, NodeKey, OracleService, OracleStore, OutboxRow, OutboxWrite,
    RequestDetail, RequestFilter, RequestKind, RequestRow, RequestState, ServiceConfig,
};
use nsl_store::{Store, StoreError, StoreResult, UnixMillis};
use tokio::sync::watch;

/// A privnet where `node_key` is a designated oracle, a funded account and a gateway node, with
/// the gateway, the gateway consumer (with a deposit) and the native-oracle consumer deployed
/// ([`OracleChain`], reached through `Deref`), a price server and a fresh SQLite database.
struct Env {
    oc: OracleChain,
    server: PriceServer,
    _db_dir: tempfile::TempDir,
    db_url: String,
}

impl std::ops::Deref for Env {
    type Target = OracleChain;

    fn deref(&self) -> &OracleChain {
        &self.oc
    }
}

async fn setup() -> Env {
    setup_with(test_block_time()).await
}

async fn setup_with(block_time: Duration) -> Env {
    let (oc, server) = tokio::join!(
        OracleChain::start(OracleChainConfig::with_block_time(block_time)),
        price_server()
    );
    let db_dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", db_dir.path().join("nsl.db").display());
    Env {
        oc,
        server,
        _db_dir: db_dir,
        db_url,
    }
}

impl Env {
    fn rpc(&self) -> RpcClient {
        self.chain.rpc().clone()
    }

    async fn store(&self) -> Store {
        let store = Store::connect_url(&self.db_url, 4, Duration::from_secs(10))
            .await
            .unwrap();
        store.migrate(nsl_node::MIGRATIONS).await.unwrap();
        store
    }

    /// Start the service on `store`; returns the shutdown switch and the task.
    async fn start(
        &self,
        store: Arc<dyn OracleStore>,
    ) -> (
        watch::Sender<bool>,
        tokio::task::JoinHandle<Result<(), nsl_oracle::service::ServiceError>>,
    ) {
        self.start_with(store, ServiceConfig::default().system_fee_margin)
            .await
    }

    /// [`Env::start`] with a given system fee margin.
    async fn start_with(
        &self,
        store: Arc<dyn OracleStore>,
        system_fee_margin: i64,
    ) -> (
        watch::Sender<bool>,
        tokio::task::JoinHandle<Result<(), nsl_oracle::service::ServiceError>>,
    ) {
        self.start_configured(store, |c| c.system_fee_margin = system_fee_margin)
            .await
    }

    /// [`Env::start`] with the test's service config changed by `change`.
    async fn start_configured(
        &self,
        store: Arc<dyn OracleStore>,
        change: impl FnOnce(&mut ServiceConfig),
    ) -> (
        watch::Sender<bool>,
        tokio::task::JoinHandle<Result<(), nsl_oracle::service::ServiceError>>,
    ) {
        self.start_via(store, self.rpc(), change).await
    }

    /// [`Env::start_configured`] talking to the node through `rpc`.
    async fn start_via(
        &self,
        store: Arc<dyn OracleStore>,
        rpc: RpcClient,
        change: impl FnOnce(&mut ServiceConfig),
    ) -> (
        watch::Sender<bool>,
        tokio::task::JoinHandle<Result<(), nsl_oracle::service::ServiceError>>,
    ) {
        let egress = Egress::new(EgressPolicy {
            allow_http: true,
            allow_private_hosts: true,
            ..EgressPolicy::default()
        })
        .unwrap();
        let mut config = ServiceConfig {
            gateway: Some(self.gateway),
            poll_interval: test_block_time() / 2,
            claim_lease: Duration::from_secs(2),
            start_block: Some(0),
            ..ServiceConfig::default()
        };
        change(&mut config);
        let service = OracleService::new(
            store,
            rpc,
            egress,
            NodeKey(self.node_key.clone()),
            config,
            Vec::new(),
        )
        .await
        .unwrap();
        let (tx, rx) = watch::channel(false);
        (tx, tokio::spawn(service.run(rx)))
    }

    fn price_url(&self) -> String {
        format!("http://{}/price", self.server.addr)
    }

    async fn gateway_request(&self, filter: &str) -> i64 {
        let out = self
            .user
            .call(
                &self.gateway_consumer,
                "requestValue",
                &[Arg::String(self.price_url()), Arg::String(filter.into())],
            )
            .await
            .unwrap()
            .into_halt()
            .unwrap();
        out.stack[0].as_i64().unwrap()
    }

    async fn native_request(&self, filter: &str) {
        self.user
            .call(
                &self.native_consumer,
                "requestData",
                &[
                    Arg::String(self.price_url()),
                    Arg::String(filter.into()),
                    Arg::Int((ONE_GAS / 5).into()),
                ],
            )
            .await
            .unwrap()
            .into_halt()
            .unwrap();
    }

    async fn read(&self, contract: &UInt160, method: &str, args: &[Arg]) -> StackItem {
        Invoker::new(self.rpc())
            .call_item(contract, method, args)
            .await
            .unwrap()
    }

    /// `[code, result]` stored by the gateway consumer for request `id`, once it arrives.
    async fn gateway_result(&self, id: i64) -> (i64, Vec<u8>) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let item = self
                .read(&self.gateway_consumer, "getResult", &[Arg::Int(id.into())])
                .await;
            let items = item.as_array().unwrap();
            if let [code, result] = items {
                return (code.as_i64().unwrap(), result.as_bytes().unwrap());
            }
            assert!(
                Instant::now() < deadline,
                "gateway request {id} not answered"
            );
            tokio::time::sleep(test_block_time()).await;
        }
    }

    /// Number of native responses the consumer received, waiting until it reaches `n`.
    async fn native_responses(&self, n: i64) -> i64 {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let count = self
                .read(&self.native_consumer, "getResponseCount", &[])
                .await
                .as_i64()
                .unwrap();
            if count >= n || Instant::now() > deadline {
                return count;
            }
            tokio::time::sleep(test_block_time()).await;
        }
    }
}

/// Wait until every row is `confirmed` (or time out), then return the rows with details.
async fn confirmed_rows(store: &Store, n: usize) -> Vec<RequestDetail> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = store
            .list_requests(&RequestFilter {
                limit: 100,
                ..RequestFilter::default()
            })
            .await
            .unwrap();
        if rows.len() >= n && rows.iter().all(|r| r.state == RequestState::Confirmed)
            || Instant::now() > deadline
        {
            let mut out = Vec::new();
            for r in rows {
                out.push(store.request(&r.id).await.unwrap().unwrap());
            }
            return out;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn states(detail: &RequestDetail) -> Vec<&str> {
    detail.history.iter().map(|h| h.state.as_str()).collect()
}

/// The follower learns of new blocks from the node's WebSocket push: with polling as good as off
/// (one round an hour), a request made after the start is still recorded and answered.
#[tokio::test]
async fn pushed_blocks_wake_the_follower_when_polling_is_off() {
    let env = setup().await;
    let store = env.store().await;
    let (stop, task) = env
        .start_configured(Arc::new(store.clone()), |c| {
            c.poll_interval = Duration::from_secs(3600);
            assert!(c.block_push, "push is the default");
        })
        .await;
    let id = env.gateway_request("$.data.price").await;
    assert_eq!(env.gateway_result(id).await, (0, b"[42.17]".to_vec()));
    let rows = store
        .list_requests(&RequestFilter {
            limit: 10,
            ..RequestFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "the request was recorded by the follower");
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

/// A node reached through a proxy that only forwards plain HTTP (no WebSocket upgrade): block
/// push is on but unavailable, and polling alone finds and answers the request.
#[tokio::test]
async fn follower_polls_when_the_node_has_no_websocket() {
    let env = setup().await;
    let proxy = Proxy::start(
        env.chain.rpc_url(),
        Match::RpcMethod("no-such-method".into()),
        Trap::Hold,
    )
    .await;
    let err = neo_rpc::WsClient::connect(&proxy.url()).await.unwrap_err();
    assert!(
        matches!(err, neo_rpc::Error::WsUnsupported { .. }),
        "{err:?}"
    );
    let store = env.store().await;
    let rpc = RpcClient::new(proxy.url()).unwrap();
    let (stop, task) = env
        .start_via(Arc::new(store.clone()), rpc, |c| {
            assert!(c.block_push, "push is the default");
        })
        .await;
    let id = env.gateway_request("$.data.price").await;
    assert_eq!(env.gateway_result(id).await, (0, b"[42.17]".to_vec()));
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

/// `requestBurst` of the example native consumer makes N OracleContract requests in ONE
/// transaction (oracle-bench's native burst): the follower records one row per request, all with
/// the same transaction hash and distinct ids, and the service answers every one of them.
#[tokio::test]
async fn native_burst_in_one_transaction_is_answered_in_full() {
    const N: usize = 20;
    let env = setup().await;
    let store = env.store().await;
    let (stop, task) = env.start(Arc::new(store.clone())).await;
    let out = env
        .user
        .call(
            &env.native_consumer,
            "requestBurst",
            &[
                Arg::String(env.price_url()),
                Arg::String("$.data.price".into()),
                Arg::Int((ONE_GAS / 5).into()),
                Arg::Int((N as i64).into()),
            ],
        )
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    let ids: std::collections::BTreeSet<u64> = out
        .events(&neo_rpc::native::ORACLE, "OracleRequest")
        .map(|e| e.args()[0].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), N, "one OracleRequest per request");
    assert_eq!(env.native_responses(N as i64).await, N as i64);
    let rows = confirmed_rows(&store, N).await;
    assert_eq!(rows.len(), N);
    let tx = rows[0].request.tx_hash.clone();
    let mut answered = std::collections::BTreeSet::new();
    for d in &rows {
        assert_eq!(d.request.state, RequestState::Confirmed, "{:?}", states(d));
        assert_eq!(d.request.kind, RequestKind::Native);
        assert_eq!(d.request.tx_hash, tx, "all from the one transaction");
        assert_eq!(d.request.code, Some(0));
        answered.insert(u64::try_from(d.request.request_id).unwrap());
    }
    assert_eq!(answered, ids, "every request id answered once");
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn service_answers_gateway_and_native_requests_and_records_their_history() {
    let env = setup().await;
    let store = env.store().await;
    let (stop, task) = env.start(Arc::new(store.clone())).await;

    // A batch: gateway requests (filtered, whole body) and native requests.
    let mut gateway_ids = Vec::new();
    for filter in ["$.data.price", "", "$.pair"] {
        gateway_ids.push(env.gateway_request(filter).await);
    }
    env.native_request("$.data.price").await;
    env.native_request("$.data.sources[1]").await;

    assert_eq!(
        env.gateway_result(gateway_ids[0]).await,
        (0, b"[42.17]".to_vec())
    );
    assert_eq!(
        env.gateway_result(gateway_ids[1]).await,
        (0, PRICE_BODY.as_bytes().to_vec())
    );
    assert_eq!(
        env.gateway_result(gateway_ids[2]).await,
        (0, br#"["NEO-USD"]"#.to_vec())
    );
    assert_eq!(env.native_responses(2).await, 2);
    let last = env.read(&env.native_consumer, "getLastResponse", &[]).await;
    let last = last.as_array().unwrap();
    assert_eq!(last[0].as_string().unwrap(), env.price_url());
    assert_eq!(last[1].as_i64().unwrap(), 0);
    // The two native responses may land in either order (concurrent workers).
    let last_result = last[2].as_bytes().unwrap();
    assert!(
        [b"[42.17]".to_vec(), br#"["b"]"#.to_vec()].contains(&last_result),
        "{last_result:?}"
    );

    let rows = confirmed_rows(&store, 5).await;
    assert_eq!(rows.len(), 5, "{rows:#?}");
    let mut blocks_to_answer = Vec::new();
    for d in &rows {
        assert_eq!(d.request.state, RequestState::Confirmed, "{d:#?}");
        assert_eq!(
            states(d),
            ["seen", "fetched", "outbox", "sent", "confirmed"],
            "{d:#?}"
        );
        assert_eq!(d.request.code, Some(0));
        let outbox = d.outbox.as_ref().expect("outbox row kept");
        assert_eq!(d.request.response_tx_hash.as_ref(), Some(&outbox.tx_hash));
        // The confirmed block is where the chain has the response transaction.
        let hash = outbox.tx_hash.parse().unwrap();
        let height = env.rpc().get_transaction_height(&hash).await.unwrap();
        assert_eq!(d.request.confirmed_block, Some(i64::from(height)));
        blocks_to_answer.push(i64::from(height) - d.request.block_index);
        if d.request.kind == RequestKind::Native {
            // The response transaction ran the consumer's callback with the filtered value.
            let log = env.rpc().get_application_log(&hash).await.unwrap();
            let received: Vec<_> = log
                .executions
                .iter()
                .flat_map(|e| e.notifications.iter())
                .filter(|n| n.contract == env.native_consumer && n.eventname == "DataReceived")
                .map(|n| n.state.as_array().unwrap()[3].as_bytes().unwrap())
                .collect();
            let expected = match d.request.filter.as_deref() {
                Some("$.data.price") => b"[42.17]".to_vec(),
                _ => br#"["b"]"#.to_vec(),
            };
            assert_eq!(received, [expected], "{d:#?}");
        }
    }
    let kinds = |k| rows.iter().filter(|d| d.request.kind == k).count();
    assert_eq!(
        (kinds(RequestKind::Gateway), kinds(RequestKind::Native)),
        (3, 2)
    );
    let mut request_ids: Vec<_> = rows
        .iter()
        .filter(|d| d.request.kind == RequestKind::Gateway)
        .map(|d| d.request.request_id)
        .collect();
    request_ids.sort_unstable();
    assert_eq!(request_ids, gateway_ids);
    println!(
        "blocks-to-answer (block time {:?}): {blocks_to_answer:?}",
        test_block_time()
    );

    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

/// Delegates to the real store; `write_outboxes` commits, then (once, while armed) reports a
/// failure, so the worker stops before broadcasting: the state a crash at that point leaves.
struct CrashAfterOutbox {
    inner: Store,
    armed: AtomicBool,
}

#[async_trait]
impl OracleStore for CrashAfterOutbox {
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
        self.inner
            .record_requests(chain, requests, claim, now)
            .await
    }
    async fn enter_chain(
        &self,
        chain: &str,
        source: &str,
        genesis: &str,
        now: UnixMillis,
    ) -> StoreResult<ChainEntry> {
        self.inner.enter_chain(chain, source, genesis, now).await
    }
    async fn cursor(&self, chain: &str, source: &str) -> StoreResult<Option<i64>> {
        self.inner.cursor(chain, source).await
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
        self.inner
            .record_block(chain, source, next_block, requests, claim, now)
            .await
    }
    async fn claim(
        &self,
        owner: &str,
        until: UnixMillis,
        limit: i64,
        now: UnixMillis,
    ) -> StoreResult<Vec<RequestRow>> {
        self.inner.claim(owner, until, limit, now).await
    }
    async fn store_answer(
        &self,
        id: &str,
        owner: &str,
        code: i64,
        result: &[u8],
        now: UnixMillis,
    ) -> StoreResult<bool> {
        self.inner.store_answer(id, owner, code, result, now).await
    }
    async fn write_outboxes(
        &self,
        owner: &str,
        writes: &[OutboxWrite],
        now: UnixMillis,
    ) -> StoreResult<Vec<bool>> {
        let written = self.inner.write_outboxes(owner, writes, now).await?;
        if written.contains(&true) && self.armed.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Corrupt("simulated crash after outbox".into()));
        }
        Ok(written)
    }
    async fn mark_sent(&self, id: &str, now: UnixMillis) -> StoreResult<()> {
        self.inner.mark_sent(id, now).await
    }
    async fn mark_sent_many(&self, ids: &[String], now: UnixMillis) -> StoreResult<()> {
        self.inner.mark_sent_many(ids, now).await
    }
    async fn mark_confirmed(&self, id: &str, block: i64, now: UnixMillis) -> StoreResult<bool> {
        self.inner.mark_confirmed(id, block, now).await
    }
    async fn mark_final(
        &self,
        id: &str,
        state: RequestState,
        detail: &str,
        now: UnixMillis,
    ) -> StoreResult<()> {
        self.inner.mark_final(id, state, detail, now).await
    }
    async fn requeue(
        &self,
        id: &str,
        tx_hash: &str,
        why: &str,
        now: UnixMillis,
    ) -> StoreResult<bool> {
        self.inner.requeue(id, tx_hash, why, now).await
    }
    async fn release(&self, id: &str, owner: &str) -> StoreResult<()> {
        self.inner.release(id, owner).await
    }
    async fn release_owner(&self, owner: &str) -> StoreResult<u64> {
        self.inner.release_owner(owner).await
    }
    async fn in_flight(&self) -> StoreResult<Vec<(RequestRow, OutboxRow)>> {
        // The crashing process's sender never sees the row (it "died" first).
        Ok(Vec::new())
    }
    async fn request(&self, id: &str) -> StoreResult<Option<RequestDetail>> {
        self.inner.request(id).await
    }
    async fn list_requests(&self, filter: &RequestFilter) -> StoreResult<Vec<RequestRow>> {
        self.inner.list_requests(filter).await
    }
    async fn count_by_state(&self) -> StoreResult<Vec<(String, i64)>> {
        self.inner.count_by_state().await
    }
}

/// What the crash leaves: the request's id, its row and the stored (never broadcast) response.
struct Crashed {
    id: i64,
    row: RequestRow,
    outbox: OutboxRow,
}

/// Block time of the crash tests: slow enough that the request lands below block 128 even when
/// the setup is slow, so that the chain can be moved past 128 before the stored response runs.
const CRASH_BLOCK_TIME: Duration = Duration::from_millis(250);

/// Request a value, let the service (with `margin`) write the response to the outbox and crash
/// before broadcasting it, stop it; then wait until the chain is past block 128, where the
/// closing height the gateway stores takes a byte more than it did in the response's test run.
async fn crash_after_outbox_then_pass_block_128(env: &Env, store: &Store, margin: i64) -> Crashed {
    let crashing = Arc::new(CrashAfterOutbox {
        inner: store.clone(),
        armed: AtomicBool::new(true),
    });
    let (stop, task) = env.start_with(crashing.clone(), margin).await;
    let id = env.gateway_request("$.data.price").await;

    // Wait for the outbox row; the first service never broadcasts it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let row = loop {
        let rows = store
            .list_requests(&RequestFilter {
                limit: 10,
                ..RequestFilter::default()
            })
            .await
            .unwrap();
        if let Some(r) = rows.into_iter().find(|r| r.state == RequestState::Outbox) {
            break r;
        }
        assert!(Instant::now() < deadline, "no outbox row");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    assert!(
        row.block_index < 120,
        "the setup took until block {}: too late to cross block 128 after the request",
        row.block_index
    );
    let outbox = store
        .request(&row.id)
        .await
        .unwrap()
        .unwrap()
        .outbox
        .expect("outbox row");
    let hash = outbox.tx_hash.parse().unwrap();
    assert!(
        env.rpc().get_transaction_height(&hash).await.is_err(),
        "not broadcast before the restart"
    );
    assert!(
        env.read(&env.gateway_consumer, "isPending", &[Arg::Int(id.into())])
            .await
            .as_bool()
            .unwrap()
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while env.rpc().get_block_count().await.unwrap() < 130 {
        assert!(Instant::now() < deadline, "chain stalled below block 130");
        tokio::time::sleep(CRASH_BLOCK_TIME).await;
    }
    Crashed { id, row, outbox }
}

/// `ServiceResponse` events of the gateway for request `id` in blocks `from..` (the chain's view
/// of how many times it was answered).
async fn service_responses(env: &Env, from: i64, id: i64) -> usize {
    let rpc = env.rpc();
    let top = rpc.get_block_count().await.unwrap();
    let mut n = 0;
    for index in u32::try_from(from).unwrap()..top {
        let block = rpc.get_block(index).await.unwrap();
        for tx in &block.tx {
            let log = rpc.get_application_log(&tx.hash).await.unwrap();
            for e in &log.executions {
                n += e
                    .notifications
                    .iter()
                    .filter(|n| n.contract == env.gateway && n.eventname == "ServiceResponse")
                    .filter(|n| {
                        n.state
                            .as_array()
                            .ok()
                            .and_then(|a| a.first()?.as_i64().ok())
                            == Some(id)
                    })
                    .count();
            }
        }
    }
    n
}

#[tokio::test]
async fn outbox_written_before_a_crash_is_sent_after_restart_and_answers_once() {
    let env = setup_with(CRASH_BLOCK_TIME).await;
    let store = env.store().await;
    let margin = ServiceConfig::default().system_fee_margin;
    let Crashed { id, row, outbox } =
        crash_after_outbox_then_pass_block_128(&env, &store, margin).await;
    let hash = outbox.tx_hash.parse().unwrap();

    // Restart on the same database: the stored bytes are sent, not rebuilt, and the system fee
    // margin covers the byte the closing height gained since the test run.
    let (stop, task) = env.start(Arc::new(store.clone())).await;
    let rows = confirmed_rows(&store, 1).await;
    let log = env.rpc().get_application_log(&hash).await.unwrap();
    let exec = &log.executions[0];
    assert!(
        exec.vmstate.is_halt(),
        "response FAULTed: {:?} (system fee {}, gas consumed {}); row {:?}",
        exec.exception,
        neo::tx::Transaction::from_bytes(&outbox.tx).map_or(-1, |t| t.system_fee),
        exec.gasconsumed,
        rows
    );
    assert_eq!(env.gateway_result(id).await, (0, b"[42.17]".to_vec()));
    assert_eq!(rows.len(), 1);
    let after = &rows[0];
    assert_eq!(after.request.state, RequestState::Confirmed);
    assert_eq!(
        states(after),
        ["seen", "fetched", "outbox", "sent", "confirmed"]
    );
    assert_eq!(after.outbox.as_ref().unwrap().tx_hash, outbox.tx_hash);
    assert_eq!(after.outbox.as_ref().unwrap().tx, outbox.tx);
    assert_eq!(
        after.request.confirmed_block,
        Some(i64::from(
            env.rpc().get_transaction_height(&hash).await.unwrap()
        ))
    );
    assert_eq!(service_responses(&env, row.block_index, id).await, 1);
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

/// Without the margin the stored response runs out of GAS past block 128 and FAULTs on chain:
/// the node sees the FAULT in the block, rebuilds the response with a fresh test run, and the
/// request is answered once.
#[tokio::test]
async fn a_response_that_faults_on_chain_ends_failed_without_a_rebuild() {
    let env = setup_with(CRASH_BLOCK_TIME).await;
    let store = env.store().await;
    let Crashed { id, row, outbox } = crash_after_outbox_then_pass_block_128(&env, &store, 0).await;
    let hash = outbox.tx_hash.parse().unwrap();

    let (stop, task) = env.start_with(Arc::new(store.clone()), 0).await;
    // The stored response runs out of GAS on chain: the request ends `failed` with the
    // exception and is not rebuilt (a rebuild would spend the node's GAS again, and a callback
    // that is costly only on chain would FAULT every time).
    let deadline = Instant::now() + Duration::from_secs(60);
    let after = loop {
        let detail = store.request(&row.id).await.unwrap().unwrap();
        if detail.request.state == RequestState::Failed {
            break detail;
        }
        assert!(Instant::now() < deadline, "not failed: {detail:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let first = env.rpc().get_application_log(&hash).await.unwrap();
    assert!(
        !first.executions[0].vmstate.is_halt(),
        "the stored response was expected to run out of GAS"
    );
    assert_eq!(
        after.request.response_tx_hash.as_deref(),
        Some(outbox.tx_hash.as_str())
    );
    let why = after
        .history
        .last()
        .unwrap()
        .detail
        .clone()
        .unwrap_or_default();
    assert!(why.contains("FAULTed") && why.contains("GAS"), "{why}");
    let states = states(&after);
    assert_eq!(states[..3], ["seen", "fetched", "outbox"], "{states:?}");
    assert_eq!(states.last(), Some(&"failed"), "{states:?}");
    assert_eq!(
        states.iter().filter(|s| **s == "outbox").count(),
        1,
        "rebuilt: {states:?}"
    );
    assert_eq!(service_responses(&env, row.block_index, id).await, 0);
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

/// The follower's cursor of chain `neo:<magic>` (the chains started here share the magic).
async fn follower_cursor(store: &Store, env: &Env) -> i64 {
    let magic = env.chain.network_magic();
    store
        .cursor(
            &format!("neo:{magic}"),
            nsl_oracle::service::FOLLOWER_SOURCE,
        )
        .await
        .unwrap()
        .unwrap_or(0)
}

/// Wait for `store`'s row with `pred`, or fail after a minute.
async fn row_where(store: &Store, what: &str, pred: impl Fn(&RequestRow) -> bool) -> RequestRow {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let rows = store
            .list_requests(&RequestFilter {
                limit: 100,
                ..RequestFilter::default()
            })
            .await
            .unwrap();
        if let Some(r) = rows.iter().find(|r| pred(r)) {
            return r.clone();
        }
        assert!(Instant::now() < deadline, "no row: {what}: {rows:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A second `nsl dev` in the same data dir: a fresh chain B (same magic, lower height) replaces
/// chain A under the same database. The node must follow B at once (not wait for B to pass A's
/// height), and nothing of A is sent to B: A's response left in the outbox by a crash ends
/// `expired` with the reason, and is never broadcast.
#[tokio::test]
async fn a_fresh_chain_in_the_same_database_is_followed_at_once_and_gets_nothing_of_the_old_one() {
    // A runs fast (its cursor gets far ahead); B is slower, so its height stays below A's.
    let (a, b) = tokio::join!(
        setup_with(test_block_time()),
        setup_with(Duration::from_millis(500))
    );
    assert_eq!(a.chain.network_magic(), b.chain.network_magic());
    let store = a.store().await;
    let instance = |c: &mut ServiceConfig| c.instance = "node-1".into();

    // On A: a native request answered, then a gateway response left in the outbox by a crash
    // (the service runs on, moving the cursor, until A is far ahead of B).
    let (stop, task) = a.start_configured(Arc::new(store.clone()), instance).await;
    a.native_request("$.data.price").await;
    assert_eq!(a.native_responses(1).await, 1);
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    let crashing = Arc::new(CrashAfterOutbox {
        inner: store.clone(),
        armed: AtomicBool::new(true),
    });
    let (stop, task) = a.start_configured(crashing, instance).await;
    a.gateway_request("$.data.price").await;
    let stuck = row_where(&store, "A's outbox row", |r| {
        r.state == RequestState::Outbox
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let b_height = i64::from(b.rpc().get_block_count().await.unwrap());
        if follower_cursor(&store, &a).await > b_height + 200 {
            break;
        }
        assert!(Instant::now() < deadline, "chain A never got ahead of B");
        tokio::time::sleep(test_block_time()).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    let a_cursor = follower_cursor(&store, &a).await;

    // Same database, chain B: a native request made before the node starts on it.
    b.native_request("$.data.price").await;
    let (stop, task) = b
        .start_via(Arc::new(store.clone()), b.rpc(), instance)
        .await;
    assert_eq!(b.native_responses(1).await, 1, "B's request not answered");
    let answered = row_where(&store, "B's confirmed row", |r| {
        r.state == RequestState::Confirmed
            && !r.chain.contains('@')
            && r.kind == RequestKind::Native
    })
    .await;
    // Answered while B was still below A's old height: the follower did not wait for it.
    assert!(
        answered.confirmed_block.unwrap() < a_cursor,
        "answered at B's block {:?}, A's cursor was {a_cursor}",
        answered.confirmed_block
    );
    // A's stuck response: expired with the reason, under A's retired chain key, never sent.
    let old = store.request(&stuck.id).await.unwrap().unwrap();
    assert_eq!(old.request.state, RequestState::Expired, "{old:?}");
    assert!(old.request.chain.starts_with(&format!("{}@", stuck.chain)));
    assert!(old.outbox.is_none());
    assert!(
        old.history
            .last()
            .and_then(|h| h.detail.as_deref())
            .is_some_and(|d| d.contains("chain reset")),
        "{:?}",
        old.history
    );
    assert!(!states(&old).contains(&"sent"));
    let hash = stuck.response_tx_hash.unwrap().parse().unwrap();
    assert!(b.rpc().get_transaction_height(&hash).await.is_err());
    // B's cursor now belongs to B: a restart on B resumes from it.
    assert!(follower_cursor(&store, &b).await > 0);
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

/// Native oracle catch-up: a request made before the node's start block (the follower never
/// reads its block) and one made while the node is down are both answered after start, each
/// recorded once.
#[tokio::test]
async fn native_requests_made_before_the_start_block_or_while_down_are_answered() {
    let env = setup().await;
    let store = env.store().await;
    env.native_request("$.data.price").await;
    // The next block: the request's block is below it, so only the catch-up can find it.
    let start = env.rpc().get_block_count().await.unwrap();
    let config = move |c: &mut ServiceConfig| {
        c.instance = "node-1".into();
        c.start_block = Some(start);
    };
    let (stop, task) = env.start_configured(Arc::new(store.clone()), config).await;
    assert_eq!(
        env.native_responses(1).await,
        1,
        "request before the start block"
    );
    let early = row_where(&store, "the early request confirmed", |r| {
        r.state == RequestState::Confirmed
    })
    .await;
    assert!(early.block_index < i64::from(start));
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();

    env.native_request("$.data.price").await;
    let (stop, task) = env.start_configured(Arc::new(store.clone()), config).await;
    assert_eq!(env.native_responses(2).await, 2, "request made while down");
    let rows = confirmed_rows(&store, 2).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.request.kind == RequestKind::Native));
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}
