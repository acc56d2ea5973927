//! Test environment: a migrated store on a throw-away database plus a software vault in a temp
//! dir (same pattern as nsl-store's test harness).

use std::sync::Arc;
use std::time::Duration;

use nsl_enclave::{Kek, KekSource, SoftwareVault, SoftwareVaultConfig, Vault};
use nsl_secrets::SecretsService;
use nsl_store::{Backend, Store};
use sqlx::{Connection, Executor, PgConnection};

const DEFAULT_PG_URL: &str = "postgres://root@127.0.0.1:5432/postgres";

pub(crate) struct TestEnv {
    pub(crate) store: Store,
    pub(crate) vault: Arc<SoftwareVault>,
    pub(crate) service: Arc<SecretsService>,
    _vault_dir: tempfile::TempDir,
    _guard: Guard,
}

enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestEnv {
    pub(crate) async fn sqlite() -> TestEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/test.db", dir.path().display());
        Self::with(url, Guard::Sqlite(dir)).await
    }

    pub(crate) async fn postgres() -> TestEnv {
        let admin_url = std::env::var("NSL_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL is unreachable at {admin_url} ({e})"));
        let name = format!("nsl_sec_{}", hex::encode(rand::random::<[u8; 8]>()));
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
        let _ = admin.close().await;
        let guard = Guard::Postgres {
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .unwrap_or(admin_url.clone());
        Self::with(format!("{base}/{name}"), guard).await
    }

    async fn with(url: String, guard: Guard) -> TestEnv {
        let store = Store::connect_url(&url, 8, Duration::from_secs(30))
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        let vault_dir = tempfile::tempdir().expect("vault dir");
        let vault = Arc::new(
            SoftwareVault::open(SoftwareVaultConfig {
                data_dir: vault_dir.path().join("vault"),
                kek: KekSource::Key(Kek::generate().expect("kek")),
            })
            .expect("open vault"),
        );
        let dyn_vault: Arc<dyn Vault> = vault.clone();
        let service = Arc::new(SecretsService::new(store.clone(), dyn_vault));
        TestEnv {
            store,
            vault,
            service,
            _vault_dir: vault_dir,
            _guard: guard,
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        self.store.backend()
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
