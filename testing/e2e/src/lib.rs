//! End-to-end tests of the nsl node against a real neo-go privnet and PostgreSQL.
//!
//! The tests live in `tests/` (one binary per area: `chain`, later `gateway`); this library holds
//! what they share: starting a chain with the test block time and locating test contracts.
//! Every test starts its own chain (nextest runs each test in its own process); the chain and its
//! temporary directory go away when the [`DevChain`] is dropped or the process dies.

#![warn(missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

pub use nsl_devchain::{ChainConfig, DevChain, compile_contract, compile_contract_cached};

/// Block time of test chains: `$NSL_E2E_BLOCK_MS` or 100 ms.
pub fn test_block_time() -> Duration {
    let ms = std::env::var("NSL_E2E_BLOCK_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|ms| *ms >= 10)
        .unwrap_or(100);
    Duration::from_millis(ms)
}

/// Start a privnet for one test, with [`test_block_time`]. Logs go to the test output
/// (`RUST_LOG` filters them).
pub async fn start_chain() -> DevChain {
    start_chain_with(ChainConfig::with_block_time(test_block_time())).await
}

/// Start a privnet with a custom config; panics with the harness error (which includes the tail
/// of neo-go's log) if it does not come up.
pub async fn start_chain_with(config: ChainConfig) -> DevChain {
    init_tracing();
    match DevChain::start(config).await {
        Ok(chain) => chain,
        Err(e) => panic!("privnet did not start: {e}"),
    }
}

/// Path of a test contract in `testing/e2e/contracts/`.
pub fn contract_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("contracts")
        .join(file)
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_test_writer()
        .try_init();
}

/// JSON document served at `/price` by [`price_server`].
pub const PRICE_BODY: &str = r#"{"pair":"NEO-USD","data":{"price":42.17,"sources":["a","b"]}}"#;

/// A tiny HTTP/1.1 server on loopback for oracle tests: `/price` answers [`PRICE_BODY`] as
/// `application/json`, anything else `404` as `text/plain`. Aborted when dropped (also when the
/// test fails).
pub struct PriceServer {
    /// Where it listens (`127.0.0.1:<free port>`).
    pub addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PriceServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Start a [`PriceServer`] on a free loopback port.
pub async fn price_server() -> PriceServer {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the price server");
    let addr = listener.local_addr().expect("price server address");
    let task = tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut n = 0;
                while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => n += k,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let (status, ctype, body) = if path == "/price" {
                    ("200 OK", "application/json", PRICE_BODY)
                } else {
                    ("404 Not Found", "text/plain", "no such page")
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(response.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    PriceServer { addr, task }
}
