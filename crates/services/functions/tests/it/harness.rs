//! Test databases: a SQLite file in a temp dir, or a fresh PostgreSQL database per test on
//! `NSL_TEST_PG_URL` (default postgres://root@127.0.0.1:5432/postgres), dropped at the end even
//! when the test fails. PostgreSQL being unreachable FAILS the PostgreSQL tests.

use nsl_config::Config;
use nsl_store::Store;
use sqlx::{Connection, Executor, PgConnection};

const DEFAULT_PG_URL: &str = "postgres://root@127.0.0.1:5432/postgres";

/// A migrated store on a throw-away database, with the config that opened it.
pub(crate) struct TestDb {
    pub(crate) store: Store,
    pub(crate) cfg: Config,
    _dir: tempfile::TempDir,
    _guard: Option<PgGuard>,
}

pub(crate) struct PgGuard {
    admin_url: String,
    name: String,
}

impl TestDb {
    pub(crate) async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cfg = Config::default();
        cfg.node.data_dir = dir.path().to_path_buf();
        let store = Store::open(&cfg).await.expect("open sqlite");
        TestDb {
            store,
            cfg,
            _dir: dir,
            _guard: None,
        }
    }

    pub(crate) async fn postgres() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let admin_url = std::env::var("NSL_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into());
        let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("PostgreSQL is unreachable at {admin_url} ({e}); these tests need it")
        });
        let name = format!("nsl_fn_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
        let _ = admin.close().await;
        // From here on the guard drops the database, even if the test panics.
        let guard = PgGuard {
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .unwrap_or_else(|| admin_url.clone());
        let mut cfg = Config::default();
        cfg.node.data_dir = dir.path().to_path_buf();
        cfg.database.url = format!("{base}/{name}");
        let store = Store::open(&cfg).await.expect("open pg");
        TestDb {
            store,
            cfg,
            _dir: dir,
            _guard: Some(guard),
        }
    }
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime: do the async cleanup on a thread of its own.
        let result = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url).await.ok()?;
                admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        if !matches!(result, Ok(Some(()))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}
