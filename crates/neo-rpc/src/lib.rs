//! Layered Neo N3 JSON-RPC client: raw RPC, invoker, actor, NEP-17 and native contract wrappers.

#![warn(missing_docs)]

mod account;
mod actor;
mod client;
mod error;
mod failover;
mod invoker;
pub mod native;
mod nep17;
pub mod types;
pub mod ws;

pub use account::{Account, multisig_verification_gas};
pub use actor::{Actor, DEFAULT_WAIT, LocalFees, SentTx, SignerAccount, TxOutcome, wait_for};
pub use client::{DEFAULT_TIMEOUT, RpcClient};
pub use error::{Error, Result, codes};
pub use failover::{BreakerState, EndpointStatus, FailoverConfig, redact_url};
pub use invoker::{Invoker, call_script};
pub use native::{ContractManagement, Deployed, Oracle, Policy, Role, RoleManagement};
pub use neo::StackItem;
pub use nep17::{Nep17, ONE_GAS};
pub use ws::{EventStream, StreamItem, StreamOptions, Subscription, WsClient};
