//! End to end: the holes of the gateway request pipeline closed by issue #9, each shown on a real
//! neo-go privnet with the real oracle service (`nsl_oracle::service`, in process, SQLite).
//!
//! - A hostile consumer's callback calls `gateway.fulfill(otherRequest, 0, forged)` while the
//!   node's fulfil transaction runs: refused; the victim gets the node's real answer.
//! - The node refuses to start when its key's account owns the gateway.
//! - A transaction that emits `ServiceRequest` and then FAULTs opens no request.
//! - The node never spends more than a request's GAS budget (nor `max_response_fee`) and is
//!   reimbursed by the gateway; a large result is paid by the requester; a response that
//!   FAULTs only on chain is not rebuilt.

use std::sync::Arc;
use std::time::{Duration, Instant};

use neo::script::OpCode;
use neo::{Arg, StackItem, UInt160};
use neo_rpc::types::VmState;
use neo_rpc::{Account, Actor, ContractManagement, Invoker, Nep17, ONE_GAS, TxOutcome};
use nsl_e2e::{OracleChain, OracleChainConfig, PriceServer, Route, http_server, test_block_time};
use nsl_egress::{Egress, EgressPolicy};
use nsl_oracle::service::{
    NodeKey, OracleService, OracleStore, RequestDetail, RequestFilter, RequestState, ServiceConfig,
    ServiceError,
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
/// Fee of the `oracle` service type.
const FEE: i64 = ONE_GAS / 10;
/// Smallest budget the gateway accepts.
const MIN_BUDGET: i64 = 70_000_000;
const REC_RESPONSE_FEES: usize = 17;
const REC_ANSWERED_BY: usize = 18;
/// Bytes of the large JSON documents served at `/big` (a JSON string) and `/mid`.
const BIG_LEN: usize = 64_000;
const MID_LEN: usize = 20_000;

fn json_string(len: usize) -> Vec<u8> {
    let mut body = vec![b'a'; len];
    body[0] = b'"';
    body[len - 1] = b'"';
    body
}

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
        http_server(vec![
            (
                "/slow",
                Route::ok("application/json", SLOW_BODY).gated(gate_rx)
            ),
            ("/big", Route::ok("application/json", json_string(BIG_LEN))),
            ("/mid", Route::ok("application/json", json_string(MID_LEN))),
        ])
    );
    let db_dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", db_dir.path().join("nsl.db").display());
    let store = Store::connect_url(&url, 4, Duration::from_secs(10))
        .await
        .unwrap();
    store.migrate(nsl_node::MIGRATIONS).await.unwrap();
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

type Running = (
    watch::Sender<bool>,
    tokio::task::JoinHandle<Result<(), ServiceError>>,
);

impl Env {
    /// Deploy `testing/e2e/contracts/hostile_consumer.py` (gateway as deploy data) and give it a
    /// 5 GAS deposit at the gateway.
    async fn deploy_hostile_consumer(&self) -> UInt160 {
        let contract =
            nsl_e2e::compile_repo_contract("testing/e2e/contracts/hostile_consumer.py").await;
        let hostile = ContractManagement::new(self.rpc().clone())
            .deploy(
                &self.user,
                &contract.nef,
                &contract.manifest,
                Arg::Hash160(self.gateway),
            )
            .await
            .expect("deploy the hostile consumer")
            .hash;
        Nep17::gas(self.rpc().clone())
            .transfer(
                &self.user,
                &self.gateway,
                5 * ONE_GAS,
                Arg::Hash160(hostile),
            )
            .await
            .and_then(TxOutcome::into_halt)
            .expect("deposit for the hostile consumer");
        hostile
    }

    async fn start(&self) -> Running {
        self.start_with(service_config(self)).await
    }

    async fn start_with(&self, config: ServiceConfig) -> Running {
        let service = OracleService::new(
            Arc::new(self.store.clone()) as Arc<dyn OracleStore>,
            self.rpc().clone(),
            egress(),
            NodeKey(self.node_key.clone()),
            config,
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

    /// GAS (fractions) in the node account's wallet.
    async fn node_gas(&self) -> i64 {
        let b = Nep17::gas(self.rpc().clone())
            .balance_of(&self.node_key.script_hash())
            .await
            .unwrap();
        i64::try_from(b).unwrap()
    }

    /// Deposit of `account` at the gateway.
    async fn deposit_of(&self, account: &UInt160) -> i64 {
        self.read(&self.gateway, "balanceOf", &[Arg::Hash160(*account)])
            .await
            .as_i64()
            .unwrap()
    }

    async fn set_budget(&self, budget: i64) {
        self.user
            .call(
                &self.gateway_consumer,
                "setGasBudget",
                &[Arg::Int(budget.into())],
            )
            .await
            .and_then(TxOutcome::into_halt)
            .expect("setGasBudget");
    }

    /// The store row of gateway request `id` once it is final (`confirmed` or `failed`).
    async fn final_row(&self, id: i64) -> RequestDetail {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let rows = self
                .store
                .list_requests(&RequestFilter {
                    limit: 100,
                    ..RequestFilter::default()
                })
                .await
                .unwrap();
            if let Some(row) = rows.iter().find(|r| r.request_id == id)
                && matches!(row.state, RequestState::Confirmed | RequestState::Failed)
            {
                return self.store.request(&row.id).await.unwrap().unwrap();
            }
            assert!(Instant::now() < deadline, "request {id} did not end");
            tokio::time::sleep(test_block_time()).await;
        }
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
    let hostile = env.deploy_hostile_consumer().await;
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
    // The gateway of the test chain (another owner) is accepted. Its node account holds less
    // GAS than the warning threshold: the service says so where `/ready` reads it.
    let warnings = nsl_api::ReadyWarnings::default();
    let (stop, task) = env
        .start_with(ServiceConfig {
            low_gas_warning: 1_000_000 * ONE_GAS,
            ready_warnings: Some(warnings.clone()),
            ..service_config(&env)
        })
        .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while warnings.list().is_empty() {
        assert!(Instant::now() < deadline, "no low-GAS warning");
        tokio::time::sleep(test_block_time()).await;
    }
    let listed = warnings.list();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        listed[0].starts_with("oracle: node account ")
            && listed[0].contains(&env.node_key.address())
            && listed[0].contains("below oracle.low_gas_warning 1000000 GAS"),
        "{listed:?}"
    );
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
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

#[tokio::test]
async fn node_never_spends_more_than_the_budget_or_the_ceiling() {
    let env = setup().await;
    let node_hash = env.node_key.script_hash();
    env.set_budget(MIN_BUDGET).await;

    // A ceiling below what even an error answer costs (~0.6 GAS): nothing is signed, the row
    // ends failed with the reason, the node spends nothing, the request stays pending.
    let before = env.node_gas().await;
    let (stop, task) = env
        .start_with(ServiceConfig {
            max_response_fee: 30_000_000,
            ..service_config(&env)
        })
        .await;
    let capped = env.gateway_request(&env.server.url("/price"), "").await;
    let row = env.final_row(capped).await;
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(row.request.state, RequestState::Failed);
    let why = row
        .history
        .last()
        .unwrap()
        .detail
        .clone()
        .unwrap_or_default();
    assert!(
        why.contains("not signed") && why.contains("30000000"),
        "{why}"
    );
    assert!(row.outbox.is_none(), "a response was signed");
    assert_eq!(env.node_gas().await, before, "the node spent GAS");
    assert_eq!(
        env.record(capped).await[REC_STATUS].as_i64().unwrap(),
        STATUS_PENDING
    );

    // The default ceiling; a 20 KB result whose storing costs ~20 GAS against a 0.7 GAS
    // budget: answered InsufficientFunds (empty result), within the budget, reimbursed.
    let (stop, task) = env.start().await;
    let before = env.node_gas().await;
    let consumer_before = env.deposit_of(&env.gateway_consumer).await;
    let id = env.gateway_request(&env.server.url("/mid"), "").await;
    let (code, result) = env
        .gateway_result(id, Duration::from_secs(120))
        .await
        .expect("an answer");
    assert_eq!((code, result.len()), (0x1c, 0), "InsufficientFunds, empty");
    env.final_row(id).await;
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    let record = env.record(id).await;
    let fees = record[REC_RESPONSE_FEES].as_i64().unwrap();
    let spent = before - env.node_gas().await;
    println!("InsufficientFunds response: fees {fees} GAS fractions");
    assert_eq!(spent, fees, "the node paid exactly the response's fees");
    assert!(spent <= MIN_BUDGET, "spent {spent} > budget {MIN_BUDGET}");
    assert_eq!(record[REC_ANSWERED_BY].as_hash160().unwrap(), node_hash);
    assert_eq!(
        env.deposit_of(&node_hash).await,
        fees + FEE,
        "reimbursed and paid the fee"
    );
    assert_eq!(
        env.deposit_of(&env.gateway_consumer).await,
        consumer_before - FEE - fees
    );
}

#[tokio::test]
async fn large_result_is_paid_by_the_requester() {
    let env = setup().await;
    let node_hash = env.node_key.script_hash();
    // Storing 64 KB costs the consumer's callback ~64 GAS: the requester budgets for it.
    let budget = 80 * ONE_GAS;
    env.set_budget(budget).await;
    Nep17::gas(env.rpc().clone())
        .transfer(
            &env.user,
            &env.gateway,
            90 * ONE_GAS,
            Arg::Hash160(env.gateway_consumer),
        )
        .await
        .and_then(TxOutcome::into_halt)
        .expect("deposit");
    env.chain
        .fund(&node_hash, 100 * ONE_GAS)
        .await
        .expect("fund the node");
    let (stop, task) = env
        .start_with(ServiceConfig {
            max_response_fee: 90 * ONE_GAS,
            ..service_config(&env)
        })
        .await;
    let before = env.node_gas().await;
    let consumer_before = env.deposit_of(&env.gateway_consumer).await;
    let id = env.gateway_request(&env.server.url("/big"), "").await;
    let (code, result) = env
        .gateway_result(id, Duration::from_secs(120))
        .await
        .expect("an answer");
    assert_eq!((code, result), (0, json_string(BIG_LEN)));
    env.final_row(id).await;
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    let fees = env.record(id).await[REC_RESPONSE_FEES].as_i64().unwrap();
    let spent = before - env.node_gas().await;
    println!("64 KB response: fees {fees} GAS fractions");
    assert_eq!(spent, fees);
    assert!(fees > 60 * ONE_GAS && fees <= budget, "{fees}");
    // The requester paid: fee and fees out of its deposit (budget held, rest refunded)...
    assert_eq!(
        env.deposit_of(&env.gateway_consumer).await,
        consumer_before - FEE - fees
    );
    // ...and the node got all of it back.
    assert_eq!(env.deposit_of(&node_hash).await, fees + FEE);
}

#[tokio::test]
async fn response_that_faults_only_on_chain_is_not_rebuilt() {
    let env = setup().await;
    let hostile = env.deploy_hostile_consumer().await;
    let (stop, task) = env.start().await;
    let before = env.node_gas().await;
    // Its callback is cheap in the node's test run and loops until out of GAS in the block.
    let id = env
        .user
        .call(&hostile, "burn", &[Arg::String(env.server.url("/price"))])
        .await
        .and_then(TxOutcome::into_halt)
        .expect("burn request")
        .stack[0]
        .as_i64()
        .unwrap();
    let row = env.final_row(id).await;
    // Leave a rebuild (the old behaviour) time to happen: ten more blocks.
    let height = env.rpc().get_block_count().await.unwrap();
    while env.rpc().get_block_count().await.unwrap() < height + 10 {
        tokio::time::sleep(test_block_time()).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    let row = env.store.request(&row.request.id).await.unwrap().unwrap();
    assert_eq!(row.request.state, RequestState::Failed);
    let states: Vec<_> = row.history.iter().map(|h| h.state.as_str()).collect();
    assert_eq!(
        states.iter().filter(|s| **s == "outbox").count(),
        1,
        "one response only: {states:?}"
    );
    let why = row
        .history
        .last()
        .unwrap()
        .detail
        .clone()
        .unwrap_or_default();
    assert!(why.contains("FAULTed") && why.contains("GAS"), "{why}");
    // One FAULTed transaction's fees, within the budget; nothing reimbursed (it FAULTed).
    let spent = before - env.node_gas().await;
    assert!(spent > 0 && spent <= ONE_GAS, "{spent}");
    assert_eq!(env.deposit_of(&env.node_key.script_hash()).await, 0);
    assert_eq!(
        env.record(id).await[REC_STATUS].as_i64().unwrap(),
        STATUS_PENDING
    );
}
