//! Composition root of the Neo Service Layer node.
//!
//! ```text
//! bin/nsl --> cli::main --> one module per command group (cli/*.rs)
//!                      \--> node services built from config, started in code order
//! ```
//!
//! The binary is thin: parsing, exit codes and output formatting live here, the work lives in the
//! library crates (`neo`, `neo-rpc`, `nsl-devchain`, `nsl-store`, `nsl-api`, ...).

pub mod cli;
pub mod gateway_functions;
