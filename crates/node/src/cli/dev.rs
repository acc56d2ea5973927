//! `nsl dev`: the local development environment (privnet now; the full node in the oracle issue).
//! Owned by the devchain work (issue 2).

use clap::Args;

use super::{CliError, CliResult, Output};

/// Arguments of `nsl dev`.
#[derive(Debug, Args)]
pub struct DevArgs {}

pub(super) fn run(_args: DevArgs, _out: &Output) -> CliResult {
    Err(CliError::bad_input("nsl dev is not available in this build yet"))
}
