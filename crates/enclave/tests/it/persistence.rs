use std::fs;

use nsl_enclave::{
    DEV_KEK_FILE, DataKey, KekSource, STATE_FILE, SoftwareVault, SoftwareVaultConfig, Vault,
    VaultError,
};
use tempfile::TempDir;

use crate::{KEK_HEX, OTHER_KEK_HEX, open_with};

#[test]
fn restart_keeps_signing_keys_master_keys_and_sealed_data() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("v");
    let (pk, wrapped_v1, wrapped_v2, sealed, dek) = {
        let vault = open_with(&path, KEK_HEX).unwrap();
        let pk = vault.generate_signing_key("node").unwrap();
        let dek = DataKey::generate().unwrap();
        let wrapped_v1 = vault.wrap_data_key(&dek).unwrap();
        vault.rotate_master_key().unwrap();
        let wrapped_v2 = vault.wrap_data_key(&dek).unwrap();
        let sealed = vault.seal("l", b"persisted").unwrap();
        (pk, wrapped_v1, wrapped_v2, sealed, dek)
    };
    let vault = open_with(&path, KEK_HEX).unwrap();
    assert_eq!(vault.public_key("node").unwrap(), pk);
    let sig = vault.sign_message("node", b"after restart").unwrap();
    assert!(pk.verify_message(b"after restart", &sig));
    assert_eq!(vault.current_master_key_version().unwrap(), 2);
    assert_eq!(wrapped_v1.key_version, 1);
    assert_eq!(wrapped_v2.key_version, 2);
    for wrapped in [&wrapped_v1, &wrapped_v2] {
        let unwrapped = vault.unwrap_data_key(wrapped).unwrap();
        assert_eq!(unwrapped.expose_secret(), dek.expose_secret());
    }
    assert_eq!(
        vault.unseal("l", &sealed).unwrap().expose_secret(),
        b"persisted"
    );
}

#[test]
fn wrong_kek_is_refused_clearly_and_leaves_the_state_intact() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("v");
    let pk = open_with(&path, KEK_HEX)
        .unwrap()
        .generate_signing_key("node")
        .unwrap();
    let before = fs::read(path.join(STATE_FILE)).unwrap();
    let err = open_with(&path, OTHER_KEK_HEX).unwrap_err();
    assert!(matches!(err, VaultError::WrongKek { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("key-encryption key does not match"), "{msg}");
    assert!(!msg.contains(OTHER_KEK_HEX) && !msg.contains(KEK_HEX));
    assert_eq!(fs::read(path.join(STATE_FILE)).unwrap(), before);
    // The right KEK still opens it.
    assert_eq!(
        open_with(&path, KEK_HEX)
            .unwrap()
            .public_key("node")
            .unwrap(),
        pk
    );
}

#[test]
fn tampered_state_file_is_reported_as_corrupted() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("v");
    drop(open_with(&path, KEK_HEX).unwrap());
    let state = path.join(STATE_FILE);
    let good = fs::read(&state).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x80;
    fs::write(&state, &bad).unwrap();
    assert!(matches!(
        open_with(&path, KEK_HEX),
        Err(VaultError::StateCorrupted { .. })
    ));
    fs::write(&state, &good[..10]).unwrap();
    assert!(matches!(
        open_with(&path, KEK_HEX),
        Err(VaultError::StateCorrupted { .. })
    ));
    fs::write(&state, b"something else entirely, not a vault").unwrap();
    assert!(matches!(
        open_with(&path, KEK_HEX),
        Err(VaultError::StateCorrupted { .. })
    ));
}

#[test]
fn one_instance_per_directory() {
    let dir = TempDir::new().unwrap();
    let first = open_with(dir.path(), KEK_HEX).unwrap();
    assert!(matches!(
        open_with(dir.path(), KEK_HEX),
        Err(VaultError::Locked { .. })
    ));
    drop(first);
    assert!(open_with(dir.path(), KEK_HEX).is_ok());
}

#[cfg(unix)]
#[test]
fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("v");
    let vault = SoftwareVault::open(SoftwareVaultConfig {
        data_dir: path.clone(),
        kek: KekSource::DevFile,
    })
    .unwrap();
    vault.generate_signing_key("node").unwrap();
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o700);
    assert_eq!(mode(&path.join(STATE_FILE)), 0o600);
    assert_eq!(mode(&path.join(DEV_KEK_FILE)), 0o600);
    // No temporary file left behind.
    let names: Vec<_> = fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn dev_kek_is_generated_reused_and_never_silently_replaced() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("v");
    let dev = || {
        SoftwareVault::open(SoftwareVaultConfig {
            data_dir: path.clone(),
            kek: KekSource::DevFile,
        })
    };
    let pk = dev().unwrap().generate_signing_key("node").unwrap();
    let kek_text = fs::read_to_string(path.join(DEV_KEK_FILE)).unwrap();
    assert_eq!(kek_text.trim().len(), 64);
    assert_eq!(dev().unwrap().public_key("node").unwrap(), pk);
    // The generated KEK works as an explicit KEK too.
    assert_eq!(
        open_with(&path, kek_text.trim())
            .unwrap()
            .public_key("node")
            .unwrap(),
        pk
    );
    fs::remove_file(path.join(DEV_KEK_FILE)).unwrap();
    let err = SoftwareVault::open(SoftwareVaultConfig {
        data_dir: path.clone(),
        kek: KekSource::DevFile,
    })
    .unwrap_err();
    assert!(matches!(err, VaultError::KekLost { .. }), "{err:?}");
    assert!(!path.join(DEV_KEK_FILE).exists());
}

#[test]
fn kek_from_file_hex_base64_or_raw() {
    use base64::Engine as _;
    let dir = TempDir::new().unwrap();
    let raw = hex::decode(KEK_HEX).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
    let contents: [Vec<u8>; 3] = [format!("{KEK_HEX}\n").into_bytes(), b64.into_bytes(), raw];
    let path = dir.path().join("v");
    let pk = open_with(&path, KEK_HEX)
        .unwrap()
        .generate_signing_key("k")
        .unwrap();
    for (i, content) in contents.iter().enumerate() {
        let kek_file = dir.path().join(format!("kek{i}"));
        fs::write(&kek_file, content).unwrap();
        let vault = SoftwareVault::open(SoftwareVaultConfig {
            data_dir: path.clone(),
            kek: KekSource::File(kek_file),
        })
        .unwrap();
        assert_eq!(vault.public_key("k").unwrap(), pk);
    }
    let bad = dir.path().join("bad");
    fs::write(&bad, "a 32-character passphrase here!!").unwrap();
    let err = SoftwareVault::open(SoftwareVaultConfig {
        data_dir: path.clone(),
        kek: KekSource::File(bad),
    })
    .unwrap_err();
    assert!(matches!(err, VaultError::KekInvalid { .. }), "{err:?}");
    assert!(!err.to_string().contains("passphrase"));
    let missing = SoftwareVault::open(SoftwareVaultConfig {
        data_dir: path,
        kek: KekSource::File(dir.path().join("nope")),
    })
    .unwrap_err();
    assert!(matches!(missing, VaultError::Io { .. }), "{missing:?}");
}

#[test]
fn concurrent_key_generation_loses_nothing() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("v");
    let vault = open_with(&path, KEK_HEX).unwrap();
    let keys: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let vault = &vault;
                s.spawn(move || {
                    (0..5)
                        .map(|i| {
                            let name = format!("k{t}-{i}");
                            let pk = vault.generate_signing_key(&name).unwrap();
                            (name, pk)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    drop(vault);
    let reopened = open_with(&path, KEK_HEX).unwrap();
    assert_eq!(reopened.signing_keys().unwrap().len(), 20);
    for (name, pk) in keys {
        assert_eq!(reopened.public_key(&name).unwrap(), pk);
    }
}
