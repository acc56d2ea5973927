//! Layered Neo N3 JSON-RPC client: raw RPC, invoker, actor, NEP-17 and native contract wrappers.

mod client;
mod error;
mod stack;
pub mod types;

pub use client::{DEFAULT_TIMEOUT, RpcClient};
pub use error::{Error, RPC_VERIFICATION_FAILED, Result};
pub use stack::StackItem;
