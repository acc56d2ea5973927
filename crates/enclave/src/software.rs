//! [`SoftwareVault`]: the development and CI vault. Same behaviour as the
//! SGX vault to come, none of its protection.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::crypto::Key32;
use crate::error::{Result, VaultError};
use crate::kek::{Kek, KekSource};
use crate::store::{
    KeyStore, STATE_FILE, check_root, create_private_dir, now_unix, seal_key_for, seal_with,
    unseal_with, write_atomic,
};
use crate::types::{
    AttestationMode, AttestationReport, DataKey, Evidence, MasterKeyInfo, PublicKey, ReportData,
    SecretBytes, Signature, SigningKeyInfo, VrfProof, WrappedKey, report_signed_bytes, sha256,
};
use crate::vault::Vault;

/// File name of the generated development KEK inside the data directory.
pub const DEV_KEK_FILE: &str = "vault.kek";

/// Configuration of a [`SoftwareVault`].
#[derive(Clone, Debug)]
pub struct SoftwareVaultConfig {
    /// Directory holding `vault.state`, `vault.lock` and (dev only)
    /// `vault.kek`. Created with mode 0700 if missing.
    pub data_dir: PathBuf,
    /// Where the key-encryption key comes from.
    pub kek: KekSource,
}

impl SoftwareVaultConfig {
    /// A config reading the KEK from the environment (see
    /// [`KekSource::from_env`]).
    pub fn from_env(data_dir: impl Into<PathBuf>, dev_mode: bool) -> Result<Self> {
        Ok(Self {
            data_dir: data_dir.into(),
            kek: KekSource::from_env(dev_mode)?,
        })
    }
}

/// A vault in ordinary process memory whose state is sealed to a file under
/// a key-encryption key. Attestation mode `simulated`.
///
/// It keeps private keys out of the API, logs and `Debug`, and encrypted at
/// rest; it does **not** protect them from anyone who can read this
/// process's memory or the KEK (root on the host, a debugger, a core dump).
pub struct SoftwareVault {
    store: KeyStore,
    kek_origin: String,
}

impl SoftwareVault {
    /// Open the vault in `config.data_dir`, creating its state (master key
    /// version 1 and an attestation key) on first start.
    ///
    /// Errors: [`VaultError::WrongKek`] if the state was sealed under another
    /// KEK, [`VaultError::StateCorrupted`] if the file was altered,
    /// [`VaultError::Locked`] if another instance has the directory open,
    /// [`VaultError::KekLost`] if a dev vault's KEK file disappeared.
    pub fn open(config: SoftwareVaultConfig) -> Result<Self> {
        let dir = config.data_dir;
        let (kek, kek_origin) = match config.kek {
            KekSource::Key(kek) => (kek, "configured value".to_owned()),
            KekSource::File(path) => (Kek::from_file(&path)?, format!("file {}", path.display())),
            KekSource::DevFile => (dev_kek(&dir)?, "dev file (INSECURE)".to_owned()),
        };
        let (store, created) = KeyStore::open(&dir, kek.key().as_bytes())?;
        if created {
            tracing::info!(dir = %dir.display(), "created a new software vault (master key version 1)");
        }
        Ok(Self { store, kek_origin })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.store.dir()
    }
}

/// [`Vault::seal`] / [`Vault::unseal`] of a software vault from its KEK alone: no vault state is
/// read and no lock is taken, so an operator command can open (and create) sealed files of the
/// node's vault while the node holds the vault. Blobs are interchangeable with the vault's own.
pub struct RootSealer {
    seal_key: Key32,
}

impl RootSealer {
    /// Resolve the KEK of `config` as [`SoftwareVault::open`] does (a dev KEK file is created on
    /// the same terms) and, if the vault state exists, check that it was sealed under this KEK
    /// ([`VaultError::WrongKek`] otherwise).
    pub fn open(config: &SoftwareVaultConfig) -> Result<Self> {
        let kek = match &config.kek {
            KekSource::Key(kek) => kek.clone(),
            KekSource::File(path) => Kek::from_file(path)?,
            KekSource::DevFile => dev_kek(&config.data_dir)?,
        };
        let root = kek.key().as_bytes();
        check_root(&config.data_dir, root)?;
        Ok(Self {
            seal_key: seal_key_for(root)?,
        })
    }

    /// Like [`Vault::seal`].
    pub fn seal(&self, label: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        seal_with(&self.seal_key, label, plaintext)
    }

    /// Like [`Vault::unseal`].
    pub fn unseal(&self, label: &str, sealed: &[u8]) -> Result<SecretBytes> {
        unseal_with(&self.seal_key, label, sealed)
    }
}

impl fmt::Debug for RootSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootSealer(<redacted>)")
    }
}

/// Load or create `vault.kek` in `dir`, warning loudly either way.
fn dev_kek(dir: &Path) -> Result<Kek> {
    let path = dir.join(DEV_KEK_FILE);
    if path.exists() {
        warn_dev(&path, false);
        return Kek::from_file(&path);
    }
    if dir.join(STATE_FILE).exists() {
        return Err(VaultError::KekLost {
            path: dir.join(STATE_FILE),
        });
    }
    create_private_dir(dir)?;
    let kek = Kek::generate()?;
    write_atomic(&path, &kek.to_hex_line())?;
    warn_dev(&path, true);
    Ok(kek)
}

fn warn_dev(path: &Path, generated: bool) {
    tracing::warn!(
        kek_file = %path.display(),
        generated,
        "DEV-ONLY VAULT KEY: the software vault's key-encryption key is a plain file next to \
         the state it protects. Anyone who can read this directory can read every key and secret. \
         Never use this outside development; set NSL_VAULT_KEK or NSL_VAULT_KEK_FILE in production."
    );
}

impl fmt::Debug for SoftwareVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareVault")
            .field("mode", &AttestationMode::Simulated)
            .field("data_dir", &self.store.dir())
            .field("kek", &self.kek_origin)
            .field(
                "current_master_key_version",
                &self.store.current_master_key_version(),
            )
            .field("signing_keys", &self.store.signing_key_count())
            .field("vrf_key", &self.store.has_vrf_key())
            .finish_non_exhaustive()
    }
}

impl Vault for SoftwareVault {
    fn mode(&self) -> AttestationMode {
        AttestationMode::Simulated
    }

    fn generate_signing_key(&self, name: &str) -> Result<PublicKey> {
        self.store.generate_signing_key(name)
    }

    fn public_key(&self, name: &str) -> Result<PublicKey> {
        self.store.public_key(name)
    }

    fn signing_keys(&self) -> Result<Vec<SigningKeyInfo>> {
        Ok(self.store.signing_keys())
    }

    fn sign_digest(&self, name: &str, digest: &[u8; 32]) -> Result<Signature> {
        self.store.sign_digest(name, digest)
    }

    fn vrf_public_key(&self) -> Result<[u8; 33]> {
        self.store.vrf_public_key()
    }

    fn vrf_prove(&self, alpha: &[u8]) -> Result<VrfProof> {
        self.store.vrf_prove(alpha)
    }

    fn seal(&self, label: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        self.store.seal(label, plaintext)
    }

    fn unseal(&self, label: &str, sealed: &[u8]) -> Result<SecretBytes> {
        self.store.unseal(label, sealed)
    }

    fn attest(&self, report_data: &ReportData) -> Result<AttestationReport> {
        let mode = AttestationMode::Simulated;
        let vault_id = self.store.vault_id_hex();
        let issued_at = now_unix();
        let payload = report_signed_bytes(mode, &vault_id, issued_at, report_data);
        let (signer, signature) = self.store.attestation_sign(&sha256(&payload))?;
        Ok(AttestationReport {
            mode,
            report_data: *report_data,
            vault_id,
            issued_at,
            evidence: Evidence::Simulated { signer, signature },
        })
    }

    fn wrap_data_key(&self, key: &DataKey) -> Result<WrappedKey> {
        self.store.wrap_data_key(key)
    }

    fn unwrap_data_key(&self, wrapped: &WrappedKey) -> Result<DataKey> {
        self.store.unwrap_data_key(wrapped)
    }

    fn current_master_key_version(&self) -> Result<u32> {
        Ok(self.store.current_master_key_version())
    }

    fn rotate_master_key(&self) -> Result<MasterKeyInfo> {
        let info = self.store.rotate_master_key()?;
        tracing::info!(version = info.version, "rotated vault master key");
        Ok(info)
    }

    fn master_key_versions(&self) -> Result<Vec<MasterKeyInfo>> {
        Ok(self.store.master_key_versions())
    }

    fn retire_master_key(&self, version: u32) -> Result<MasterKeyInfo> {
        let info = self.store.retire_master_key(version)?;
        tracing::info!(version, "retired vault master key version");
        Ok(info)
    }
}
