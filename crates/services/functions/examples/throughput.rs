//! Throughput of the functions service (figures only, no assertions): sync executions of a small
//! function through store + sandbox on SQLite, sequentially and with N concurrent callers.
//!
//! `cargo run -p nsl-functions --release --example throughput -- [executions] [concurrency]`

use std::sync::Arc;
use std::time::Instant;

use nsl_egress::{Egress, EgressPolicy};
use nsl_functions::{
    ExecuteMode, ExecutionStatus, FunctionInput, FunctionsConfig, FunctionsService,
    NoFunctionSecrets,
};
use nsl_store::{AccountStore, Role, Store};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut argv = std::env::args().skip(1);
    let n: usize = argv.next().map(|s| s.parse()).transpose()?.unwrap_or(500);
    let conc: usize = argv.next().map(|s| s.parse()).transpose()?.unwrap_or(4);
    let dir = tempfile::tempdir()?;
    let mut cfg = nsl_config::Config::default();
    cfg.node.data_dir = dir.path().to_path_buf();
    let store = Store::open(&cfg, &[&nsl_functions::MIGRATIONS]).await?;
    let account = store.create_account("bench", Role::User).await?.id;
    let svc = FunctionsService::new(
        Arc::new(store.clone()),
        Arc::new(Egress::new(EgressPolicy::default())?),
        Arc::new(NoFunctionSecrets),
        FunctionsConfig::default(),
    );
    let source = "export default async (a) => { console.log('n', a.n); \
                  let s = 0; for (let i = 0; i < 1000; i++) s += i; return { n: a.n, s }; }";
    let f = svc
        .create(
            account,
            "bench",
            &FunctionInput {
                source: source.into(),
                ..FunctionInput::default()
            },
        )
        .await?;
    for (label, callers) in [("sequential", 1), ("concurrent", conc.max(1))] {
        let start = Instant::now();
        let per = n / callers;
        let mut tasks = Vec::new();
        for c in 0..callers {
            let svc = svc.clone();
            tasks.push(tokio::spawn(async move {
                let mut ok = 0usize;
                for i in 0..per {
                    let args = serde_json::json!({ "n": c * per + i });
                    if let Ok(e) = svc.execute(account, f.id, args, ExecuteMode::Sync).await
                        && e.status == ExecutionStatus::Succeeded
                    {
                        ok += 1;
                    }
                }
                ok
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += t.await?;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{label:>10}: {ok}/{} succeeded, {callers} caller(s), {:.1} s, {:.0} executions/s, {:.2} ms mean latency",
            per * callers,
            secs,
            ok as f64 / secs,
            secs * 1000.0 * callers as f64 / (per * callers).max(1) as f64
        );
    }
    store.close().await;
    Ok(())
}
