//! End to end: a Neo contract runs a user's JavaScript function through the gateway (service
//! type `function`) and receives its result in the callback, on a real neo-go privnet.
//!
//! Setup: the gateway and the example gateway consumer ([`OracleChain`]), plus a second copy of
//! the consumer deployed by another account (a requester the function does not allow), both with
//! a deposit. An account "alice" owns two functions in a fresh SQLite store: `calc` (computes from
//! its args, callable from chain by the first consumer only) and `boom` (throws). The oracle
//! runtime runs in-process with the node's `function` handler
//! (`nsl_node::gateway_functions::FunctionsGatewayHandler`) over the functions service.
//!
//! Checked on chain (what the consumers' callbacks stored): code 0 with the exact JSON computed
//! from the args (the payload built by `StdLib.jsonSerialize`), Forbidden (0x18) for the other
//! consumer, Error (0xff) with `{"error":"script_error"}` and no message for the throwing
//! function; and off chain: alice's execution records with trigger `chain`, the gateway request
//! ids, the requesting transactions and the requester.

use std::sync::Arc;
use std::time::Duration;

use neo::{Arg, UInt160};
use neo_rpc::{Account, Actor, ContractManagement, Invoker, Nep17, ONE_GAS, TxOutcome};
use nsl_e2e::{OracleChain, OracleChainConfig, compile_repo_contract, test_block_time};
use nsl_egress::{Egress, EgressPolicy};
use nsl_functions::{
    ExecutionStatus, FunctionInput, FunctionsConfig, FunctionsService, NoFunctionSecrets,
};
use nsl_node::gateway_functions::FunctionsGatewayHandler;
use nsl_oracle::service::{NodeKey, OracleService, ServiceConfig};
use nsl_store::{AccountStore, Role, Store};
use tokio::sync::watch;

const CALC: &str = r#"
export default function main(args) {
  console.log("calc for", args.who);
  return {
    sum: args.a + args.b,
    greeting: "hello " + args.who,
    doubled: args.items.map((x) => x * 2),
  };
}
"#;

const BOOM: &str = r#"
export default function main() {
  throw new Error("private detail: the database password is hunter2");
}
"#;

/// `(code, result)` stored by a gateway consumer's callback for request `id`, waiting up to 60 s.
async fn result_of(chain: &OracleChain, consumer: &UInt160, id: i64) -> (i64, Vec<u8>) {
    let invoker = Invoker::new(chain.rpc().clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let item = invoker
            .call_item(consumer, "getResult", &[Arg::Int(id.into())])
            .await
            .expect("getResult");
        if let Ok([code, result]) = item.as_array() {
            return (
                code.as_i64().expect("code"),
                result.as_bytes().expect("result"),
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "request {id} of {consumer} not answered"
        );
        tokio::time::sleep(test_block_time()).await;
    }
}

/// `consumer.requestService("function", payload)` signed by `owner`; the gateway request id.
async fn request_function(owner: &Actor, consumer: &UInt160, payload: Vec<u8>) -> i64 {
    let out = owner
        .call(
            consumer,
            "requestService",
            &[Arg::String("function".into()), Arg::Bytes(payload)],
        )
        .await
        .and_then(TxOutcome::into_halt)
        .expect("requestService");
    out.stack[0].as_i64().expect("request id")
}

/// A second gateway consumer, deployed and funded by a new account (a different requester).
async fn other_consumer(chain: &OracleChain) -> (Actor, UInt160) {
    let rpc = chain.rpc().clone();
    let key = chain
        .chain
        .new_funded_account(100 * ONE_GAS)
        .await
        .expect("fund the other account");
    let owner = Actor::new(rpc.clone(), vec![Account::single(key)])
        .await
        .expect("actor");
    let c = compile_repo_contract("examples/contracts/gateway_consumer/gateway_consumer.py").await;
    let hash = ContractManagement::new(rpc.clone())
        .deploy(&owner, &c.nef, &c.manifest, Arg::Hash160(chain.gateway))
        .await
        .expect("deploy the other consumer")
        .hash;
    Nep17::gas(rpc)
        .transfer(&owner, &chain.gateway, 5 * ONE_GAS, Arg::Hash160(hash))
        .await
        .and_then(TxOutcome::into_halt)
        .expect("deposit for the other consumer");
    (owner, hash)
}

#[tokio::test]
async fn contract_runs_a_function_through_the_gateway_and_gets_its_result() {
    let chain = OracleChain::start(OracleChainConfig::with_block_time(test_block_time())).await;
    let (stranger, stranger_consumer) = other_consumer(&chain).await;
    let consumer = chain.gateway_consumer;
    assert_ne!(consumer, stranger_consumer);

    // The node's store and functions service; alice owns the functions.
    let db_dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", db_dir.path().join("nsl.db").display());
    let store = Store::connect_url(&url, 4, Duration::from_secs(10))
        .await
        .expect("store");
    store.migrate(nsl_node::MIGRATIONS).await.expect("migrate");
    let alice = store
        .create_account("alice", Role::User)
        .await
        .expect("account")
        .id;
    let functions = FunctionsService::new(
        Arc::new(store.clone()),
        Arc::new(Egress::new(EgressPolicy::default()).expect("egress")),
        Arc::new(NoFunctionSecrets),
        FunctionsConfig::default(),
    );
    // The consumer is allowed by its address; the stored form is its 0x script hash.
    let calc = functions
        .create(
            alice,
            "calc",
            &FunctionInput {
                source: CALC.into(),
                onchain_callers: vec![consumer.to_address()],
                ..FunctionInput::default()
            },
        )
        .await
        .expect("create calc");
    assert_eq!(calc.current.spec.onchain_callers, [consumer.to_string()]);
    let boom = functions
        .create(
            alice,
            "boom",
            &FunctionInput {
                source: BOOM.into(),
                onchain_callers: vec![consumer.to_string()],
                ..FunctionInput::default()
            },
        )
        .await
        .expect("create boom");

    // The oracle runtime with the function handler, in-process.
    let egress = Egress::new(EgressPolicy::default()).expect("egress");
    let service = OracleService::new(
        Arc::new(store.clone()),
        chain.rpc().clone(),
        egress,
        NodeKey(chain.node_key.clone()),
        ServiceConfig {
            gateway: Some(chain.gateway),
            poll_interval: test_block_time() / 2,
            start_block: Some(0),
            ..ServiceConfig::default()
        },
        vec![FunctionsGatewayHandler::new(functions.clone()).into_handler()],
    )
    .await
    .expect("oracle service");
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(service.run(rx));

    // The payload exactly as a contract builds it with StdLib.jsonSerialize.
    let payload = Invoker::new(chain.rpc().clone())
        .call_item(
            &neo_rpc::native::STD_LIB,
            "jsonSerialize",
            &[Arg::Map(vec![
                (
                    Arg::String("function".into()),
                    Arg::String(calc.id.to_string()),
                ),
                (
                    Arg::String("args".into()),
                    Arg::Map(vec![
                        (Arg::String("a".into()), Arg::Int(20.into())),
                        (Arg::String("b".into()), Arg::Int(22.into())),
                        (Arg::String("who".into()), Arg::String("neo".into())),
                        (
                            Arg::String("items".into()),
                            Arg::Array(vec![
                                Arg::Int(1.into()),
                                Arg::Int(2.into()),
                                Arg::Int(3.into()),
                            ]),
                        ),
                    ]),
                ),
            ])],
        )
        .await
        .expect("StdLib.jsonSerialize")
        .as_bytes()
        .expect("payload bytes");
    let ok_id = request_function(&chain.user, &consumer, payload.clone()).await;
    let forbidden_id = request_function(&stranger, &stranger_consumer, payload).await;
    let boom_payload = format!(r#"{{"function":"{}","args":null}}"#, boom.id).into_bytes();
    let boom_id = request_function(&chain.user, &consumer, boom_payload).await;

    let (code, result) = result_of(&chain, &consumer, ok_id).await;
    assert_eq!(
        (code, String::from_utf8(result).expect("utf-8")),
        (
            0,
            r#"{"doubled":[2,4,6],"greeting":"hello neo","sum":42}"#.to_string()
        )
    );
    let (code, result) = result_of(&chain, &stranger_consumer, forbidden_id).await;
    assert_eq!(
        (code, String::from_utf8(result).expect("utf-8")),
        (0x18, r#"{"error":"forbidden"}"#.to_string())
    );
    let (code, result) = result_of(&chain, &consumer, boom_id).await;
    let result = String::from_utf8(result).expect("utf-8");
    assert_eq!(
        (code, result.as_str()),
        (0xff, r#"{"error":"script_error"}"#)
    );
    assert!(!result.contains("hunter2"));

    // Alice's execution records: one per run (none for the forbidden request), trigger chain.
    let runs = functions
        .account_executions(alice, Some("chain"))
        .await
        .expect("executions");
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let by_request = |id: i64| {
        runs.iter()
            .find(|e| e.chain.as_ref().map(|c| c.request_id) == u64::try_from(id).ok())
            .unwrap_or_else(|| panic!("no execution for request {id}: {runs:#?}"))
    };
    let ok = by_request(ok_id);
    assert_eq!(ok.trigger(), "chain");
    assert_eq!(ok.function_id, calc.id);
    assert_eq!(ok.status, ExecutionStatus::Succeeded);
    assert_eq!(
        ok.args,
        serde_json::json!({"a": 20, "b": 22, "who": "neo", "items": [1, 2, 3]})
    );
    assert_eq!(ok.logs[0]["message"], "calc for neo");
    let trigger = ok.chain.as_ref().expect("chain trigger");
    assert_eq!(trigger.requester, consumer.to_string());
    // The recorded transaction is the one that made the request.
    let tx: neo::UInt256 = trigger.tx_hash.parse().expect("tx hash");
    let log = chain
        .rpc()
        .get_application_log(&tx)
        .await
        .expect("application log");
    let requested: Vec<i64> = log
        .executions
        .iter()
        .flat_map(|e| e.notifications.iter())
        .filter(|n| n.contract == chain.gateway && n.eventname == "ServiceRequest")
        .map(|n| n.state.as_array().expect("event")[0].as_i64().expect("id"))
        .collect();
    assert_eq!(requested, [ok_id]);
    let failed = by_request(boom_id);
    assert_eq!(failed.function_id, boom.id);
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(failed.error_kind.as_deref(), Some("script_error"));
    assert!(
        failed
            .error_message
            .as_deref()
            .unwrap_or("")
            .contains("hunter2"),
        "the owner sees the message: {failed:#?}"
    );

    stop.send(true).expect("stop");
    task.await.expect("join").expect("oracle service");
}
