//! Tests of the `nsl` binary as a user runs it (real processes: `nsl serve`, `nsl dev`, the
//! command line), against real neo-go privnets and PostgreSQL where a test names them: one test
//! binary (`it`), one module per command group. Run one with a filter, e.g.
//! `cargo nextest run -p nsl oracle_crash::`.

mod cli_dev;
mod cli_neo;
mod cli_platform;
mod cli_serve;
mod cli_vrf;
mod common;
mod oracle_crash;
mod supervision;
