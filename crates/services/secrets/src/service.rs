//! [`SecretsService`]: put, read for execution, list, delete, master key rotation.

use std::path::Path;
use std::sync::Arc;

use nsl_enclave::{
    SealedSecret, SecretBytes, SoftwareVault, SoftwareVaultConfig, Vault, VaultError, open_secret,
    rewrap, seal_secret,
};
use nsl_primitives::AccountId;
use nsl_store::{AuditStore as _, NewAuditEntry, Store, StoreError, UnixMillis, now_ms};
use serde_json::json;
use tokio::sync::{Mutex, RwLock};

use crate::{SecretMeta, SecretStore as _, SecretVersion, SecretsError, SecretsResult};

/// Longest secret name, in bytes.
pub const MAX_NAME_LEN: usize = nsl_primitives::secret_name::MAX_LEN;
/// Largest secret value, in bytes (64 KiB).
pub const MAX_VALUE_LEN: usize = 64 * 1024;
/// Versions kept per secret: each write keeps the newest this many and deletes older ones.
pub const VERSIONS_KEPT: u32 = 5;
/// Rows re-wrapped per batch during [`SecretsService::rotate_master`].
pub const REWRAP_BATCH: u32 = 200;
/// Attempts at the next version number when concurrent writers race for it.
const PUT_ATTEMPTS: usize = 16;
/// Attempts at a read when the row was re-wrapped between fetching and opening it.
const READ_ATTEMPTS: usize = 4;

/// Check a secret name: 1 to [`MAX_NAME_LEN`] characters from `[A-Za-z0-9_.-]`, the first a letter
/// or `_` (so it reads like an environment variable or config key).
pub fn validate_name(name: &str) -> SecretsResult<()> {
    if nsl_primitives::secret_name::is_valid(name) {
        Ok(())
    } else {
        Err(SecretsError::InvalidName)
    }
}

/// Who performed a write, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Audit actor: an account id, `cli`, `system`, ...
    pub name: String,
    /// Client IP, if the request came over the API.
    pub ip: Option<String>,
}

/// What [`SecretsService::put`] stored (never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    /// Secret name.
    pub name: String,
    /// The version just written (1 for a new secret).
    pub version: u64,
    /// Creation time of this version.
    pub created_at: UnixMillis,
}

/// What [`SecretsService::rotate_master`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RotationReport {
    /// The master key version that was current before.
    pub previous_version: u32,
    /// The new current master key version.
    pub new_version: u32,
    /// Secret versions whose data key was re-wrapped under `new_version`.
    pub rewrapped: u64,
    /// Batches of at most [`REWRAP_BATCH`] rows processed.
    pub batches: u64,
    /// Master key versions retired (key material destroyed) at the end.
    pub retired: Vec<u32>,
}

/// The secrets service. Cheap to share (`Arc`); every method is safe to call concurrently,
/// including [`SecretsService::rotate_master`] alongside reads and writes.
pub struct SecretsService {
    store: Store,
    vault: Arc<dyn Vault>,
    /// Writers hold it shared from sealing to insert; rotation takes it exclusively once, right
    /// after switching the master key, so no row sealed under the old version lands later.
    write_gate: RwLock<()>,
    /// One rotation at a time.
    rotation: Mutex<()>,
    /// Per-account quotas (`[secrets]`).
    quotas: nsl_config::SecretsConfig,
}

impl std::fmt::Debug for SecretsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsService")
            .field("backend", &self.store.backend())
            .field("vault", &self.vault)
            .finish_non_exhaustive()
    }
}

/// Run blocking vault work off the async runtime's core threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, VaultError> + Send + 'static,
) -> SecretsResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SecretsError::Task(e.to_string()))?
        .map_err(SecretsError::from)
}

fn sealed_of(row: &SecretVersion) -> SecretsResult<SealedSecret> {
    let nonce = row.nonce.as_slice().try_into().map_err(|_| {
        SecretsError::Corrupt(format!(
            "{} v{}: nonce of {} bytes",
            row.name,
            row.version,
            row.nonce.len()
        ))
    })?;
    Ok(SealedSecret {
        key_version: row.key_version,
        wrapped_dek: row.wrapped_dek.clone(),
        nonce,
        ciphertext: row.ciphertext.clone(),
    })
}

impl SecretsService {
    /// A service over an opened (migrated) store and a vault.
    pub fn new(store: Store, vault: Arc<dyn Vault>) -> Self {
        Self {
            store,
            vault,
            write_gate: RwLock::new(()),
            rotation: Mutex::new(()),
            quotas: nsl_config::SecretsConfig::default(),
        }
    }

    /// This service with the operator's per-account quotas (`[secrets]`).
    pub fn with_quotas(mut self, quotas: nsl_config::SecretsConfig) -> Self {
        self.quotas = quotas;
        self
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The vault.
    pub fn vault(&self) -> &Arc<dyn Vault> {
        &self.vault
    }

    async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        name: &str,
        detail: serde_json::Value,
    ) -> SecretsResult<()> {
        self.store
            .append_audit(&NewAuditEntry {
                ts: now_ms(),
                actor: actor.name.clone(),
                action: action.to_owned(),
                target: Some(format!("secret:{name}")),
                ip: actor.ip.clone(),
                detail,
            })
            .await
            .map(|_| ())
            .map_err(|e| {
                tracing::error!(error = %e, action, "audit append failed");
                SecretsError::Audit(e)
            })
    }

    /// Store `value` as the next version of `(account, name)`: a fresh data key, AES-256-GCM with
    /// AAD binding account, name and version, the data key wrapped by the vault's current master
    /// key. Keeps the newest [`VERSIONS_KEPT`] versions. Audited as `secret.write`.
    pub async fn put(
        &self,
        account: AccountId,
        name: &str,
        value: &[u8],
        actor: &Actor,
    ) -> SecretsResult<SecretInfo> {
        validate_name(name)?;
        if value.len() > MAX_VALUE_LEN {
            return Err(SecretsError::ValueTooLarge {
                len: value.len(),
                max: MAX_VALUE_LEN,
            });
        }
        let (names, bytes) = self.store.secret_usage(account).await?;
        let exists = self
            .store
            .latest_secret_version(account, name)
            .await?
            .is_some();
        let max_names = u64::from(self.quotas.max_secrets_per_account);
        if !exists && names >= max_names {
            return Err(SecretsError::Quota(format!(
                "secrets: the account has {names} secrets; at most {max_names} are allowed"
            )));
        }
        let new = u64::try_from(value.len()).unwrap_or(u64::MAX);
        if bytes.saturating_add(new) > self.quotas.max_bytes_per_account {
            return Err(SecretsError::Quota(format!(
                "stored_bytes: the account stores {bytes} bytes of secrets; {new} more would pass \
                 the {} allowed",
                self.quotas.max_bytes_per_account
            )));
        }
        let plaintext = Arc::new(SecretBytes::from_vec(value.to_vec()));
        let account_str = account.to_string();
        let _gate = self.write_gate.read().await;
        for _ in 0..PUT_ATTEMPTS {
            let version = self
                .store
                .latest_secret_version(account, name)
                .await?
                .unwrap_or(0)
                .saturating_add(1);
            let sealed = {
                let (vault, plaintext) = (Arc::clone(&self.vault), Arc::clone(&plaintext));
                let (acct, nm) = (account_str.clone(), name.to_owned());
                blocking(move || {
                    seal_secret(&*vault, &acct, &nm, version, plaintext.expose_secret())
                })
                .await?
            };
            let row = SecretVersion {
                account_id: account,
                name: name.to_owned(),
                version,
                key_version: sealed.key_version,
                wrapped_dek: sealed.wrapped_dek,
                nonce: sealed.nonce.to_vec(),
                ciphertext: sealed.ciphertext,
                created_at: now_ms(),
            };
            match self.store.insert_secret_version(&row, VERSIONS_KEPT).await {
                Ok(()) => {}
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound(_)) => return Err(SecretsError::NotFound),
                Err(e) => return Err(e.into()),
            }
            self.audit(
                actor,
                "secret.write",
                name,
                json!({
                    "account_id": account_str,
                    "name": name,
                    "version": version,
                    "key_version": row.key_version,
                }),
            )
            .await?;
            return Ok(SecretInfo {
                name: row.name,
                version,
                created_at: row.created_at,
            });
        }
        Err(SecretsError::Contended)
    }

    /// Decrypt the newest version of `(account, name)` for a function execution. Writes a
    /// `secret.read` audit entry (account, name, version, function id; never the value) before
    /// returning; if the audit log cannot be written the value is not returned.
    ///
    /// Safe during [`SecretsService::rotate_master`]: a row re-wrapped (and its old master key
    /// retired) between fetching and opening it is fetched again.
    pub async fn get_for_execution(
        &self,
        account: AccountId,
        name: &str,
        function_id: &str,
    ) -> SecretsResult<SecretBytes> {
        validate_name(name)?;
        let account_str = account.to_string();
        let mut attempt = 0;
        let (value, version) = loop {
            attempt += 1;
            let row = self
                .store
                .latest_secret(account, name)
                .await?
                .ok_or(SecretsError::NotFound)?;
            let sealed = sealed_of(&row)?;
            let vault = Arc::clone(&self.vault);
            let (acct, nm, version) = (account_str.clone(), name.to_owned(), row.version);
            match blocking(move || open_secret(&*vault, &acct, &nm, version, &sealed)).await {
                Ok(value) => break (value, row.version),
                Err(SecretsError::Vault(
                    VaultError::MasterKeyRetired(_) | VaultError::MasterKeyUnknown(_),
                )) if attempt < READ_ATTEMPTS => continue,
                Err(e) => return Err(e),
            }
        };
        self.audit(
            &Actor {
                name: account_str.clone(),
                ip: None,
            },
            "secret.read",
            name,
            json!({
                "account_id": account_str,
                "name": name,
                "version": version,
                "function_id": function_id,
            }),
        )
        .await?;
        Ok(value)
    }

    /// Metadata of every secret of `account`, sorted by name (never values).
    pub async fn list(&self, account: AccountId) -> SecretsResult<Vec<SecretMeta>> {
        Ok(self.store.list_secrets(account).await?)
    }

    /// Metadata of one secret; [`SecretsError::NotFound`] if `account` has no such secret.
    pub async fn meta(&self, account: AccountId, name: &str) -> SecretsResult<SecretMeta> {
        if validate_name(name).is_err() {
            return Err(SecretsError::NotFound);
        }
        self.store
            .secret_meta(account, name)
            .await?
            .ok_or(SecretsError::NotFound)
    }

    /// Delete every version of a secret. Audited as `secret.delete`;
    /// [`SecretsError::NotFound`] if `account` has no such secret.
    pub async fn delete(&self, account: AccountId, name: &str, actor: &Actor) -> SecretsResult<()> {
        if validate_name(name).is_err() {
            return Err(SecretsError::NotFound);
        }
        let deleted = self.store.delete_secret(account, name).await?;
        if deleted == 0 {
            return Err(SecretsError::NotFound);
        }
        self.audit(
            actor,
            "secret.delete",
            name,
            json!({ "account_id": account.to_string(), "name": name, "versions": deleted }),
        )
        .await
    }

    /// Rotate the vault's master key online: make a new master key version current, wait for
    /// writes sealed under the old one to land, re-wrap every data key still under an older
    /// version in batches of [`REWRAP_BATCH`] (ciphertexts untouched), then retire every older
    /// version. Reads and writes keep working throughout. One rotation at a time per service.
    /// Audited as `secret.rotate_master` (actor `system`, target `secret:*`).
    pub async fn rotate_master(&self) -> SecretsResult<RotationReport> {
        let _one = self.rotation.lock().await;
        let vault = Arc::clone(&self.vault);
        let previous_version = blocking(move || vault.current_master_key_version()).await?;
        let vault = Arc::clone(&self.vault);
        let new_version = blocking(move || vault.rotate_master_key()).await?.version;
        // Barrier: writers that sealed under the previous version finish their insert first.
        drop(self.write_gate.write().await);

        let (mut rewrapped, mut batches) = (0u64, 0u64);
        loop {
            let rows = self
                .store
                .secrets_not_under_key_version(new_version, REWRAP_BATCH)
                .await?;
            if rows.is_empty() {
                break;
            }
            batches += 1;
            let sealed: Vec<SealedSecret> =
                rows.iter().map(sealed_of).collect::<SecretsResult<_>>()?;
            let vault = Arc::clone(&self.vault);
            let fresh = blocking(move || {
                sealed
                    .iter()
                    .map(|s| rewrap(&*vault, s))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
            for (row, new) in rows.iter().zip(fresh) {
                let changed = self
                    .store
                    .rewrap_secret_version(
                        row.account_id,
                        &row.name,
                        row.version,
                        row.key_version,
                        new.key_version,
                        &new.wrapped_dek,
                    )
                    .await?;
                // Not changed: the row went (deleted, pruned) meanwhile and needs nothing.
                if changed {
                    rewrapped += 1;
                }
            }
        }

        let leftover: u64 = self
            .store
            .secret_key_version_counts()
            .await?
            .iter()
            .filter(|(v, _)| *v != new_version)
            .map(|(_, n)| n)
            .sum();
        if leftover > 0 {
            return Err(SecretsError::Corrupt(format!(
                "{leftover} secret versions still under an old master key; not retiring"
            )));
        }
        let vault = Arc::clone(&self.vault);
        let retired = blocking(move || {
            let mut retired = Vec::new();
            for info in vault.master_key_versions()? {
                if info.version != new_version && info.state != nsl_enclave::MasterKeyState::Retired
                {
                    vault.retire_master_key(info.version)?;
                    retired.push(info.version);
                }
            }
            Ok(retired)
        })
        .await?;
        self.audit(
            &Actor {
                name: "system".to_owned(),
                ip: None,
            },
            "secret.rotate_master",
            "*",
            json!({
                "previous_version": previous_version,
                "new_version": new_version,
                "rewrapped": rewrapped,
                "retired": retired,
            }),
        )
        .await?;
        tracing::info!(
            previous_version,
            new_version,
            rewrapped,
            batches,
            ?retired,
            "secrets master key rotated"
        );
        Ok(RotationReport {
            previous_version,
            new_version,
            rewrapped,
            batches,
            retired,
        })
    }
}

/// Directory of the node's vault inside its data directory.
pub const VAULT_DIR: &str = "vault";

/// Open the node's software vault in `<data_dir>/vault`, with the key-encryption key from
/// `NSL_VAULT_KEK` / `NSL_VAULT_KEK_FILE`.
///
/// With neither set: if `dev_mode` (config `vault.dev_mode`, set by `nsl dev`), a development KEK
/// file is generated beside the state (the vault logs a loud `DEV-ONLY VAULT KEY` warning on
/// every start); otherwise the vault refuses to open (`KekMissing`) and nothing is written. Outside
/// dev mode a `NSL_VAULT_KEK_FILE` inside the vault directory is refused too: a key kept beside
/// the state it protects protects nothing. Blocking: call before starting the runtime or in
/// `spawn_blocking`.
pub fn open_node_vault(data_dir: &Path, dev_mode: bool) -> SecretsResult<SoftwareVault> {
    let config = node_vault_config(data_dir, dev_mode)?;
    Ok(SoftwareVault::open(config)?)
}

/// The vault configuration [`open_node_vault`] uses (also for reading sealed files without
/// opening, and so locking, the vault).
pub fn node_vault_config(data_dir: &Path, dev_mode: bool) -> SecretsResult<SoftwareVaultConfig> {
    let dir = data_dir.join(VAULT_DIR);
    let config = SoftwareVaultConfig::from_env(dir.clone(), dev_mode)?;
    if !dev_mode && let nsl_enclave::KekSource::File(path) = &config.kek {
        let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        if abs(path).starts_with(abs(&dir)) {
            return Err(SecretsError::Vault(nsl_enclave::VaultError::KekInvalid {
                origin: nsl_enclave::ENV_KEK_FILE.to_owned(),
                reason: "the key file lies inside the vault directory, beside the state it protects",
            }));
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        for ok in [
            "A",
            "_x",
            "DB_PASSWORD",
            "api.key-2",
            &"a".repeat(MAX_NAME_LEN),
        ] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "-x",
            ".x",
            "has space",
            "slash/y",
            "ümlaut",
            &"a".repeat(MAX_NAME_LEN + 1),
        ] {
            assert!(
                matches!(validate_name(bad), Err(SecretsError::InvalidName)),
                "{bad}"
            );
        }
    }
}
