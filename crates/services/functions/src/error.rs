//! The crate's error type and its HTTP mapping.

use nsl_api_types::ApiError;
use nsl_store::StoreError;

/// Errors of the functions service.
#[derive(Debug, thiserror::Error)]
pub enum FunctionsError {
    /// The input breaks a rule. `reason` is a stable snake_case code (`source_too_large`,
    /// `invalid_limits`, `invalid_host`, ...), also the start of the HTTP error message.
    #[error("{reason}: {message}")]
    Invalid {
        /// Stable code.
        reason: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// No such function or execution for this account.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The account already has a function with this name.
    #[error("a function with this name already exists")]
    Conflict,
    /// Too many executions are pending on this node; retry later.
    #[error("too many executions pending on this node; retry later")]
    Busy,
    /// An account quota is used up (HTTP 403 `quota_exceeded`). `quota` is the stable name
    /// (`functions`, `versions`, `stored_bytes`), also the start of the message.
    #[error("{quota}: {message}")]
    Quota {
        /// Stable name of the quota.
        quota: &'static str,
        /// The figures.
        message: String,
    },
    /// The account's execution quota is used up for now (HTTP 429 `execution_quota_exceeded`).
    #[error("{message}")]
    ExecutionQuota {
        /// Which quota (`pending_executions`, `executions_per_minute`) and the figures.
        message: String,
        /// Seconds to wait before retrying.
        retry_after_secs: u64,
    },
    /// The service is shutting down.
    #[error("the functions service is shutting down")]
    ShuttingDown,
    /// An execution worker failed unexpectedly (logged; not the caller's fault).
    #[error("internal error: {0}")]
    Internal(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FunctionsError {
    pub(crate) fn quota(quota: &'static str, message: impl Into<String>) -> Self {
        Self::Quota {
            quota,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(reason: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            reason,
            message: message.into(),
        }
    }
}

impl From<FunctionsError> for ApiError {
    fn from(e: FunctionsError) -> Self {
        match e {
            FunctionsError::Invalid { .. } => ApiError::Validation(e.to_string()),
            FunctionsError::NotFound(what) => ApiError::NotFound(format!("no such {what}")),
            FunctionsError::Conflict => ApiError::Conflict(e.to_string()),
            FunctionsError::Quota { .. } => ApiError::QuotaExceeded(e.to_string()),
            FunctionsError::ExecutionQuota {
                message,
                retry_after_secs,
            } => ApiError::ExecutionQuota {
                message,
                retry_after_secs,
            },
            FunctionsError::Busy | FunctionsError::ShuttingDown => {
                ApiError::Unavailable(e.to_string())
            }
            FunctionsError::Internal(m) => ApiError::internal(m),
            FunctionsError::Store(StoreError::Conflict { .. }) => {
                ApiError::Conflict("a function with this name already exists".into())
            }
            FunctionsError::Store(s) => ApiError::from(s),
        }
    }
}
