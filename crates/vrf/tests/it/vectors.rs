//! Every ECVRF-P256-SHA256-TAI test vector of RFC 9381 appendix B.1
//! (examples 10, 11 and 12) through the public API: the public key from the
//! secret key, the proof `pi` from `prove`, `beta` from `proof_to_hash` and
//! from `verify`. (`H`, `k`, `U`, `V` are checked in the crate's unit tests.)

use nsl_vrf::{Proof, PublicKey, SecretKey, VrfError, proof_to_hash, prove, verify};

pub(crate) struct Vector {
    pub(crate) name: &'static str,
    pub(crate) sk: &'static str,
    pub(crate) pk: &'static str,
    pub(crate) alpha: &'static str,
    pub(crate) pi: &'static str,
    pub(crate) beta: &'static str,
}

pub(crate) const VECTORS: [Vector; 3] = [
    Vector {
        name: "example 10 (alpha = \"sample\")",
        sk: "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
        pk: "0360fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6",
        alpha: "73616d706c65",
        pi: "035b5c726e8c0e2c488a107c600578ee75cb702343c153cb1eb8dec77f4b5071b4a53f0a46f018bc2c56e58d383f2305e0975972c26feea0eb122fe7893c15af376b33edf7de17c6ea056d4d82de6bc02f",
        beta: "a3ad7b0ef73d8fc6655053ea22f9bede8c743f08bbed3d38821f0e16474b505e",
    },
    Vector {
        name: "example 11 (alpha = \"test\")",
        sk: "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
        pk: "0360fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6",
        alpha: "74657374",
        pi: "034dac60aba508ba0c01aa9be80377ebd7562c4a52d74722e0abae7dc3080ddb56c19e067b15a8a8174905b13617804534214f935b94c2287f797e393eb0816969d864f37625b443f30f1a5a33f2b3c854",
        beta: "a284f94ceec2ff4b3794629da7cbafa49121972671b466cab4ce170aa365f26d",
    },
    Vector {
        name: "example 12 (ANSI X9.62 key)",
        sk: "2ca1411a41b17b24cc8c3b089cfd033f1920202a6c0de8abb97df1498d50d2c8",
        pk: "03596375e6ce57e0f20294fc46bdfcfd19a39f8161b58695b3ec5b3d16427c274d",
        alpha: "4578616d706c65207573696e67204543445341206b65792066726f6d20417070656e646978204c2e342e32206f6620414e53492e58392d36322d32303035",
        pi: "03d03398bf53aa23831d7d1b2937e005fb0062cbefa06796579f2a1fc7e7b8c667d091c00b0f5c3619d10ecea44363b5a599cadc5b2957e223fec62e81f7b4825fc799a771a3d7334b9186bdbee87316b1",
        beta: "90871e06da5caa39a3c61578ebb844de8635e27ac0b13e829997d0d95dd98c19",
    },
];

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[test]
fn rfc9381_b1_prove_reproduces_pi_and_beta() {
    for v in &VECTORS {
        let sk = SecretKey::from_bytes(&unhex(v.sk).try_into().unwrap()).unwrap();
        assert_eq!(
            hex::encode(sk.public_key().to_compressed()),
            v.pk,
            "{}",
            v.name
        );
        let proof = prove(&sk, &unhex(v.alpha));
        assert_eq!(hex::encode(proof.to_bytes()), v.pi, "{}", v.name);
        assert_eq!(
            hex::encode(proof_to_hash(&proof).unwrap()),
            v.beta,
            "{}",
            v.name
        );
    }
}

#[test]
fn rfc9381_b1_verify_accepts_published_proofs() {
    for v in &VECTORS {
        let pk = PublicKey::from_sec1(&unhex(v.pk)).unwrap();
        let proof = Proof::from_bytes(&unhex(v.pi)).unwrap();
        let beta = verify(&pk, &unhex(v.alpha), &proof).unwrap();
        assert_eq!(hex::encode(beta), v.beta, "{}", v.name);
    }
}

/// The published proofs do not verify for another example's input or key.
#[test]
fn rfc9381_b1_proofs_do_not_cross_verify() {
    for (i, a) in VECTORS.iter().enumerate() {
        for (j, b) in VECTORS.iter().enumerate() {
            if i == j {
                continue;
            }
            let pk = PublicKey::from_sec1(&unhex(b.pk)).unwrap();
            let proof = Proof::from_bytes(&unhex(a.pi)).unwrap();
            assert_eq!(
                verify(&pk, &unhex(b.alpha), &proof),
                Err(VrfError::InvalidProof),
                "proof of {} against input of {}",
                a.name,
                b.name
            );
        }
    }
}

/// An uncompressed public key is the same key: the VRF hashes the
/// compressed form, so the published proof verifies with it too.
#[test]
fn uncompressed_public_key_verifies_the_same() {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let v = &VECTORS[0];
    let point = p256::PublicKey::from_sec1_bytes(&unhex(v.pk)).unwrap();
    let uncompressed = point.to_encoded_point(false);
    let pk = PublicKey::from_sec1(uncompressed.as_bytes()).unwrap();
    assert_eq!(hex::encode(pk.to_compressed()), v.pk);
    let proof = Proof::from_bytes(&unhex(v.pi)).unwrap();
    assert_eq!(
        hex::encode(verify(&pk, &unhex(v.alpha), &proof).unwrap()),
        v.beta
    );
}

/// Words from beta: word i = SHA-256(beta || i as u16 BE), checked against
/// an independent SHA-256 of the concatenation.
#[test]
fn words_hash_beta_with_big_endian_index() {
    use sha2::{Digest, Sha256};
    let beta: [u8; 32] = unhex(VECTORS[0].beta).try_into().unwrap();
    let words = nsl_vrf::words(&beta, nsl_vrf::MAX_WORDS);
    assert_eq!(words.len(), 16);
    for (i, w) in words.iter().enumerate() {
        let mut input = beta.to_vec();
        input.extend_from_slice(&[0, i as u8]);
        assert_eq!(w.as_slice(), Sha256::digest(&input).as_slice(), "word {i}");
    }
    assert!(nsl_vrf::words(&beta, 0).is_empty());
    // Golden values (also in the JS verifier's tests).
    assert_eq!(
        hex::encode(words[0]),
        "d238a7d14c09a86e017eb57b9317b3ea08fe54657ee091b4aaac96cf3b1fd574"
    );
    assert_eq!(
        hex::encode(words[15]),
        "da417010696cd2ffab4a2c095c51bb3581ead51b57ba5b4aeccfea2d97163cfe"
    );
}
