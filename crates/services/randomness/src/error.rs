//! The randomness service's errors. None carries key material.

use nsl_api_types::ApiError;

use crate::vrf::PayloadError;

/// Errors of [`crate::RandomnessService`].
#[derive(Debug, thiserror::Error)]
pub enum RandomnessError {
    /// A seed or word count breaks the rules (HTTP 422 `validation_failed`).
    #[error("{0}")]
    Invalid(#[from] PayloadError),
    /// The seed is not hex (HTTP 422 `validation_failed`).
    #[error("seed must be hex: {0}")]
    SeedNotHex(String),
    /// The id is neither a gateway request id nor a UUID (HTTP 400 `bad_request`).
    #[error("randomness id must be a gateway request id (decimal) or a request UUID")]
    BadId,
    /// No such record (or another account's; HTTP 404 `not_found`).
    #[error("no such randomness")]
    NotFound,
    /// More words than `[randomness] max_words` allows (HTTP 422 `validation_failed`).
    #[error("words must be 1..={max} on this node, got {got}")]
    TooManyWords {
        /// Asked for.
        got: u16,
        /// `[randomness] max_words`.
        max: u16,
    },
    /// The vault failed to prove (HTTP 503).
    #[error("vrf prover: {0}")]
    Prover(String),
    /// The chain could not be read (HTTP 503).
    #[error("chain: {0}")]
    Chain(String),
    /// The database failed.
    #[error("randomness store: {0}")]
    Store(#[from] nsl_store::StoreError),
    /// The audit log could not be written (the operation is refused: fail closed).
    #[error("audit log not writable: {0}")]
    Audit(nsl_store::StoreError),
}

/// Result of randomness operations.
pub type RandomnessResult<T> = Result<T, RandomnessError>;

impl From<RandomnessError> for ApiError {
    fn from(e: RandomnessError) -> Self {
        match e {
            RandomnessError::Invalid(_)
            | RandomnessError::SeedNotHex(_)
            | RandomnessError::TooManyWords { .. } => ApiError::validation(e.to_string()),
            RandomnessError::BadId => ApiError::BadRequest(e.to_string()),
            RandomnessError::NotFound => ApiError::not_found("no such randomness"),
            RandomnessError::Store(s) => ApiError::from(s),
            RandomnessError::Audit(_) => {
                ApiError::Unavailable("the audit log is not writable".into())
            }
            RandomnessError::Prover(m) => {
                tracing::error!(error = %m, "vrf prover failed");
                ApiError::Unavailable("the VRF prover is unavailable".into())
            }
            RandomnessError::Chain(m) => {
                tracing::warn!(error = %m, "chain read failed");
                ApiError::Unavailable("the chain is unavailable".into())
            }
        }
    }
}
