//! `nsl serve`: run the HTTP API. Owned by the platform API work (issue 3).

use clap::Args;

use super::{CliError, CliResult, Output};

/// Arguments of `nsl serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {}

pub(super) fn run(_args: ServeArgs, _out: &Output) -> CliResult {
    Err(CliError::bad_input("nsl serve is not available in this build yet"))
}
