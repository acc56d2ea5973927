//! `nsl-chain`: the chain runtime every chain-facing service runs on.
//!
//! - [`Follower`]: one per chain, one cursor per chain (`chain_cursors`, bound to the chain's
//!   identity: network magic + genesis hash). Sinks subscribe to (contract, event) pairs and
//!   receive the notifications of HALTed transactions block by block, in order; the cursor moves
//!   once every sink has recorded the block (sinks record idempotently). Blocks are taken from the
//!   node's push (`block_added`), polling is the fallback.
//! - [`queue`]: the generic request queue (`chain_requests`, state machine `seen -> fetched ->
//!   outbox -> sent -> confirmed | failed | expired`, claims, history) and the outbox
//!   (`chain_outbox`), in [`ChainStore`].
//! - [`TxManager`]: builds (test run, fee ceiling before signing, local fees), signs through a
//!   [`TxSigner`], stores before broadcasting, broadcasts, re-broadcasts, confirms from the
//!   follower's blocks, reports FAULT / expiry to the owning service ([`TxOwner`]), keeps the
//!   node account's GAS gauge.
//! - [`ChainRuntime`]: one follower and one transaction manager per node, run as the supervised
//!   service `chain`; services register sinks and owners through a [`ChainHandle`] and attach
//!   to each of its runs ([`Attached`]).
//!
//! See docs/chain.md ("adding a chain-facing service").

pub mod follower;
pub mod queue;
pub mod runtime;
pub mod tx;

use std::time::Duration;

use neo_rpc::RpcClient;
use tokio::sync::watch;

pub use follower::{
    ChainEvent, FOLLOWER_SOURCE, Follower, FollowerConfig, Sink, SinkError, Subscription,
};
pub use queue::ChainStore;
pub use runtime::{
    Attached, ChainHandle, ChainRuntime, LateRegistration, RunEnd, RuntimeConfig, Started,
};
pub use tx::{
    BlockTxs, BuildError, DefaultOwner, Fate, SYSTEM_FEE_MARGIN, Sent, TxConfig, TxFate, TxManager,
    TxOwner, TxSigner, TxTasks,
};

/// The runtime's tables (`migrations/`: 0004, 0006, 0008, 0009, 0011 built the oracle's tables that
/// 0012 turned into `chain_*`, plus `oracle_request_fields`).
/// Composed with the other crates' sets by the node (`nsl_store::compose`); see docs/storage.md.
pub static MIGRATIONS: nsl_store::MigrationSet = nsl_store::MigrationSet {
    owner: "nsl-chain",
    sqlite: sqlx::migrate!("./migrations/sqlite"),
    postgres: sqlx::migrate!("./migrations/postgres"),
};

/// Errors of the runtime. Store errors stop a service; the others are retried.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The store failed.
    #[error("chain store: {0}")]
    Store(#[from] nsl_store::StoreError),
    /// A JSON-RPC call failed.
    #[error(transparent)]
    Rpc(#[from] neo_rpc::Error),
    /// A batched store write failed (the store error's text).
    #[error("chain store (batched write): {0}")]
    Batch(String),
    /// A sink asked to read the block again.
    #[error("retry: {0}")]
    Retry(String),
}

/// Which chain: `neo:<network magic>` and the hash of its block 0 (a fresh chain with the same
/// magic, e.g. a restarted `nsl dev`, has another genesis).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainIdentity {
    /// `neo:<network magic>`: the chain column of the runtime's rows.
    pub chain: String,
    /// Hash of block 0 (`0x` hex).
    pub genesis: String,
}

impl ChainIdentity {
    /// Ask the node (`getversion`, `getblock 0`).
    pub async fn read(rpc: &RpcClient) -> Result<Self, neo_rpc::Error> {
        let chain = format!("neo:{}", rpc.get_version().await?.protocol.network);
        let genesis = rpc.get_block(0u32).await?.hash.to_string();
        Ok(Self { chain, genesis })
    }
}

/// Wait for `interval` or until shutdown; `true` when shutting down.
pub async fn pause(shutdown: &mut watch::Receiver<bool>, interval: Duration) -> bool {
    if *shutdown.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(interval) => *shutdown.borrow(),
        r = shutdown.changed() => r.is_err() || *shutdown.borrow(),
    }
}
