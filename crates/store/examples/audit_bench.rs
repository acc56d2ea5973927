//! Audit log throughput: sequential and concurrent appends, then a full verify, on SQLite (temp
//! file) and PostgreSQL (a fresh database on NSL_TEST_PG_URL, default
//! postgres://root@127.0.0.1:5432/postgres, dropped afterwards). Prints figures; asserts nothing.
//!
//! `cargo run -p nsl-store --example audit_bench [--release] -- [entries]`

use std::time::{Duration, Instant};

use nsl_store::{AuditStore, NewAuditEntry, Store};
use sqlx::{Connection, Executor, PgConnection};

fn entry(i: usize) -> NewAuditEntry {
    NewAuditEntry {
        ts: 1_700_000_000_000 + i as i64,
        actor: format!("account-{}", i % 7),
        action: "apikey.create".into(),
        target: Some(format!("key-{i}")),
        ip: Some("10.0.0.1".into()),
        detail: serde_json::json!({ "i": i, "scopes": ["read", "write"] }),
    }
}

async fn run(label: &str, store: &Store, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let t = Instant::now();
    for i in 0..n {
        store.append_audit(&entry(i)).await?;
    }
    let seq = t.elapsed();
    let t = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let s = store.clone();
            tokio::spawn(async move {
                for i in 0..n / 8 {
                    s.append_audit(&entry(w * 1_000_000 + i)).await?;
                }
                Ok::<_, nsl_store::StoreError>(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let conc = t.elapsed();
    let t = Instant::now();
    let v = store.verify_audit().await?;
    let verify = t.elapsed();
    let rate = |count: usize, d: Duration| count as f64 / d.as_secs_f64();
    println!(
        "{label:>8}: sequential {n} appends {:.0}/s | 8 writers {} appends {:.0}/s | verify {} entries in {:.0} ms ({})",
        rate(n, seq),
        n / 8 * 8,
        rate(n / 8 * 8, conc),
        v.entries,
        verify.as_secs_f64() * 1000.0,
        if v.is_ok() { "ok" } else { "BROKEN" }
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/bench.db", dir.path().display());
    let store = Store::connect_url(&url, 8, Duration::from_secs(30)).await?;
    store.migrate(&[]).await?;
    run("sqlite", &store, n).await?;
    store.close().await;

    let admin = std::env::var("NSL_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/postgres".into());
    let name = format!("nsl_bench_{}", std::process::id());
    let mut conn = PgConnection::connect(&admin).await?;
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    let server = admin.split('?').next().unwrap_or(&admin);
    let server = server.rsplit_once('/').map(|(s, _)| s).unwrap_or(server);
    let result = async {
        let store =
            Store::connect_url(&format!("{server}/{name}"), 8, Duration::from_secs(30)).await?;
        store.migrate(&[]).await?;
        run("postgres", &store, n).await?;
        store.close().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    }
    .await;
    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await?;
    result
}
