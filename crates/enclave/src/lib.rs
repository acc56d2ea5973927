//! The key boundary of the Neo Service Layer: generate, sign, seal, unseal,
//! attest and wrap data keys behind one object-safe trait, [`Vault`].
//!
//! # What lives here
//!
//! - [`Vault`]: the capability trait every service uses (`Arc<dyn Vault>`).
//!   Named P-256 signing keys (deterministic RFC 6979 ECDSA, 64-byte
//!   `r || s`, the form Neo N3 uses), sealing of arbitrary bytes to a label,
//!   attestation reports binding 64 bytes of report data, envelope-key
//!   operations with a versioned, rotatable master key, and a VRF key
//!   (ECVRF-P256-SHA256-TAI, `nsl-vrf`) that proves randomness.
//! - [`SoftwareVault`]: the development/CI implementation. Attestation mode
//!   `simulated`. Its state is sealed to `<data_dir>/vault.state` under a
//!   key-encryption key from `NSL_VAULT_KEK` / `NSL_VAULT_KEK_FILE` (or, in
//!   dev mode only, a generated `vault.kek` beside it).
//! - [`seal_secret`] / [`open_secret`] / [`rewrap`]: envelope encryption for
//!   the secrets service, pure functions over any [`Vault`].
//!
//! # Flow
//!
//! ```text
//!  KEK (env/file)  ──HKDF──► state key ──AES-GCM──► vault.state
//!  (SGX: sealing key)  ├───► seal key  ──AES-GCM──► Vault::seal blobs (label = AAD)
//!                      └───► root check (8 bytes, tells "wrong KEK" from "tampered")
//!
//!  vault.state holds: master keys v1..vN ──HKDF──► wrap keys ──► WrappedKey { version, 60 bytes }
//!                     signing keys (named) ──► sign_digest / sign_message
//!                     attestation key      ──► AttestationReport (simulated)
//!                     VRF key (on first use) ──► VrfProof { beta, proof } (RFC 9381)
//!
//!  seal_secret: fresh DEK ─AES-GCM(AAD = account|name|version)─► ciphertext
//!               DEK ─wrap_data_key (current version)─► wrapped_dek
//! ```
//!
//! # Invariants
//!
//! - No method returns a private key or master key; `Debug` of every type
//!   that holds one prints `<redacted>`; key material is zeroized on drop.
//! - Signing keys are never overwritten; master key versions are never
//!   reused; the current version cannot be retired.
//! - Every state change is written to disk (atomic rename, mode 0600) before
//!   it becomes visible to other callers; a failed write changes nothing.
//! - One vault instance per data directory (an exclusive file lock).
//! - A wrong KEK is refused with [`VaultError::WrongKek`], never decrypted to
//!   garbage.
//!
//! # Honesty
//!
//! The software vault protects keys at rest and from accidental exposure;
//! it does not protect them from root on the host. Its reports say
//! `simulated`. The hardware-backed vault (Gramine-SGX) is a documented
//! follow-up: see `docs/enclave.md`.

mod crypto;
mod envelope;
mod error;
mod kek;
mod software;
mod store;
mod types;
mod vault;

pub use envelope::{SealedSecret, open_secret, rewrap, seal_secret};
pub use error::{Result, VaultError};
pub use kek::{ENV_KEK, ENV_KEK_FILE, Kek, KekSource};
pub use software::{DEV_KEK_FILE, RootSealer, SoftwareVault, SoftwareVaultConfig};
pub use store::{LOCK_FILE, STATE_FILE};
pub use types::{
    AttestationMode, AttestationReport, DataKey, Evidence, MasterKeyInfo, MasterKeyState,
    PublicKey, ReportData, SecretBytes, Signature, SigningKeyInfo, VrfProof, WrappedKey,
};
pub use vault::{Vault, validate_key_name};
