//! End-to-end tests of `neo-rpc` and `nsl-devchain` against a real neo-go privnet.
//! Each test starts its own chain.

mod contract;
mod failover;
mod harness;
mod local_fees;
mod multisig;
mod natives;
mod transfer;
mod ws;
