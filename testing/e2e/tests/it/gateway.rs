//! End-to-end tests of the gateway contract (`contracts/gateway/gateway.py`) and the example
//! consumer (`examples/contracts/gateway_consumer/gateway_consumer.py`) on a real neo-go privnet,
//! driven only by the project's crates (`nsl-devchain`, `neo-rpc`, `neo`).
//!
//! Each test starts its own chain, compiles both contracts with the harness's neo3-boa, deploys
//! them and plays one part of the request lifecycle. Refusals are checked twice: the test
//! invocation reports the exception text, and the same call sent anyway FAULTs on chain with it.

use std::time::Duration;

use neo::{Arg, BigInt, PrivateKey, StackItem, UInt160, sha256};
use neo_rpc::types::VmState;
use neo_rpc::{Account, Actor, ContractManagement, Invoker, Nep17, ONE_GAS, call_script};
use nsl_devchain::{CompiledContract, DevChain};
use nsl_e2e::start_chain;

/// Fee of every default service type (0.1 GAS).
const DEFAULT_FEE: i64 = ONE_GAS / 10;
/// GAS budget of the example consumer's requests (its default, 1 GAS).
const BUDGET: i64 = ONE_GAS;
/// Smallest budget the gateway accepts (0.7 GAS).
const MIN_BUDGET: i64 = 70_000_000;
/// Fee and budget: what a request of the example consumer takes from its deposit.
const HELD: i64 = DEFAULT_FEE + BUDGET;
/// Request record fields (docs/gateway.md).
const REC_REQUESTER: usize = 6;
const REC_FEE: usize = 7;
const REC_EXPIRES_AT: usize = 10;
const REC_STATUS: usize = 11;
const REC_CODE: usize = 12;
const REC_RESULT_HASH: usize = 13;
const REC_CALLBACK_OK: usize = 14;
const REC_GAS_BUDGET: usize = 16;
const REC_RESPONSE_FEES: usize = 17;
const REC_ANSWERED_BY: usize = 18;
const STATUS_PENDING: i64 = 0;
const STATUS_FULFILLED: i64 = 1;
const STATUS_CANCELLED: i64 = 2;

/// Compile a contract of the repository through the harness's compile cache (keyed by source
/// content in the tool cache; neo3-boa takes ~15 s of CPU for the gateway).
async fn compile(relative: &'static str) -> CompiledContract {
    nsl_e2e::compile_repo_contract(relative).await
}

/// A chain with the gateway (owned by `owner`), one registered node key and the example consumer
/// (owned by `user`, with `deposit` GAS fractions deposited for it at the gateway).
struct Env {
    chain: DevChain,
    gateway: UInt160,
    consumer: UInt160,
    owner: Actor,
    owner_key: PrivateKey,
    user: Actor,
    user_key: PrivateKey,
    node: Actor,
    node_key: PrivateKey,
    stranger: Actor,
    gateway_contract: CompiledContract,
}

async fn actor_for(chain: &DevChain, key: &PrivateKey) -> Actor {
    Actor::new(chain.rpc().clone(), vec![Account::single(key.clone())])
        .await
        .expect("actor")
}

async fn funded(chain: &DevChain, gas: i64) -> (PrivateKey, Actor) {
    let key = chain
        .new_funded_account(gas * ONE_GAS)
        .await
        .expect("funding");
    let actor = actor_for(chain, &key).await;
    (key, actor)
}

async fn setup(deposit: i64) -> Env {
    let (chain, gateway_contract, consumer_contract) = tokio::join!(
        start_chain(),
        compile("contracts/gateway/gateway.py"),
        compile("examples/contracts/gateway_consumer/gateway_consumer.py"),
    );
    let rpc = chain.rpc().clone();
    let (owner_key, owner) = funded(&chain, 200).await;
    let (user_key, user) = funded(&chain, 200).await;
    let (node_key, node) = funded(&chain, 50).await;
    let (_stranger_key, stranger) = funded(&chain, 50).await;

    let cm = ContractManagement::new(rpc.clone());
    let gateway = cm
        .deploy(
            &owner,
            &gateway_contract.nef,
            &gateway_contract.manifest,
            Arg::Null,
        )
        .await
        .expect("gateway deploys")
        .hash;
    let consumer = cm
        .deploy(
            &user,
            &consumer_contract.nef,
            &consumer_contract.manifest,
            Arg::Hash160(gateway),
        )
        .await
        .expect("consumer deploys")
        .hash;

    let added = owner
        .call(
            &gateway,
            "addNode",
            &[Arg::PublicKey(node_key.public_key())],
        )
        .await
        .expect("addNode")
        .into_halt()
        .expect("addNode halts");
    assert_eq!(added.events(&gateway, "NodeAdded").count(), 1);

    let env = Env {
        chain,
        gateway,
        consumer,
        owner,
        owner_key,
        user,
        user_key,
        node,
        node_key,
        stranger,
        gateway_contract,
    };
    if deposit > 0 {
        env.deposit_for(&env.user, &consumer, deposit).await;
    }
    env
}

impl Env {
    fn invoker(&self) -> Invoker {
        Invoker::new(self.chain.rpc().clone())
    }

    async fn read(&self, contract: &UInt160, method: &str, args: &[Arg]) -> StackItem {
        self.invoker()
            .call_item(contract, method, args)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    async fn deposit_of(&self, account: &UInt160) -> i64 {
        self.read(&self.gateway, "balanceOf", &[Arg::Hash160(*account)])
            .await
            .as_i64()
            .expect("integer balance")
    }

    async fn record(&self, id: i64) -> Vec<StackItem> {
        self.read(&self.gateway, "getRequest", &[Arg::Int(id.into())])
            .await
            .as_array()
            .expect("record array")
            .to_vec()
    }

    /// GAS transfer to the gateway crediting `beneficiary`.
    async fn deposit_for(&self, from: &Actor, beneficiary: &UInt160, amount: i64) {
        let out = Nep17::gas(self.chain.rpc().clone())
            .transfer(from, &self.gateway, amount, Arg::Hash160(*beneficiary))
            .await
            .expect("deposit")
            .into_halt()
            .expect("deposit halts");
        let deposits: Vec<_> = out.events(&self.gateway, "Deposit").collect();
        assert_eq!(deposits.len(), 1);
        assert_eq!(
            deposits[0].args()[0].as_hash160().expect("account"),
            *beneficiary
        );
        assert_eq!(deposits[0].args()[1].as_i64().expect("amount"), amount);
    }

    /// The owner of the consumer asks it for an oracle value; returns the request id.
    async fn consumer_request(&self, url: &str, filter: &str) -> i64 {
        let out = self
            .user
            .call(
                &self.consumer,
                "requestValue",
                &[Arg::String(url.into()), Arg::String(filter.into())],
            )
            .await
            .expect("requestValue")
            .into_halt()
            .expect("requestValue halts");
        out.stack[0].as_i64().expect("request id")
    }

    /// `node` fulfils `id`, with the system fee margin the service adds to the test run (the
    /// test run's transaction has no fees, the fees the gateway records on chain take storage).
    async fn fulfill(&self, node: &Actor, id: i64, code: u8, result: &[u8]) -> neo_rpc::TxOutcome {
        let script = call_script(
            &self.gateway,
            "fulfill",
            &[
                Arg::Int(id.into()),
                Arg::Int(code.into()),
                Arg::Bytes(result.to_vec()),
            ],
        )
        .expect("fulfill script");
        let test = node
            .invoker()
            .invoke_script(&script)
            .await
            .expect("fulfill test run")
            .into_halt()
            .expect("fulfill test run halts");
        let sent = node
            .send_unchecked(
                &script,
                test.gasconsumed + nsl_oracle::service::SYSTEM_FEE_MARGIN,
            )
            .await
            .expect("fulfill");
        node.wait(&sent, node.wait_timeout())
            .await
            .expect("fulfill included")
            .into_halt()
            .expect("fulfill halts")
    }
}

/// `actor` calling `contract.method(args)` is refused with `text`: by the test invocation, and
/// on chain when sent anyway (included, FAULT, nothing changed).
async fn assert_refused(actor: &Actor, contract: &UInt160, method: &str, args: &[Arg], text: &str) {
    match actor.call(contract, method, args).await {
        Err(neo_rpc::Error::Fault { exception }) => assert!(
            exception.contains(text),
            "{method}: test run failed with {exception:?}, expected {text:?}"
        ),
        Err(other) => panic!("{method}: expected a FAULT with {text:?}, got {other}"),
        Ok(out) => panic!(
            "{method}: expected a FAULT with {text:?}, got {:?}",
            out.vm_state
        ),
    }
    let script = call_script(contract, method, args).expect("script");
    let sent = actor
        .send_unchecked(&script, ONE_GAS)
        .await
        .expect("send unchecked");
    let out = actor
        .wait(&sent, actor.wait_timeout())
        .await
        .expect("included");
    assert_eq!(out.vm_state, VmState::Fault, "{method} halted on chain");
    let exception = out.exception.unwrap_or_default();
    assert!(
        exception.contains(text),
        "{method}: on-chain FAULT {exception:?}, expected {text:?}"
    );
}

fn int(item: &StackItem) -> i64 {
    item.as_i64().expect("integer")
}

#[tokio::test]
async fn oracle_request_is_fulfilled_once_by_a_registered_node() {
    let env = setup(3 * ONE_GAS).await;
    let gas = Nep17::gas(env.chain.rpc().clone());
    assert_eq!(env.deposit_of(&env.consumer).await, 3 * ONE_GAS);
    assert_eq!(
        int(&env
            .read(&env.gateway, "getFee", &[Arg::String("oracle".into())])
            .await),
        DEFAULT_FEE
    );

    // The consumer requests; the gateway charges its deposit and emits ServiceRequest.
    let out = env
        .user
        .call(
            &env.consumer,
            "requestValue",
            &[
                Arg::String("https://api.example.com/price".into()),
                Arg::String("$.data.price".into()),
            ],
        )
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    let id = int(&out.stack[0]);
    assert_eq!(id, 1);
    let requests: Vec<_> = out.events(&env.gateway, "ServiceRequest").collect();
    assert_eq!(requests.len(), 1);
    let args = requests[0].args();
    assert_eq!(int(&args[0]), id);
    assert_eq!(args[1].as_string().unwrap(), "oracle");
    assert_eq!(args[2].as_hash160().unwrap(), env.consumer, "requester");
    assert_eq!(args[3].as_hash160().unwrap(), env.consumer, "callback");
    assert_eq!(args[4].as_string().unwrap(), "onServiceResponse");
    let payload = args[5].as_string().unwrap();
    assert_eq!(
        payload,
        r#"{"url":"https://api.example.com/price","filter":"$.data.price"}"#
    );
    assert_eq!(int(&args[6]), BUDGET, "gasBudget");
    // Fee and budget are held by the request.
    assert_eq!(env.deposit_of(&env.consumer).await, 3 * ONE_GAS - HELD);
    let record = env.record(id).await;
    assert_eq!(int(&record[REC_STATUS]), STATUS_PENDING);
    assert_eq!(record[REC_REQUESTER].as_hash160().unwrap(), env.consumer);
    assert_eq!(int(&record[REC_FEE]), DEFAULT_FEE);
    assert_eq!(int(&record[REC_GAS_BUDGET]), BUDGET);

    // A key that is not registered cannot answer.
    let fulfill_args = |result: &[u8]| {
        vec![
            Arg::Int(id.into()),
            Arg::Int(0.into()),
            Arg::Bytes(result.to_vec()),
        ]
    };
    assert_refused(
        &env.stranger,
        &env.gateway,
        "fulfill",
        &fulfill_args(b"1.00"),
        "caller is not a registered node",
    )
    .await;

    // The registered node answers: the consumer's callback stores the value.
    let out = env.fulfill(&env.node, id, 0, b"42.17").await;
    let received: Vec<_> = out.events(&env.consumer, "ValueReceived").collect();
    assert_eq!(received.len(), 1);
    assert_eq!(int(&received[0].args()[0]), id);
    assert_eq!(received[0].args()[2].as_bytes().unwrap(), b"42.17");
    let responses: Vec<_> = out.events(&env.gateway, "ServiceResponse").collect();
    assert_eq!(responses.len(), 1);
    let args = responses[0].args();
    assert_eq!(int(&args[0]), id);
    assert_eq!(args[1].as_hash160().unwrap(), env.consumer);
    assert_eq!(int(&args[2]), 0);
    assert_eq!(args[3].as_bytes().unwrap(), sha256(b"42.17").to_vec());
    assert!(args[4].as_bool().unwrap(), "callbackOk");
    // The node is reimbursed the response transaction's fees out of the budget and earns the
    // service fee (owner share 0 by default); the requester gets the rest of the budget back.
    let node_hash = env.node_key.script_hash();
    let fees = out.system_fee + out.network_fee;
    assert!(fees > 0 && fees <= BUDGET, "{fees}");
    assert_eq!(args[5].as_hash160().unwrap(), node_hash, "answeredBy");
    assert_eq!(int(&args[6]), fees, "responseFees");
    assert_eq!(env.deposit_of(&node_hash).await, fees + DEFAULT_FEE);
    assert_eq!(
        env.deposit_of(&env.consumer).await,
        3 * ONE_GAS - DEFAULT_FEE - fees
    );

    let stored = env
        .read(&env.consumer, "getResult", &[Arg::Int(id.into())])
        .await;
    let stored = stored.as_array().unwrap();
    assert_eq!(int(&stored[0]), 0);
    assert_eq!(stored[1].as_bytes().unwrap(), b"42.17");
    assert!(
        !env.read(&env.consumer, "isPending", &[Arg::Int(id.into())])
            .await
            .as_bool()
            .unwrap()
    );
    let record = env.record(id).await;
    assert_eq!(int(&record[REC_STATUS]), STATUS_FULFILLED);
    assert_eq!(int(&record[REC_CODE]), 0);
    assert_eq!(
        record[REC_RESULT_HASH].as_bytes().unwrap(),
        sha256(b"42.17").to_vec()
    );
    assert!(record[REC_CALLBACK_OK].as_bool().unwrap());
    assert_eq!(int(&record[REC_RESPONSE_FEES]), fees);
    assert_eq!(record[REC_ANSWERED_BY].as_hash160().unwrap(), node_hash);
    assert_eq!(
        int(&env.read(&env.gateway, "getCollectedFees", &[]).await),
        0
    );

    // Once only, whoever asks; and nobody but the gateway can call the callback.
    assert_refused(
        &env.node,
        &env.gateway,
        "fulfill",
        &fulfill_args(b"43"),
        "already fulfilled",
    )
    .await;
    assert_refused(
        &env.stranger,
        &env.consumer,
        "onServiceResponse",
        &[
            Arg::Int(id.into()),
            Arg::Int(0.into()),
            Arg::Bytes(b"666".to_vec()),
            Arg::Bytes(Vec::new()),
        ],
        "only the gateway may call back",
    )
    .await;
    let stored = env
        .read(&env.consumer, "getResult", &[Arg::Int(id.into())])
        .await;
    assert_eq!(stored.as_array().unwrap()[1].as_bytes().unwrap(), b"42.17");

    // With an owner share of 25 %, the owner collects a quarter of the next fee.
    assert_refused(
        &env.stranger,
        &env.gateway,
        "setOwnerShare",
        &[Arg::Int(2500.into())],
        "only owner",
    )
    .await;
    assert_refused(
        &env.owner,
        &env.gateway,
        "setOwnerShare",
        &[Arg::Int(10_001.into())],
        "share must be 0..10000 basis points",
    )
    .await;
    env.owner
        .call(&env.gateway, "setOwnerShare", &[Arg::Int(2500.into())])
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    let second = env.consumer_request("https://x.example", "").await;
    let out = env.fulfill(&env.node, second, 0, b"1").await;
    let fees2 = out.system_fee + out.network_fee;
    assert_eq!(
        int(&env.read(&env.gateway, "getCollectedFees", &[]).await),
        DEFAULT_FEE / 4
    );
    assert_eq!(
        env.deposit_of(&node_hash).await,
        fees + DEFAULT_FEE + fees2 + DEFAULT_FEE - DEFAULT_FEE / 4
    );

    // Accounting: GAS held = deposits + collected fees (nothing pending).
    let held = gas.balance_of(&env.gateway).await.unwrap();
    let expected = env.deposit_of(&env.consumer).await
        + env.deposit_of(&node_hash).await
        + int(&env.read(&env.gateway, "getCollectedFees", &[]).await);
    assert_eq!(held, BigInt::from(expected));
}

#[tokio::test]
async fn failing_callback_is_recorded_without_faulting_the_fulfilment() {
    let env = setup(2 * ONE_GAS).await;
    let id = env.consumer_request("https://x.example", "$.x").await;
    // The example consumer rejects an empty success result by throwing.
    let out = env.fulfill(&env.node, id, 0, b"").await;
    assert_eq!(out.events(&env.consumer, "ValueReceived").count(), 0);
    let responses: Vec<_> = out.events(&env.gateway, "ServiceResponse").collect();
    assert_eq!(responses.len(), 1);
    assert!(
        !responses[0].args()[4].as_bool().unwrap(),
        "callbackOk must be false"
    );
    // The callback's state changes were rolled back; the request is closed all the same.
    assert!(
        env.read(&env.consumer, "isPending", &[Arg::Int(id.into())])
            .await
            .as_bool()
            .unwrap()
    );
    let record = env.record(id).await;
    assert_eq!(int(&record[REC_STATUS]), STATUS_FULFILLED);
    assert!(!record[REC_CALLBACK_OK].as_bool().unwrap());
    assert_refused(
        &env.node,
        &env.gateway,
        "fulfill",
        &[
            Arg::Int(id.into()),
            Arg::Int(0.into()),
            Arg::Bytes(b"1".to_vec()),
        ],
        "already fulfilled",
    )
    .await;
}

#[tokio::test]
async fn insufficient_deposit_is_refused_and_expired_requests_are_refunded() {
    let env = setup(HELD + DEFAULT_FEE / 2).await;
    let request_args = [
        Arg::String("https://x.example".into()),
        Arg::String("$.x".into()),
    ];

    // Short expiry for the test.
    let expiry_ms: i64 = 3000;
    env.owner
        .call(&env.gateway, "setExpiry", &[Arg::Int(expiry_ms.into())])
        .await
        .unwrap()
        .into_halt()
        .unwrap();

    // 1.15 GAS deposited: one request (fee and budget) fits, the second does not.
    let id = env.consumer_request("https://x.example", "$.x").await;
    assert_eq!(env.deposit_of(&env.consumer).await, DEFAULT_FEE / 2);
    assert_refused(
        &env.user,
        &env.consumer,
        "requestValue",
        &request_args,
        "insufficient deposit",
    )
    .await;

    // Not expired yet; and only the requester may cancel.
    assert_refused(
        &env.user,
        &env.consumer,
        "cancelRequest",
        &[Arg::Int(id.into())],
        "request not expired",
    )
    .await;
    assert_refused(
        &env.stranger,
        &env.gateway,
        "cancel",
        &[Arg::Int(id.into())],
        "no witness of requester",
    )
    .await;

    // Wait for a block past the expiry time, then cancel through the consumer: refunded.
    let expires_at = int(&env.record(id).await[REC_EXPIRES_AT]);
    let rpc = env.chain.rpc();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let height = rpc.get_block_count().await.unwrap() - 1;
        let block = rpc.get_block(height).await.unwrap();
        if i64::try_from(block.time).unwrap() > expires_at {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no block after expiry"
        );
        tokio::time::sleep(env.chain.block_time()).await;
    }
    let out = env
        .user
        .call(&env.consumer, "cancelRequest", &[Arg::Int(id.into())])
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    let cancelled: Vec<_> = out.events(&env.gateway, "RequestCancelled").collect();
    assert_eq!(cancelled.len(), 1);
    assert_eq!(int(&cancelled[0].args()[0]), id);
    assert_eq!(cancelled[0].args()[1].as_hash160().unwrap(), env.consumer);
    assert_eq!(
        int(&cancelled[0].args()[2]),
        HELD,
        "fee and budget refunded"
    );
    assert_eq!(env.deposit_of(&env.consumer).await, HELD + DEFAULT_FEE / 2);
    assert_eq!(int(&env.record(id).await[REC_STATUS]), STATUS_CANCELLED);

    // A cancelled request can be neither fulfilled nor cancelled again.
    assert_refused(
        &env.node,
        &env.gateway,
        "fulfill",
        &[
            Arg::Int(id.into()),
            Arg::Int(0.into()),
            Arg::Bytes(b"1".to_vec()),
        ],
        "request cancelled",
    )
    .await;
    assert_refused(
        &env.user,
        &env.consumer,
        "cancelRequest",
        &[Arg::Int(id.into())],
        "already cancelled",
    )
    .await;
    assert_eq!(
        int(&env.read(&env.gateway, "getCollectedFees", &[]).await),
        0
    );
}

#[tokio::test]
async fn admin_rotation_direct_requests_and_withdrawals() {
    let env = setup(0).await;
    let rpc = env.chain.rpc().clone();

    // Only the owner administers; only GAS is accepted.
    let new_node = PrivateKey::generate();
    assert_refused(
        &env.stranger,
        &env.gateway,
        "addNode",
        &[Arg::PublicKey(new_node.public_key())],
        "only owner",
    )
    .await;
    assert_refused(
        &env.stranger,
        &env.gateway,
        "update",
        &[
            Arg::Bytes(env.gateway_contract.nef.clone()),
            Arg::Bytes(env.gateway_contract.manifest.clone().into_bytes()),
            Arg::Null,
        ],
        "only owner",
    )
    .await;
    let committee = env.chain.committee_actor().await.unwrap();
    match Nep17::neo(rpc.clone())
        .transfer(&committee, &env.gateway, 1, Arg::Null)
        .await
    {
        Err(neo_rpc::Error::Fault { exception }) => {
            assert!(exception.contains("only GAS is accepted"), "{exception}")
        }
        other => panic!("NEO deposit must be refused, got {other:?}"),
    }

    // A transaction sender requests directly and pays from its own deposit.
    env.deposit_for(&env.user, &env.user_key.script_hash(), 2 * ONE_GAS)
        .await;
    let direct = |service: &str, budget: i64| {
        vec![
            Arg::String(service.into()),
            Arg::Bytes(vec![1, 2]),
            Arg::Hash160(env.consumer),
            Arg::String("onServiceResponse".into()),
            Arg::Bytes(Vec::new()),
            Arg::Int(budget.into()),
        ]
    };
    assert_refused(
        &env.user,
        &env.gateway,
        "request",
        &direct("function", MIN_BUDGET - 1),
        "gas budget too low",
    )
    .await;
    let out = env
        .user
        .call(&env.gateway, "request", &direct("function", MIN_BUDGET))
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    let id = int(&out.stack[0]);
    let request = out.events(&env.gateway, "ServiceRequest").next().unwrap();
    assert_eq!(
        request.args()[2].as_hash160().unwrap(),
        env.user_key.script_hash()
    );
    assert_eq!(
        env.deposit_of(&env.user_key.script_hash()).await,
        2 * ONE_GAS - DEFAULT_FEE - MIN_BUDGET
    );
    assert_refused(
        &env.user,
        &env.gateway,
        "request",
        &direct("weather", MIN_BUDGET),
        "unknown service type",
    )
    .await;

    // Rotation: the new key answers, the removed one is refused.
    let (new_node_key, new_node_actor) = funded(&env.chain, 20).await;
    env.owner
        .call(
            &env.gateway,
            "addNode",
            &[Arg::PublicKey(new_node_key.public_key())],
        )
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    env.owner
        .call(
            &env.gateway,
            "removeNode",
            &[Arg::PublicKey(env.node_key.public_key())],
        )
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    let nodes = env.read(&env.gateway, "getNodes", &[]).await;
    let nodes: Vec<_> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_public_key().unwrap())
        .collect();
    assert_eq!(nodes, vec![new_node_key.public_key()]);
    let fulfill_args = [
        Arg::Int(id.into()),
        Arg::Int(0.into()),
        Arg::Bytes(b"x".to_vec()),
    ];
    assert_refused(
        &env.node,
        &env.gateway,
        "fulfill",
        &fulfill_args,
        "caller is not a registered node",
    )
    .await;
    // The consumer did not ask for this id, so its callback refuses: callbackOk = false.
    let out = env.fulfill(&new_node_actor, id, 0, b"x").await;
    let response = out.events(&env.gateway, "ServiceResponse").next().unwrap();
    assert!(!response.args()[4].as_bool().unwrap());
    let direct_fees = out.system_fee + out.network_fee;
    let new_node_hash = new_node_key.script_hash();
    assert_eq!(
        env.deposit_of(&new_node_hash).await,
        direct_fees + DEFAULT_FEE
    );

    // Withdrawals: only with the account's witness, never more than the deposit.
    let user_hash = env.user_key.script_hash();
    assert_refused(
        &env.stranger,
        &env.gateway,
        "withdraw",
        &[Arg::Hash160(user_hash), Arg::Int(1.into())],
        "no witness of account",
    )
    .await;
    assert_refused(
        &env.user,
        &env.gateway,
        "withdraw",
        &[Arg::Hash160(user_hash), Arg::Int((2 * ONE_GAS).into())],
        "insufficient deposit",
    )
    .await;
    let gas = Nep17::gas(rpc.clone());
    let before = gas.balance_of(&user_hash).await.unwrap();
    let amount = ONE_GAS / 10;
    let out = env
        .user
        .call(
            &env.gateway,
            "withdraw",
            &[Arg::Hash160(user_hash), Arg::Int(amount.into())],
        )
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    assert_eq!(out.events(&env.gateway, "Withdrawal").count(), 1);
    let after = gas.balance_of(&user_hash).await.unwrap();
    assert_eq!(
        after,
        before + amount - out.system_fee - out.network_fee,
        "the withdrawal arrives, minus the transaction's fees"
    );
    assert_eq!(
        env.deposit_of(&user_hash).await,
        2 * ONE_GAS - DEFAULT_FEE - direct_fees - amount
    );

    // The fee went to the answering node (owner share 0): the owner has nothing to collect,
    // the node withdraws its reimbursed fees and its fee; the accounting invariant holds.
    let owner_hash = env.owner.sender();
    assert_refused(
        &env.owner,
        &env.gateway,
        "withdrawFees",
        &[Arg::Hash160(owner_hash), Arg::Int(DEFAULT_FEE.into())],
        "insufficient collected fees",
    )
    .await;
    new_node_actor
        .call(
            &env.gateway,
            "withdraw",
            &[
                Arg::Hash160(new_node_hash),
                Arg::Int((direct_fees + DEFAULT_FEE).into()),
            ],
        )
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    assert_eq!(env.deposit_of(&new_node_hash).await, 0);
    assert_eq!(
        gas.balance_of(&env.gateway).await.unwrap(),
        BigInt::from(env.deposit_of(&user_hash).await)
    );
}

#[tokio::test]
async fn upgrade_keeps_state_and_ownership_moves_with_both_witnesses() {
    let env = setup(2 * ONE_GAS).await;
    let id = env.consumer_request("https://x.example", "$.x").await;

    // The owner upgrades in place: same hash, same storage.
    let out = env
        .owner
        .call(
            &env.gateway,
            "update",
            &[
                Arg::Bytes(env.gateway_contract.nef.clone()),
                Arg::Bytes(env.gateway_contract.manifest.clone().into_bytes()),
                Arg::Null,
            ],
        )
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    assert_eq!(
        out.events(&neo_rpc::native::CONTRACT_MANAGEMENT, "Update")
            .count(),
        1
    );
    assert_eq!(
        int(&env.read(&env.gateway, "getLastRequestId", &[]).await),
        id
    );
    assert_eq!(env.deposit_of(&env.consumer).await, 2 * ONE_GAS - HELD);
    assert!(
        env.read(
            &env.gateway,
            "isNode",
            &[Arg::PublicKey(env.node_key.public_key())]
        )
        .await
        .as_bool()
        .unwrap()
    );
    env.fulfill(&env.node, id, 0, b"7").await;

    // Ownership moves only with the witnesses of both the old and the new owner.
    let (new_owner_key, new_owner) = funded(&env.chain, 20).await;
    let new_owner_hash = new_owner_key.script_hash();
    assert_refused(
        &env.owner,
        &env.gateway,
        "setOwner",
        &[Arg::Hash160(new_owner_hash)],
        "no witness of new owner",
    )
    .await;
    assert_refused(
        &new_owner,
        &env.gateway,
        "setOwner",
        &[Arg::Hash160(new_owner_hash)],
        "only owner",
    )
    .await;
    let both = Actor::new(
        env.chain.rpc().clone(),
        vec![
            Account::single(env.owner_key.clone()),
            Account::single(new_owner_key.clone()),
        ],
    )
    .await
    .unwrap();
    let out = both
        .call(&env.gateway, "setOwner", &[Arg::Hash160(new_owner_hash)])
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    let changed: Vec<_> = out.events(&env.gateway, "OwnerChanged").collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(
        changed[0].args()[0].as_hash160().unwrap(),
        env.owner.sender()
    );
    assert_eq!(changed[0].args()[1].as_hash160().unwrap(), new_owner_hash);
    assert_eq!(
        env.read(&env.gateway, "getOwner", &[])
            .await
            .as_hash160()
            .unwrap(),
        new_owner_hash
    );
    // The old owner is now refused; the new one administers.
    assert_refused(
        &env.owner,
        &env.gateway,
        "setExpiry",
        &[Arg::Int(1000.into())],
        "only owner",
    )
    .await;
    new_owner
        .call(&env.gateway, "setExpiry", &[Arg::Int(1000.into())])
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    assert_eq!(int(&env.read(&env.gateway, "getExpiry", &[]).await), 1000);
}
