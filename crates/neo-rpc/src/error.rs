//! The crate's error type: one enum for every layer (raw RPC, invoker, actor, wrappers).

use std::time::Duration;

use neo::UInt256;

/// JSON-RPC error code neo-go and C# nodes return when a transaction fails verification
/// (e.g. a bad or missing witness, or an oracle response from an undesignated key).
pub const RPC_VERIFICATION_FAILED: i64 = -507;

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
    /// The node answered with a JSON-RPC error object.
    #[error("{method}: RPC error {code}: {message}{}", data.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Rpc {
        /// The RPC method.
        method: String,
        /// The JSON-RPC error code, e.g. -507 for a transaction that failed verification.
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

    /// Whether this is a transport-level failure (the node may not have seen the request).
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            Self::Transport { .. } | Self::Timeout { .. } | Self::Http { .. }
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
