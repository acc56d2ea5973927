//! Envelope encryption for the secrets service, as pure functions over any
//! [`Vault`].
//!
//! ```text
//! seal_secret:  DEK = 32 random bytes (fresh per secret version)
//!               ciphertext = AES-256-GCM(DEK, nonce, plaintext, AAD)
//!               wrapped_dek = vault.wrap_data_key(DEK)   (current master version)
//! open_secret:  DEK = vault.unwrap_data_key(wrapped_dek) -> decrypt with the same AAD
//! rewrap:       DEK = unwrap (old version) -> wrap (current version); ciphertext untouched
//!
//! AAD = "nsl-enclave/v1/secret" | len(account) u32 | account | len(name) u32 | name | version u64
//! ```
//!
//! The AAD binds a ciphertext to its account, name and version: a row copied
//! to another account, renamed or renumbered does not open.

use std::fmt;

use crate::crypto::{Key32, NONCE_LEN, Writer};
use crate::error::{Result, VaultError};
use crate::types::{DataKey, SecretBytes, WrappedKey};
use crate::vault::Vault;

const SECRET_AAD: &[u8] = b"nsl-enclave/v1/secret";

/// One secret version at rest: what the secrets service stores.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    /// Master key version that wrapped `wrapped_dek` (index it to find rows
    /// that still need [`rewrap`] after a rotation).
    pub key_version: u32,
    /// The data key wrapped by the vault (60 bytes).
    pub wrapped_dek: Vec<u8>,
    /// AES-GCM nonce of `ciphertext`.
    pub nonce: [u8; NONCE_LEN],
    /// `AES-256-GCM(DEK, plaintext) || tag`.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_version", &self.key_version)
            .field("wrapped_dek_len", &self.wrapped_dek.len())
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

impl SealedSecret {
    fn wrapped(&self) -> WrappedKey {
        WrappedKey {
            key_version: self.key_version,
            ciphertext: self.wrapped_dek.clone(),
        }
    }
}

fn secret_aad(account_id: &str, name: &str, version: u64) -> Vec<u8> {
    let mut w = Writer::with_capacity(SECRET_AAD.len() + 16 + account_id.len() + name.len());
    w.bytes(SECRET_AAD);
    w.u32(u32::try_from(account_id.len()).unwrap_or(u32::MAX));
    w.bytes(account_id.as_bytes());
    w.u32(u32::try_from(name.len()).unwrap_or(u32::MAX));
    w.bytes(name.as_bytes());
    w.u64(version);
    w.finish().to_vec()
}

/// Encrypt one secret version under a fresh data key wrapped by `vault`'s
/// current master key.
pub fn seal_secret<V: Vault + ?Sized>(
    vault: &V,
    account_id: &str,
    name: &str,
    version: u64,
    plaintext: &[u8],
) -> Result<SealedSecret> {
    let dek = DataKey::generate()?;
    let key = Key32::from_bytes(*dek.expose_secret());
    let (nonce, ciphertext) = key.encrypt(&secret_aad(account_id, name, version), plaintext)?;
    let wrapped = vault.wrap_data_key(&dek)?;
    Ok(SealedSecret {
        key_version: wrapped.key_version,
        wrapped_dek: wrapped.ciphertext,
        nonce,
        ciphertext,
    })
}

/// Decrypt a secret version sealed by [`seal_secret`] for exactly this
/// account, name and version.
///
/// Errors: [`VaultError::SecretOpenFailed`] if the ciphertext was altered or
/// belongs to another account/name/version; the vault's unwrap errors
/// ([`VaultError::MasterKeyRetired`], [`VaultError::UnwrapFailed`], ...) if
/// the data key cannot be unwrapped.
pub fn open_secret<V: Vault + ?Sized>(
    vault: &V,
    account_id: &str,
    name: &str,
    version: u64,
    sealed: &SealedSecret,
) -> Result<SecretBytes> {
    let dek = vault.unwrap_data_key(&sealed.wrapped())?;
    let key = Key32::from_bytes(*dek.expose_secret());
    key.decrypt(
        &sealed.nonce,
        &secret_aad(account_id, name, version),
        &sealed.ciphertext,
    )?
    .map(SecretBytes::new)
    .ok_or(VaultError::SecretOpenFailed)
}

/// Re-wrap the data key of `sealed` under the vault's current master key
/// version, leaving nonce and ciphertext untouched. Returns an unchanged copy
/// when it is already under the current version.
pub fn rewrap<V: Vault + ?Sized>(vault: &V, sealed: &SealedSecret) -> Result<SealedSecret> {
    if sealed.key_version == vault.current_master_key_version()? {
        return Ok(sealed.clone());
    }
    let dek = vault.unwrap_data_key(&sealed.wrapped())?;
    let wrapped = vault.wrap_data_key(&dek)?;
    Ok(SealedSecret {
        key_version: wrapped.key_version,
        wrapped_dek: wrapped.ciphertext,
        nonce: sealed.nonce,
        ciphertext: sealed.ciphertext.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aad_is_unambiguous() {
        // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
        assert_ne!(secret_aad("ab", "c", 1), secret_aad("a", "bc", 1));
        assert_ne!(secret_aad("a", "b", 1), secret_aad("a", "b", 2));
    }
}
