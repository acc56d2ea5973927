//! The audit chain's key: 32 random bytes sealed by the node's vault in
//! `<data_dir>/vault/audit.key`, read with the KEK alone ([`nsl_enclave::RootSealer`]) so operator
//! commands can use it while `nsl serve` holds the vault.
//!
//! The first process that opens the store without the file (the first `nsl serve` or operator
//! command after the upgrade to migration 0010, or on a fresh node) creates the key and keys the
//! chain: the existing rows are checked under plain SHA-256 and, if intact, rehashed as HMAC in
//! one transaction. The file doubles as the node's memory that its chain is keyed: a chain found
//! unkeyed while the file exists was rewritten by someone without the key, and `nsl serve`
//! refuses to start on it.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use nsl_store::{AuditKey, AuditStore as _, Store};

use super::{CliError, CliResult};

/// File name of the sealed audit key inside the vault directory.
pub(crate) const AUDIT_KEY_FILE: &str = "audit.key";
/// The key while the chain is being keyed (renamed to [`AUDIT_KEY_FILE`] once it is).
const PENDING_FILE: &str = "audit.key.pending";
/// Label of the sealed blob (authenticated by the seal).
const LABEL: &str = "nsl/audit-key/v1";

/// Open the store as configured (migrations applied) with the audit key, creating the key and
/// keying the chain on first use.
pub(crate) async fn open_store(cfg: &nsl_config::Config) -> CliResult<Store> {
    let store = Store::open(cfg, crate::MIGRATIONS)
        .await
        .context("opening the database")?;
    let key = audit_key(cfg, &store).await?;
    Ok(store.with_audit_key(key))
}

async fn audit_key(cfg: &nsl_config::Config, store: &Store) -> CliResult<AuditKey> {
    let vault_cfg = nsl_secrets::node_vault_config(&cfg.node.data_dir, cfg.vault.dev_mode)
        .map_err(super::vault_error)?;
    let sealer = nsl_enclave::RootSealer::open(&vault_cfg)
        .map_err(|e| super::vault_error(nsl_secrets::SecretsError::Vault(e)))?;
    let dir = vault_cfg.data_dir;
    let path = dir.join(AUDIT_KEY_FILE);
    let pending = dir.join(PENDING_FILE);
    let unseal = |file: &Path| -> CliResult<AuditKey> {
        let blob = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let bytes = sealer.unseal(LABEL, &blob).map_err(|e| {
            CliError::Runtime(anyhow::anyhow!(
                "cannot unseal the audit key {}: {e}",
                file.display()
            ))
        })?;
        let key: [u8; 32] = bytes.expose_secret().try_into().map_err(|_| {
            CliError::Runtime(anyhow::anyhow!("{} is not a 32-byte key", file.display()))
        })?;
        Ok(AuditKey::from_bytes(key))
    };
    if path.exists() {
        return unseal(&path);
    }
    let key = if pending.exists() {
        unseal(&pending)?
    } else {
        if store
            .audit_chain_keyed()
            .await
            .context("reading the audit chain head")?
        {
            return Err(CliError::Runtime(anyhow::anyhow!(
                "the audit chain is keyed but this node's audit key {} is missing: restore it \
                 (with the vault) from a backup",
                path.display()
            )));
        }
        let random = nsl_enclave::DataKey::generate().context("generating the audit key")?;
        let key = AuditKey::from_bytes(*random.expose_secret());
        let blob = sealer
            .seal(LABEL, key.as_bytes())
            .context("sealing the audit key")?;
        write_private(&dir, &pending, &blob)?;
        key
    };
    let keyed = store.clone().with_audit_key(key.clone());
    let outcome = keyed
        .key_audit_chain()
        .await
        .context("keying the audit chain")?;
    let problem = match outcome.problem {
        Some(p) => Some(p),
        // Already keyed (a previous attempt got this far): it must verify under this key.
        None if outcome.entries == 0 => {
            keyed
                .verify_audit()
                .await
                .context("verifying the audit chain")?
                .problem
        }
        None => None,
    };
    if let Some(problem) = problem {
        return Err(CliError::Runtime(anyhow::anyhow!(
            "the audit chain cannot be keyed: {problem}; inspect it (e.g. `nsl audit list`) \
             before going on"
        )));
    }
    std::fs::rename(&pending, &path)
        .with_context(|| format!("renaming {} to {}", pending.display(), path.display()))?;
    sync_dir(&dir);
    tracing::info!(file = %path.display(), rows = outcome.entries, "audit chain keyed");
    Ok(key)
}

/// Write `data` to `path` with mode 0600 (directory 0700, created if missing), durably.
fn write_private(dir: &Path, path: &Path, data: &[u8]) -> CliResult<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
        builder.mode(0o700);
        file.mode(0o600);
    }
    builder
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let mut f = file
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    sync_dir(dir);
    Ok(())
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
