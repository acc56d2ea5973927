//! The secrets service's error type. No variant ever carries a secret value.

use nsl_api_types::ApiError;

/// Errors of [`crate::SecretsService`].
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The name breaks the naming rule (see [`crate::validate_name`]).
    #[error(
        "invalid secret name: use 1 to {max} characters from A-Z a-z 0-9 _ - . starting with a letter or _",
        max = crate::MAX_NAME_LEN
    )]
    InvalidName,
    /// The value is larger than [`crate::MAX_VALUE_LEN`].
    #[error("secret value too large: {len} bytes (at most {max})")]
    ValueTooLarge {
        /// Length of the value given.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// No such secret for this account (also: a secret of another account).
    #[error("no such secret")]
    NotFound,
    /// An account quota is used up (HTTP 403 `quota_exceeded`); the message starts with the
    /// quota's name (`secrets`, `stored_bytes`) and never contains a value.
    #[error("{0}")]
    Quota(String),
    /// Concurrent writers kept winning the race for the next version number.
    #[error("too many concurrent writes to this secret; retry")]
    Contended,
    /// The database failed.
    #[error("secret store: {0}")]
    Store(#[from] nsl_store::StoreError),
    /// The vault failed, or a ciphertext did not open (tampered or moved row).
    #[error("vault: {0}")]
    Vault(#[from] nsl_enclave::VaultError),
    /// The audit log could not be written (the operation is refused: fail closed).
    #[error("audit log not writable: {0}")]
    Audit(nsl_store::StoreError),
    /// A stored row is malformed.
    #[error("corrupt secret row: {0}")]
    Corrupt(String),
    /// A blocking vault task panicked or was cancelled.
    #[error("vault task failed: {0}")]
    Task(String),
}

/// Result of secrets operations.
pub type SecretsResult<T> = Result<T, SecretsError>;

impl From<SecretsError> for ApiError {
    fn from(e: SecretsError) -> Self {
        match e {
            SecretsError::InvalidName | SecretsError::ValueTooLarge { .. } => {
                ApiError::validation(e.to_string())
            }
            SecretsError::NotFound => ApiError::not_found("no such secret"),
            SecretsError::Contended => ApiError::Conflict(e.to_string()),
            SecretsError::Quota(m) => ApiError::QuotaExceeded(m),
            SecretsError::Store(s) => ApiError::from(s),
            SecretsError::Audit(_) => ApiError::Unavailable("the audit log is not writable".into()),
            other => ApiError::internal(other),
        }
    }
}
