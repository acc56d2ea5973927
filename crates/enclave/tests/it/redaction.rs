use nsl_enclave::{
    DataKey, KekSource, SecretBytes, SoftwareVaultConfig, Vault, WrappedKey, open_secret,
    seal_secret,
};

use crate::{KEK_HEX, fresh, kek};

/// Longest run of hex digits in `text`: key material printed as hex would
/// show up as a run of 64.
fn longest_hex_run(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

#[test]
fn vault_debug_shows_no_key_material() {
    let (_dir, vault) = fresh();
    vault.generate_signing_key("node").unwrap();
    vault.rotate_master_key().unwrap();
    let text = format!("{vault:?} {vault:#?}");
    assert!(text.contains("SoftwareVault"), "{text}");
    assert!(text.contains("Simulated"), "{text}");
    assert!(!text.contains(KEK_HEX));
    assert!(longest_hex_run(&text) < 32, "{text}");
    let as_dyn: &dyn Vault = &vault;
    assert_eq!(format!("{as_dyn:?}"), format!("{vault:?}"));
}

#[test]
fn key_and_secret_types_redact_debug() {
    let bytes = [0x5Au8; 32];
    let dek = DataKey::from_bytes(bytes);
    let secret = SecretBytes::from_vec(b"hunter2-very-secret".to_vec());
    let config = SoftwareVaultConfig {
        data_dir: "/tmp/x".into(),
        kek: KekSource::Key(kek(KEK_HEX)),
    };
    let text = format!("{dek:?} {secret:?} {config:?} {:?}", kek(KEK_HEX));
    assert!(!text.contains("5a5a") && !text.contains("5A5A"), "{text}");
    assert!(!text.contains("90, 90"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains(KEK_HEX), "{text}");
    assert!(text.contains("redacted"), "{text}");
    assert!(longest_hex_run(&text) < 32, "{text}");
}

#[test]
fn sealed_values_and_errors_do_not_leak_plaintext() {
    let (_dir, vault) = fresh();
    let sealed = seal_secret(&vault, "acct", "n", 1, b"hunter2-very-secret").unwrap();
    let wrapped = WrappedKey {
        key_version: sealed.key_version,
        ciphertext: sealed.wrapped_dek.clone(),
    };
    let opened = open_secret(&vault, "acct", "n", 1, &sealed).unwrap();
    let err = open_secret(&vault, "other", "n", 1, &sealed).unwrap_err();
    let text = format!("{sealed:?} {wrapped:?} {opened:?} {err} {err:?}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(longest_hex_run(&text) < 32, "{text}");
    assert_eq!(opened.expose_secret(), b"hunter2-very-secret");
}
