//! Secrets service: per-account versioned secrets, envelope-encrypted under the vault's master key.
