//! Operator commands: `nsl config`, `nsl migrate`, `nsl admin`, `nsl apikey`, `nsl audit`.
//! Owned by the platform storage work (issue 3).

use clap::Subcommand;

use super::{CliResult, Output};

/// Operator commands, flattened into the top level.
#[derive(Debug, Subcommand)]
pub enum PlatformCmd {}

pub(super) fn run(cmd: PlatformCmd, _out: &Output) -> CliResult {
    match cmd {}
}
