//! Test databases: a SQLite file in a temp dir, or a fresh PostgreSQL database per test.

use std::time::Duration;

use nsl_store::Store;
use sqlx::{Connection, Executor, PgConnection};

const DEFAULT_PG_URL: &str = "postgres://root@127.0.0.1:5432/postgres";

/// A migrated store on a throw-away database.
pub(crate) struct TestDb {
    pub(crate) store: Store,
    pub(crate) url: String,
    _guard: Guard,
}

enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub(crate) async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/test.db", dir.path().display());
        let store = Store::connect_url(&url, 8, Duration::from_secs(30))
            .await
            .expect("open sqlite");
        store.migrate().await.expect("migrate sqlite");
        TestDb {
            store,
            url,
            _guard: Guard::Sqlite(dir),
        }
    }

    pub(crate) async fn postgres() -> TestDb {
        let admin_url = std::env::var("NSL_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into());
        let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is unreachable at {admin_url} ({e}). These tests need it: start it \
                 (scripts/prepare) or point NSL_TEST_PG_URL at a server where you may create databases."
            )
        });
        let name = format!("nsl_t_{}", hex::encode(rand::random::<[u8; 8]>()));
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
        let _ = admin.close().await;
        // From here on the guard drops the database, even if the test panics.
        let guard = Guard::Postgres {
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        let url = with_database(&admin_url, &name);
        let store = Store::connect_url(&url, 8, Duration::from_secs(30))
            .await
            .expect("open pg");
        store.migrate().await.expect("migrate pg");
        TestDb {
            store,
            url,
            _guard: guard,
        }
    }

    /// A second, independent pool on the same database (a second node).
    pub(crate) async fn second_store(&self) -> Store {
        Store::connect_url(&self.url, 8, Duration::from_secs(30))
            .await
            .expect("second pool")
    }
}

/// Replace the database name (last path segment) of a PostgreSQL URL.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{db}?{q}"),
        None => format!("{host_part}/{db}"),
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime: do the async cleanup on a thread of its own.
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
                eprintln!("warning: could not drop test database: {result:?}");
            }
        }
    }
}

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

#[tokio::test]
async fn store_is_usable_as_a_trait_object() {
    let db = TestDb::sqlite().await;
    let dynamic: std::sync::Arc<dyn nsl_store::PlatformStore> =
        std::sync::Arc::new(db.store.clone());
    let a = dynamic
        .create_account("via dyn", nsl_store::Role::User)
        .await
        .unwrap();
    assert_eq!(dynamic.account(a.id).await.unwrap(), Some(a));
}
