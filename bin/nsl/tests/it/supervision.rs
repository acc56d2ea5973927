//! Supervision of the node's services, with the real binary: `nsl serve` on a PostgreSQL
//! database of its own (created here), the oracle service on against a neo-go privnet with the
//! gateway deployed. The database goes away under the running node, and comes back.
//!
//! ```text
//! nsl serve ──SQL──▶ PostgreSQL database nsl_t_sup_<pid>
//!           ──RPC──▶ neo-go privnet (1 s blocks, node key = Oracle, gateway + consumer deployed)
//!
//! 1. /ready 200, services.oracle running
//! 2. ALTER DATABASE .. WITH ALLOW_CONNECTIONS false + pg_terminate_backend (another connection)
//! 3. /ready 503 naming the oracle (state restarting, error class "store", no driver text) and
//!    the node's chain runtime `chain` it runs on (not running, error class "store")
//! 4. a gateway request is made on chain while the oracle is down
//! 5. ALTER DATABASE .. WITH ALLOW_CONNECTIONS true
//! 6. /ready 200 again (oracle and chain running), the request answered on chain exactly once,
//!    its row confirmed
//! ```

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use neo::{Arg, StackItem, UInt160};
use neo_rpc::{Invoker, RpcClient};
use nsl_e2e::{OracleChain, OracleChainConfig, price_server};
use nsl_oracle::service::{OracleStore, RequestFilter, RequestState};
use tokio::io::{AsyncBufReadExt as _, BufReader};

const BLOCK_TIME: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_turns_ready_503_naming_the_oracle_and_nothing_is_lost() {
    let (chain, server) = tokio::join!(
        OracleChain::start(OracleChainConfig::with_block_time(BLOCK_TIME)),
        price_server()
    );
    let price_url = format!("http://{}/price", server.addr);
    let name = format!("nsl_t_sup_{}", std::process::id());
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    psql(&format!("CREATE DATABASE {name}"));
    let db = PgDb(name.clone());
    let url = pg_url(&name);
    let tmp = tempfile::tempdir().expect("temp dir");
    let start_block = chain.chain.rpc().get_block_count().await.expect("height") - 1;
    let node = Node::start(tmp.path(), &chain, &url, start_block).await;

    // 1. Up: 200 and the oracle listed as running.
    let ready = wait_ready(&node, Duration::from_secs(60), |st, body| {
        st == 200 && body["services"]["oracle"]["state"] == "running"
    })
    .await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["services"]["chain"]["state"], "running", "{ready}");

    // 2. The database goes away: no new connections, the node's ones cut.
    psql(&format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
    ));
    psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ));

    // 3. 503 naming the oracle, with its error class and nothing of the driver's text.
    let down = wait_ready(&node, Duration::from_secs(90), |st, body| {
        st == 503
            && body["services"]["oracle"]["state"] == "restarting"
            && body["services"]["chain"]["state"] != "running"
    })
    .await;
    assert_eq!(down["status"], "unavailable", "{down}");
    assert_eq!(down["database"], "unavailable", "{down}");
    assert_eq!(down["services"]["oracle"]["error"], "store", "{down}");
    // The runtime under it is down too, for the same reason.
    assert_ne!(down["services"]["chain"]["state"], "running", "{down}");
    assert_eq!(down["services"]["chain"]["error"], "store", "{down}");
    assert!(
        down["services"]["oracle"]["failures"].as_u64().unwrap_or(0) >= 1,
        "{down}"
    );
    assert!(
        down["services"]["oracle"]["since"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z')),
        "{down}"
    );
    let text = down.to_string().to_lowercase();
    for leak in [name.as_str(), "postgres", "sqlx", "connection", "terminat"] {
        assert!(!text.contains(leak), "{leak:?} leaked into /ready: {down}");
    }

    // 4. A gateway request while the oracle is down (waits for its block).
    let request_id =
        u64::try_from(chain.gateway_request(&price_url, "$.data.price").await).expect("request id");
    let request_block = chain.chain.rpc().get_block_count().await.expect("height") - 1;
    let status = node.ready().1;
    assert_eq!(status["status"], "unavailable", "still down: {status}");

    // 5. The database comes back.
    psql(&format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
    ));

    // 6. Ready again (the back-off is at most 60 s), the request answered once.
    let up = wait_ready(&node, Duration::from_secs(150), |st, body| {
        st == 200 && body["services"]["oracle"]["state"] == "running"
    })
    .await;
    assert!(up["services"]["oracle"].get("error").is_none(), "{up}");
    assert_eq!(up["services"]["chain"]["state"], "running", "{up}");
    let deadline = Instant::now() + Duration::from_secs(90);
    while !answered(&chain, request_id).await {
        assert!(
            Instant::now() < deadline,
            "request {request_id} not answered after the database came back: {}",
            node.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // A few more blocks: a duplicate answer would land in one of them.
    let height = chain.chain.rpc().get_block_count().await.expect("height");
    wait_height(chain.chain.rpc(), height + 3).await;
    let result = read(&chain, &chain.gateway_consumer, "getResult", request_id).await;
    let result = result.as_array().expect("getResult");
    assert_eq!(result[0].as_i64().unwrap(), 0, "code Success");
    assert_eq!(result[1].as_bytes().unwrap(), b"[42.17]");
    let responses = service_responses(&chain, request_block, request_id).await;
    assert_eq!(
        responses, 1,
        "ServiceResponse events for request {request_id}"
    );

    let store = nsl_store::Store::connect_url(&url, 2, Duration::from_secs(10))
        .await
        .expect("open the node's database");
    let rows = store
        .list_requests(&RequestFilter {
            limit: 100,
            ..RequestFilter::default()
        })
        .await
        .expect("list requests");
    let row = rows
        .iter()
        .find(|r| r.request_id == i64::try_from(request_id).unwrap())
        .unwrap_or_else(|| panic!("no row for request {request_id}: {rows:#?}"));
    assert_eq!(row.state, RequestState::Confirmed, "{row:#?}");
    store.close().await;
    node.stop().await;
    drop(db);
}

/// Poll `/ready` until `ok(status, body)`; the last body.
async fn wait_ready(
    node: &Node,
    within: Duration,
    ok: impl Fn(u16, &serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let (st, body) = node.ready();
        if ok(st, &body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/ready not as expected within {within:?}: {st} {body}\n{}",
            node.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn answered(chain: &OracleChain, id: u64) -> bool {
    !read(chain, &chain.gateway_consumer, "getResult", id)
        .await
        .as_array()
        .expect("getResult array")
        .is_empty()
}

async fn read(chain: &OracleChain, contract: &UInt160, method: &str, id: u64) -> StackItem {
    Invoker::new(chain.chain.rpc().clone())
        .call_item(contract, method, &[Arg::Int(id.into())])
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

async fn wait_height(rpc: &RpcClient, count: u32) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while rpc.get_block_count().await.expect("height") < count {
        assert!(Instant::now() < deadline, "block count {count} not reached");
        tokio::time::sleep(BLOCK_TIME / 4).await;
    }
}

/// `ServiceResponse` events of the gateway for `id` in the blocks from `from` to the current one.
async fn service_responses(chain: &OracleChain, from: u32, id: u64) -> usize {
    let rpc = chain.chain.rpc();
    let height = rpc.get_block_count().await.expect("height") - 1;
    let mut count = 0;
    for index in from..=height {
        let block = rpc.get_block(index).await.expect("getblock");
        for tx in &block.tx {
            let log = rpc
                .get_application_log(&tx.hash)
                .await
                .expect("getapplicationlog");
            count += log
                .executions
                .iter()
                .filter(|e| e.vmstate.is_halt())
                .flat_map(|e| e.notifications.iter())
                .filter(|n| {
                    n.contract == chain.gateway
                        && n.eventname == "ServiceResponse"
                        && n.args().first().and_then(|a| a.as_u64().ok()) == Some(id)
                })
                .count();
        }
    }
    count
}

// --- PostgreSQL -------------------------------------------------------------------------------

fn admin_url() -> String {
    std::env::var("NSL_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/postgres".into())
}

fn pg_url(name: &str) -> String {
    let admin = admin_url();
    match admin.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("bad NSL_TEST_PG_URL {admin}"),
    }
}

/// Run `sql` on the admin database (a connection of its own).
fn psql(sql: &str) {
    let out = Command::new("psql")
        .args([admin_url().as_str(), "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "psql {sql}: {out:?}");
}

/// Drops the test database when the test ends (also on failure).
struct PgDb(String);

impl Drop for PgDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                admin_url().as_str(),
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0),
            ])
            .output();
    }
}

// --- the node process -------------------------------------------------------------------------

/// A running `nsl serve`, killed on drop.
struct Node {
    child: Option<tokio::process::Child>,
    dir: PathBuf,
    addr: String,
}

impl Node {
    async fn start(dir: &Path, chain: &OracleChain, db_url: &str, start_block: u32) -> Node {
        let log = std::fs::File::create(dir.join("node.log")).expect("node log");
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_nsl"));
        for (k, _) in std::env::vars() {
            if k.starts_with("NSL_") || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(dir)
            .env("NSL_NODE__DATA_DIR", dir.join("data"))
            .env("NSL_DATABASE__URL", db_url)
            .env("NSL_VAULT__DEV_MODE", "true")
            .env("NSL_ORACLE__ENABLED", "true")
            .env("NSL_ORACLE__RPC_URL", chain.chain.rpc_url())
            .env("NSL_ORACLE__GATEWAY_HASH", chain.gateway.to_string())
            .env("NSL_ORACLE__NODE_KEY", &*chain.node_key.to_wif())
            .env("NSL_ORACLE__ALLOW_HTTP", "true")
            .env("NSL_ORACLE__ALLOW_PRIVATE_HOSTS", "true")
            .env("NSL_ORACLE__POLL_INTERVAL_MS", "100")
            .env("NSL_ORACLE__START_BLOCK", start_block.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true);
        #[cfg(target_os = "linux")]
        {
            // SAFETY: only async-signal-safe calls (prctl) between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("spawn nsl serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut node = Node {
            child: Some(child),
            dir: dir.to_owned(),
            addr: String::new(),
        };
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("listening") {
                    let url = line.split_whitespace().nth(1).unwrap_or_default();
                    return Some(url.trim_start_matches("http://").to_owned());
                }
            }
            None
        })
        .await;
        match addr {
            Ok(Some(a)) => node.addr = a,
            _ => panic!("nsl serve did not start listening: {}", node.logs()),
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        node
    }

    /// `GET /ready`: (status, JSON body).
    fn ready(&self) -> (u16, serde_json::Value) {
        let mut s = TcpStream::connect(&self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        write!(
            s,
            "GET /ready HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .expect("write");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("read");
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let json = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("/ready body is not JSON ({e}): {text}"));
        (status, json)
    }

    /// SIGTERM; the node stops cleanly (exit 0) within 60 s.
    async fn stop(mut self) {
        let mut child = self.child.take().expect("running");
        let pid = i32::try_from(child.id().expect("pid")).expect("pid");
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .unwrap_or_else(|_| panic!("no exit within 60 s of SIGTERM: {}", self.logs()))
            .expect("wait");
        assert!(status.success(), "exit {status}: {}", self.logs());
    }

    /// The last lines of the node's log, for failure messages.
    fn logs(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("node.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                // SAFETY: waitpid(2) on our own child's pid.
                unsafe {
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
            }
        }
    }
}
