//! `nsl apikey create|list|revoke`: API keys from the operator's shell. Owned by the platform API
//! work (issue 3).
//!
//! Opens the store from the configuration (`--config FILE` / `NSL_CONFIG` plus `NSL_*`), like the
//! other operator commands, and uses the same code as `/v1/apikeys` (validation, hashing, audit
//! entries with actor `cli`). The full key is printed once by `create`; only its hash is stored.

use anyhow::Context as _;
use clap::Subcommand;
use nsl_api::apikeys::{self, Actor};
use nsl_store::{AccountId, AccountStore as _, ApiKey, ApiKeyId, ApiKeyStore as _, Store, now_ms};
use serde::Serialize;

use super::platform::ConfigArg;
use super::{CliError, CliResult, Output};

/// API key commands.
#[derive(Debug, Subcommand)]
pub enum ApikeyCmd {
    /// Create a key for an account and print it (once).
    Create {
        /// Account id (UUID) or a wallet address linked to the account.
        #[arg(long)]
        account: String,
        /// Label.
        #[arg(long)]
        name: String,
        /// Comma-separated scopes: read, write, grant (secrets and on-chain callers of functions), keys, admin (admin accounts only).
        #[arg(long, value_delimiter = ',', default_value = "read,write")]
        scopes: Vec<String>,
        /// Lifetime in days; without it the key does not expire.
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List the keys of an account (never the keys themselves).
    List {
        /// Account id (UUID) or a wallet address linked to the account.
        #[arg(long)]
        account: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Revoke a key by id (effective at once on new lookups; nodes with the key cached stop
    /// accepting it within 5 s).
    Revoke {
        /// Key id (UUID).
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Serialize)]
struct KeyOut {
    id: String,
    account_id: String,
    name: String,
    prefix: String,
    scopes: String,
    status: &'static str,
    created_at_ms: i64,
    expires_at_ms: Option<i64>,
    last_used_at_ms: Option<i64>,
    revoked_at_ms: Option<i64>,
}

impl From<&ApiKey> for KeyOut {
    fn from(k: &ApiKey) -> Self {
        let status = if k.revoked_at.is_some() {
            "revoked"
        } else if k.is_active(now_ms()) {
            "active"
        } else {
            "expired"
        };
        Self {
            id: k.id.to_string(),
            account_id: k.account_id.to_string(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            scopes: k.scopes.join(","),
            status,
            created_at_ms: k.created_at,
            expires_at_ms: k.expires_at,
            last_used_at_ms: k.last_used_at,
            revoked_at_ms: k.revoked_at,
        }
    }
}

#[derive(Serialize)]
struct CreatedOut {
    key: String,
    note: &'static str,
    #[serde(flatten)]
    meta: KeyOut,
}

fn cli_actor() -> Actor {
    Actor {
        name: "cli".into(),
        ip: None,
    }
}

/// Map an API error: the caller's mistakes are bad input (exit 2), the rest runtime (exit 1).
fn api_err(e: nsl_api::ApiError) -> CliError {
    use nsl_api::ErrorCode as C;
    match e.code() {
        C::BadRequest | C::ValidationFailed | C::Forbidden | C::NotFound | C::Conflict => {
            CliError::bad_input(e)
        }
        _ => CliError::Runtime(anyhow::anyhow!("{e}")),
    }
}

async fn open(config: &ConfigArg) -> CliResult<Store> {
    let cfg = config.load()?;
    super::audit_key::open_store(&cfg).await
}

async fn resolve_account(store: &Store, account: &str) -> CliResult<nsl_store::Account> {
    let found = match account.parse::<AccountId>() {
        Ok(id) => store.account(id).await.context("reading the account")?,
        Err(_) => store
            .account_by_wallet(account.trim())
            .await
            .context("reading the account")?,
    };
    found.ok_or_else(|| {
        CliError::bad_input(format!(
            "no account {account:?} (give an account id or a linked wallet address)"
        ))
    })
}

pub(super) fn run(cmd: ApikeyCmd, out: &Output) -> CliResult {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        match cmd {
            ApikeyCmd::Create {
                account,
                name,
                scopes,
                expires_in_days,
                config,
            } => {
                let store = open(&config).await?;
                let account = resolve_account(&store, &account).await?;
                let scopes =
                    apikeys::validate_scopes(&scopes, account.role, None).map_err(api_err)?;
                let expires_at =
                    expires_in_days.map(|d| now_ms().saturating_add(i64::from(d) * 86_400_000));
                let created =
                    apikeys::create_key(&store, &account, &name, scopes, expires_at, &cli_actor())
                        .await
                        .map_err(api_err)?;
                out.print(&CreatedOut {
                    key: created.secret.clone(),
                    note: "store this key now: it is shown only once",
                    meta: KeyOut::from(&created.key),
                });
                store.close().await;
                Ok(())
            }
            ApikeyCmd::List { account, config } => {
                let store = open(&config).await?;
                let account = resolve_account(&store, &account).await?;
                let keys = store
                    .list_api_keys(account.id)
                    .await
                    .context("listing keys")?;
                let rows: Vec<KeyOut> = keys.iter().map(KeyOut::from).collect();
                if out.is_json() {
                    out.print(&rows);
                } else if rows.is_empty() {
                    println!("no API keys for account {}", account.id);
                } else {
                    println!(
                        "{:<36}  {:<12}  {:<8}  {:<20}  NAME",
                        "ID", "PREFIX", "STATUS", "SCOPES"
                    );
                    for r in &rows {
                        println!(
                            "{:<36}  {:<12}  {:<8}  {:<20}  {}",
                            r.id, r.prefix, r.status, r.scopes, r.name
                        );
                    }
                }
                store.close().await;
                Ok(())
            }
            ApikeyCmd::Revoke { id, config } => {
                let id: ApiKeyId = id
                    .parse()
                    .map_err(|_| CliError::bad_input(format!("{id:?} is not a key id (UUID)")))?;
                let store = open(&config).await?;
                let key = apikeys::revoke_key(&store, id, None, &cli_actor())
                    .await
                    .map_err(api_err)?;
                out.print(&KeyOut::from(
                    &store
                        .api_key(key.id)
                        .await
                        .context("reading the key")?
                        .unwrap_or(key),
                ));
                store.close().await;
                Ok(())
            }
        }
    })
}
