//! `gateway-batch-bench`: what answering several gateway requests in one transaction saves
//! (issue #10), on a neo-go privnet started for the run.
//!
//! ```text
//! cargo run -p nsl-e2e --bin gateway-batch-bench [-- --repeat N]
//! ```
//!
//! Prints, for batches of 1, 10 and 50 answers and for as many single `fulfill` transactions:
//! system + network fee per answer; then the time of one `invokescript` of a 100-call batch
//! against 100 `invokescript` of single `fulfill` scripts (median of `--repeat` rounds, default
//! 5), and of sending (`sendrawtransaction`: neo-go verifies the signature and runs the
//! verification) one signed 100-answer batch against 100 signed single transactions. Block time: `$NSL_E2E_BLOCK_MS` (default 100 ms). Results in docs/benchmarks.md.

use std::time::{Duration, Instant};

use neo_rpc::ONE_GAS;
use nsl_e2e::gateway_batch::BatchEnv;
use nsl_e2e::{ChainConfig, test_block_time};
use nsl_oracle::batch::{BatchFees, BatchPlan, FulfillCall, batch_script, plan_batch, send_batch};
use nsl_oracle::gateway::fulfill_script;
use nsl_oracle::service::SYSTEM_FEE_MARGIN;
use nsl_oracle::{Answer, ResponseCode};

/// The result every answer carries (as in the single-answer figures of docs/gateway.md).
const RESULT: &[u8] = b"[42.17]";
/// Consumers the requests are spread over, and each one's deposit.
const CONSUMERS: usize = 10;
const DEPOSIT: i64 = 50 * ONE_GAS;

fn call(id: u64) -> FulfillCall {
    FulfillCall {
        request_id: id,
        code: ResponseCode::Success,
        result: RESULT.to_vec(),
        gas_budget: ONE_GAS,
    }
}

async fn requests(env: &BatchEnv, n: usize, next: &mut usize) -> Vec<u64> {
    let mut sent = Vec::new();
    for _ in 0..n {
        let i = *next % CONSUMERS;
        *next += 1;
        sent.push((i, env.send_request(i).await));
    }
    let mut ids = Vec::new();
    for (i, s) in &sent {
        ids.push(env.request_id(*i, s).await);
    }
    ids
}

/// Answer `id` alone with the existing single path; its system + network fee.
async fn single(env: &BatchEnv, id: u64) -> i64 {
    let out = nsl_oracle::gateway::fulfill(
        &env.node,
        &env.gateway,
        id,
        &Answer::success(RESULT.to_vec()),
        SYSTEM_FEE_MARGIN,
    )
    .await
    .expect("single fulfil");
    assert!(out.is_halt(), "{:?}", out.exception);
    out.system_fee + out.network_fee
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn gas(fractions: i64) -> String {
    format!("{:.4}", fractions as f64 / ONE_GAS as f64)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut repeat = 5usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--repeat" => {
                repeat = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|r| *r > 0)
                    .unwrap_or_else(|| usage())
            }
            _ => usage(),
        }
    }
    let block = test_block_time();
    let env = BatchEnv::start(
        ChainConfig::with_block_time(block),
        CONSUMERS,
        DEPOSIT,
        300 * ONE_GAS,
    )
    .await;
    println!(
        "gateway-batch-bench: neo-go privnet, {} ms blocks",
        block.as_millis()
    );
    println!();
    println!(
        "| answers | batch: fee per answer (GAS) | single txs: fee per answer (GAS) | saved |"
    );
    println!("|---|---|---|---|");
    let mut next = 0usize;
    // Warm-up: the first fulfilment creates storage keys (the node's deposit, the gateway's
    // per-transaction total) that every later one only updates.
    for id in requests(&env, 1, &mut next).await {
        single(&env, id).await;
    }
    for n in [1usize, 10, 50] {
        let ids = requests(&env, n, &mut next).await;
        let calls: Vec<FulfillCall> = ids.iter().map(|id| call(*id)).collect();
        let batch = send_batch(&env.node, &env.gateway, &calls, SYSTEM_FEE_MARGIN, ONE_GAS)
            .await
            .expect("batch")
            .expect("batch plan sends");
        assert!(batch.outcome.is_halt(), "{:?}", batch.outcome.exception);
        let batch_fee = (batch.system_fee + batch.network_fee) / n as i64;

        let ids = requests(&env, n, &mut next).await;
        let mut single_total = 0i64;
        for id in ids {
            single_total += single(&env, id).await;
        }
        let single_fee = single_total / n as i64;
        println!(
            "| {n} | {} | {} | {:.1}% |",
            gas(batch_fee),
            gas(single_fee),
            100.0 * (single_fee - batch_fee) as f64 / single_fee as f64
        );
    }

    // Test runs only: 100 pending requests, never answered.
    let ids = requests(&env, 100, &mut next).await;
    let calls: Vec<FulfillCall> = ids.iter().map(|id| call(*id)).collect();
    let script = batch_script(&env.gateway, &calls, &vec![0; calls.len()]).expect("script");
    let singles: Vec<Vec<u8>> = ids
        .iter()
        .map(|id| fulfill_script(&env.gateway, *id, ResponseCode::Success, RESULT).expect("script"))
        .collect();
    let invoker = env.node.invoker();
    let (mut batch_times, mut single_times) = (Vec::new(), Vec::new());
    for _ in 0..repeat {
        let t = Instant::now();
        let run = invoker
            .invoke_script(&script)
            .await
            .expect("batch test run");
        batch_times.push(t.elapsed());
        assert!(run.state.is_halt(), "{:?}", run.exception);
        let t = Instant::now();
        for s in &singles {
            let run = invoker.invoke_script(s).await.expect("single test run");
            assert!(run.state.is_halt(), "{:?}", run.exception);
        }
        single_times.push(t.elapsed());
    }
    let (b, s) = (median(batch_times), median(single_times));
    println!();
    println!("| 100 answers (invokescript: median of {repeat}) | total | per answer |");
    println!("|---|---|---|");
    println!(
        "| invokescript: one 100-call batch | {:.1} ms | {:.2} ms |",
        b.as_secs_f64() * 1e3,
        b.as_secs_f64() * 10.0
    );
    println!(
        "| invokescript: 100 single fulfil scripts, one after the other | {:.1} ms | {:.2} ms |",
        s.as_secs_f64() * 1e3,
        s.as_secs_f64() * 10.0
    );
    send_times(&env, &mut next).await;
}

/// Time `sendrawtransaction` of one 100-answer batch and of 100 single `fulfill` transactions,
/// all built and signed beforehand; wait for them to be included.
async fn send_times(env: &BatchEnv, next: &mut usize) {
    let node = &env.node;
    let ids = requests(env, 100, next).await;
    let calls: Vec<FulfillCall> = ids.iter().map(|id| call(*id)).collect();
    let zero = batch_script(&env.gateway, &calls, &vec![0; calls.len()]).expect("script");
    let run = node.invoker().invoke_script(&zero).await.expect("test run");
    let mut tx = node.make_tx_unchecked(&zero, 0).await.expect("tx");
    let fees = BatchFees {
        network_fee: tx.network_fee,
        margin_per_call: SYSTEM_FEE_MARGIN,
        max_response_fee: ONE_GAS,
    };
    let BatchPlan::Send { system_fee, shares } = plan_batch(&calls, &run, &fees).expect("plan")
    else {
        panic!("the 100-answer batch does not plan to Send");
    };
    tx.script = batch_script(&env.gateway, &calls, &shares).expect("script");
    tx.system_fee = system_fee;
    node.sign(&mut tx).expect("sign");
    let t = Instant::now();
    let sent = node.send_tx(&tx).await.expect("batch sent");
    let batch = t.elapsed();
    let out = node
        .wait(&sent, node.wait_timeout())
        .await
        .expect("included");
    assert!(out.is_halt(), "{:?}", out.exception);

    let ids = requests(env, 100, next).await;
    let mut txs = Vec::new();
    for id in ids {
        let script =
            fulfill_script(&env.gateway, id, ResponseCode::Success, RESULT).expect("script");
        let test = node
            .invoker()
            .invoke_script(&script)
            .await
            .expect("test run");
        txs.push(
            node.make_tx_unchecked(&script, test.gasconsumed + SYSTEM_FEE_MARGIN)
                .await
                .expect("tx"),
        );
    }
    let t = Instant::now();
    let mut sent = Vec::new();
    for tx in &txs {
        sent.push(node.send_tx(tx).await.expect("single sent"));
    }
    let singles = t.elapsed();
    for s in &sent {
        let out = node.wait(s, node.wait_timeout()).await.expect("included");
        assert!(out.is_halt(), "{:?}", out.exception);
    }
    println!(
        "| sendrawtransaction: one 100-answer batch | {:.1} ms | {:.2} ms |",
        batch.as_secs_f64() * 1e3,
        batch.as_secs_f64() * 10.0
    );
    println!(
        "| sendrawtransaction: 100 single transactions | {:.1} ms | {:.2} ms |",
        singles.as_secs_f64() * 1e3,
        singles.as_secs_f64() * 10.0
    );
}

fn usage() -> ! {
    eprintln!("usage: gateway-batch-bench [--repeat N]");
    std::process::exit(2);
}
