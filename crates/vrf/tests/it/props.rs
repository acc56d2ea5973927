//! Property tests: round trips, and every kind of tampering refused.

use nsl_vrf::{PROOF_LEN, Proof, PublicKey, SecretKey, VrfError, proof_to_hash, prove, verify};
use proptest::prelude::*;

/// A valid secret key from arbitrary bytes (rejecting the ~2^-32 share of
/// values at or above the order, and zero).
fn secret_key() -> impl Strategy<Value = SecretKey> {
    any::<[u8; 32]>().prop_filter_map("not a valid scalar", |b| SecretKey::from_bytes(&b).ok())
}

fn alpha() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..200)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// verify(prove) succeeds and returns proof_to_hash(prove); proofs are
    /// deterministic and survive a byte round trip.
    #[test]
    fn prove_verify_round_trip(sk in secret_key(), alpha in alpha()) {
        let pk = sk.public_key();
        let proof = prove(&sk, &alpha);
        let beta = verify(&pk, &alpha, &proof).unwrap();
        prop_assert_eq!(proof_to_hash(&proof).unwrap(), beta);
        prop_assert_eq!(prove(&sk, &alpha), proof);
        let parsed = Proof::from_bytes(&proof.to_bytes()).unwrap();
        prop_assert_eq!(verify(&pk, &alpha, &parsed).unwrap(), beta);
        let pk2 = PublicKey::from_sec1(&pk.to_compressed()).unwrap();
        prop_assert_eq!(pk2, pk);
    }

    /// Flipping any single bit of the proof: either the bytes no longer parse
    /// as a proof, or the proof does not verify.
    #[test]
    fn flipped_proof_bit_is_refused(sk in secret_key(), alpha in alpha(), bit in 0..PROOF_LEN * 8) {
        let pk = sk.public_key();
        let mut bytes = prove(&sk, &alpha).to_bytes();
        bytes[bit / 8] ^= 1 << (bit % 8);
        match Proof::from_bytes(&bytes) {
            Err(e) => prop_assert!(matches!(e, VrfError::MalformedProof(_)), "{e:?}"),
            Ok(tampered) => prop_assert_eq!(verify(&pk, &alpha, &tampered), Err(VrfError::InvalidProof)),
        }
    }

    /// Flipping any single bit of alpha (or appending a byte) makes the proof
    /// invalid for it.
    #[test]
    fn flipped_alpha_bit_is_refused(sk in secret_key(), alpha in proptest::collection::vec(any::<u8>(), 1..100), bit in any::<prop::sample::Index>()) {
        let pk = sk.public_key();
        let proof = prove(&sk, &alpha);
        let mut other = alpha.clone();
        let i = bit.index(alpha.len() * 8);
        other[i / 8] ^= 1 << (i % 8);
        prop_assert_eq!(verify(&pk, &other, &proof), Err(VrfError::InvalidProof));
        let mut longer = alpha.clone();
        longer.push(0);
        prop_assert_eq!(verify(&pk, &longer, &proof), Err(VrfError::InvalidProof));
    }

    /// Another key, or a public key with a flipped bit, does not verify the
    /// proof (when the flipped bytes still decode as a key at all).
    #[test]
    fn other_or_flipped_key_is_refused(sk in secret_key(), other in secret_key(), alpha in alpha(), bit in 0..33usize * 8) {
        let proof = prove(&sk, &alpha);
        if other.public_key() != sk.public_key() {
            prop_assert_eq!(verify(&other.public_key(), &alpha, &proof), Err(VrfError::InvalidProof));
        }
        let mut key = sk.public_key().to_compressed();
        key[bit / 8] ^= 1 << (bit % 8);
        match PublicKey::from_sec1(&key) {
            Err(e) => prop_assert!(matches!(e, VrfError::InvalidPublicKey(_)), "{e:?}"),
            Ok(pk) => prop_assert_eq!(verify(&pk, &alpha, &proof), Err(VrfError::InvalidProof)),
        }
    }

    /// Arbitrary 81-byte strings never panic the decoder, and never verify.
    #[test]
    fn random_proof_bytes_never_verify(sk in secret_key(), alpha in alpha(), bytes in proptest::collection::vec(any::<u8>(), PROOF_LEN)) {
        if let Ok(proof) = Proof::from_bytes(&bytes) {
            prop_assert_eq!(verify(&sk.public_key(), &alpha, &proof), Err(VrfError::InvalidProof));
        }
    }

    /// Any length other than 81 is refused.
    #[test]
    fn wrong_proof_length_is_refused(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        prop_assume!(bytes.len() != PROOF_LEN);
        prop_assert!(matches!(Proof::from_bytes(&bytes), Err(VrfError::MalformedProof(_))));
    }
}

fn vector_proof() -> [u8; PROOF_LEN] {
    hex::decode(super::vectors::VECTORS[0].pi)
        .unwrap()
        .try_into()
        .unwrap()
}

const ORDER: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
const FIELD_PRIME: &str = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";

/// s = q, s = q + 1 and s = 2^256 - 1 are refused; s = q - 1 parses.
#[test]
fn s_at_or_above_order_is_refused() {
    let order = hex::decode(ORDER).unwrap();
    let mut bytes = vector_proof();
    for s in [
        order.clone(),
        {
            let mut o = order.clone();
            o[31] += 1;
            o
        },
        vec![0xff; 32],
    ] {
        bytes[49..].copy_from_slice(&s);
        assert_eq!(
            Proof::from_bytes(&bytes),
            Err(VrfError::MalformedProof("s is not below the group order")),
            "s = {}",
            hex::encode(&s)
        );
    }
    let mut below = order;
    below[31] -= 1;
    bytes[49..].copy_from_slice(&below);
    let proof = Proof::from_bytes(&bytes).unwrap();
    let v = &super::vectors::VECTORS[0];
    let pk = PublicKey::from_sec1(&hex::decode(v.pk).unwrap()).unwrap();
    assert_eq!(
        verify(&pk, &hex::decode(v.alpha).unwrap(), &proof),
        Err(VrfError::InvalidProof)
    );
}

/// Gamma must be a canonical compressed point on the curve: an x at or above
/// the field prime, an x with no point, the identity, uncompressed or
/// hybrid tags are all refused.
#[test]
fn invalid_gamma_is_refused() {
    let good = vector_proof();
    let mut cases: Vec<(&str, [u8; PROOF_LEN])> = Vec::new();
    // x = p: the non-canonical encoding of x = 0.
    let mut x_is_p = good;
    x_is_p[1..33].copy_from_slice(&hex::decode(FIELD_PRIME).unwrap());
    cases.push(("x = p", x_is_p));
    // x = p + (x of Gamma) would alias Gamma if reduced; any x >= p is refused.
    let mut all_ones = good;
    all_ones[1..33].copy_from_slice(&[0xff; 32]);
    cases.push(("x = 2^256 - 1", all_ones));
    // An x with no y: search the first one deterministically.
    let mut off_curve = good;
    for b in 0..=255u8 {
        off_curve[32] = b;
        if PublicKey::from_sec1(&off_curve[..33]).is_err() {
            break;
        }
    }
    assert!(PublicKey::from_sec1(&off_curve[..33]).is_err());
    cases.push(("x not on the curve", off_curve));
    for tag in [0x00, 0x01, 0x04, 0x05, 0x06, 0x07] {
        let mut t = good;
        t[0] = tag;
        cases.push(("bad tag", t));
    }
    let mut identity = [0u8; PROOF_LEN];
    identity[33..].copy_from_slice(&good[33..]);
    cases.push(("identity", identity));
    for (name, bytes) in cases {
        assert_eq!(
            Proof::from_bytes(&bytes),
            Err(VrfError::MalformedProof(
                "Gamma is not a compressed point on P-256"
            )),
            "{name}"
        );
    }
}

/// Public keys: bad lengths, tags, coordinates and the identity are refused.
#[test]
fn invalid_public_keys_are_refused() {
    let v = &super::vectors::VECTORS[0];
    let good = hex::decode(v.pk).unwrap();
    let mut x_is_p = good.clone();
    x_is_p[1..].copy_from_slice(&hex::decode(FIELD_PRIME).unwrap());
    let mut uncompressed_off_curve = vec![0x04];
    uncompressed_off_curve.extend_from_slice(&good[1..]);
    uncompressed_off_curve.extend_from_slice(&[0x01; 32]);
    for (name, bytes) in [
        ("empty", vec![]),
        ("identity", vec![0x00]),
        ("truncated", good[..32].to_vec()),
        ("too long", [good.clone(), vec![0]].concat()),
        (
            "tag 0x04 with 33 bytes",
            [vec![0x04], good[1..].to_vec()].concat(),
        ),
        ("x = p", x_is_p),
        ("uncompressed off curve", uncompressed_off_curve),
    ] {
        assert!(
            matches!(
                PublicKey::from_sec1(&bytes),
                Err(VrfError::InvalidPublicKey(_))
            ),
            "{name}"
        );
    }
}

/// Secret keys: zero, the order and above are refused; q - 1 is accepted.
#[test]
fn invalid_secret_keys_are_refused() {
    let order: [u8; 32] = hex::decode(ORDER).unwrap().try_into().unwrap();
    assert_eq!(
        SecretKey::from_bytes(&[0; 32]).unwrap_err(),
        VrfError::InvalidSecretKey
    );
    assert_eq!(
        SecretKey::from_bytes(&order).unwrap_err(),
        VrfError::InvalidSecretKey
    );
    assert_eq!(
        SecretKey::from_bytes(&[0xff; 32]).unwrap_err(),
        VrfError::InvalidSecretKey
    );
    let mut below = order;
    below[31] -= 1;
    let sk = SecretKey::from_bytes(&below).unwrap();
    let proof = prove(&sk, b"edge");
    verify(&sk.public_key(), b"edge", &proof).unwrap();
}
