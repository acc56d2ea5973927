//! `nsl secrets rotate-master`: rotate the vault master key that wraps every secret's data key.
//! Owned by the secrets service work.
//!
//! Opens the configuration (`--config FILE` / `NSL_CONFIG` plus `NSL_*`), the store (applying
//! migrations) and the node's vault in `<data_dir>/vault` (KEK from `NSL_VAULT_KEK` /
//! `NSL_VAULT_KEK_FILE`), exactly as `nsl serve` does, then runs
//! `nsl_secrets::SecretsService::rotate_master`: new master key version, every data key re-wrapped
//! in batches, old versions retired. The vault directory is locked by a running node: stop
//! `nsl serve` on this data directory first.

use std::sync::Arc;

use anyhow::Context as _;
use clap::Subcommand;
use nsl_secrets::SecretsService;

use super::platform::ConfigArg;
use super::{CliError, CliResult, Output};

/// Secrets commands.
#[derive(Debug, Subcommand)]
pub enum SecretsCmd {
    /// Rotate the vault master key: re-wrap every secret's data key under a new master key
    /// version, then retire (destroy) the old versions. Stop `nsl serve` first.
    RotateMaster {
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub(super) fn run(cmd: SecretsCmd, out: &Output) -> CliResult {
    match cmd {
        SecretsCmd::RotateMaster { config } => {
            let cfg = config.load()?;
            let vault = nsl_secrets::open_node_vault(&cfg.node.data_dir).map_err(|e| {
                CliError::Runtime(anyhow::anyhow!(
                    "opening the vault in {}: {e}",
                    cfg.node.data_dir.join(nsl_secrets::VAULT_DIR).display()
                ))
            })?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            rt.block_on(async move {
                let store = nsl_store::Store::open(&cfg)
                    .await
                    .context("opening the database")?;
                let service = SecretsService::new(store.clone(), Arc::new(vault));
                let report = service
                    .rotate_master()
                    .await
                    .context("rotating the master key")?;
                out.print(&report);
                store.close().await;
                Ok(())
            })
        }
    }
}
