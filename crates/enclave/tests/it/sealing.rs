use nsl_enclave::{Vault, VaultError};

use crate::{OTHER_KEK_HEX, fresh, open_with};

#[test]
fn seal_round_trips_including_empty_input() {
    let (_dir, vault) = fresh();
    for plaintext in [&b""[..], b"x", &[7u8; 4096]] {
        let sealed = vault.seal("config/db-password", plaintext).unwrap();
        assert_ne!(&sealed[..], plaintext);
        let opened = vault.unseal("config/db-password", &sealed).unwrap();
        assert_eq!(opened.expose_secret(), plaintext);
    }
    // Fresh nonce per seal: the same input seals differently.
    assert_ne!(
        vault.seal("l", b"same").unwrap(),
        vault.seal("l", b"same").unwrap()
    );
}

#[test]
fn every_flipped_byte_is_detected() {
    let (_dir, vault) = fresh();
    let sealed = vault.seal("label", b"the plaintext").unwrap();
    for i in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x01;
        let err = vault.unseal("label", &bad).unwrap_err();
        assert!(
            matches!(
                err,
                VaultError::UnsealFailed | VaultError::MalformedSealed(_)
            ),
            "byte {i}: {err}"
        );
    }
}

#[test]
fn wrong_label_truncation_and_garbage_fail() {
    let (_dir, vault) = fresh();
    let sealed = vault.seal("label-a", b"data").unwrap();
    assert!(matches!(
        vault.unseal("label-b", &sealed),
        Err(VaultError::UnsealFailed)
    ));
    assert!(matches!(
        vault.unseal("", &sealed),
        Err(VaultError::UnsealFailed)
    ));
    for len in 0..sealed.len() {
        assert!(
            vault.unseal("label-a", &sealed[..len]).is_err(),
            "length {len}"
        );
    }
    assert!(matches!(
        vault.unseal("label-a", b"not sealed at all, just bytes"),
        Err(VaultError::MalformedSealed(_))
    ));
}

#[test]
fn another_vault_cannot_unseal() {
    let (_dir, vault) = fresh();
    let (_dir2, other_same_kek) = fresh();
    let other_dir = tempfile::TempDir::new().unwrap();
    let other_kek = open_with(other_dir.path(), OTHER_KEK_HEX).unwrap();
    let sealed = vault.seal("l", b"data").unwrap();
    assert!(matches!(
        other_kek.unseal("l", &sealed),
        Err(VaultError::UnsealFailed)
    ));
    // Same KEK, different directory: sealing is bound to the KEK (the
    // platform sealing key), so this one opens. Documented behaviour.
    assert_eq!(
        other_same_kek.unseal("l", &sealed).unwrap().expose_secret(),
        b"data"
    );
}
