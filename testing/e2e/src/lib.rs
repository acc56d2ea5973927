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
