//! Integration tests for `nsl-enclave`: the software vault through the public
//! API only, on real temporary directories.

mod attestation;
mod concurrency;
mod envelope;
mod persistence;
mod redaction;
mod sealing;
mod signing;
mod vrf;

use nsl_enclave::{Kek, KekSource, SoftwareVault, SoftwareVaultConfig};
use tempfile::TempDir;

/// A fixed test KEK (hex), so tests can check it never shows up anywhere.
pub(crate) const KEK_HEX: &str = "5e1f0c2a9b8d7e6f5a4b3c2d1e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b";
pub(crate) const OTHER_KEK_HEX: &str =
    "a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0";

pub(crate) fn kek(hex: &str) -> Kek {
    Kek::parse(hex, "test").expect("test KEK parses")
}

pub(crate) fn open_with(
    dir: &std::path::Path,
    kek_hex: &str,
) -> nsl_enclave::Result<SoftwareVault> {
    SoftwareVault::open(SoftwareVaultConfig {
        data_dir: dir.to_path_buf(),
        kek: KekSource::Key(kek(kek_hex)),
    })
}

/// A fresh vault in its own temporary directory (removed on drop, also when
/// the test fails).
pub(crate) fn fresh() -> (TempDir, SoftwareVault) {
    let dir = TempDir::new().expect("temp dir");
    let vault = open_with(&dir.path().join("vault"), KEK_HEX).expect("open vault");
    (dir, vault)
}
