//! The [`Vault`] capability trait: the only way the rest of the node touches
//! key material.

use std::fmt;

use crate::error::{Result, VaultError};
use crate::types::{
    AttestationMode, AttestationReport, DataKey, MasterKeyInfo, PublicKey, ReportData, SecretBytes,
    Signature, SigningKeyInfo, VrfProof, WrappedKey, sha256,
};

/// The key boundary. Private keys and master keys are created inside an
/// implementation and never returned by any method; callers get public keys,
/// signatures, sealed blobs, wrapped data keys and attestation reports.
///
/// Object safe: services hold an `Arc<dyn Vault>`. Every method is
/// synchronous and may do CPU work (ECDSA) or file I/O (key generation,
/// rotation): call it from `spawn_blocking` or a worker thread, not directly
/// on an async runtime's core threads.
///
/// Implementations: [`crate::SoftwareVault`] (development and CI, mode
/// `simulated`). A Gramine-SGX vault is the planned second implementation
/// (see `docs/enclave.md`).
pub trait Vault: Send + Sync + fmt::Debug {
    /// What backs this vault; also the `mode` of its attestation reports.
    fn mode(&self) -> AttestationMode;

    // ---- signing keys -------------------------------------------------

    /// Create a new P-256 signing key named `name` (1-64 characters from
    /// `[A-Za-z0-9._-]`) and return its public key. Fails with
    /// [`VaultError::KeyExists`] rather than replacing an existing key.
    fn generate_signing_key(&self, name: &str) -> Result<PublicKey>;

    /// The public key of the signing key `name`.
    fn public_key(&self, name: &str) -> Result<PublicKey>;

    /// All signing keys, sorted by name.
    fn signing_keys(&self) -> Result<Vec<SigningKeyInfo>>;

    /// Sign a 32-byte SHA-256 digest with key `name`: deterministic ECDSA
    /// (RFC 6979), 64 bytes `r || s`. For a Neo transaction the digest is
    /// `SHA-256(network magic (u32 LE) || tx hash)`.
    fn sign_digest(&self, name: &str, digest: &[u8; 32]) -> Result<Signature>;

    /// Sign `SHA-256(message)` with key `name` (see [`Vault::sign_digest`]).
    fn sign_message(&self, name: &str, message: &[u8]) -> Result<Signature> {
        self.sign_digest(name, &sha256(message))
    }

    /// The public key of `name`, generating the key first if it does not
    /// exist yet (safe against a concurrent caller doing the same).
    fn ensure_signing_key(&self, name: &str) -> Result<PublicKey> {
        match self.public_key(name) {
            Err(VaultError::KeyNotFound(_)) => match self.generate_signing_key(name) {
                Err(VaultError::KeyExists(_)) => self.public_key(name),
                other => other,
            },
            other => other,
        }
    }

    // ---- verifiable randomness ------------------------------------------

    /// The compressed SEC1 public key (33 bytes) of the vault's VRF key
    /// (ECVRF-P256-SHA256-TAI, RFC 9381). The key is created, and persisted
    /// like the signing keys, on first use; it is never exported and never
    /// replaced.
    fn vrf_public_key(&self) -> Result<[u8; 33]>;

    /// The VRF output and proof for input `alpha` under the vault's VRF key
    /// (created on first use). Deterministic: the same `alpha` always gives
    /// the same output, so a caller cannot re-roll it.
    fn vrf_prove(&self, alpha: &[u8]) -> Result<VrfProof>;

    // ---- sealing ------------------------------------------------------

    /// Encrypt and authenticate `plaintext` to this vault, bound to `label`
    /// (authenticated, not secret): only [`Vault::unseal`] on the same vault
    /// with the same label opens it.
    fn seal(&self, label: &str, plaintext: &[u8]) -> Result<Vec<u8>>;

    /// Open a blob made by [`Vault::seal`]. Fails with
    /// [`VaultError::UnsealFailed`] for any altered byte, another label or
    /// another vault.
    fn unseal(&self, label: &str, sealed: &[u8]) -> Result<SecretBytes>;

    // ---- attestation --------------------------------------------------

    /// Produce a report binding `report_data` (usually
    /// [`ReportData::for_public_key`] of a key this vault generated).
    fn attest(&self, report_data: &ReportData) -> Result<AttestationReport>;

    // ---- envelope keys ------------------------------------------------

    /// Wrap a data key under the current master key version.
    fn wrap_data_key(&self, key: &DataKey) -> Result<WrappedKey>;

    /// Unwrap a data key under the master key version it names. Works for
    /// every version not yet retired.
    fn unwrap_data_key(&self, wrapped: &WrappedKey) -> Result<DataKey>;

    /// The master key version new data keys are wrapped under.
    fn current_master_key_version(&self) -> Result<u32>;

    /// Create a new master key version and make it current. Older versions
    /// stay available for unwrapping until retired.
    fn rotate_master_key(&self) -> Result<MasterKeyInfo>;

    /// Every master key version this vault has had, oldest first, including
    /// retired ones (without key material).
    fn master_key_versions(&self) -> Result<Vec<MasterKeyInfo>>;

    /// Destroy the key material of an old master key version. Re-wrap
    /// everything wrapped under it first (see [`crate::rewrap`]): afterwards
    /// it cannot be unwrapped. Retiring an already retired version is a
    /// no-op; the current version cannot be retired.
    fn retire_master_key(&self, version: u32) -> Result<MasterKeyInfo>;
}

/// Check a signing key name: 1-64 characters from `[A-Za-z0-9._-]`.
pub fn validate_key_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(VaultError::InvalidKeyName(name.chars().take(80).collect()))
    }
}
