//! The crate's error type: one enum for every layer (raw RPC, invoker, actor, wrappers).

use std::time::Duration;

use neo::UInt256;

/// Neo JSON-RPC error codes (NEP-23), as neo-go and C# Neo return them in [`Error::Rpc`].
pub mod codes {
    /// Unknown block (by hash).
    pub const UNKNOWN_BLOCK: i64 = -101;
    /// Unknown contract.
    pub const UNKNOWN_CONTRACT: i64 = -102;
    /// Unknown transaction (also while it is only in the mempool, for some methods).
    pub const UNKNOWN_TRANSACTION: i64 = -103;
    /// Unknown storage item.
    pub const UNKNOWN_STORAGE_ITEM: i64 = -104;
    /// Unknown script container (e.g. no application log yet).
    pub const UNKNOWN_SCRIPT_CONTAINER: i64 = -105;
    /// Unknown state root.
    pub const UNKNOWN_STATE_ROOT: i64 = -106;
    /// Unknown iterator session.
    pub const UNKNOWN_SESSION: i64 = -107;
    /// Unknown iterator.
    pub const UNKNOWN_ITERATOR: i64 = -108;
    /// A height above the current one (e.g. `getblock` by index).
    pub const UNKNOWN_HEIGHT: i64 = -109;
    /// Inventory verification failed (generic).
    pub const VERIFICATION_FAILED: i64 = -500;
    /// The transaction is already on chain.
    pub const ALREADY_EXISTS: i64 = -501;
    /// The memory pool is full.
    pub const MEMPOOL_CAP_REACHED: i64 = -502;
    /// The transaction is already in the memory pool.
    pub const ALREADY_IN_POOL: i64 = -503;
    /// The network fee is too low.
    pub const INSUFFICIENT_NETWORK_FEE: i64 = -504;
    /// A policy check failed (e.g. blocked account).
    pub const POLICY_FAILED: i64 = -505;
    /// Invalid transaction script.
    pub const INVALID_SCRIPT: i64 = -506;
    /// Invalid transaction attribute (e.g. an oracle response not from the designated oracle
    /// nodes' multisig).
    pub const INVALID_ATTRIBUTE: i64 = -507;
    /// A witness did not verify (bad signature).
    pub const INVALID_SIGNATURE: i64 = -508;
    /// Invalid size.
    pub const INVALID_SIZE: i64 = -509;
    /// validUntilBlock already passed (or too far ahead).
    pub const EXPIRED_TRANSACTION: i64 = -510;
    /// The sender cannot pay the fees.
    pub const INSUFFICIENT_FUNDS: i64 = -511;
    /// A contract's verification method failed.
    pub const INVALID_VERIFICATION_FUNCTION: i64 = -512;
}

/// Everything a call through this crate can fail with.
///
/// Transport problems ([`Error::Transport`], [`Error::Timeout`], [`Error::Http`]) are distinct
/// from the node's answers ([`Error::Rpc`] carries the JSON-RPC error code and message) and from
/// chain outcomes ([`Error::Fault`], [`Error::NotIncluded`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP request could not be made or its body not read (connection refused, reset...).
    #[error("{method}: transport error: {source}")]
    Transport {
        /// The RPC method.
        method: String,
        /// The underlying HTTP client error.
        #[source]
        source: reqwest::Error,
    },
    /// The node did not answer within the call's timeout.
    #[error("{method}: no answer within {timeout:?}")]
    Timeout {
        /// The RPC method.
        method: String,
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// The node answered with a non-success HTTP status and no JSON-RPC body.
    #[error("{method}: HTTP status {status}: {body}")]
    Http {
        /// The RPC method.
        method: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// Every endpoint of a multi-endpoint client failed in transport for this call.
    #[error("{method}: all {endpoints} RPC endpoints failed: {detail}")]
    AllEndpointsFailed {
        /// The RPC method.
        method: String,
        /// How many endpoints the client has.
        endpoints: usize,
        /// Each endpoint tried (redacted URL) with its error.
        detail: String,
    },
    /// The node answered with a JSON-RPC error object.
    #[error("{method}: RPC error {code}: {message}{}", data.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Rpc {
        /// The RPC method.
        method: String,
        /// The JSON-RPC error code (see [`codes`]), e.g. -508 for a bad signature.
        code: i64,
        /// The error message.
        message: String,
        /// Extra detail from the `data` field, if any.
        data: Option<String>,
    },
    /// The node's answer did not have the expected shape.
    #[error("{method}: unexpected response: {detail}")]
    InvalidResponse {
        /// The RPC method (or the wrapper call).
        method: String,
        /// What was wrong.
        detail: String,
    },
    /// A test invocation ended in FAULT (before anything was sent).
    #[error("test invocation FAULTed: {exception}")]
    Fault {
        /// The VM's exception text.
        exception: String,
    },
    /// A sent transaction did not show up in a block in time.
    #[error("transaction {hash} not included within {waited:?}")]
    NotIncluded {
        /// The transaction hash.
        hash: UInt256,
        /// How long we waited.
        waited: Duration,
    },
    /// A sent transaction can no longer be included: the chain passed its validUntilBlock.
    #[error("transaction {hash} expired: chain passed validUntilBlock {valid_until_block}")]
    Expired {
        /// The transaction hash.
        hash: UInt256,
        /// Its last valid block.
        valid_until_block: u32,
    },
    /// The node has no WebSocket endpoint: it answered the upgrade with a plain HTTP status
    /// (e.g. 404 or 405). Poll over HTTP instead.
    #[error("no WebSocket endpoint at {url} (HTTP {status}): poll over HTTP instead")]
    WsUnsupported {
        /// The WebSocket URL (without credentials).
        url: String,
        /// The HTTP status the node answered.
        status: u16,
    },
    /// The WebSocket could not be opened or failed (connection refused, reset, protocol error).
    #[error("websocket {url}: {source}")]
    WsTransport {
        /// The WebSocket URL (without credentials).
        url: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The WebSocket was closed (by either side) or lost.
    #[error("websocket {url}: connection closed")]
    WsClosed {
        /// The WebSocket URL (without credentials).
        url: String,
    },
    /// A caller-supplied argument is unusable (e.g. a multisig account without enough keys).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A protocol-level error from the `neo` crate (encoding, keys, scripts).
    #[error(transparent)]
    Neo(#[from] neo::Error),
}

impl Error {
    /// The JSON-RPC error code if the node answered with an error object.
    pub fn rpc_code(&self) -> Option<i64> {
        match self {
            Self::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether this is a transport-level failure (the node may not have seen the request, or a
    /// socket was lost). [`Error::WsUnsupported`] is not: retrying will not help.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            Self::Transport { .. }
                | Self::Timeout { .. }
                | Self::Http { .. }
                | Self::AllEndpointsFailed { .. }
                | Self::WsTransport { .. }
                | Self::WsClosed { .. }
        )
    }

    pub(crate) fn invalid(method: &str, detail: impl Into<String>) -> Self {
        Self::InvalidResponse {
            method: method.to_owned(),
            detail: detail.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
