//! End-to-end tests against real neo-go privnets (and PostgreSQL where a test names it): one
//! test binary for the crate (`it`), one module per area. Each test starts its own chain.
//! Run one area with a filter, e.g. `cargo nextest run -p nsl-e2e oracle_service::`.

mod chain;
mod chain_runtime;
mod gateway;
mod gateway_batch;
mod gateway_batch_service;
mod gateway_function;
mod gateway_native_oracle;
mod gateway_security;
mod native_oracle;
mod neogo_filter_parity;
mod oracle_codes;
mod oracle_service;
mod randomness;
mod rpc_failover;
