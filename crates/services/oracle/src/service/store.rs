//! The oracle's persistence is the chain runtime's request queue ([`nsl_chain::queue`]): request
//! rows (`chain_requests`, with the oracle's url/filter/invalid in `oracle_request_fields`),
//! history, outbox and cursor. Re-exported here under the names the oracle's API and tests use.

pub use nsl_chain::queue::ChainStore as OracleStore;
pub use nsl_chain::queue::{
    ChainEntry, HistoryEntry, NewOutboxTx, NewRequest, OutboxRow, OutboxTx, OutboxWrite,
    RequestDetail, RequestFilter, RequestKind, RequestRow, RequestState, RetiredChain, TxState,
};
