//! Operator commands: `nsl config`, `nsl migrate`, `nsl admin`, `nsl audit`.
//! Owned by the platform storage work (issue 3).
//!
//! Every command takes `--config FILE` (or `NSL_CONFIG`); without it the built-in defaults plus
//! `NSL_<SECTION>__<KEY>` variables apply. Config errors exit with 2, database failures with 1.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use nsl_config::Config;
use nsl_store::{AccountStore, AuditFilter, AuditStore, NewAuditEntry, Role, Store};
use serde::Serialize;

use super::{CliError, CliResult, Output};

/// `--config FILE`: the node's TOML config. Flatten it into any command that needs the config.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArg {
    /// Node config file (TOML). Without it: defaults plus NSL_<SECTION>__<KEY> variables.
    #[arg(
        long = "config",
        value_name = "FILE",
        env = "NSL_CONFIG",
        global = true
    )]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// Load and validate the config; any problem is bad input (exit code 2).
    pub fn load(&self) -> CliResult<Config> {
        Config::load(self.config.as_deref()).map_err(CliError::bad_input)
    }
}

/// Operator commands, flattened into the top level.
#[derive(Debug, Subcommand)]
pub enum PlatformCmd {
    /// Check or print the node configuration.
    Config(ConfigCmdArgs),
    /// Apply pending database migrations (also done on every start).
    Migrate(MigrateArgs),
    /// Administration: accounts.
    Admin(AdminArgs),
    /// The audit log: verify the hash chain, list entries.
    Audit(AuditArgs),
}

/// Arguments of `nsl config`.
#[derive(Debug, Args)]
pub struct ConfigCmdArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(subcommand)]
    cmd: ConfigCmd,
}

/// `nsl config` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCmd {
    /// Validate the config (file + environment); exit 2 with the problem if invalid.
    Check,
    /// Print the effective config with secrets redacted (TOML; JSON with --json).
    Show {
        /// Output format (default toml; `--json` also selects json).
        #[arg(long, value_enum)]
        format: Option<ShowFormat>,
    },
}

/// Format of `nsl config show`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ShowFormat {
    /// TOML (secrets redacted, so not loadable as is).
    Toml,
    /// JSON.
    Json,
}

/// Arguments of `nsl migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    config: ConfigArg,
}

/// Arguments of `nsl admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(subcommand)]
    cmd: AdminCmd,
}

/// `nsl admin` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AdminCmd {
    /// Create an account and print its id (use `--role admin` to bootstrap the first admin).
    CreateAccount {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Role of the new account.
        #[arg(long, value_enum, default_value = "user")]
        role: RoleArg,
        /// Neo N3 address to link: its wallet logs in to this account (needed for wallet login
        /// while `[auth] open_signup` is off).
        #[arg(long, value_name = "ADDRESS")]
        wallet: Option<String>,
    },
}

/// Account role on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum RoleArg {
    /// A tenant.
    User,
    /// An operator.
    Admin,
}

/// Arguments of `nsl audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(subcommand)]
    cmd: AuditCmd,
}

/// `nsl audit` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCmd {
    /// Walk the hash chain: exit 0 with "ok, N entries", or 1 naming the first bad entry.
    Verify,
    /// Print entries, newest first.
    List {
        /// Only this actor.
        #[arg(long)]
        actor: Option<String>,
        /// Only this action.
        #[arg(long)]
        action: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Only entries older than this seq (paging).
        #[arg(long)]
        before_seq: Option<i64>,
    },
}

pub(super) fn run(cmd: PlatformCmd, out: &Output) -> CliResult {
    match cmd {
        PlatformCmd::Config(args) => run_config(args, out),
        PlatformCmd::Migrate(args) => {
            let cfg = args.config.load()?;
            block_on(async {
                let store = Store::connect(&cfg)
                    .await
                    .context("cannot open the database")?;
                let report = store
                    .migrate(crate::MIGRATIONS)
                    .await
                    .context("migration failed")?;
                store.close().await;
                out.print(&report);
                Ok(())
            })
        }
        PlatformCmd::Admin(args) => {
            let cfg = args.config.load()?;
            match args.cmd {
                AdminCmd::CreateAccount { name, role, wallet } => {
                    create_account(&cfg, &name, role, wallet.as_deref(), out)
                }
            }
        }
        PlatformCmd::Audit(args) => {
            let cfg = args.config.load()?;
            match args.cmd {
                AuditCmd::Verify => audit_verify(&cfg, out),
                AuditCmd::List {
                    actor,
                    action,
                    limit,
                    before_seq,
                } => {
                    let filter = AuditFilter {
                        actor,
                        action,
                        before_seq,
                        limit,
                        ..Default::default()
                    };
                    audit_list(&cfg, filter, out)
                }
            }
        }
    }
}

fn run_config(args: ConfigCmdArgs, out: &Output) -> CliResult {
    let cfg = args.config.load()?;
    match args.cmd {
        ConfigCmd::Check => {
            #[derive(Serialize)]
            struct Checked {
                status: &'static str,
                file: Option<String>,
                database: String,
                data_dir: String,
            }
            out.print(&Checked {
                status: "ok",
                file: args.config.config.as_ref().map(|p| p.display().to_string()),
                database: nsl_config::DatabaseConfig {
                    url: cfg.database_url(),
                    ..cfg.database.clone()
                }
                .redacted_url(),
                data_dir: cfg.node.data_dir.display().to_string(),
            });
            Ok(())
        }
        ConfigCmd::Show { format } => {
            let json = match format {
                Some(ShowFormat::Json) => true,
                Some(ShowFormat::Toml) => false,
                None => out.is_json(),
            };
            if json {
                let text = serde_json::to_string_pretty(&cfg.to_redacted_json())
                    .context("cannot render config")?;
                println!("{text}");
            } else {
                print!("{}", cfg.to_redacted_toml());
            }
            Ok(())
        }
    }
}

fn create_account(
    cfg: &Config,
    name: &str,
    role: RoleArg,
    wallet: Option<&str>,
    out: &Output,
) -> CliResult {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(CliError::bad_input("--name must be 1 to 200 characters"));
    }
    let wallet = wallet.map(str::trim);
    if let Some(w) = wallet
        && neo::address_to_script_hash(w).is_err()
    {
        return Err(CliError::bad_input(
            "--wallet is not a valid Neo N3 address",
        ));
    }
    let role = match role {
        RoleArg::User => Role::User,
        RoleArg::Admin => Role::Admin,
    };
    block_on(async {
        let store = super::audit_key::open_store(cfg).await?;
        let account = match wallet {
            Some(w) => store
                .create_account_with_wallet(name, role, w)
                .await
                .map_err(|e| match e {
                    nsl_store::StoreError::Conflict { .. } => {
                        CliError::bad_input("this wallet is already linked to an account")
                    }
                    e => anyhow::Error::new(e)
                        .context("cannot create account")
                        .into(),
                })?,
            None => store
                .create_account(name, role)
                .await
                .context("cannot create account")?,
        };
        store
            .append_audit(&NewAuditEntry {
                ts: nsl_store::now_ms(),
                actor: "cli".into(),
                action: "account.create".into(),
                target: Some(account.id.to_string()),
                ip: None,
                detail: serde_json::json!({ "name": account.name, "role": account.role, "wallet": wallet }),
            })
            .await
            .context("cannot write the audit log")?;
        store.close().await;
        out.print(&account);
        Ok(())
    })
}

fn audit_verify(cfg: &Config, out: &Output) -> CliResult {
    block_on(async {
        let store = super::audit_key::open_store(cfg).await?;
        let v = store
            .verify_audit()
            .await
            .context("cannot read the audit log")?;
        store.close().await;
        match &v.problem {
            None => {
                if out.is_json() {
                    out.print(&v);
                } else {
                    println!("ok, {} entries", v.entries);
                }
                Ok(())
            }
            Some(problem) => Err(CliError::Runtime(anyhow::anyhow!(
                "audit chain is broken: {problem} ({} entries before it are intact)",
                v.entries
            ))),
        }
    })
}

fn audit_list(cfg: &Config, filter: AuditFilter, out: &Output) -> CliResult {
    block_on(async {
        let store = Store::open(cfg, crate::MIGRATIONS)
            .await
            .context("cannot open the database")?;
        let page = store
            .list_audit(&filter)
            .await
            .context("cannot read the audit log")?;
        store.close().await;
        if out.is_json() {
            out.print(&page);
        } else {
            for e in &page.entries {
                println!(
                    "{:>6}  {}  {}  {}  {}  {}",
                    e.seq,
                    e.ts,
                    e.actor,
                    e.action,
                    e.target.as_deref().unwrap_or("-"),
                    e.detail
                );
            }
            if let Some(next) = page.next_before_seq {
                println!("more: --before-seq {next}");
            }
        }
        Ok(())
    })
}

/// Run a future on a small runtime; its errors are runtime failures (exit 1) unless already mapped.
fn block_on<F>(fut: F) -> CliResult
where
    F: std::future::Future<Output = Result<(), CliError>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(fut)
}
