//! The primitives of the suite ECVRF-P256-SHA256-TAI (RFC 9381 sections 5.4
//! and 5.5): encode-to-curve by try-and-increment, the RFC 6979 nonce, the
//! challenge hash, and the SEC1 point encoding. Everything here is
//! deterministic; only the nonce touches the secret scalar.

use p256::elliptic_curve::ff::PrimeField;
use p256::elliptic_curve::group::Curve as _;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::point::DecompressPoint;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::elliptic_curve::subtle::Choice;
use p256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar, U256};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// `suite_string` of ECVRF-P256-SHA256-TAI.
pub(crate) const SUITE_STRING: u8 = 0x01;

/// Domain separators of RFC 9381 section 5.4.
const ENCODE_TO_CURVE_FRONT: u8 = 0x01;
const ENCODE_TO_CURVE_BACK: u8 = 0x00;
const CHALLENGE_FRONT: u8 = 0x02;
const CHALLENGE_BACK: u8 = 0x00;
const PROOF_TO_HASH_FRONT: u8 = 0x03;
const PROOF_TO_HASH_BACK: u8 = 0x00;

/// `ptLen`: a compressed SEC1 point.
pub(crate) const PT_LEN: usize = 33;
/// `cLen`: the challenge is the first 16 bytes of a SHA-256 digest.
pub(crate) const C_LEN: usize = 16;
/// `qLen`: a scalar modulo the group order.
pub(crate) const Q_LEN: usize = 32;

/// The order `q` of the P-256 group, big-endian (the `n` of RFC 6979).
pub(crate) const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `point_to_string`: SEC1 section 2.3.3 with point compression (33 bytes;
/// the identity, which no honest proof contains, is the single byte 0x00).
pub(crate) fn point_to_string(p: &AffinePoint) -> p256::EncodedPoint {
    p.to_encoded_point(true)
}

/// Several projective points to affine with one inversion.
pub(crate) fn normalize<const N: usize>(points: [ProjectivePoint; N]) -> [AffinePoint; N] {
    let mut out = [AffinePoint::IDENTITY; N];
    ProjectivePoint::batch_normalize(&points, &mut out);
    out
}

/// `ECVRF_encode_to_curve_try_and_increment` (RFC 9381 section 5.4.1.1) with
/// `encode_to_curve_salt = PK_string`: the first counter `ctr` in 0..=255 for
/// which `0x02 || SHA-256(suite || 0x01 || salt || alpha || ctr || 0x00)`
/// decodes to a point. `None` only if all 256 candidates fail
/// (probability about 2^-256).
pub(crate) fn encode_to_curve(salt: &[u8; PT_LEN], alpha: &[u8]) -> Option<AffinePoint> {
    let mut prefix = Sha256::new();
    prefix.update([SUITE_STRING, ENCODE_TO_CURVE_FRONT]);
    prefix.update(salt);
    prefix.update(alpha);
    for ctr in 0..=u8::MAX {
        let mut hasher = prefix.clone();
        hasher.update([ctr, ENCODE_TO_CURVE_BACK]);
        let x: FieldBytes = hasher.finalize();
        // string_to_point(0x02 || hash): the point with this x and even y.
        let candidate = AffinePoint::decompress(&x, Choice::from(0));
        if bool::from(candidate.is_some()) {
            return Some(candidate.unwrap());
        }
    }
    None
}

/// `ECVRF_nonce_generation_RFC6979` (RFC 9381 section 5.4.2.1): RFC 6979
/// section 3.2 with SHA-256, secret `x` and message `m = h_string`, so the
/// message hash is `bits2octets(SHA-256(h_string))`.
pub(crate) fn nonce(x: &Scalar, h_string: &[u8]) -> Zeroizing<Scalar> {
    let h1: FieldBytes = Sha256::digest(h_string);
    let h = <Scalar as Reduce<U256>>::reduce_bytes(&h1).to_bytes();
    let x_bytes = Zeroizing::new(x.to_bytes());
    let k = Zeroizing::new(rfc6979::generate_k::<Sha256, _>(
        &x_bytes,
        &ORDER.into(),
        &h,
        &[],
    ));
    // generate_k only returns values in [1, q).
    Zeroizing::new(Option::from(Scalar::from_repr(*k)).unwrap_or(Scalar::ONE))
}

/// `ECVRF_challenge_generation` (RFC 9381 section 5.4.3): the first 16 bytes
/// of `SHA-256(suite || 0x02 || P1 || P2 || P3 || P4 || P5 || 0x00)` as an
/// integer (always below `q`).
pub(crate) fn challenge(points: [&[u8]; 5]) -> [u8; C_LEN] {
    let mut hasher = Sha256::new();
    hasher.update([SUITE_STRING, CHALLENGE_FRONT]);
    for p in points {
        hasher.update(p);
    }
    hasher.update([CHALLENGE_BACK]);
    let digest = hasher.finalize();
    let mut c = [0u8; C_LEN];
    c.copy_from_slice(&digest[..C_LEN]);
    c
}

/// The challenge bytes as a scalar (16 bytes, left-padded with zeros).
pub(crate) fn challenge_scalar(c: &[u8; C_LEN]) -> Scalar {
    let mut repr = FieldBytes::default();
    repr[Q_LEN - C_LEN..].copy_from_slice(c);
    // Below 2^128 < q: always a valid representation.
    Option::from(Scalar::from_repr(repr)).unwrap_or(Scalar::ZERO)
}

/// `ECVRF_proof_to_hash` step 4 (RFC 9381 section 5.2), cofactor 1:
/// `SHA-256(suite || 0x03 || point_to_string(Gamma) || 0x00)`.
pub(crate) fn gamma_to_hash(gamma_string: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([SUITE_STRING, PROOF_TO_HASH_FRONT]);
    hasher.update(gamma_string);
    hasher.update([PROOF_TO_HASH_BACK]);
    hasher.finalize().into()
}

/// Scalar from 32 big-endian bytes, `None` unless it is below `q`.
pub(crate) fn scalar_from_canonical(bytes: &[u8]) -> Option<Scalar> {
    let repr = FieldBytes::clone_from_slice(bytes);
    Option::from(Scalar::from_repr(repr))
}

/// A compressed SEC1 point (33 bytes, tag 0x02 or 0x03, x below p, on the
/// curve); `None` for anything else, the identity included.
pub(crate) fn decode_compressed(bytes: &[u8]) -> Option<AffinePoint> {
    if bytes.len() != PT_LEN || !matches!(bytes[0], 0x02 | 0x03) {
        return None;
    }
    let x = FieldBytes::clone_from_slice(&bytes[1..]);
    Option::from(AffinePoint::decompress(&x, Choice::from(bytes[0] & 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_constant_is_the_group_order() {
        assert!(scalar_from_canonical(&ORDER).is_none());
        let mut below = ORDER;
        below[31] -= 1;
        let max = scalar_from_canonical(&below).unwrap();
        assert_eq!(max + Scalar::ONE, Scalar::ZERO);
    }

    #[test]
    fn decode_compressed_refuses_bad_encodings() {
        let g = point_to_string(&AffinePoint::GENERATOR);
        assert_eq!(
            decode_compressed(g.as_bytes()),
            Some(AffinePoint::GENERATOR)
        );
        let mut bytes = g.as_bytes().to_vec();
        for tag in [0x00, 0x01, 0x04, 0x05, 0x06, 0x07, 0xff] {
            bytes[0] = tag;
            assert!(decode_compressed(&bytes).is_none(), "tag {tag:#x}");
        }
        // x = p (non-canonical) and x = 2^256 - 1.
        let p = hex::decode("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff")
            .unwrap();
        let mut non_canonical = vec![0x02];
        non_canonical.extend_from_slice(&p);
        assert!(decode_compressed(&non_canonical).is_none());
        let mut all_ones = vec![0x03];
        all_ones.extend_from_slice(&[0xff; 32]);
        assert!(decode_compressed(&all_ones).is_none());
        assert!(decode_compressed(&[0x00]).is_none());
        assert!(decode_compressed(&g.as_bytes()[..32]).is_none());
    }
}
