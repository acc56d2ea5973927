//! Composition root of the Neo Service Layer node.
//!
//! ```text
//! bin/nsl --> cli::main --> one module per command group (cli/*.rs)
//!                      \--> services::SERVICES built from config, in list order, each
//!                           long-running one under the supervisor (nsl-service-api)
//! ```
//!
//! The binary is thin: parsing, exit codes and output formatting live here, the work lives in the
//! library crates (`neo`, `neo-rpc`, `nsl-devchain`, `nsl-store`, `nsl-api`, ...).

pub mod cli;
pub mod functions_secrets;
pub mod gateway_functions;
pub mod services;

/// Every crate's migrations besides the platform's (`nsl_store::PLATFORM_MIGRATIONS`, always
/// included): the node opens the store with this list, and `nsl_store::compose` merges it into
/// one sequence ordered by version. A service that owns tables adds its set here (docs/storage.md).
pub static MIGRATIONS: &[&nsl_store::MigrationSet] = &[
    &nsl_chain::MIGRATIONS,
    &nsl_secrets::MIGRATIONS,
    &nsl_functions::MIGRATIONS,
    &nsl_randomness::MIGRATIONS,
];
