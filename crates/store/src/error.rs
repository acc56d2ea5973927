//! The store's error type.

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// Store errors. The API maps [`StoreError::Conflict`] to 409 and [`StoreError::NotFound`] to 404;
/// everything else is an internal error whose details are logged, not returned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated (the row already exists).
    #[error("already exists ({constraint})")]
    Conflict {
        /// The violated constraint or index name, as the database reports it.
        constraint: String,
    },
    /// The row to change does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The database URL is not one this store supports.
    #[error("unsupported database url {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// The caller passed arguments that contradict each other (a programming error).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A stored value could not be decoded (e.g. an unknown role string).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// Preparing the data directory failed.
    #[error("cannot prepare data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The migration sets do not compose: two crates claim one version, or a set's SQLite and
    /// PostgreSQL directories differ. Raised before any migration runs.
    #[error("migration layout: {0}")]
    MigrationLayout(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        // A stored value a row type refused (`#[sqlx(try_from = ...)]`: an unknown state, a
        // malformed id, a negative count) is corrupt data, as with the hand mappers before.
        // sqlx 0.8.6's derive drops the conversion's own message ("unprintable error"), so
        // then only the column is named.
        if let sqlx::Error::ColumnDecode { index, source } = &e {
            let why = source.to_string();
            let why = if why.starts_with("unprintable error") {
                "a stored value its type refuses".to_string()
            } else {
                why
            };
            return StoreError::Corrupt(format!("column {index}: {why}"));
        }
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            let constraint = db
                .constraint()
                .map(str::to_string)
                .unwrap_or_else(|| db.message().to_string());
            return StoreError::Conflict { constraint };
        }
        StoreError::Database(e)
    }
}

impl StoreError {
    /// Whether this is a unique-constraint violation (HTTP 409).
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }
}
