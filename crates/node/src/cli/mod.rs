//! The `nsl` command line: one module per command group.
//!
//! Exit codes: 0 success, 1 runtime failure (a node, database or chain did not answer),
//! 2 bad input (usage errors, malformed keys, transactions or files). Errors are one line on stderr.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod apikey;
mod audit_key;
mod dev;
mod neo;
mod output;
mod platform;
mod secrets;
mod serve;
mod vrf;

pub use output::Output;

/// Neo Service Layer node and toolbox.
#[derive(Debug, Parser)]
#[command(
    name = "nsl",
    version,
    about = "Neo Service Layer node and toolbox",
    propagate_version = true
)]
pub struct Cli {
    /// Print machine-readable JSON instead of human-readable text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Neo N3 toolbox: addresses, multisig scripts, transaction decoding.
    #[command(subcommand)]
    Neo(neo::NeoCmd),
    /// Start a local development environment: a neo-go privnet with funded accounts.
    Dev(dev::DevArgs),
    /// Run the node's HTTP API and services.
    Serve(serve::ServeArgs),
    /// API keys: create, list, revoke.
    #[command(subcommand)]
    Apikey(apikey::ApikeyCmd),
    /// Secrets: master key rotation.
    #[command(subcommand)]
    Secrets(secrets::SecretsCmd),
    /// Verifiable randomness (ECVRF, RFC 9381): check a node's proofs.
    #[command(subcommand)]
    Vrf(vrf::VrfCmd),
    #[command(flatten)]
    Platform(platform::PlatformCmd),
}

/// A command failure with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The user's input is wrong (exit code 2).
    #[error("{0}")]
    BadInput(String),
    /// Something at run time failed (exit code 1).
    #[error(transparent)]
    Runtime(#[from] anyhow::Error),
}

impl CliError {
    /// Shorthand for a bad-input error.
    pub fn bad_input(msg: impl std::fmt::Display) -> Self {
        Self::BadInput(msg.to_string())
    }

    fn exit_code(&self) -> ExitCode {
        match self {
            Self::BadInput(_) => ExitCode::from(2),
            Self::Runtime(_) => ExitCode::from(1),
        }
    }
}

/// Open the node's vault as `nsl serve` does. A missing or misplaced key-encryption key is bad
/// input (exit 2) with the vault's message, which says what to set; other failures exit 1.
pub(crate) fn open_vault(cfg: &nsl_config::Config) -> CliResult<nsl_enclave::SoftwareVault> {
    nsl_secrets::open_node_vault(&cfg.node.data_dir, cfg.vault.dev_mode).map_err(vault_error)
}

fn vault_error(e: nsl_secrets::SecretsError) -> CliError {
    use nsl_enclave::VaultError;
    use nsl_secrets::SecretsError;
    match e {
        SecretsError::Vault(
            VaultError::KekMissing | VaultError::KekInvalid { .. } | VaultError::WrongKek { .. },
        ) => CliError::bad_input(format_args!("vault: {e}")),
        e => CliError::Runtime(anyhow::anyhow!("opening the vault: {e}")),
    }
}

/// Result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Parse the command line, run the command, map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let out = Output::new(cli.json);
    let result = match cli.command {
        Command::Neo(cmd) => neo::run(cmd, &out),
        Command::Dev(args) => dev::run(args, &out),
        Command::Serve(args) => serve::run(args, &out),
        Command::Apikey(cmd) => apikey::run(cmd, &out),
        Command::Secrets(cmd) => secrets::run(cmd, &out),
        Command::Vrf(cmd) => vrf::run(cmd, &out),
        Command::Platform(cmd) => platform::run(cmd, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, never a backtrace; anyhow chains are joined with ": ".
            let msg = match &e {
                CliError::BadInput(m) => m.clone(),
                CliError::Runtime(err) => format!("{err:#}"),
            };
            eprintln!("error: {}", msg.replace('\n', " "));
            e.exit_code()
        }
    }
}
