//! `nsl neo ...`: the Neo N3 toolbox. Owned by the protocol work (issue 2).

use clap::Subcommand;

use super::{CliResult, Output};

/// Neo N3 toolbox commands.
#[derive(Debug, Subcommand)]
pub enum NeoCmd {}

pub(super) fn run(cmd: NeoCmd, _out: &Output) -> CliResult {
    match cmd {}
}
