//! The crate's error type.

/// Everything that can go wrong while preparing tools, compiling or running the local chain.
#[derive(Debug, thiserror::Error)]
pub enum DevchainError {
    /// A file-system operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An external tool (pip, python, neo-go, neo3-boa) failed.
    #[error("{tool} failed: {detail}")]
    Tool {
        /// The tool or step.
        tool: String,
        /// Its output's tail or why it could not start.
        detail: String,
    },
    /// A download did not have the expected SHA-256.
    #[error("checksum mismatch for {file}: expected sha256 {expected}, got {actual}")]
    Checksum {
        /// The downloaded file.
        file: String,
        /// The pinned digest.
        expected: String,
        /// The digest of what was downloaded.
        actual: String,
    },
    /// neo3-boa rejected a contract.
    #[error("neo3-boa could not compile {path}: {detail}")]
    Compile {
        /// The Python source.
        path: String,
        /// The compiler's output.
        detail: String,
    },
    /// The privnet did not come up.
    #[error("the neo-go privnet did not start: {reason}\n--- tail of {log} ---\n{log_tail}")]
    ChainStart {
        /// What was observed.
        reason: String,
        /// Path of neo-go's log.
        log: String,
        /// The log's last lines.
        log_tail: String,
    },
    /// A bad setting or environment.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An RPC call, transaction or invocation against the chain failed.
    #[error(transparent)]
    Rpc(#[from] neo_rpc::Error),
}

impl DevchainError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = DevchainError> = std::result::Result<T, E>;
