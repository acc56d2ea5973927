//! The intermediate values of RFC 9381 appendix B.1 (ECVRF-P256-SHA256-TAI,
//! examples 10, 11 and 12): `H`, `k`, `U = k*B`, `V = k*H`. The published
//! `pi` and `beta` are checked through the public API in `tests/it/vectors.rs`.

use p256::elliptic_curve::ops::LinearCombination;

use super::*;

struct Intermediates {
    sk: &'static str,
    alpha: &'static str,
    h: &'static str,
    k: &'static str,
    u: &'static str,
    v: &'static str,
}

const EXAMPLES: [Intermediates; 3] = [
    // Example 10: alpha = "sample".
    Intermediates {
        sk: "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
        alpha: "73616d706c65",
        h: "0272a877532e9ac193aff4401234266f59900a4a9e3fc3cfc6a4b7e467a15d06d4",
        k: "0d90591273453d2dc67312d39914e3a93e194ab47a58cd598886897076986f77",
        u: "02bb6a034f67643c6183c10f8b41dc4babf88bff154b674e377d90bde009c21672",
        v: "02893ebee7af9a0faa6da810da8a91f9d50e1dc071240c9706726820ff919e8394",
    },
    // Example 11: alpha = "test".
    Intermediates {
        sk: "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
        alpha: "74657374",
        h: "02173119b4fff5e6f8afed4868a29fe8920f1b54c2cf89cc7b301d0d473de6b974",
        k: "5852353a868bdce26938cde1826723e58bf8cb06dd2fed475213ea6f3b12e961",
        u: "022779a2cafcb65414c4a04a4b4d2adf4c50395f57995e89e6de823250d91bc48e",
        v: "033b4a14731672e82339f03b45ff6b5b13dee7ada38c9bf1d6f8f61e2ce5921119",
    },
    // Example 12: alpha = "Example using ECDSA key from Appendix L.4.2 of ANSI.X9-62-2005".
    Intermediates {
        sk: "2ca1411a41b17b24cc8c3b089cfd033f1920202a6c0de8abb97df1498d50d2c8",
        alpha: "4578616d706c65207573696e67204543445341206b65792066726f6d20417070656e646978204c2e342e32206f6620414e53492e58392d36322d32303035",
        h: "0258055c26c4b01d01c00fb57567955f7d39cd6f6e85fd37c58f696cc6b7aa761d",
        k: "5689e2e08e1110b4dda293ac21667eac6db5de4a46a519c73d533f69be2f4da3",
        u: "020f465cd0ec74d2e23af0abde4c07e866ae4e5138bded5dd1196b8843f380db84",
        v: "036cb6f811428fc4904370b86c488f60c280fa5b496d2f34ff8772f60ed24b2d1d",
    },
];

fn unhex32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

#[test]
fn rfc9381_b1_intermediates_h_k_u_v() {
    for (i, ex) in EXAMPLES.iter().enumerate() {
        let sk = SecretKey::from_bytes(&unhex32(ex.sk)).unwrap();
        let alpha = hex::decode(ex.alpha).unwrap();
        let h = suite::encode_to_curve(&sk.public_key().to_compressed(), &alpha).unwrap();
        let h_string = suite::point_to_string(&h);
        assert_eq!(
            hex::encode(h_string.as_bytes()),
            ex.h,
            "H of example {}",
            10 + i
        );
        let k = suite::nonce(&sk.0.x, h_string.as_bytes());
        assert_eq!(hex::encode(k.to_bytes()), ex.k, "k of example {}", 10 + i);
        let [u, v] = suite::normalize([
            ProjectivePoint::GENERATOR * *k,
            ProjectivePoint::from(h) * *k,
        ]);
        assert_eq!(
            hex::encode(suite::point_to_string(&u).as_bytes()),
            ex.u,
            "U of example {}",
            10 + i
        );
        assert_eq!(
            hex::encode(suite::point_to_string(&v).as_bytes()),
            ex.v,
            "V of example {}",
            10 + i
        );
    }
}

/// The verifier recomputes the same U and V from (Gamma, c, s) as the prover
/// had from k: checked on the RFC examples.
#[test]
fn verifier_recomputes_u_and_v() {
    for ex in &EXAMPLES {
        let sk = SecretKey::from_bytes(&unhex32(ex.sk)).unwrap();
        let alpha = hex::decode(ex.alpha).unwrap();
        let proof = prove(&sk, &alpha);
        let d = decode(&proof.0).unwrap();
        let pk = sk.public_key();
        let h = ProjectivePoint::from(suite::encode_to_curve(&pk.to_compressed(), &alpha).unwrap());
        let neg_c = -suite::challenge_scalar(&d.c);
        let u = ProjectivePoint::lincomb(
            &ProjectivePoint::GENERATOR,
            &d.s,
            &ProjectivePoint::from(pk.point),
            &neg_c,
        );
        let v = ProjectivePoint::lincomb(&h, &d.s, &ProjectivePoint::from(d.gamma), &neg_c);
        let [u, v] = suite::normalize([u, v]);
        assert_eq!(hex::encode(suite::point_to_string(&u).as_bytes()), ex.u);
        assert_eq!(hex::encode(suite::point_to_string(&v).as_bytes()), ex.v);
    }
}

#[test]
fn secret_key_debug_is_redacted() {
    let bytes = unhex32(EXAMPLES[0].sk);
    let sk = SecretKey::from_bytes(&bytes).unwrap();
    let debug = format!("{sk:?}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(!debug.to_lowercase().contains(EXAMPLES[0].sk), "{debug}");
    assert!(debug.contains("0360fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"));
}
