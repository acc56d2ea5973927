//! `nsl apikey create|list|revoke`: API keys from the operator's shell. Owned by the platform API work
//! (issue 3).

use clap::Subcommand;

use super::{CliResult, Output};

/// API key commands.
#[derive(Debug, Subcommand)]
pub enum ApikeyCmd {}

pub(super) fn run(cmd: ApikeyCmd, _out: &Output) -> CliResult {
    match cmd {}
}
