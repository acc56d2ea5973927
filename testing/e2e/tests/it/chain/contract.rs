//! A neo3-boa contract: compiled by the harness, deployed through ContractManagement, invoked,
//! its event read from the application log; FAULTs reported with their exception text.

use neo::{Arg, BigInt, PrivateKey};
use neo_rpc::native::{CONTRACT_MANAGEMENT, contract_hash, nef_checksum};
use neo_rpc::types::VmState;
use neo_rpc::{Account, Actor, ContractManagement, Invoker, ONE_GAS};
use nsl_devchain::ToolCache;
use nsl_e2e::{compile_contract_cached, contract_path, start_chain};

/// Compile `counter.py` off the async runtime.
async fn counter() -> nsl_devchain::CompiledContract {
    tokio::task::spawn_blocking(|| {
        compile_contract_cached(&ToolCache::from_env()?, &contract_path("counter.py"))
    })
    .await
    .unwrap()
    .unwrap()
}

#[tokio::test]
async fn deploy_invoke_and_read_event() {
    let (chain, contract) = tokio::join!(start_chain(), counter());
    let rpc = chain.rpc().clone();
    let owner = chain.new_funded_account(100 * ONE_GAS).await.unwrap();
    let actor = Actor::new(rpc.clone(), vec![Account::single(owner.clone())])
        .await
        .unwrap();

    let deployed = ContractManagement::new(rpc.clone())
        .deploy(&actor, &contract.nef, &contract.manifest, Arg::Null)
        .await
        .unwrap();
    let expected = contract_hash(
        &owner.script_hash(),
        nef_checksum(&contract.nef).unwrap(),
        "NslE2eCounter",
    );
    assert_eq!(deployed.hash, expected);
    assert!(
        deployed
            .outcome
            .events(&CONTRACT_MANAGEMENT, "Deploy")
            .count()
            == 1
    );
    let state = rpc.get_contract_state(&deployed.hash).await.unwrap();
    assert_eq!(state.name(), "NslE2eCounter");
    assert_eq!(state.hash, deployed.hash);

    // increment(owner, 5) as a transaction: HALT, returns 5, emits Incremented(owner, 5, 5).
    let out = actor
        .call(
            &deployed.hash,
            "increment",
            &[Arg::Hash160(owner.script_hash()), Arg::Int(5.into())],
        )
        .await
        .unwrap();
    assert_eq!(out.vm_state, VmState::Halt, "{:?}", out.exception);
    assert_eq!(out.stack[0].as_i64().unwrap(), 5);

    // Read the event back from the application log, as an indexer would.
    let log = rpc.get_application_log(&out.hash).await.unwrap();
    let exec = &log.executions[0];
    assert_eq!(exec.vmstate, VmState::Halt);
    let events: Vec<_> = exec
        .notifications
        .iter()
        .filter(|n| n.contract == deployed.hash && n.eventname == "Incremented")
        .collect();
    assert_eq!(events.len(), 1);
    let args = events[0].state.as_array().unwrap();
    assert_eq!(args[0].as_hash160().unwrap(), owner.script_hash());
    assert_eq!(args[1].as_int().unwrap(), BigInt::from(5));
    assert_eq!(args[2].as_int().unwrap(), BigInt::from(5));

    // A second increment accumulates; the read-only getter sees the stored total.
    actor
        .call(
            &deployed.hash,
            "increment",
            &[Arg::Hash160(owner.script_hash()), Arg::Int(7.into())],
        )
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    let total = Invoker::new(rpc.clone())
        .call_item(&deployed.hash, "get", &[])
        .await
        .unwrap();
    assert_eq!(total.as_i64().unwrap(), 12);
    // The raw storage agrees (key b"counter").
    let raw = rpc
        .get_storage(&deployed.hash, b"counter")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(neo::script::int_from_bytes(&raw), BigInt::from(12));
    assert_eq!(
        rpc.get_storage(&deployed.hash, b"nothing").await.unwrap(),
        None
    );
    let found = rpc.find_storage(&deployed.hash, b"count", 0).await.unwrap();
    assert_eq!(found.results.len(), 1);
    assert!(!found.truncated);
    assert_eq!(found.results[0].key_bytes().unwrap(), b"counter");
    assert_eq!(
        neo::script::int_from_bytes(&found.results[0].value_bytes().unwrap()),
        BigInt::from(12)
    );

    // Deploying the same contract again from the same sender collides and FAULTs in the test run.
    let again = ContractManagement::new(rpc.clone())
        .deploy(&actor, &contract.nef, &contract.manifest, Arg::Null)
        .await
        .unwrap_err();
    assert!(matches!(again, neo_rpc::Error::Fault { .. }), "{again}");
}

#[tokio::test]
async fn faulting_invocation_is_reported_with_its_exception() {
    let (chain, contract) = tokio::join!(start_chain(), counter());
    let rpc = chain.rpc().clone();
    let owner = chain.new_funded_account(100 * ONE_GAS).await.unwrap();
    let actor = Actor::new(rpc.clone(), vec![Account::single(owner.clone())])
        .await
        .unwrap();
    let hash = ContractManagement::new(rpc.clone())
        .deploy(&actor, &contract.nef, &contract.manifest, Arg::Null)
        .await
        .unwrap()
        .hash;
    let args = [Arg::String("boom: nsl e2e".into())];

    // 1. The test invocation reports FAULT and the exception text.
    let test = actor.invoker().call(&hash, "fail", &args).await.unwrap();
    assert_eq!(test.state, VmState::Fault);
    assert!(
        test.exception
            .as_deref()
            .unwrap_or("")
            .contains("boom: nsl e2e"),
        "{:?}",
        test.exception
    );

    // 2. The actor refuses to send it: Error::Fault with the same text, nothing spent.
    let err = actor.call(&hash, "fail", &args).await.unwrap_err();
    match &err {
        neo_rpc::Error::Fault { exception } => assert!(exception.contains("boom: nsl e2e")),
        other => panic!("expected Fault, got {other}"),
    }

    // 3. Sent anyway (explicit system fee, no test run): included, FAULT, exception in the log,
    //    fees paid, state unchanged.
    let script = neo_rpc::call_script(
        &hash,
        "increment",
        &[
            Arg::Hash160(PrivateKey::generate().script_hash()), // no witness of that account
            Arg::Int(1.into()),
        ],
    )
    .unwrap();
    let sent = actor.send_unchecked(&script, ONE_GAS).await.unwrap();
    let out = actor.wait(&sent, actor.wait_timeout()).await.unwrap();
    assert_eq!(out.vm_state, VmState::Fault);
    assert!(
        out.exception
            .as_deref()
            .unwrap_or("")
            .contains("no witness of by"),
        "{:?}",
        out.exception
    );
    assert!(out.clone().into_halt().is_err());
    let total = Invoker::new(rpc.clone())
        .call_item(&hash, "get", &[])
        .await
        .unwrap();
    assert_eq!(total.as_i64().unwrap(), 0);
    let tx = rpc.get_raw_transaction(&out.hash).await.unwrap();
    assert_eq!(tx.vmstate.as_deref(), Some("FAULT"));
}

#[tokio::test]
async fn update_through_the_contract_by_its_owner_only() {
    let (chain, contract) = tokio::join!(start_chain(), counter());
    let rpc = chain.rpc().clone();
    let owner = chain.new_funded_account(100 * ONE_GAS).await.unwrap();
    let actor = Actor::new(rpc.clone(), vec![Account::single(owner.clone())])
        .await
        .unwrap();
    let cm = ContractManagement::new(rpc.clone());
    let hash = cm
        .deploy(&actor, &contract.nef, &contract.manifest, Arg::Null)
        .await
        .unwrap()
        .hash;
    actor
        .call(
            &hash,
            "increment",
            &[Arg::Hash160(owner.script_hash()), Arg::Int(3.into())],
        )
        .await
        .unwrap()
        .into_halt()
        .unwrap();

    // Someone else may not update it.
    let outsider = chain.new_funded_account(100 * ONE_GAS).await.unwrap();
    let outsider = Actor::new(rpc.clone(), vec![Account::single(outsider)])
        .await
        .unwrap();
    let err = cm
        .update(
            &outsider,
            &hash,
            &contract.nef,
            &contract.manifest,
            Arg::Null,
        )
        .await
        .unwrap_err();
    match &err {
        neo_rpc::Error::Fault { exception } => {
            assert!(
                exception.contains("only the owner may update"),
                "{exception}"
            )
        }
        other => panic!("expected Fault, got {other}"),
    }

    // The owner may: same hash, update counter 1, Update event, storage kept.
    let out = cm
        .update(&actor, &hash, &contract.nef, &contract.manifest, Arg::Null)
        .await
        .unwrap();
    let updates: Vec<_> = out.events(&CONTRACT_MANAGEMENT, "Update").collect();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].args()[0].as_hash160().unwrap(), hash);
    let state = cm.get_contract(&hash).await.unwrap();
    assert_eq!(state.updatecounter, 1);
    let total = Invoker::new(rpc.clone())
        .call_item(&hash, "get", &[])
        .await
        .unwrap();
    assert_eq!(total.as_i64().unwrap(), 3);
}
