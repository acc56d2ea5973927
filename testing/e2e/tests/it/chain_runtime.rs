//! End to end: the chain runtime (`nsl-chain`) on its own, against a neo-go privnet and a real
//! store: the transaction manager (confirmed, refused above the ceiling before signing, expiry
//! reported), the follower with two sinks on one block stream, taking the application logs
//! from the push and missing nothing while its socket is down, and the node's runtime
//! (`ChainRuntime`) shared by the oracle and another sink.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use neo::tx::Transaction;
use neo::{Arg, BigInt, PrivateKey, UInt160};
use neo_rpc::{Account, Actor, LocalFees, Nep17, ONE_GAS, native};
use nsl_chain::queue::{OutboxTx, TxState};
use nsl_chain::{
    BuildError, ChainEvent, ChainIdentity, ChainRuntime, ChainStore, Follower, FollowerConfig,
    RuntimeConfig, Sink, SinkError, Subscription, TxConfig, TxManager, TxOwner, TxSigner,
};
use nsl_devchain::DevChain;
use nsl_e2e::start_chain;
use nsl_e2e::tcp_proxy::TcpProxy;
use nsl_store::Backend;
use nsl_store::test_utils::TestDb;
use tokio::sync::watch;

/// The real actor, counting its signatures (to see that a refused transaction is never signed).
struct CountingSigner {
    actor: Actor,
    signed: AtomicUsize,
}

impl TxSigner for CountingSigner {
    fn sender(&self) -> UInt160 {
        self.actor.sender()
    }
    fn invoker(&self) -> &neo_rpc::Invoker {
        self.actor.invoker()
    }
    fn unsigned(&self, script: &[u8], system_fee: i64, fees: &LocalFees) -> Transaction {
        self.actor.make_unsigned_local(script, system_fee, fees)
    }
    fn sign(&self, tx: &mut Transaction) -> Result<(), neo_rpc::Error> {
        self.signed.fetch_add(1, Ordering::SeqCst);
        self.actor.sign(tx)
    }
}

/// Records how the test service's transactions ended.
#[derive(Default)]
struct Recorder {
    ended: Mutex<Vec<OutboxTx>>,
}

#[async_trait]
impl TxOwner for Recorder {
    async fn tx_ended(&self, tx: &OutboxTx) {
        self.ended.lock().unwrap().push(tx.clone());
    }
}

impl Recorder {
    async fn wait_for(&self, hash: &str) -> OutboxTx {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(tx) = self
                .ended
                .lock()
                .unwrap()
                .iter()
                .find(|t| t.tx_hash == hash)
            {
                return tx.clone();
            }
            assert!(Instant::now() < deadline, "no end reported for {hash}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A follower without sinks feeding a transaction manager, both running until `stop`.
struct Runtime {
    tx: TxManager,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn runtime(
    chain: &DevChain,
    store: Arc<dyn ChainStore>,
    signer: Arc<dyn TxSigner>,
    sinks: Vec<Arc<dyn Sink>>,
) -> Runtime {
    let rpc = chain.rpc().clone();
    let identity = ChainIdentity::read(&rpc).await.unwrap();
    let config = TxConfig {
        poll_interval: Duration::from_millis(50),
        ..TxConfig::default()
    };
    let (tx, tasks) = TxManager::new(
        store.clone(),
        rpc.clone(),
        identity.clone(),
        Some(signer),
        config,
    )
    .await
    .unwrap();
    let mut follower = Follower::new(
        rpc,
        store,
        identity,
        FollowerConfig {
            poll_interval: Duration::from_millis(50),
            ..FollowerConfig::default()
        },
    )
    .with_height(tx.height());
    follower.confirm_to(tx.confirmations());
    for sink in sinks {
        follower.add_sink(sink);
    }
    follower.enter_chain().await.unwrap();
    let (stop, rx) = watch::channel(false);
    let f = tokio::spawn({
        let rx = rx.clone();
        async move { follower.run(rx).await.unwrap() }
    });
    let t = tokio::spawn(async move { tasks.run(rx).await.unwrap() });
    Runtime {
        tx,
        stop,
        tasks: vec![f, t],
    }
}

impl Runtime {
    async fn shutdown(self) {
        self.stop.send(true).unwrap();
        drop(self.tx);
        for t in self.tasks {
            t.await.unwrap();
        }
    }
}

async fn transaction_manager(backend: Backend) {
    let chain = start_chain().await;
    let db = TestDb::new(backend, nsl_node::MIGRATIONS).await;
    let rpc = chain.rpc().clone();
    let alice = chain.new_funded_account(100 * ONE_GAS).await.unwrap();
    let bob = PrivateKey::generate().script_hash();
    let signer = Arc::new(CountingSigner {
        actor: Actor::new(rpc.clone(), vec![Account::single(alice.clone())])
            .await
            .unwrap(),
        signed: AtomicUsize::new(0),
    });
    let rt = runtime(
        &chain,
        Arc::new(db.store.clone()),
        signer.clone(),
        Vec::new(),
    )
    .await;
    let recorder = Arc::new(Recorder::default());
    rt.tx.set_owner("test", recorder.clone());
    let gas = Nep17::gas(rpc.clone());
    let script = gas
        .transfer_script(&alice.script_hash(), &bob, 3 * ONE_GAS, Arg::Null)
        .unwrap();

    // Within the ceiling: built, signed, stored, broadcast, confirmed from the followed blocks.
    let tx = rt.tx.build(&script, 10 * ONE_GAS).await.unwrap();
    assert_eq!(signer.signed.load(Ordering::SeqCst), 1);
    assert!(rt.tx.submit("test", "pay bob", &tx).await.unwrap());
    assert!(
        !rt.tx.submit("test", "pay bob", &tx).await.unwrap(),
        "the same transaction is stored once"
    );
    let ended = recorder.wait_for(&tx.hash().to_string()).await;
    assert_eq!(ended.state, TxState::Confirmed, "{ended:?}");
    assert_eq!(ended.service, "test");
    assert_eq!(ended.reference, "pay bob");
    let height = rpc.get_transaction_height(&tx.hash()).await.unwrap();
    assert_eq!(ended.confirmed_block, Some(i64::from(height)));
    assert!(ended.attempts >= 1);
    assert_eq!(
        gas.balance_of(&bob).await.unwrap(),
        BigInt::from(3 * ONE_GAS)
    );

    // Above the ceiling: refused with the fees, nothing signed, nothing stored.
    let ceiling = tx.system_fee + tx.network_fee - 1;
    match rt.tx.build(&script, ceiling).await {
        Err(BuildError::AboveCeiling {
            fees, ceiling: c, ..
        }) => {
            assert!(fees > ceiling, "{fees} <= {ceiling}");
            assert_eq!(c, ceiling);
        }
        other => panic!("expected AboveCeiling, got {other:?}"),
    }
    assert_eq!(
        signer.signed.load(Ordering::SeqCst),
        1,
        "a refused transaction was signed"
    );

    // A FAULTing test run is refused too (bob holds no NEO).
    let neo = Nep17::neo(rpc.clone());
    let fault = neo
        .transfer_script(&bob, &alice.script_hash(), 1, Arg::Null)
        .unwrap();
    assert!(matches!(
        rt.tx.build(&fault, 10 * ONE_GAS).await,
        Err(BuildError::Fault { .. })
    ));
    assert_eq!(signer.signed.load(Ordering::SeqCst), 1);

    // validUntilBlock already passed: the node refuses it, the manager reports it expired.
    let mut late = rt.tx.build(&script, 10 * ONE_GAS).await.unwrap();
    late.valid_until_block = 1;
    signer.actor.sign(&mut late).unwrap();
    assert!(rt.tx.submit("test", "too late", &late).await.unwrap());
    let ended = recorder.wait_for(&late.hash().to_string()).await;
    assert_eq!(ended.state, TxState::Expired, "{ended:?}");
    assert!(ended.detail.unwrap().contains("validUntilBlock"));
    assert!(rpc.get_transaction_height(&late.hash()).await.is_err());
    assert_eq!(
        gas.balance_of(&bob).await.unwrap(),
        BigInt::from(3 * ONE_GAS),
        "the expired transfer never happened"
    );
    rt.shutdown().await;
}

#[tokio::test]
async fn tx_manager_confirms_refuses_above_ceiling_and_reports_expiry_sqlite() {
    transaction_manager(Backend::Sqlite).await;
}

#[tokio::test]
async fn tx_manager_confirms_refuses_above_ceiling_and_reports_expiry_postgres() {
    transaction_manager(Backend::Postgres).await;
}

/// A sink that keeps what it is handed.
struct Keep {
    name: &'static str,
    subs: Vec<Subscription>,
    events: Mutex<Vec<ChainEvent>>,
    blocks: Mutex<Vec<u32>>,
}

impl Keep {
    fn new(name: &'static str, contract: UInt160, event: &str) -> Arc<Self> {
        Arc::new(Self {
            name,
            subs: vec![Subscription::new(contract, event)],
            events: Mutex::new(Vec::new()),
            blocks: Mutex::new(Vec::new()),
        })
    }

    fn has_tx(&self, hash: &neo::UInt256) -> bool {
        self.events
            .lock()
            .unwrap()
            .iter()
            .any(|e| e.tx_hash == *hash)
    }
}

#[async_trait]
impl Sink for Keep {
    fn name(&self) -> &str {
        self.name
    }
    fn subscriptions(&self) -> Vec<Subscription> {
        self.subs.clone()
    }
    async fn record(
        &self,
        block: u32,
        events: Vec<ChainEvent>,
        _seen: Instant,
    ) -> Result<(), SinkError> {
        self.blocks.lock().unwrap().push(block);
        self.events.lock().unwrap().extend(events);
        Ok(())
    }
}

#[tokio::test]
async fn follower_hands_each_sink_only_its_events_in_block_order() {
    let chain = start_chain().await;
    let db = TestDb::new(Backend::Sqlite, nsl_node::MIGRATIONS).await;
    let rpc = chain.rpc().clone();
    let alice = chain.new_funded_account(100 * ONE_GAS).await.unwrap();
    let gas_sink = Keep::new("gas", native::GAS, "Transfer");
    let neo_sink = Keep::new("neo", native::NEO, "Transfer");
    let signer = Arc::new(
        Actor::new(rpc.clone(), vec![Account::single(alice.clone())])
            .await
            .unwrap(),
    );
    let rt = runtime(
        &chain,
        Arc::new(db.store.clone()),
        signer,
        vec![gas_sink.clone(), neo_sink.clone()],
    )
    .await;

    // One GAS transfer (alice -> bob) and one NEO transfer (committee -> alice).
    let bob = PrivateKey::generate().script_hash();
    let alice_actor = Actor::new(rpc.clone(), vec![Account::single(alice.clone())])
        .await
        .unwrap();
    let gas_out = Nep17::gas(rpc.clone())
        .transfer(&alice_actor, &bob, ONE_GAS, Arg::Null)
        .await
        .unwrap();
    assert!(gas_out.is_halt());
    let committee = chain.committee_actor().await.unwrap();
    let neo_out = Nep17::neo(rpc.clone())
        .transfer(&committee, &alice.script_hash(), 5, Arg::Null)
        .await
        .unwrap();
    assert!(neo_out.is_halt());

    let deadline = Instant::now() + Duration::from_secs(60);
    while !(gas_sink.has_tx(&gas_out.hash) && neo_sink.has_tx(&neo_out.hash)) {
        assert!(
            Instant::now() < deadline,
            "the sinks did not see both transfers"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let chain_id = ChainIdentity::read(&rpc).await.unwrap();
    let cursor = db
        .store
        .cursor(&chain_id.chain, nsl_chain::FOLLOWER_SOURCE)
        .await
        .unwrap()
        .unwrap();
    rt.shutdown().await;

    let gas_events = gas_sink.events.lock().unwrap().clone();
    let neo_events = neo_sink.events.lock().unwrap().clone();
    assert!(
        gas_events
            .iter()
            .all(|e| e.notification.contract == native::GAS
                && e.notification.eventname == "Transfer")
    );
    assert!(
        neo_events
            .iter()
            .all(|e| e.notification.contract == native::NEO
                && e.notification.eventname == "Transfer")
    );
    assert!(
        !neo_sink.has_tx(&gas_out.hash),
        "a GAS-only transaction reached the NEO sink"
    );
    // The NEO transfer's event, with the block and index the node reports.
    let neo_ev = neo_events
        .iter()
        .find(|e| e.tx_hash == neo_out.hash)
        .unwrap();
    assert_eq!(neo_ev.block, neo_out.block_index);
    assert_eq!(
        neo_ev.notification.args()[1].as_hash160().unwrap(),
        alice.script_hash()
    );
    // Both sinks are called for every block, once, in order; the cursor is past what they saw.
    for sink in [&gas_sink, &neo_sink] {
        let blocks = sink.blocks.lock().unwrap().clone();
        assert!(
            blocks.windows(2).all(|w| w[1] == w[0] + 1),
            "{}: {blocks:?}",
            sink.name
        );
        assert!(i64::from(*blocks.last().unwrap()) < cursor);
    }
    assert_eq!(
        *gas_sink.blocks.lock().unwrap(),
        *neo_sink.blocks.lock().unwrap()
    );
}

/// The node's runtime with the oracle and a GAS `Transfer` sink registered through its handle,
/// run as `nsl serve` runs them (the runtime, and the oracle attached to its run).
struct NodeRuntime {
    stop: watch::Sender<bool>,
    runtime: tokio::task::JoinHandle<()>,
    oracle: tokio::task::JoinHandle<()>,
}

async fn node_runtime(
    env: &nsl_e2e::OracleChain,
    store: Arc<dyn ChainStore>,
    gas_sink: Arc<Keep>,
    start_block: Option<u32>,
) -> NodeRuntime {
    use nsl_oracle::service::{NodeKey, OracleOnChain, ServiceConfig};
    let poll = Duration::from_millis(50);
    let runtime = ChainRuntime::new(
        env.rpc().clone(),
        store,
        RuntimeConfig {
            follower: FollowerConfig {
                poll_interval: poll,
                start_block,
                ..FollowerConfig::default()
            },
            tx: TxConfig {
                poll_interval: poll,
                ..TxConfig::default()
            },
        },
    );
    let handle = runtime.handle();
    let egress = nsl_egress::Egress::new(nsl_egress::EgressPolicy {
        allow_http: true,
        allow_private_hosts: true,
        ..nsl_egress::EgressPolicy::default()
    })
    .unwrap();
    let oracle = OracleOnChain::register(
        handle.clone(),
        egress,
        NodeKey(env.node_key.clone()),
        ServiceConfig {
            gateway: Some(env.gateway),
            poll_interval: poll,
            ..ServiceConfig::default()
        },
        Vec::new(),
    )
    .unwrap();
    handle.add_sink(gas_sink).unwrap();
    let (stop, rx) = watch::channel(false);
    let started = runtime.start().await.unwrap();
    let run = {
        let rx = rx.clone();
        tokio::spawn(async move { runtime.run_started(started, rx).await.unwrap() })
    };
    let oracle = tokio::spawn(async move {
        let mut rx = rx;
        let attached = handle.attach(&mut rx).await.expect("the runtime runs");
        let service = oracle.attach(attached).await.unwrap();
        service.run(rx).await.unwrap();
    });
    NodeRuntime {
        stop,
        runtime: run,
        oracle,
    }
}

impl NodeRuntime {
    async fn shutdown(self) {
        self.stop.send(true).unwrap();
        self.oracle.await.unwrap();
        self.runtime.await.unwrap();
    }
}

/// Rows of `chain_cursors` (every chain, every source).
async fn cursor_rows(store: &nsl_store::Store) -> i64 {
    use sqlx::Row as _;
    sqlx::query("SELECT COUNT(*) AS n FROM chain_cursors")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get::<i64, _>("n")
        .unwrap()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Issue #10 item 2: one runtime per node. The oracle (gateway `ServiceRequest` sink, its
/// transaction owner) and another service's sink (GAS `Transfer`) are registered through the
/// same handle: both get their events from the one follower, there is one cursor row, and the
/// oracle's answer goes through the runtime's transaction manager. After a restart the cursor
/// carries on where it stopped (a start block far ahead is ignored), and a transfer made while
/// the node was down is handed over.
async fn one_runtime_two_services(backend: Backend) {
    let env = nsl_e2e::OracleChain::start(nsl_e2e::OracleChainConfig::with_block_time(
        nsl_e2e::test_block_time(),
    ))
    .await;
    let server = nsl_e2e::price_server().await;
    let db = TestDb::new(backend, nsl_node::MIGRATIONS).await;
    let rpc = env.rpc().clone();
    let store: Arc<dyn ChainStore> = Arc::new(db.store.clone());
    let start = rpc.get_block_count().await.unwrap() - 1;
    let gas_sink = Keep::new("gas", native::GAS, "Transfer");
    let node = node_runtime(&env, store.clone(), gas_sink.clone(), Some(start)).await;

    let alice = env.chain.new_funded_account(10 * ONE_GAS).await.unwrap();
    let alice_actor = Actor::new(rpc.clone(), vec![Account::single(alice.clone())])
        .await
        .unwrap();
    let bob = PrivateKey::generate().script_hash();
    let gas = Nep17::gas(rpc.clone());
    let id = env
        .gateway_request(&server.url("/price"), "$.data.price")
        .await;
    let paid = gas
        .transfer(&alice_actor, &bob, ONE_GAS, Arg::Null)
        .await
        .unwrap();
    assert!(paid.is_halt());
    let (code, result) = env
        .gateway_result(id, Duration::from_secs(60))
        .await
        .expect("the oracle answered through the node's runtime");
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&result));
    assert_eq!(String::from_utf8_lossy(&result), "[42.17]");
    wait_until("the GAS sink to see the transfer", || {
        gas_sink.has_tx(&paid.hash)
    })
    .await;

    // One stream: the oracle's request row and the sink's events from the same follower.
    let identity = ChainIdentity::read(&rpc).await.unwrap();
    let rows = store
        .list_requests(&nsl_chain::queue::RequestFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].chain, identity.chain);
    assert!(
        gas_sink
            .blocks
            .lock()
            .unwrap()
            .contains(&u32::try_from(rows[0].block_index).unwrap()),
        "the sink was handed the request's block too"
    );
    node.shutdown().await;
    assert_eq!(
        cursor_rows(&db.store).await,
        1,
        "one cursor for both services"
    );
    let cursor = store
        .cursor(&identity.chain, nsl_chain::FOLLOWER_SOURCE)
        .await
        .unwrap()
        .unwrap();
    let seen = gas_sink.blocks.lock().unwrap().clone();
    assert_eq!(i64::from(*seen.last().unwrap()) + 1, cursor);
    assert!(seen.windows(2).all(|w| w[1] == w[0] + 1), "{seen:?}");

    // Down: a transfer the next run must hand over.
    let while_down = gas
        .transfer(&alice_actor, &bob, ONE_GAS, Arg::Null)
        .await
        .unwrap();
    assert!(while_down.is_halt());
    assert!(i64::from(while_down.block_index) >= cursor);

    // Restart (new runtime, new sink, a start block far ahead): the stored cursor wins.
    let after = Keep::new("gas", native::GAS, "Transfer");
    let node = node_runtime(&env, store.clone(), after.clone(), Some(u32::MAX / 2)).await;
    wait_until(
        "the restarted sink to see the transfer made while down",
        || after.has_tx(&while_down.hash),
    )
    .await;
    node.shutdown().await;
    let resumed = after.blocks.lock().unwrap().clone();
    assert_eq!(
        i64::from(resumed[0]),
        cursor,
        "the restarted follower starts at the stored cursor"
    );
    assert_eq!(cursor_rows(&db.store).await, 1);
    // The answered request stays answered once (the restart did not record it again).
    let rows = store
        .list_requests(&nsl_chain::queue::RequestFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    drop(server);
}

#[tokio::test]
async fn node_runtime_feeds_two_services_from_one_cursor_sqlite() {
    one_runtime_two_services(Backend::Sqlite).await;
}

#[tokio::test]
async fn node_runtime_feeds_two_services_from_one_cursor_postgres() {
    one_runtime_two_services(Backend::Postgres).await;
}

/// The follower takes each pushed block's application logs from the same socket
/// (`transaction_executed`) instead of asking `getapplicationlog` per transaction, and still
/// hands its sink every HALTed event and no FAULTed one; while the socket is down it misses
/// nothing: the blocks it did not get pushed are read over RPC, logs included.
#[tokio::test]
async fn follower_takes_logs_from_the_push_and_misses_nothing_while_the_socket_is_down() {
    let chain = start_chain().await;
    let db = TestDb::new(Backend::Sqlite, nsl_node::MIGRATIONS).await;
    let rpc = chain.rpc().clone();
    let node: std::net::SocketAddr = rpc
        .url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    // The follower's RPC and WebSocket go through a proxy that counts JSON-RPC calls and can
    // cut its connections.
    let proxy = TcpProxy::start(node).await;
    let follower_rpc = neo_rpc::RpcClient::new(proxy.http_url()).unwrap();
    let alice = chain.new_funded_account(100 * ONE_GAS).await.unwrap();
    let alice_actor = Actor::new(rpc.clone(), vec![Account::single(alice.clone())])
        .await
        .unwrap();
    let gas = Nep17::gas(rpc.clone());
    let sink = Keep::new("gas", native::GAS, "Transfer");
    let identity = ChainIdentity::read(&rpc).await.unwrap();
    let store: Arc<dyn ChainStore> = Arc::new(db.store.clone());
    let mut follower = Follower::new(
        follower_rpc,
        store,
        identity,
        FollowerConfig {
            // Only pushed blocks (or a reconnect) wake it during the test.
            poll_interval: Duration::from_secs(600),
            ..FollowerConfig::default()
        },
    );
    follower.add_sink(sink.clone());
    follower.enter_chain().await.unwrap();
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(async move { follower.run(rx).await.unwrap() });

    let wait_blocks = |sink: Arc<Keep>, past: u32| async move {
        let deadline = Instant::now() + Duration::from_secs(60);
        while sink
            .blocks
            .lock()
            .unwrap()
            .last()
            .is_none_or(|b| *b <= past)
        {
            assert!(Instant::now() < deadline, "the follower stopped at {past}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    // Following from the push: the first block it reads was polled at start.
    let start = rpc.get_block_count().await.unwrap();
    wait_blocks(sink.clone(), start + 1).await;
    proxy.clear_calls();

    // 1. Transfers (HALT) and one transaction that transfers, then throws (FAULT: its Transfer
    // is listed in the log but changed nothing).
    let bob = PrivateKey::generate().script_hash();
    let mut halted = Vec::new();
    for _ in 0..4 {
        let out = gas
            .transfer(&alice_actor, &bob, ONE_GAS, Arg::Null)
            .await
            .unwrap();
        assert!(out.is_halt());
        halted.push(out.hash);
    }
    let mut script = gas
        .transfer_script(&alice.script_hash(), &bob, ONE_GAS, Arg::Null)
        .unwrap();
    let mut sb = neo::ScriptBuilder::new();
    sb.push_string("no").emit(neo::script::OpCode::THROW);
    script.extend(sb.into_bytes());
    let test_fee = alice_actor
        .invoker()
        .invoke_script(
            &gas.transfer_script(&alice.script_hash(), &bob, ONE_GAS, Arg::Null)
                .unwrap(),
        )
        .await
        .unwrap()
        .gasconsumed;
    let faulting = alice_actor
        .make_tx_unchecked(&script, test_fee + ONE_GAS / 100)
        .await
        .unwrap();
    let sent = alice_actor.send_tx(&faulting).await.unwrap();
    let out = alice_actor
        .wait(&sent, alice_actor.wait_timeout())
        .await
        .unwrap();
    assert!(!out.is_halt(), "the throwing transaction FAULTs");
    wait_blocks(sink.clone(), out.block_index).await;
    for h in &halted {
        assert!(sink.has_tx(h), "HALTed transfer {h} not handed over");
    }
    assert!(
        !sink.has_tx(&faulting.hash()),
        "a FAULTed transfer was handed over"
    );
    assert_eq!(
        proxy.calls("getapplicationlog"),
        0,
        "pushed blocks came with their logs"
    );
    assert!(
        proxy.calls("getblock") == 0,
        "pushed blocks are not read again"
    );

    // 2. The socket goes down for a while: transfers in blocks it never pushes.
    proxy.refuse(true);
    proxy.cut();
    let mut missed = Vec::new();
    for _ in 0..3 {
        let out = gas
            .transfer(&alice_actor, &bob, ONE_GAS, Arg::Null)
            .await
            .unwrap();
        assert!(out.is_halt());
        missed.push(out);
    }
    proxy.refuse(false);
    let last = missed.last().unwrap().block_index;
    wait_blocks(sink.clone(), last).await;
    for out in &missed {
        assert!(
            sink.has_tx(&out.hash),
            "transfer in block {} missed",
            out.block_index
        );
    }
    assert!(
        proxy.calls("getapplicationlog") > 0,
        "blocks not pushed are read over RPC with their logs"
    );
    stop.send(true).unwrap();
    task.await.unwrap();

    // Every block once, in order; every HALTed transfer exactly once.
    let blocks = sink.blocks.lock().unwrap().clone();
    assert!(blocks.windows(2).all(|w| w[1] == w[0] + 1), "{blocks:?}");
    let events = sink.events.lock().unwrap().clone();
    for h in halted.iter().chain(missed.iter().map(|o| &o.hash)) {
        assert_eq!(events.iter().filter(|e| e.tx_hash == *h).count(), 1);
    }
}
