//! End to end: the holes of the gateway request pipeline closed by issue #9, each shown on a real
//! neo-go privnet with the real oracle service (`nsl_oracle::service`, in process, SQLite).
//!
//! - A hostile consumer's callback calls `gateway.fulfill(otherRequest, 0, forged)` while the
//!   node's fulfil transaction runs: refused; the victim gets the node's real answer.
//! - The node refuses to start when its key's account owns the gateway.
//! - A transaction that emits `ServiceRequest` and then FAULTs opens no request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use neo::script::OpCode;
use neo::{Arg, StackItem, UInt160};
use neo_rpc::types::VmState;
use neo_rpc::{Account, Actor, ContractManagement, Invoker, Nep17, ONE_GAS, TxOutcome};
use nsl_e2e::{OracleChain, OracleChainConfig, PriceServer, Route, http_server, test_block_time};
use nsl_egress::{Egress, EgressPolicy};
use nsl_oracle::service::{
    NodeKey, OracleService, OracleStore, RequestFilter, RequestState, ServiceConfig, ServiceError,
};
use nsl_store::Store;
use tokio::sync::watch;

/// Request record fields (docs/gateway.md).
const REC_STATUS: usize = 11;
const REC_CODE: usize = 12;
const REC_CALLBACK_OK: usize = 14;
const STATUS_PENDING: i64 = 0;
const STATUS_FULFILLED: i64 = 1;

const SLOW_BODY: &str = r#"{"price":7}"#;

struct Env {
    oc: OracleChain,
    server: PriceServer,
    /// Opens the `/slow` route.
    gate: watch::Sender<bool>,
    _db_dir: tempfile::TempDir,
    store: Store,
}

impl std::ops::Deref for Env {
    type Target = OracleChain;

    fn deref(&self) -> &OracleChain {
        &self.oc
    }
}

async fn setup() -> Env {
    let (gate, gate_rx) = watch::channel(false);
    let (oc, server) = tokio::join!(
        OracleChain::start(OracleChainConfig::with_block_time(test_block_time())),
        http_server(vec![(
            "/slow",
            Route::ok("application/json", SLOW_BODY).gated(gate_rx)
        )])
    );
    let db_dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", db_dir.path().join("nsl.db").display());
    let store = Store::connect_url(&url, 4, Duration::from_secs(10))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    Env {
        oc,
        server,
        gate,
        _db_dir: db_dir,
        store,
    }
}

fn service_config(env: &Env) -> ServiceConfig {
    ServiceConfig {
        gateway: Some(env.gateway),
        poll_interval: test_block_time() / 2,
        claim_lease: Duration::from_secs(2),
        start_block: Some(0),
        ..ServiceConfig::default()
    }
}

fn egress() -> Egress {
    Egress::new(EgressPolicy {
        allow_http: true,
        allow_private_hosts: true,
        // The gated route answers when the test opens it, not before.
        timeout_ms: 120_000,
        ..EgressPolicy::default()
    })
    .unwrap()
}

impl Env {
    async fn start(
        &self,
    ) -> (
        watch::Sender<bool>,
        tokio::task::JoinHandle<Result<(), ServiceError>>,
    ) {
        let service = OracleService::new(
            Arc::new(self.store.clone()) as Arc<dyn OracleStore>,
            self.rpc().clone(),
            egress(),
            NodeKey(self.node_key.clone()),
            service_config(self),
            Vec::new(),
        )
        .await
        .expect("start the oracle service");
        let (tx, rx) = watch::channel(false);
        (tx, tokio::spawn(service.run(rx)))
    }

    async fn read(&self, contract: &UInt160, method: &str, args: &[Arg]) -> StackItem {
        Invoker::new(self.rpc().clone())
            .call_item(contract, method, args)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    async fn record(&self, id: i64) -> Vec<StackItem> {
        self.read(&self.gateway, "getRequest", &[Arg::Int(id.into())])
            .await
            .as_array()
            .unwrap()
            .to_vec()
    }

    /// The gateway record of `id` once its status is no longer pending.
    async fn closed_record(&self, id: i64) -> Vec<StackItem> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let record = self.record(id).await;
            if record[REC_STATUS].as_i64().unwrap() != STATUS_PENDING {
                return record;
            }
            assert!(Instant::now() < deadline, "request {id} not answered");
            tokio::time::sleep(test_block_time()).await;
        }
    }
}

#[tokio::test]
async fn hostile_callback_cannot_fulfil_another_consumers_request() {
    let env = setup().await;
    let hostile_c =
        nsl_e2e::compile_repo_contract("testing/e2e/contracts/hostile_consumer.py").await;
    let hostile = ContractManagement::new(env.rpc().clone())
        .deploy(
            &env.user,
            &hostile_c.nef,
            &hostile_c.manifest,
            Arg::Hash160(env.gateway),
        )
        .await
        .expect("deploy the hostile consumer")
        .hash;
    Nep17::gas(env.rpc().clone())
        .transfer(&env.user, &env.gateway, 5 * ONE_GAS, Arg::Hash160(hostile))
        .await
        .and_then(TxOutcome::into_halt)
        .expect("deposit for the hostile consumer");
    let (stop, task) = env.start().await;

    // The victim asks for a source that answers only when the test says so: its request stays
    // pending while the attacker's is answered.
    let victim = env
        .gateway_request(&env.server.url("/slow"), "$.price")
        .await;
    let attack = env
        .user
        .call(
            &hostile,
            "attack",
            &[
                Arg::Int(victim.into()),
                Arg::Bytes(b"forged".to_vec()),
                Arg::String(env.server.url("/price")),
            ],
        )
        .await
        .and_then(TxOutcome::into_halt)
        .expect("attack request")
        .stack[0]
        .as_i64()
        .unwrap();

    // The node answers the attacker; its callback's forged fulfil is refused, so the callback
    // throws and the gateway records callbackOk = false.
    let attacked = env.closed_record(attack).await;
    assert_eq!(attacked[REC_STATUS].as_i64().unwrap(), STATUS_FULFILLED);
    assert_eq!(attacked[REC_CODE].as_i64().unwrap(), 0);
    assert!(
        !attacked[REC_CALLBACK_OK].as_bool().unwrap(),
        "the hostile callback's forged fulfil went through"
    );
    assert!(!env.read(&hostile, "forgedOk", &[]).await.as_bool().unwrap());
    let victim_record = env.record(victim).await;
    assert_eq!(
        victim_record[REC_STATUS].as_i64().unwrap(),
        STATUS_PENDING,
        "the victim's request was closed by the attacker"
    );
    assert!(
        env.read(
            &env.gateway_consumer,
            "isPending",
            &[Arg::Int(victim.into())]
        )
        .await
        .as_bool()
        .unwrap()
    );

    // The source answers: the victim gets the node's real answer.
    env.gate.send(true).unwrap();
    let (code, result) = env
        .gateway_result(victim, Duration::from_secs(90))
        .await
        .expect("the victim's answer");
    assert_eq!((code, result), (0, b"[7]".to_vec()));

    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn node_refuses_to_start_when_its_key_owns_the_gateway() {
    let env = setup().await;
    // A second gateway deployed by the node's own account: the node key is its owner.
    let gateway_c = nsl_e2e::compile_repo_contract("contracts/gateway/gateway.py").await;
    let node = Actor::new(
        env.rpc().clone(),
        vec![Account::single(env.node_key.clone())],
    )
    .await
    .unwrap();
    let owned = ContractManagement::new(env.rpc().clone())
        .deploy(&node, &gateway_c.nef, &gateway_c.manifest, Arg::Null)
        .await
        .expect("deploy a gateway owned by the node key")
        .hash;
    let err = OracleService::new(
        Arc::new(env.store.clone()) as Arc<dyn OracleStore>,
        env.rpc().clone(),
        egress(),
        NodeKey(env.node_key.clone()),
        ServiceConfig {
            gateway: Some(owned),
            ..service_config(&env)
        },
        Vec::new(),
    )
    .await
    .expect_err("a node key that owns the gateway must be refused");
    let text = err.to_string();
    assert!(matches!(err, ServiceError::Config(_)), "{text}");
    assert!(
        text.contains("is the owner of gateway") && text.contains(&env.node_key.address()),
        "{text}"
    );
    assert!(!text.contains(env.node_key.to_wif().as_str()), "{text}");
    // The gateway of the test chain (another owner) is accepted.
    env.start().await;
}

#[tokio::test]
async fn faulted_request_transaction_opens_no_request() {
    let env = setup().await;
    let (stop, task) = env.start().await;

    // requestValue runs (the gateway emits ServiceRequest), then the script aborts: the
    // transaction is included with FAULT and changed nothing.
    let mut script = env.gateway_request_script(&env.server.url("/price"), "$.data.price");
    script.push(OpCode::ABORT as u8);
    let sent = env.user.send_unchecked(&script, ONE_GAS).await.unwrap();
    let faulted = env.user.wait(&sent, env.user.wait_timeout()).await.unwrap();
    assert_eq!(faulted.vm_state, VmState::Fault);
    // What makes this a test: the FAULTed execution's log still lists the gateway's event.
    let log = env.rpc().get_application_log(&faulted.hash).await.unwrap();
    assert!(
        log.executions
            .iter()
            .flat_map(|e| e.notifications.iter())
            .any(|n| n.contract == env.gateway && n.eventname == "ServiceRequest"),
        "neo-go no longer logs notifications of FAULTed transactions"
    );

    // A request made after it is answered: the follower has read the FAULTed block by then.
    let id = env
        .gateway_request(&env.server.url("/price"), "$.data.price")
        .await;
    let (code, _) = env
        .gateway_result(id, Duration::from_secs(90))
        .await
        .expect("the later request's answer");
    assert_eq!(code, 0);
    let rows = env
        .store
        .list_requests(&RequestFilter {
            limit: 100,
            ..RequestFilter::default()
        })
        .await
        .unwrap();
    let hashes: Vec<_> = rows
        .iter()
        .map(|r| (r.tx_hash.clone(), r.request_id))
        .collect();
    assert!(
        rows.iter().all(|r| r.tx_hash != faulted.hash.to_string()),
        "a row was recorded for the FAULTed transaction: {hashes:?}"
    );
    assert_eq!(rows.len(), 1, "{hashes:?}");
    assert_eq!(rows[0].request_id, id);
    let deadline = Instant::now() + Duration::from_secs(60);
    while env
        .store
        .request(&rows[0].id)
        .await
        .unwrap()
        .unwrap()
        .request
        .state
        != RequestState::Confirmed
    {
        assert!(Instant::now() < deadline, "the answer was not confirmed");
        tokio::time::sleep(test_block_time()).await;
    }

    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}
