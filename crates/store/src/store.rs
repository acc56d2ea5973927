//! [`Store`]: the connection pool, backend detection and migrations.

use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::{Executor, Row};

use crate::{MigrationSet, StoreError, StoreResult};

/// SQLite busy timeout: how long a writer waits for the write lock.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Detect the backend from a URL.
    pub fn from_url(url: &str) -> StoreResult<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(redact(url)))
        }
    }

    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// What [`Store::migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationReport {
    /// Backend migrated.
    pub backend: &'static str,
    /// Migrations applied by this call.
    pub applied: Vec<i64>,
    /// Latest migration version now in the database.
    pub current_version: i64,
}

/// The platform store: a pool plus the backend it talks to. Clone freely.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
    /// Key of the audit chain's HMAC; `None`: plain SHA-256 (tests, chains not keyed yet).
    pub(crate) audit_key: Option<crate::AuditKey>,
}

fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://<redacted>@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl Store {
    /// Connect as configured and apply pending migrations: the platform's and those of
    /// `services` (see [`Store::migrate`]).
    pub async fn open(cfg: &nsl_config::Config, services: &[&MigrationSet]) -> StoreResult<Store> {
        let store = Self::connect(cfg).await?;
        store.migrate(services).await?;
        Ok(store)
    }

    /// Connect as configured without migrating (for `nsl migrate` and tests).
    pub async fn connect(cfg: &nsl_config::Config) -> StoreResult<Store> {
        let url = if cfg.database.url.is_empty() {
            let path = cfg.sqlite_default_path();
            sqlite_file_url(&path)?
        } else {
            cfg.database.url.clone()
        };
        Self::connect_url(
            &url,
            cfg.database.max_connections,
            Duration::from_millis(cfg.database.acquire_timeout_ms),
        )
        .await
    }

    /// Connect to a URL (`sqlite://PATH` — the file is created if missing — or `postgres://...`).
    pub async fn connect_url(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> StoreResult<Store> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = Backend::from_url(url)?;
        if backend == Backend::Sqlite && (url.contains(":memory:") || url.contains("mode=memory")) {
            // Every pooled connection would get its own empty database.
            return Err(StoreError::UnsupportedUrl(format!(
                "{url} (in-memory SQLite is not supported; use a file)"
            )));
        }
        let mut url = url.to_string();
        if backend == Backend::Sqlite && !url.contains("mode=") {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("mode=rwc");
        }
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(
                            format!(
                                "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; \
                                 PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                                 PRAGMA synchronous = NORMAL;"
                            )
                            .as_str(),
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        Ok(Store {
            pool,
            backend,
            audit_key: None,
        })
    }

    /// This store with the audit chain's key: appends and verification use HMAC-SHA256 under it,
    /// and expect a keyed chain (see [`Store::key_audit_chain`]).
    pub fn with_audit_key(mut self, key: crate::AuditKey) -> Store {
        self.audit_key = Some(key);
        self
    }

    /// Apply the pending migrations of the platform and of `services`, composed into one sequence
    /// ordered by version ([`crate::compose`]). Idempotent. A database that has a version none of
    /// the sets knows (a set left out) or whose applied file changed is refused by sqlx.
    pub async fn migrate(&self, services: &[&MigrationSet]) -> StoreResult<MigrationReport> {
        self.migrate_until(services, i64::MAX).await
    }

    /// [`Store::migrate`] up to and including version `last` (upgrade tests: an operator's
    /// database as an older release left it).
    pub async fn migrate_until(
        &self,
        services: &[&MigrationSet],
        last: i64,
    ) -> StoreResult<MigrationReport> {
        let mut list = crate::compose(services, self.backend)?;
        list.retain(|m| m.version <= last);
        let migrator = crate::migrations::migrator(list).await?;
        let before = self.applied_versions().await?;
        migrator.run(&self.pool).await?;
        let after = self.applied_versions().await?;
        let applied = after
            .iter()
            .copied()
            .filter(|v| !before.contains(v))
            .collect();
        Ok(MigrationReport {
            backend: self.backend.as_str(),
            applied,
            current_version: after.iter().copied().max().unwrap_or(0),
        })
    }

    async fn applied_versions(&self) -> StoreResult<Vec<i64>> {
        let exists = match self.backend {
            Backend::Sqlite => {
                sqlx::query(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
                )
                .fetch_one(&self.pool)
                .await?
                .try_get::<i64, _>(0)?
            }
            Backend::Postgres => {
                sqlx::query(
                    "SELECT COUNT(*) FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'",
                )
                .fetch_one(&self.pool)
                .await?
                .try_get::<i64, _>(0)?
            }
        };
        if exists == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>(0).map_err(StoreError::from))
            .collect()
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for crates that keep their own tables in the same database.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Close the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// URL of a SQLite file, creating its directory. The path is made absolute and percent-encoded.
fn sqlite_file_url(path: &Path) -> StoreResult<String> {
    let path = std::path::absolute(path).map_err(|source| StoreError::DataDir {
        path: path.to_path_buf(),
        source,
    })?;
    if let Some(dir) = path.parent() {
        nsl_config::create_private_dir(dir).map_err(|source| StoreError::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    Ok(sqlx::ConnectOptions::to_url_lossy(&opts).to_string())
}
