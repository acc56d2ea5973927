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
