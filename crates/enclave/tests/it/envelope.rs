use nsl_enclave::{
    MasterKeyState, SealedSecret, Vault, VaultError, open_secret, rewrap, seal_secret,
};

use crate::fresh;

#[test]
fn secrets_round_trip() {
    let (_dir, vault) = fresh();
    for plaintext in [&b""[..], b"api-key-123", &[0xAB; 10_000]] {
        let sealed = seal_secret(&vault, "acct-1", "OPENAI_KEY", 3, plaintext).unwrap();
        assert_eq!(sealed.key_version, 1);
        assert_eq!(sealed.wrapped_dek.len(), 60);
        assert_eq!(sealed.ciphertext.len(), plaintext.len() + 16);
        let opened = open_secret(&vault, "acct-1", "OPENAI_KEY", 3, &sealed).unwrap();
        assert_eq!(opened.expose_secret(), plaintext);
    }
}

#[test]
fn each_secret_gets_its_own_data_key() {
    let (_dir, vault) = fresh();
    let a = seal_secret(&vault, "acct", "n", 1, b"same").unwrap();
    let b = seal_secret(&vault, "acct", "n", 1, b"same").unwrap();
    assert_ne!(a.wrapped_dek, b.wrapped_dek);
    assert_ne!(a.ciphertext, b.ciphertext);
    // A data key from one secret does not open another.
    let swapped = SealedSecret {
        wrapped_dek: b.wrapped_dek.clone(),
        ..a.clone()
    };
    assert!(matches!(
        open_secret(&vault, "acct", "n", 1, &swapped),
        Err(VaultError::SecretOpenFailed)
    ));
}

#[test]
fn ciphertext_is_bound_to_account_name_and_version() {
    let (_dir, vault) = fresh();
    let sealed = seal_secret(&vault, "acct-1", "DB_PASSWORD", 7, b"hunter2").unwrap();
    for (account, name, version) in [
        ("acct-2", "DB_PASSWORD", 7),
        ("acct-1", "DB_PASSWORd", 7),
        ("acct-1", "DB_PASSWORD", 8),
        ("acct-1D", "B_PASSWORD", 7),
        ("", "", 0),
    ] {
        let err = open_secret(&vault, account, name, version, &sealed).unwrap_err();
        assert!(
            matches!(err, VaultError::SecretOpenFailed),
            "{account}/{name}/{version}: {err}"
        );
    }
    assert!(open_secret(&vault, "acct-1", "DB_PASSWORD", 7, &sealed).is_ok());
}

#[test]
fn tampering_anywhere_is_detected() {
    let (_dir, vault) = fresh();
    let sealed = seal_secret(&vault, "a", "n", 1, b"value").unwrap();
    for i in 0..sealed.ciphertext.len() {
        let mut bad = sealed.clone();
        bad.ciphertext[i] ^= 1;
        assert!(
            open_secret(&vault, "a", "n", 1, &bad).is_err(),
            "ciphertext byte {i}"
        );
    }
    for i in 0..sealed.wrapped_dek.len() {
        let mut bad = sealed.clone();
        bad.wrapped_dek[i] ^= 1;
        assert!(matches!(
            open_secret(&vault, "a", "n", 1, &bad),
            Err(VaultError::UnwrapFailed)
        ));
    }
    let mut bad = sealed.clone();
    bad.nonce[0] ^= 1;
    assert!(open_secret(&vault, "a", "n", 1, &bad).is_err());
    let mut bad = sealed.clone();
    bad.wrapped_dek.pop();
    assert!(matches!(
        open_secret(&vault, "a", "n", 1, &bad),
        Err(VaultError::MalformedSealed(_))
    ));
    let mut bad = sealed;
    bad.key_version = 9;
    assert!(matches!(
        open_secret(&vault, "a", "n", 1, &bad),
        Err(VaultError::MasterKeyUnknown(9))
    ));
}

#[test]
fn relabelled_key_version_fails_after_rotation() {
    let (_dir, vault) = fresh();
    let sealed = seal_secret(&vault, "a", "n", 1, b"value").unwrap();
    vault.rotate_master_key().unwrap();
    let mut bad = sealed.clone();
    bad.key_version = 2;
    assert!(matches!(
        open_secret(&vault, "a", "n", 1, &bad),
        Err(VaultError::UnwrapFailed)
    ));
}

#[test]
fn rotation_rewrap_and_retirement() {
    let (_dir, vault) = fresh();
    let secrets: Vec<(String, SealedSecret)> = (0..10)
        .map(|i| {
            let name = format!("S{i}");
            let sealed = seal_secret(&vault, "acct", &name, 1, name.as_bytes()).unwrap();
            (name, sealed)
        })
        .collect();
    let info = vault.rotate_master_key().unwrap();
    assert_eq!(info.version, 2);
    assert_eq!(info.state, MasterKeyState::Current);
    assert_eq!(vault.current_master_key_version().unwrap(), 2);

    // Old secrets still open before re-wrapping; new ones use version 2.
    for (name, sealed) in &secrets {
        assert_eq!(
            open_secret(&vault, "acct", name, 1, sealed)
                .unwrap()
                .expose_secret(),
            name.as_bytes()
        );
    }
    assert_eq!(
        seal_secret(&vault, "acct", "new", 1, b"x")
            .unwrap()
            .key_version,
        2
    );

    let rewrapped: Vec<(String, SealedSecret)> = secrets
        .iter()
        .map(|(name, sealed)| {
            let new = rewrap(&vault, sealed).unwrap();
            assert_eq!(new.key_version, 2);
            assert_eq!(new.ciphertext, sealed.ciphertext, "ciphertext untouched");
            assert_eq!(new.nonce, sealed.nonce);
            assert_ne!(new.wrapped_dek, sealed.wrapped_dek);
            (name.clone(), new)
        })
        .collect();
    // Re-wrapping something already current is a no-op.
    assert_eq!(rewrap(&vault, &rewrapped[0].1).unwrap(), rewrapped[0].1);

    assert!(matches!(
        vault.retire_master_key(2),
        Err(VaultError::CannotRetireCurrent(2))
    ));
    assert!(matches!(
        vault.retire_master_key(5),
        Err(VaultError::MasterKeyUnknown(5))
    ));
    let retired = vault.retire_master_key(1).unwrap();
    assert_eq!(retired.state, MasterKeyState::Retired);
    assert!(retired.retired_at.is_some());
    // Idempotent.
    assert_eq!(vault.retire_master_key(1).unwrap(), retired);

    let versions = vault.master_key_versions().unwrap();
    let states: Vec<_> = versions.iter().map(|v| (v.version, v.state)).collect();
    assert_eq!(
        states,
        [(1, MasterKeyState::Retired), (2, MasterKeyState::Current)]
    );

    for (name, sealed) in &rewrapped {
        assert_eq!(
            open_secret(&vault, "acct", name, 1, sealed)
                .unwrap()
                .expose_secret(),
            name.as_bytes()
        );
    }
    // What was not re-wrapped is gone with version 1.
    assert!(matches!(
        open_secret(&vault, "acct", &secrets[0].0, 1, &secrets[0].1),
        Err(VaultError::MasterKeyRetired(1))
    ));
    assert!(matches!(
        rewrap(&vault, &secrets[0].1),
        Err(VaultError::MasterKeyRetired(1))
    ));

    // A third rotation keeps version numbers increasing, never reusing 1.
    assert_eq!(vault.rotate_master_key().unwrap().version, 3);
    let states: Vec<_> = vault
        .master_key_versions()
        .unwrap()
        .iter()
        .map(|v| (v.version, v.state))
        .collect();
    assert_eq!(
        states,
        [
            (1, MasterKeyState::Retired),
            (2, MasterKeyState::DecryptOnly),
            (3, MasterKeyState::Current)
        ]
    );
}

#[test]
fn retirement_survives_restart() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("v");
    let (old, new) = {
        let vault = crate::open_with(&path, crate::KEK_HEX).unwrap();
        let old = seal_secret(&vault, "a", "n", 1, b"v").unwrap();
        vault.rotate_master_key().unwrap();
        let new = rewrap(&vault, &old).unwrap();
        vault.retire_master_key(1).unwrap();
        (old, new)
    };
    let vault = crate::open_with(&path, crate::KEK_HEX).unwrap();
    assert!(matches!(
        open_secret(&vault, "a", "n", 1, &old),
        Err(VaultError::MasterKeyRetired(1))
    ));
    assert_eq!(
        open_secret(&vault, "a", "n", 1, &new)
            .unwrap()
            .expose_secret(),
        b"v"
    );
}

#[test]
fn works_through_a_trait_object() {
    let (_dir, vault) = fresh();
    let vault: std::sync::Arc<dyn Vault> = std::sync::Arc::new(vault);
    let sealed = seal_secret(vault.as_ref(), "a", "n", 1, b"v").unwrap();
    assert_eq!(
        open_secret(&*vault, "a", "n", 1, &sealed)
            .unwrap()
            .expose_secret(),
        b"v"
    );
}
