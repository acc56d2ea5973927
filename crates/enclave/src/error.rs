//! The crate's one error type.
//!
//! No variant ever carries key material, plaintext or a KEK value: the
//! messages name what failed and what to do about it, nothing more.

use std::path::PathBuf;

/// Everything that can go wrong at the key boundary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// A signing key name is empty, too long or uses characters outside
    /// `[A-Za-z0-9._-]`.
    #[error("invalid key name {0:?}: use 1-64 characters from [A-Za-z0-9._-]")]
    InvalidKeyName(String),

    /// A signing key with this name already exists; keys are never
    /// overwritten.
    #[error("signing key {0:?} already exists")]
    KeyExists(String),

    /// No signing key with this name.
    #[error("signing key {0:?} not found")]
    KeyNotFound(String),

    /// A sealed blob failed authentication: it was tampered with, truncated,
    /// sealed under another label, or sealed by another vault.
    #[error(
        "sealed data failed authentication (tampered, truncated, wrong label or sealed by another vault)"
    )]
    UnsealFailed,

    /// A sealed or wrapped blob is not in a format this vault understands.
    #[error("malformed sealed data: {0}")]
    MalformedSealed(&'static str),

    /// A wrapped data key failed authentication: it was altered, its version
    /// field was changed, or it was wrapped by another vault.
    #[error("wrapped data key failed authentication (altered or wrapped by another vault)")]
    UnwrapFailed,

    /// Bytes given as a public key are not a valid SEC1-encoded P-256 point.
    #[error("invalid P-256 public key: {0}")]
    InvalidPublicKey(&'static str),

    /// Bytes given as a signature are not a 64-byte `r || s` P-256 signature.
    #[error("invalid P-256 signature: {0}")]
    InvalidSignature(&'static str),

    /// A wrapped data key names a master key version this vault never had.
    #[error("master key version {0} is unknown to this vault")]
    MasterKeyUnknown(u32),

    /// A wrapped data key names a master key version that has been retired
    /// (its key material was destroyed).
    #[error("master key version {0} is retired; data wrapped under it can no longer be opened")]
    MasterKeyRetired(u32),

    /// The current master key version cannot be retired; rotate first.
    #[error("master key version {0} is the current version and cannot be retired; rotate first")]
    CannotRetireCurrent(u32),

    /// Unwrapping the data key or decrypting a secret failed: the ciphertext
    /// was altered, or it is being opened under another account, name or
    /// version than it was sealed for.
    #[error("secret could not be opened (altered, or sealed for another account, name or version)")]
    SecretOpenFailed,

    /// The configured key-encryption key is not the one the vault state was
    /// sealed with.
    #[error(
        "the key-encryption key does not match the one {path} was sealed with (check NSL_VAULT_KEK / NSL_VAULT_KEK_FILE)"
    )]
    WrongKek {
        /// The vault state file.
        path: PathBuf,
    },

    /// The vault state file carries the right KEK fingerprint but does not
    /// decrypt or parse: it was altered or damaged on disk.
    #[error("vault state file {path} is corrupted or was tampered with: {reason}")]
    StateCorrupted {
        /// The vault state file.
        path: PathBuf,
        /// What was wrong (never contains key material).
        reason: &'static str,
    },

    /// No key-encryption key was configured and dev mode is off.
    #[error(
        "no key-encryption key configured: set NSL_VAULT_KEK (32 bytes, hex or base64) or NSL_VAULT_KEK_FILE (a file outside the vault directory), or for development only set `vault.dev_mode = true` (NSL_VAULT__DEV_MODE=true; `nsl dev` does)"
    )]
    KekMissing,

    /// A vault state exists but the dev KEK file beside it is missing, so a
    /// fresh KEK would not open it.
    #[error(
        "vault state {path} exists but no KEK is configured and the dev KEK file is missing; refusing to create a new KEK that could not open it"
    )]
    KekLost {
        /// The vault state file.
        path: PathBuf,
    },

    /// The configured key-encryption key is malformed. The message never
    /// repeats the value.
    #[error("invalid key-encryption key from {origin}: {reason}")]
    KekInvalid {
        /// Where the value came from (an environment variable or file path).
        origin: String,
        /// What was wrong with it.
        reason: &'static str,
    },

    /// Another vault instance (this or another process) holds the data
    /// directory.
    #[error("vault data directory {path} is in use by another vault instance")]
    Locked {
        /// The data directory.
        path: PathBuf,
    },

    /// A file system operation failed.
    #[error("vault i/o on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A cryptographic primitive failed where it should not (for example the
    /// system random source); the message names the operation.
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),

    /// An attestation report did not verify.
    #[error("attestation report does not verify: {0}")]
    AttestationInvalid(&'static str),
}

impl VaultError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = VaultError> = std::result::Result<T, E>;
