//! ECVRF, RFC 9381, suite **ECVRF-P256-SHA256-TAI** (`suite_string` 0x01):
//! a verifiable random function over P-256, the curve of Neo's wallets.
//!
//! Only the holder of a [`SecretKey`] can compute the output `beta` for an
//! input `alpha`; anyone with the [`PublicKey`] can check, from the
//! [`Proof`], that `beta` is *the* output for `alpha` (uniqueness: for one
//! key and one `alpha` exactly one `beta` verifies, so the prover cannot
//! choose among several).
//!
//! # Flow
//!
//! ```text
//!  prove(x, alpha)                                   verify(Y, alpha, pi)
//!  H = encode_to_curve(Y, alpha)  (try-and-increment)  H = encode_to_curve(Y, alpha)
//!  Gamma = x*H                                         (Gamma, c, s) = decode(pi)
//!  k = RFC6979(x, SHA-256(H))                          U = s*B - c*Y
//!  c = challenge(Y, H, Gamma, k*B, k*H)                V = s*H - c*Gamma
//!  s = k + c*x mod q                                   c == challenge(Y, H, Gamma, U, V) ?
//!  pi = Gamma (33) || c (16) || s (32)   ──────────►   beta = SHA-256(0x01 0x03 Gamma 0x00)
//!
//!  words(beta, n): word i = SHA-256(beta || i as u16 big-endian), i in 0..n
//! ```
//!
//! # Encodings
//!
//! - Public key: SEC1 compressed, 33 bytes ([`PublicKey::to_compressed`]);
//!   [`PublicKey::from_sec1`] also accepts the 65-byte uncompressed form, and
//!   the VRF always hashes the compressed form.
//! - Proof `pi`: 81 bytes, `Gamma` (compressed point) `|| c` (16 bytes)
//!   `|| s` (32 bytes), integers big-endian. [`Proof::from_bytes`] refuses
//!   any other length, a `Gamma` that is not a canonical compressed point on
//!   the curve, and `s >= q`.
//! - Output `beta`: 32 bytes.
//!
//! # Invariants
//!
//! - Every test vector of RFC 9381 appendix B.1 reproduces byte for byte
//!   (keys, `H`, `k`, `U`, `V`, `pi`, `beta`): `tests/it/vectors.rs`.
//! - `prove` is deterministic (RFC 6979 nonce): same key and input, same
//!   proof.
//! - A [`SecretKey`] is zeroized on drop and never printed by `Debug`;
//!   [`VrfError`] messages never carry key material.

mod mul;
mod suite;

use std::fmt;

use p256::{AffinePoint, ProjectivePoint, Scalar};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::suite::{C_LEN, PT_LEN, Q_LEN};

/// `suite_string` of ECVRF-P256-SHA256-TAI (RFC 9381 section 5.5).
pub const SUITE_STRING: u8 = suite::SUITE_STRING;
/// Length of a proof `pi` in bytes: `Gamma` (33) `|| c` (16) `|| s` (32).
pub const PROOF_LEN: usize = PT_LEN + C_LEN + Q_LEN;
/// Length of a compressed public key in bytes.
pub const PUBLIC_KEY_LEN: usize = PT_LEN;
/// Length of the output `beta` in bytes.
pub const BETA_LEN: usize = 32;
/// The most words a caller should derive from one output (see [`words`]);
/// services refuse requests for more.
pub const MAX_WORDS: u16 = 16;

/// What can go wrong. Messages are stable and never contain key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VrfError {
    /// Secret key bytes are zero or not below the P-256 group order.
    #[error("invalid VRF secret key: it must be a non-zero integer below the P-256 group order")]
    InvalidSecretKey,
    /// Public key bytes are not a SEC1 P-256 point (compressed, 33 bytes, or
    /// uncompressed, 65 bytes) on the curve.
    #[error("invalid VRF public key: {0}")]
    InvalidPublicKey(&'static str),
    /// Proof bytes are not a well-formed ECVRF-P256-SHA256-TAI proof.
    #[error("malformed VRF proof: {0}")]
    MalformedProof(&'static str),
    /// The proof is well formed but does not verify for this public key and
    /// input.
    #[error("VRF proof does not verify for this public key and input")]
    InvalidProof,
}

/// A VRF secret key: a scalar `x` in `[1, q)`. Zeroized on drop; `Debug`
/// prints only the public key.
#[derive(Clone)]
pub struct SecretKey(SecretInner);

#[derive(Clone)]
struct SecretInner {
    x: Scalar,
    public: PublicKey,
}

impl SecretKey {
    /// The key with scalar `bytes` (32 bytes, big-endian). Refuses zero and
    /// values at or above the group order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, VrfError> {
        let x =
            Zeroizing::new(suite::scalar_from_canonical(bytes).ok_or(VrfError::InvalidSecretKey)?);
        if *x == Scalar::ZERO {
            return Err(VrfError::InvalidSecretKey);
        }
        let y = mul::mul_base(&x).into();
        Ok(Self(SecretInner {
            x: *x,
            public: PublicKey::from_point(y),
        }))
    }

    /// The public key `Y = x*B`.
    pub fn public_key(&self) -> PublicKey {
        self.0.public.clone()
    }
}

impl Drop for SecretInner {
    fn drop(&mut self) {
        self.x.zeroize();
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("secret", &"<redacted>")
            .field("public", &self.0.public)
            .finish()
    }
}

/// A VRF public key: a P-256 point other than the identity.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    point: AffinePoint,
    compressed: [u8; PT_LEN],
}

impl PublicKey {
    fn from_point(point: AffinePoint) -> Self {
        let mut compressed = [0u8; PT_LEN];
        compressed.copy_from_slice(suite::point_to_string(&point).as_bytes());
        Self { point, compressed }
    }

    /// Parse a SEC1 public key: compressed (33 bytes, tag 0x02/0x03) or
    /// uncompressed (65 bytes, tag 0x04), coordinates below p, on the curve.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, VrfError> {
        use p256::elliptic_curve::sec1::FromEncodedPoint;
        let point = match (bytes.len(), bytes.first()) {
            (PT_LEN, Some(0x02 | 0x03)) => suite::decode_compressed(bytes)
                .ok_or(VrfError::InvalidPublicKey("not a point on P-256"))?,
            (65, Some(0x04)) => {
                let encoded = p256::EncodedPoint::from_bytes(bytes)
                    .map_err(|_| VrfError::InvalidPublicKey("not a SEC1 encoding"))?;
                Option::from(AffinePoint::from_encoded_point(&encoded))
                    .ok_or(VrfError::InvalidPublicKey("not a point on P-256"))?
            }
            _ => {
                return Err(VrfError::InvalidPublicKey(
                    "expected 33 bytes (0x02/0x03 prefix) or 65 bytes (0x04 prefix)",
                ));
            }
        };
        Ok(Self::from_point(point))
    }

    /// The compressed SEC1 encoding (33 bytes), the form the VRF hashes.
    pub fn to_compressed(&self) -> [u8; 33] {
        self.compressed
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex::encode(self.compressed))
    }
}

/// A proof `pi` (81 bytes). Values of this type are always well formed:
/// `Gamma` is a point on the curve and `s < q`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Proof([u8; PROOF_LEN]);

/// A proof split into its parts.
struct Decoded {
    gamma: AffinePoint,
    c: [u8; C_LEN],
    s: Scalar,
}

impl Proof {
    /// Parse an 81-byte proof, refusing a `Gamma` that is not a canonical
    /// compressed P-256 point and an `s` at or above the group order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VrfError> {
        let array: [u8; PROOF_LEN] = bytes
            .try_into()
            .map_err(|_| VrfError::MalformedProof("a proof is exactly 81 bytes"))?;
        decode(&array)?;
        Ok(Self(array))
    }

    /// The 81 proof bytes.
    pub fn to_bytes(&self) -> [u8; 81] {
        self.0
    }
}

impl fmt::Debug for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Proof({})", hex::encode(self.0))
    }
}

/// `ECVRF_decode_proof` (RFC 9381 section 5.4.4).
fn decode(pi: &[u8; PROOF_LEN]) -> Result<Decoded, VrfError> {
    let (gamma, rest) = pi.split_at(PT_LEN);
    let (c, s) = rest.split_at(C_LEN);
    let gamma = suite::decode_compressed(gamma).ok_or(VrfError::MalformedProof(
        "Gamma is not a compressed point on P-256",
    ))?;
    let s = suite::scalar_from_canonical(s)
        .ok_or(VrfError::MalformedProof("s is not below the group order"))?;
    let mut c_bytes = [0u8; C_LEN];
    c_bytes.copy_from_slice(c);
    Ok(Decoded {
        gamma,
        c: c_bytes,
        s,
    })
}

/// `ECVRF_prove` (RFC 9381 section 5.1): the proof for input `alpha`.
/// Deterministic.
pub fn prove(sk: &SecretKey, alpha: &[u8]) -> Proof {
    let x = &sk.0.x;
    let y = &sk.0.public;
    // Fails only if 256 consecutive hashes all miss the curve (probability
    // about 2^-256); there is no input an attacker can pick to cause it.
    let h = suite::encode_to_curve(&y.compressed, alpha)
        .expect("try-and-increment found no point in 256 attempts");
    let h_string = suite::point_to_string(&h);
    let hp = ProjectivePoint::from(h);
    let k = suite::nonce(x, h_string.as_bytes());
    let [gamma, u, v] = suite::normalize([hp * x, mul::mul_base(&k), hp * *k]);
    let gamma_string = suite::point_to_string(&gamma);
    let c = suite::challenge([
        &y.compressed,
        h_string.as_bytes(),
        gamma_string.as_bytes(),
        suite::point_to_string(&u).as_bytes(),
        suite::point_to_string(&v).as_bytes(),
    ]);
    let s = Zeroizing::new(*k + suite::challenge_scalar(&c) * x);
    let mut pi = [0u8; PROOF_LEN];
    pi[..PT_LEN].copy_from_slice(gamma_string.as_bytes());
    pi[PT_LEN..PT_LEN + C_LEN].copy_from_slice(&c);
    pi[PT_LEN + C_LEN..].copy_from_slice(&s.to_bytes());
    Proof(pi)
}

/// `ECVRF_proof_to_hash` (RFC 9381 section 5.2): the output `beta` a proof
/// carries. This does **not** check the proof; use [`verify`] for that.
pub fn proof_to_hash(proof: &Proof) -> Result<[u8; 32], VrfError> {
    decode(&proof.0)?;
    Ok(suite::gamma_to_hash(&proof.0[..PT_LEN]))
}

/// `ECVRF_verify` (RFC 9381 section 5.3): `beta` if `proof` is the proof of
/// `alpha` under `pk`, [`VrfError::InvalidProof`] otherwise.
pub fn verify(pk: &PublicKey, alpha: &[u8], proof: &Proof) -> Result<[u8; 32], VrfError> {
    let Decoded { gamma, c, s } = decode(&proof.0)?;
    let h = suite::encode_to_curve(&pk.compressed, alpha).ok_or(VrfError::InvalidProof)?;
    // Public data only: variable-time arithmetic. c has 128 bits.
    let s_bytes = s.to_bytes();
    let neg_y = -ProjectivePoint::from(pk.point);
    let neg_gamma = -ProjectivePoint::from(gamma);
    // U = s*B - c*Y, V = s*H - c*Gamma.
    let u = mul::mul_base_vartime(&s) + mul::mul_vartime(&c, &neg_y);
    let v = mul::mul2_vartime(&s_bytes, &ProjectivePoint::from(h), &c, &neg_gamma);
    let [u, v] = suite::normalize([u, v]);
    let expected = suite::challenge([
        &pk.compressed,
        suite::point_to_string(&h).as_bytes(),
        &proof.0[..PT_LEN],
        suite::point_to_string(&u).as_bytes(),
        suite::point_to_string(&v).as_bytes(),
    ]);
    if expected != c {
        return Err(VrfError::InvalidProof);
    }
    Ok(suite::gamma_to_hash(&proof.0[..PT_LEN]))
}

/// Derive `n` 32-byte words from an output: word `i` is
/// `SHA-256(beta || i as u16 big-endian)` for `i` in `0..n`. Callers bound
/// `n` (services refuse more than [`MAX_WORDS`]).
pub fn words(beta: &[u8; 32], n: u16) -> Vec<[u8; 32]> {
    (0..n)
        .map(|i| {
            let mut hasher = Sha256::new();
            hasher.update(beta);
            hasher.update(i.to_be_bytes());
            hasher.finalize().into()
        })
        .collect()
}

#[cfg(test)]
mod tests;
