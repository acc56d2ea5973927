//! The vault's VRF key: created on first use, persisted sealed, never
//! exported; its proofs verify with the published key.

use std::sync::Arc;

use nsl_enclave::{Vault, VaultError};
use tempfile::TempDir;

use crate::{KEK_HEX, OTHER_KEK_HEX, fresh, open_with};

fn verify(
    public: &[u8; 33],
    alpha: &[u8],
    proof: &[u8; 81],
) -> Result<[u8; 32], nsl_vrf::VrfError> {
    let pk = nsl_vrf::PublicKey::from_sec1(public)?;
    let proof = nsl_vrf::Proof::from_bytes(proof)?;
    nsl_vrf::verify(&pk, alpha, &proof)
}

#[test]
fn vrf_key_persists_across_reopen_and_proofs_are_deterministic() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("v");
    let (public, first) = {
        let vault = open_with(&path, KEK_HEX).unwrap();
        let public = vault.vrf_public_key().unwrap();
        assert_eq!(vault.vrf_public_key().unwrap(), public, "created once");
        (public, vault.vrf_prove(b"request 1").unwrap())
    };
    let vault = open_with(&path, KEK_HEX).unwrap();
    assert_eq!(
        vault.vrf_public_key().unwrap(),
        public,
        "same key after reopen"
    );
    let again = vault.vrf_prove(b"request 1").unwrap();
    assert_eq!(
        again, first,
        "same input, same output and proof: no re-roll"
    );
    assert_eq!(
        verify(&public, b"request 1", &again.proof).unwrap(),
        again.beta
    );
}

#[test]
fn proofs_verify_with_the_published_key_and_only_for_their_input() {
    let (_dir, vault) = fresh();
    // Proving first creates the key too.
    let proof = vault.vrf_prove(b"").unwrap();
    let public = vault.vrf_public_key().unwrap();
    assert_eq!(verify(&public, b"", &proof.proof).unwrap(), proof.beta);
    for i in 0..20u8 {
        let alpha = [i; 40];
        let p = vault.vrf_prove(&alpha).unwrap();
        assert_eq!(verify(&public, &alpha, &p.proof).unwrap(), p.beta);
        assert_ne!(p.beta, proof.beta);
        assert_eq!(
            verify(&public, &[i ^ 1; 40], &p.proof),
            Err(nsl_vrf::VrfError::InvalidProof)
        );
    }
    // Another vault has another key: its proofs do not verify under this one.
    let (_dir2, other) = fresh();
    let other_public = other.vrf_public_key().unwrap();
    assert_ne!(other_public, public);
    let p = other.vrf_prove(b"x").unwrap();
    assert_eq!(
        verify(&public, b"x", &p.proof),
        Err(nsl_vrf::VrfError::InvalidProof)
    );
}

#[test]
fn concurrent_first_use_creates_one_key() {
    let (_dir, vault) = fresh();
    let vault = Arc::new(vault);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let v = Arc::clone(&vault);
            std::thread::spawn(move || v.vrf_public_key().unwrap())
        })
        .collect();
    let keys: Vec<[u8; 33]> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
}

/// Longest run of hex digits: a 32-byte secret printed as hex is a run of 64.
fn longest_hex_run(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

#[test]
fn vrf_secret_never_appears_in_debug_or_errors() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("v");
    let vault = open_with(&path, KEK_HEX).unwrap();
    vault.vrf_public_key().unwrap();
    let proof = vault.vrf_prove(b"alpha").unwrap();
    let text = format!("{vault:?} {vault:#?}");
    assert!(text.contains("vrf_key: true"), "{text}");
    assert!(longest_hex_run(&text) < 32, "{text}");
    // The proof's Debug is exactly its public parts.
    assert_eq!(
        format!("{proof:?}"),
        format!(
            "VrfProof {{ beta: {:?}, proof: {:?} }}",
            hex::encode(proof.beta),
            hex::encode(proof.proof)
        )
    );
    drop(vault);
    // A wrong KEK is refused without printing state contents.
    let err = open_with(&path, OTHER_KEK_HEX).unwrap_err();
    assert!(matches!(err, VaultError::WrongKek { .. }), "{err:?}");
    let msg = format!("{err} {err:?}");
    assert!(longest_hex_run(&msg) < 32, "{msg}");
}
