//! Several gateway answers in one transaction (`nsl_oracle::batch`, docs/gateway.md "Batched
//! answers") on a real neo-go privnet: each `fulfillShare` call in its own TRY/CATCH between two
//! `GasLeft`, fee shares computed from one test run, and the gateway's per-transaction cap.

use neo::script::{CallFlags, ScriptBuilder};
use neo::{Arg, StackItem};
use neo_rpc::types::VmState;
use neo_rpc::{Actor, ONE_GAS, TxOutcome};
use nsl_e2e::gateway_batch::{BatchEnv, rec};
use nsl_e2e::{ChainConfig, test_block_time};
use nsl_oracle::ResponseCode;
use nsl_oracle::batch::{
    BatchFees, BatchPlan, FulfillCall, SingleReason, batch_script, plan_batch, read_batch_run,
    send_batch,
};
use nsl_oracle::service::SYSTEM_FEE_MARGIN;

/// Fee of the `oracle` service type (0.1 GAS).
const FEE: i64 = ONE_GAS / 10;
/// The example consumer's default budget (1 GAS).
const BUDGET: i64 = ONE_GAS;
/// The node's ceiling per answer in these tests.
const CEILING: i64 = 3 * ONE_GAS;

fn int(item: &StackItem) -> i64 {
    item.as_i64().expect("integer")
}

fn call(id: u64, result: &[u8], budget: i64) -> FulfillCall {
    FulfillCall {
        request_id: id,
        code: ResponseCode::Success,
        result: result.to_vec(),
        gas_budget: budget,
    }
}

async fn start(consumers: usize) -> BatchEnv {
    BatchEnv::start(
        ChainConfig::with_block_time(test_block_time()),
        consumers,
        10 * ONE_GAS,
        30 * ONE_GAS,
    )
    .await
}

/// Sign and send `script` from `node` with `system_fee`, wait for inclusion.
async fn run_script(node: &Actor, script: &[u8], system_fee: i64) -> TxOutcome {
    let tx = node
        .make_tx_unchecked(script, system_fee)
        .await
        .expect("tx");
    let sent = node.send_tx(&tx).await.expect("sent");
    node.wait(&sent, node.wait_timeout())
        .await
        .expect("included")
}

#[tokio::test]
async fn one_transaction_answers_three_consumers_and_a_throwing_callback_sinks_nothing() {
    let env = start(3).await;
    let mut sent = Vec::new();
    for i in 0..3 {
        sent.push(env.send_request(i).await);
    }
    let mut ids = Vec::new();
    for (i, s) in sent.iter().enumerate() {
        ids.push(env.request_id(i, s).await);
    }
    let node_account = env.node.sender();
    let node_before = env.deposit_of(&node_account).await;
    let mut consumer_before = Vec::new();
    for c in &env.consumers {
        consumer_before.push(env.deposit_of(&c.hash).await);
    }

    // The middle consumer rejects an empty success result by throwing.
    let calls = [
        call(ids[0], b"1", BUDGET),
        call(ids[1], b"", BUDGET),
        call(ids[2], b"3", BUDGET),
    ];
    let batch = send_batch(&env.node, &env.gateway, &calls, SYSTEM_FEE_MARGIN, CEILING)
        .await
        .expect("batch")
        .expect("one transaction for the three answers");
    let out = &batch.outcome;
    assert_eq!(out.vm_state, VmState::Halt, "{:?}", out.exception);
    let fees = out.system_fee + out.network_fee;
    assert_eq!(batch.shares.iter().sum::<i64>(), fees);

    // On chain, as in the test run: every call accepted, one GAS figure pair per call.
    let runs = read_batch_run(3, &out.stack).expect("batch stack");
    assert!(runs.iter().all(|r| r.refused.is_none()), "{runs:?}");
    let responses: Vec<_> = out.events(&env.gateway, "ServiceResponse").collect();
    assert_eq!(responses.len(), 3);
    let ok: Vec<bool> = responses
        .iter()
        .map(|r| r.args()[4].as_bool().unwrap())
        .collect();
    assert_eq!(ok, [true, false, true]);
    for (i, r) in responses.iter().enumerate() {
        assert_eq!(r.args()[0].as_u64().unwrap(), ids[i]);
        assert_eq!(
            int(&r.args()[6]),
            batch.shares[i],
            "responseFees of call {i}"
        );
    }

    for (i, c) in env.consumers.iter().enumerate() {
        let record = env.record(ids[i]).await;
        assert_eq!(int(&record[rec::STATUS]), 1, "request {i} fulfilled");
        assert_eq!(record[rec::CALLBACK_OK].as_bool().unwrap(), i != 1);
        assert_eq!(int(&record[rec::RESPONSE_FEES]), batch.shares[i]);
        assert!(batch.shares[i] <= BUDGET);
        assert!(
            batch.shares[i] >= runs[i].gas,
            "share {i} covers the call's own GAS"
        );
        assert_eq!(record[rec::ANSWERED_BY].as_hash160().unwrap(), node_account);
        // Each requester gets back its budget less its own share.
        assert_eq!(
            env.deposit_of(&c.hash).await,
            consumer_before[i] + BUDGET - batch.shares[i]
        );
    }
    // The node gets back exactly the transaction's fees, plus the three service fees.
    assert_eq!(
        env.deposit_of(&node_account).await,
        node_before + fees + 3 * FEE
    );
    // The throwing callback's state changes were rolled back; the others stored their value.
    let pending = env
        .read(
            &env.consumers[1].hash,
            "isPending",
            &[Arg::Int(ids[1].into())],
        )
        .await;
    assert!(pending.as_bool().unwrap());
    let stored = env
        .read(
            &env.consumers[2].hash,
            "getResult",
            &[Arg::Int(ids[2].into())],
        )
        .await;
    assert_eq!(stored.as_array().unwrap()[1].as_bytes().unwrap(), b"3");

    // A batch of one: charged the whole transaction.
    let id = env.request(0).await;
    let before = env.deposit_of(&env.consumers[0].hash).await;
    let one = send_batch(
        &env.node,
        &env.gateway,
        &[call(id, b"4", BUDGET)],
        SYSTEM_FEE_MARGIN,
        CEILING,
    )
    .await
    .expect("batch of one")
    .expect("sent");
    assert_eq!(one.outcome.vm_state, VmState::Halt);
    let fees = one.outcome.system_fee + one.outcome.network_fee;
    assert_eq!(one.shares, vec![fees]);
    assert_eq!(int(&env.record(id).await[rec::RESPONSE_FEES]), fees);
    assert_eq!(
        env.deposit_of(&env.consumers[0].hash).await,
        before + BUDGET - fees
    );

    // An answered request in a batch is refused in the test run: it goes alone, the rest retry.
    let fresh = env.request(2).await;
    let again = send_batch(
        &env.node,
        &env.gateway,
        &[call(ids[0], b"1", BUDGET), call(fresh, b"5", BUDGET)],
        SYSTEM_FEE_MARGIN,
        CEILING,
    )
    .await
    .expect("plan");
    let Err(BatchPlan::Split { retry, single }) = again else {
        panic!("expected a split plan, got {again:?}");
    };
    assert_eq!(retry, vec![1]);
    assert_eq!(single.len(), 1);
    assert!(
        matches!(&single[0], (0, SingleReason::Refused(e)) if e.contains("already fulfilled")),
        "{single:?}"
    );
    assert_eq!(int(&env.record(fresh).await[rec::STATUS]), 0);
}

#[tokio::test]
async fn the_gateway_refuses_charging_more_than_the_transaction_fees_or_the_budget() {
    let env = start(2).await;
    for i in 0..2 {
        env.set_budget(i, 3 * ONE_GAS).await;
    }
    let a = env.request(0).await;
    let b = env.request(1).await;
    let c = env.request(0).await;
    let big = 3 * ONE_GAS;

    // 1. Shares summing to one fraction more than the transaction's fees: the first call takes
    //    almost everything, the second is refused (caught by its TRY); the transaction HALTs.
    let calls = [call(a, b"1", big), call(b, b"2", big)];
    let zero = batch_script(&env.gateway, &calls, &[0, 0]).unwrap();
    let run = env.node.invoker().invoke_script(&zero).await.unwrap();
    let probe = env.node.make_tx_unchecked(&zero, 0).await.unwrap();
    let fees = BatchFees {
        network_fee: probe.network_fee,
        margin_per_call: SYSTEM_FEE_MARGIN,
        max_response_fee: CEILING,
    };
    let BatchPlan::Send { system_fee, .. } = plan_batch(&calls, &run, &fees).unwrap() else {
        panic!("plan");
    };
    let total = system_fee + probe.network_fee;
    let greedy = batch_script(&env.gateway, &calls, &[total - 5, 6]).unwrap();
    let out = run_script(&env.node, &greedy, system_fee).await;
    assert_eq!(out.vm_state, VmState::Halt, "{:?}", out.exception);
    assert_eq!(out.system_fee + out.network_fee, total);
    let runs = read_batch_run(2, &out.stack).unwrap();
    assert_eq!(runs[0].refused, None);
    assert!(
        runs[1]
            .refused
            .as_deref()
            .is_some_and(|e| e.contains("fees charged exceed the transaction fees")),
        "{runs:?}"
    );
    assert_eq!(int(&env.record(a).await[rec::RESPONSE_FEES]), total - 5);
    assert_eq!(int(&env.record(b).await[rec::STATUS]), 0, "b still pending");
    assert_eq!(out.events(&env.gateway, "ServiceResponse").count(), 1);

    // 2. Two whole-fee `fulfill` calls in one transaction: the second would be reimbursed the
    //    same fees again and is refused.
    let mut sb = ScriptBuilder::new();
    for id in [b, c] {
        sb.try_catch(
            |s| {
                s.contract_call(
                    &env.gateway,
                    "fulfill",
                    CallFlags::ALL,
                    &[
                        Arg::Int(id.into()),
                        Arg::Int(0.into()),
                        Arg::Bytes(b"7".to_vec()),
                    ],
                )?;
                s.push_bool(true);
                Ok(())
            },
            |_| Ok(()),
        )
        .unwrap();
    }
    // neo-go refuses an ENDTRY that jumps to the end of the script: end with RET.
    sb.emit(neo::script::OpCode::RET);
    let twice = sb.into_bytes();
    let test = env.node.invoker().invoke_script(&twice).await.unwrap();
    assert_eq!(
        test.state,
        VmState::Halt,
        "fee-less test run accepts both: {:?}",
        test.exception
    );
    let out = run_script(&env.node, &twice, test.gasconsumed + 2 * SYSTEM_FEE_MARGIN).await;
    assert_eq!(out.vm_state, VmState::Halt, "{:?}", out.exception);
    let whole = out.system_fee + out.network_fee;
    assert_eq!(int(&env.record(b).await[rec::RESPONSE_FEES]), whole);
    assert_eq!(int(&env.record(c).await[rec::STATUS]), 0, "c still pending");
    assert!(
        out.stack.iter().any(|i| i
            .as_string()
            .is_ok_and(|e| e.contains("fees charged exceed"))),
        "{:?}",
        out.stack
    );

    // 3. A share above the request's budget, and a negative share: refused in the test run and
    //    on chain, whatever the transaction's fees.
    let over = [call(c, b"1", big)];
    for (share, text) in [
        (big + 1, "response fees exceed the gas budget"),
        (-1, "invalid fee share"),
    ] {
        let script = batch_script(&env.gateway, &over, &[share]).unwrap();
        let test = env.node.invoker().invoke_script(&script).await.unwrap();
        let runs = read_batch_run(1, &test.stack).unwrap();
        assert!(
            runs[0].refused.as_deref().is_some_and(|e| e.contains(text)),
            "{runs:?}"
        );
        let out = run_script(&env.node, &script, test.gasconsumed + SYSTEM_FEE_MARGIN).await;
        assert_eq!(out.vm_state, VmState::Halt);
        let runs = read_batch_run(1, &out.stack).unwrap();
        assert!(
            runs[0].refused.as_deref().is_some_and(|e| e.contains(text)),
            "{runs:?}"
        );
        assert_eq!(int(&env.record(c).await[rec::STATUS]), 0);
    }

    // 4. Answered properly, c is charged its share and the budget holds.
    let ok = send_batch(&env.node, &env.gateway, &over, SYSTEM_FEE_MARGIN, CEILING)
        .await
        .unwrap()
        .expect("sent");
    assert_eq!(ok.outcome.vm_state, VmState::Halt);
    let record = env.record(c).await;
    assert_eq!(int(&record[rec::STATUS]), 1);
    assert_eq!(int(&record[rec::CODE]), 0);
    assert_eq!(int(&record[rec::GAS_BUDGET]), big);
    assert_eq!(int(&record[rec::RESPONSE_FEES]), ok.shares[0]);
}

#[tokio::test]
async fn a_callback_that_burns_gas_only_on_chain_sinks_its_batch_once() {
    // The residual risk of batching (docs/security/batch.md): a callback that behaves in the
    // test run and runs out of GAS in the block FAULTs the whole batch, and the node pays that
    // transaction's fees. Answering the same requests alone afterwards confines it again.
    let env = start(1).await;
    let (_hostile, burn) = env.hostile_burn_request().await;
    let honest = env.request(0).await;
    let node_account = env.node.sender();
    let gas_before = neo_rpc::Nep17::gas(env.chain.rpc().clone())
        .balance_of(&node_account)
        .await
        .unwrap();
    let calls = [call(honest, b"1", BUDGET), call(burn, b"2", BUDGET)];
    let batch = send_batch(&env.node, &env.gateway, &calls, SYSTEM_FEE_MARGIN, CEILING)
        .await
        .unwrap()
        .expect("the test run gives no warning");
    assert_eq!(batch.outcome.vm_state, VmState::Fault);
    assert!(
        batch
            .outcome
            .exception
            .as_deref()
            .is_some_and(|e| e.contains("GAS")),
        "{:?}",
        batch.outcome.exception
    );
    // Nothing recorded, nothing reimbursed: both requests pending, the node paid the fees.
    for id in [honest, burn] {
        assert_eq!(int(&env.record(id).await[rec::STATUS]), 0);
    }
    assert_eq!(env.deposit_of(&node_account).await, 0);
    let gas_after = neo_rpc::Nep17::gas(env.chain.rpc().clone())
        .balance_of(&node_account)
        .await
        .unwrap();
    assert_eq!(
        gas_before - gas_after,
        neo::BigInt::from(batch.system_fee + batch.network_fee)
    );
    // Alone, the honest request is answered; the hostile one can only sink itself.
    let alone = send_batch(
        &env.node,
        &env.gateway,
        &calls[..1],
        SYSTEM_FEE_MARGIN,
        CEILING,
    )
    .await
    .unwrap()
    .expect("sent");
    assert_eq!(alone.outcome.vm_state, VmState::Halt);
    assert_eq!(int(&env.record(honest).await[rec::STATUS]), 1);
}
