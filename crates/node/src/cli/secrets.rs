//! `nsl secrets rotate-master`: rotate the vault master key that wraps every secret's data key.
//!
//! Opens the configuration (`--config FILE` / `NSL_CONFIG` plus `NSL_*`) and the node's vault in
//! `<data_dir>/vault` (KEK from `NSL_VAULT_KEK` / `NSL_VAULT_KEK_FILE`), exactly as `nsl serve`
//! does, then runs `nsl_secrets::SecretsService::rotate_master`: new master key version, every
//! data key re-wrapped in batches, old versions retired.
//!
//! A running node holds the vault (its directory is locked), so then the rotation is done online by
//! that node: the command calls `POST /v1/admin/secrets/rotate-master` on `--api-url` (default: the
//! configured `api.listen`) with the admin API key in `NSL_API_KEY`. Reads and writes keep working
//! while it runs.

use std::sync::Arc;

use anyhow::Context as _;
use clap::Subcommand;
use nsl_secrets::{SecretsError, SecretsService};

use super::platform::ConfigArg;
use super::{CliError, CliResult, Output};

/// Environment variable holding the admin API key for an online rotation.
const API_KEY_ENV: &str = "NSL_API_KEY";

/// Secrets commands.
#[derive(Debug, Subcommand)]
pub enum SecretsCmd {
    /// Rotate the vault master key: re-wrap every secret's data key under a new master key
    /// version, then retire (destroy) the old versions. If `nsl serve` is running on this data
    /// directory, the running node does it (admin API key in NSL_API_KEY).
    RotateMaster {
        #[command(flatten)]
        config: ConfigArg,
        /// Base URL of the running node's API (default: http://<api.listen>).
        #[arg(long)]
        api_url: Option<String>,
    },
}

pub(super) fn run(cmd: SecretsCmd, out: &Output) -> CliResult {
    match cmd {
        SecretsCmd::RotateMaster { config, api_url } => {
            let cfg = config.load()?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let vault = match nsl_secrets::open_node_vault(&cfg.node.data_dir, cfg.vault.dev_mode) {
                Ok(vault) => vault,
                Err(SecretsError::Vault(nsl_enclave::VaultError::Locked { .. })) => {
                    let url = api_url.unwrap_or_else(|| default_api_url(&cfg.api.listen));
                    let report = rt.block_on(rotate_online(&url))?;
                    out.print(&report);
                    return Ok(());
                }
                Err(e) => {
                    return Err(CliError::Runtime(anyhow::anyhow!(
                        "opening the vault in {}: {e}",
                        cfg.node.data_dir.join(nsl_secrets::VAULT_DIR).display()
                    )));
                }
            };
            rt.block_on(async move {
                let store = super::audit_key::open_store(&cfg).await?;
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

/// `http://<listen>`, with a wildcard address replaced by loopback.
fn default_api_url(listen: &str) -> String {
    let host = listen
        .replace("0.0.0.0:", "127.0.0.1:")
        .replace("[::]:", "[::1]:");
    format!("http://{host}")
}

/// Ask the running node to rotate; its JSON report is printed as is.
async fn rotate_online(base: &str) -> CliResult<serde_json::Value> {
    let key = std::env::var(API_KEY_ENV).map_err(|_| {
        CliError::bad_input(format!(
            "the vault is in use by a running node; set {API_KEY_ENV} to an admin API key \
             (scope admin) to rotate through it, or stop the node"
        ))
    })?;
    let url = format!(
        "{}/v1/admin/secrets/rotate-master",
        base.trim_end_matches('/')
    );
    let resp = reqwest::Client::new()
        .post(&url)
        .bearer_auth(key.trim())
        .timeout(std::time::Duration::from_secs(600))
        .send()
        .await
        .with_context(|| format!("calling the running node at {base}"))?;
    let status = resp.status();
    let body: serde_json::Value = resp
        .json()
        .await
        .with_context(|| format!("reading the node's answer ({status})"))?;
    if status.is_success() {
        return Ok(body);
    }
    let code = body["code"].as_str().unwrap_or("unknown");
    let message = body["message"].as_str().unwrap_or("");
    Err(CliError::Runtime(anyhow::anyhow!(
        "the running node refused the rotation: {status} {code}: {message}"
    )))
}
