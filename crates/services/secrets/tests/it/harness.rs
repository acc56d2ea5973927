//! Test environment: a migrated store on a throw-away database (the shared
//! `nsl_store::test_utils::TestDb`) plus a software vault in a temp dir.

use std::sync::Arc;

use nsl_enclave::{Kek, KekSource, SoftwareVault, SoftwareVaultConfig, Vault};
use nsl_secrets::SecretsService;
use nsl_store::test_utils::TestDb;
use nsl_store::{Backend, Store};

pub(crate) struct TestEnv {
    pub(crate) store: Store,
    pub(crate) vault: Arc<SoftwareVault>,
    pub(crate) service: Arc<SecretsService>,
    _vault_dir: tempfile::TempDir,
    _db: TestDb,
}

impl TestEnv {
    pub(crate) async fn sqlite() -> TestEnv {
        Self::with(TestDb::sqlite(&[&nsl_secrets::MIGRATIONS]).await)
    }

    pub(crate) async fn postgres() -> TestEnv {
        Self::with(TestDb::postgres(&[&nsl_secrets::MIGRATIONS]).await)
    }

    fn with(db: TestDb) -> TestEnv {
        let store = db.store.clone();
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
            _db: db,
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        self.store.backend()
    }
}
