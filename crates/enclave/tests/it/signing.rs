use nsl_enclave::{PublicKey, Signature, Vault, VaultError};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256};

use crate::fresh;

fn p256_sig(sig: &Signature) -> p256::ecdsa::Signature {
    p256::ecdsa::Signature::from_slice(sig.as_bytes()).expect("64-byte r||s")
}

#[test]
fn message_signature_verifies_with_the_p256_verifier() {
    let (_dir, vault) = fresh();
    let pk = vault.generate_signing_key("node").unwrap();
    let msg = b"neo service layer";
    let sig = vault.sign_message("node", msg).unwrap();
    assert_eq!(sig.as_bytes().len(), 64);
    let vk = pk.verifying_key();
    vk.verify(msg, &p256_sig(&sig))
        .expect("p256 verifies the signature");
    assert!(vk.verify(b"another message", &p256_sig(&sig)).is_err());
    assert!(pk.verify_message(msg, &sig));
    assert!(!pk.verify_message(b"another message", &sig));
}

#[test]
fn digest_signature_is_deterministic_and_verifies_as_prehash() {
    let (_dir, vault) = fresh();
    let pk = vault.generate_signing_key("oracle").unwrap();
    // Neo: sign SHA-256(network magic LE || tx hash).
    let mut data = 860_833_102u32.to_le_bytes().to_vec();
    data.extend_from_slice(&[0x42; 32]);
    let digest: [u8; 32] = Sha256::digest(&data).into();
    let a = vault.sign_digest("oracle", &digest).unwrap();
    let b = vault.sign_digest("oracle", &digest).unwrap();
    assert_eq!(a, b, "RFC 6979 signing is deterministic");
    pk.verifying_key()
        .verify_prehash(&digest, &p256_sig(&a))
        .expect("prehash verify");
    // sign_message(m) == sign_digest(sha256(m))
    assert_eq!(vault.sign_message("oracle", &data).unwrap(), a);
    let mut other = digest;
    other[0] ^= 1;
    assert!(!pk.verify_digest(&other, &a));
}

#[test]
fn keys_are_distinct_listed_and_never_overwritten() {
    let (_dir, vault) = fresh();
    let a = vault.generate_signing_key("b-key").unwrap();
    let b = vault.generate_signing_key("a.key_1").unwrap();
    assert_ne!(a, b);
    assert!(matches!(
        vault.generate_signing_key("b-key"),
        Err(VaultError::KeyExists(name)) if name == "b-key"
    ));
    assert_eq!(vault.public_key("b-key").unwrap(), a);
    let listed = vault.signing_keys().unwrap();
    let names: Vec<_> = listed.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["a.key_1", "b-key"]);
    assert_eq!(listed[1].public_key, a);
    // A signature by one key does not verify under the other.
    let sig = vault.sign_message("b-key", b"x").unwrap();
    assert!(a.verify_message(b"x", &sig));
    assert!(!b.verify_message(b"x", &sig));
}

#[test]
fn ensure_signing_key_creates_once() {
    let (_dir, vault) = fresh();
    let first = vault.ensure_signing_key("node").unwrap();
    let second = vault.ensure_signing_key("node").unwrap();
    assert_eq!(first, second);
    assert_eq!(vault.signing_keys().unwrap().len(), 1);
}

#[test]
fn bad_names_and_unknown_keys_are_clear_errors() {
    let (_dir, vault) = fresh();
    let long = "k".repeat(65);
    for bad in ["", "has space", "slash/name", "ü", long.as_str(), "../x"] {
        assert!(
            matches!(
                vault.generate_signing_key(bad),
                Err(VaultError::InvalidKeyName(_))
            ),
            "{bad:?} accepted"
        );
    }
    assert!(vault.generate_signing_key(&"k".repeat(64)).is_ok());
    assert!(matches!(
        vault.sign_message("missing", b"x"),
        Err(VaultError::KeyNotFound(_))
    ));
    assert!(matches!(
        vault.public_key("missing"),
        Err(VaultError::KeyNotFound(_))
    ));
}

#[test]
fn public_key_encodings_round_trip() {
    let (_dir, vault) = fresh();
    let pk = vault.generate_signing_key("node").unwrap();
    let compressed = pk.to_compressed();
    assert!(matches!(compressed[0], 2 | 3));
    assert_eq!(PublicKey::from_sec1_bytes(&compressed).unwrap(), pk);
    assert_eq!(PublicKey::from_hex(&pk.to_hex()).unwrap(), pk);
    let json = serde_json::to_string(&pk).unwrap();
    assert_eq!(json, format!("\"{}\"", pk.to_hex()));
    assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), pk);
    assert!(PublicKey::from_sec1_bytes(&[9; 33]).is_err());
    assert!(Signature::from_slice(&[0; 63]).is_err());
}

#[test]
fn concurrent_ensure_signing_key_agrees_on_one_key() {
    let (_dir, vault) = fresh();
    let keys: Vec<PublicKey> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| vault.ensure_signing_key("node").unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(keys.iter().all(|k| *k == keys[0]));
    assert_eq!(vault.signing_keys().unwrap().len(), 1);
}
