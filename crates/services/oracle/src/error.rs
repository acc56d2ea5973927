//! The crate's error type.
//!
//! Fetch and filter problems are not errors: they are answered on chain with a response code
//! ([`crate::Answer`]). [`OracleError`] is for what stops the node from answering at all: the
//! chain is unreachable, an event or storage item is malformed, the node is not an oracle.

use neo::PublicKey;

/// Why a request could not be answered (or not answered yet).
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// A JSON-RPC call failed (transport, node error, refusal of the response transaction).
    #[error(transparent)]
    Rpc(#[from] neo_rpc::Error),
    /// A protocol-level encoding problem (script, multisig, transaction).
    #[error(transparent)]
    Neo(#[from] neo::Error),
    /// A notification or storage item does not have the expected shape.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The OracleContract holds no request with this id (answered already, or never made).
    #[error("oracle request {0} not found")]
    RequestNotFound(u64),
    /// No key is designated for the Oracle role at this height.
    #[error("no oracle nodes are designated")]
    NoOracleNodes,
    /// The node's key is not among the designated oracle keys, so its answers would be refused.
    #[error("key {key} is not a designated oracle node")]
    NotDesignated {
        /// The node's public key.
        key: PublicKey,
    },
    /// The signing backend failed (no key material in the message).
    #[error("signing failed: {0}")]
    Signing(String),
    /// `gasForResponse` does not even cover the network fee of an `InsufficientFunds` answer.
    #[error("gasForResponse {gas_for_response} is below the network fee {network_fee}")]
    GasTooLow {
        /// GAS fractions the request reserved.
        gas_for_response: i64,
        /// GAS fractions the response transaction needs.
        network_fee: i64,
    },
}

impl OracleError {
    pub(crate) fn malformed(what: &'static str, detail: impl ToString) -> Self {
        Self::Malformed {
            what,
            detail: detail.to_string(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = OracleError> = std::result::Result<T, E>;
