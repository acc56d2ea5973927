//! Throw-away, migrated databases for tests on both backends (feature `test-utils`).
//!
//! One [`TestDb`] per test: SQLite is a file in a fresh temp dir; PostgreSQL is a fresh database
//! `nsl_t_<random>` created through the admin URL in `NSL_TEST_PG_URL` (default
//! [`DEFAULT_PG_URL`]). Invariants:
//!
//! - the database (and the temp dir, which every `TestDb` has as its data dir) is removed when the
//!   `TestDb` is dropped, also when the test panics;
//! - an unreachable PostgreSQL server FAILS the test (panic with a hint), it is never skipped;
//! - the store is migrated before it is handed out.
//!
//! Setup failures panic on purpose: this module is for tests only and is compiled only with the
//! `test-utils` feature (test suites enable it through a dev-dependency).

mod schema;

use std::path::Path;
use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};

use crate::{Backend, MigrationSet, Store};

pub use schema::assert_same_schema;

/// Admin URL used when `NSL_TEST_PG_URL` is not set.
pub const DEFAULT_PG_URL: &str = "postgres://root@127.0.0.1:5432/postgres";

/// Pool size of the stores a [`TestDb`] opens.
const MAX_CONNECTIONS: u32 = 8;
/// Acquire timeout of the stores a [`TestDb`] opens (generous: CI machines are slow).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// A migrated [`Store`] on a database that exists only for the current test.
pub struct TestDb {
    /// The migrated store (a pool handle; clone it freely).
    pub store: Store,
    url: String,
    // Field order matters: the PostgreSQL guard drops the database before the temp dir goes.
    pg: Option<PgGuard>,
    dir: tempfile::TempDir,
}

impl TestDb {
    /// A fresh database on `backend`, migrated with the platform's migrations and those of
    /// `services` (the crates whose tables the test uses, e.g. `&[&nsl_chain::MIGRATIONS]`).
    pub async fn new(backend: Backend, services: &[&MigrationSet]) -> TestDb {
        match backend {
            Backend::Sqlite => Self::sqlite(services).await,
            Backend::Postgres => Self::postgres(services).await,
        }
    }

    /// A SQLite file (`<temp dir>/nsl.db`, the default file of a config whose data dir is the
    /// temp dir), migrated like [`TestDb::new`].
    pub async fn sqlite(services: &[&MigrationSet]) -> TestDb {
        let dir = tempfile::tempdir().expect("create a temp dir for the test database");
        let path = dir.path().join(nsl_config::SQLITE_FILE_NAME);
        let url = format!("sqlite://{}", path.display());
        let store = open(&url, services).await;
        TestDb {
            store,
            url,
            pg: None,
            dir,
        }
    }

    /// A fresh PostgreSQL database `nsl_t_<random>` on the server of `NSL_TEST_PG_URL`, migrated
    /// like [`TestDb::new`].
    ///
    /// # Panics
    /// When the server is unreachable or the database cannot be created or migrated.
    pub async fn postgres(services: &[&MigrationSet]) -> TestDb {
        let dir = tempfile::tempdir().expect("create a temp dir for the test data dir");
        let admin_url = admin_url();
        let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is unreachable at {admin_url} ({e}). These tests need it: start it \
                 (scripts/prepare) or point NSL_TEST_PG_URL at a server where you may create databases."
            )
        });
        let name = format!("nsl_t_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap_or_else(|e| panic!("create test database {name}: {e}"));
        let _ = admin.close().await;
        // From here on the guard drops the database, even if the test panics.
        let pg = Some(PgGuard {
            admin_url: admin_url.clone(),
            name: name.clone(),
        });
        let url = with_database(&admin_url, &name);
        let store = open(&url, services).await;
        TestDb {
            store,
            url,
            pg,
            dir,
        }
    }

    /// The backend of this database.
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// The database URL (for a second process or pool).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A temp dir owned by this `TestDb` (the SQLite file lives here), usable as the node data dir.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A second, independent pool on the same database (a second node).
    pub async fn second_store(&self) -> Store {
        Store::connect_url(&self.url, MAX_CONNECTIONS, ACQUIRE_TIMEOUT)
            .await
            .expect("open a second pool on the test database")
    }

    /// A default config pointing at this database: `node.data_dir` is [`TestDb::data_dir`],
    /// `database.url` is empty for SQLite (the default file in the data dir) and this database's
    /// URL for PostgreSQL. `Store::open` on it opens this same database.
    pub fn config(&self) -> nsl_config::Config {
        let mut cfg = nsl_config::Config::default();
        cfg.node.data_dir = self.dir.path().to_path_buf();
        if self.pg.is_some() {
            cfg.database.url = self.url.clone();
        }
        cfg.database.max_connections = MAX_CONNECTIONS;
        cfg.database.acquire_timeout_ms = ACQUIRE_TIMEOUT.as_millis() as u64;
        cfg
    }
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("backend", &self.backend())
            .field("data_dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

/// The PostgreSQL admin URL: `NSL_TEST_PG_URL` or [`DEFAULT_PG_URL`].
pub fn admin_url() -> String {
    std::env::var("NSL_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into())
}

async fn open(url: &str, services: &[&MigrationSet]) -> Store {
    let store = Store::connect_url(url, MAX_CONNECTIONS, ACQUIRE_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("open the test database: {e}"));
    store
        .migrate(services)
        .await
        .unwrap_or_else(|e| panic!("migrate the test database: {e}"));
    store
}

/// Replace the database name (last path segment) of a PostgreSQL URL.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base.get(scheme_end..).and_then(|rest| rest.find('/')) {
        Some(i) => base.get(..scheme_end + i).unwrap_or(base),
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{db}?{q}"),
        None => format!("{host_part}/{db}"),
    }
}

/// Drops the per-test PostgreSQL database.
struct PgGuard {
    admin_url: String,
    name: String,
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside the test's runtime: do the async cleanup on a thread of its own.
        let result = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url).await?;
                admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await?;
                admin.close().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
            .map_err(|e| std::io::Error::other(e.to_string()))
        })
        .join();
        if !matches!(result, Ok(Ok(()))) {
            eprintln!(
                "warning: could not drop test database {}: {result:?}",
                self.name
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://root@h:5432/postgres", "x"),
            "postgres://root@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://root@h/postgres?sslmode=disable", "x"),
            "postgres://root@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://root@h", "x"),
            "postgres://root@h/x"
        );
    }
}
