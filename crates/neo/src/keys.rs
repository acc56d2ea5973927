//! P-256 (secp256r1) keys as Neo N3 uses them: WIF, compressed public keys, deterministic signatures.
//!
//! Signatures are ECDSA over SHA-256 of the message with RFC 6979 deterministic nonces, encoded as
//! 64 bytes `r || s` (no DER). Verification accepts any valid `(r, s)` (Neo does not require low-S).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature as EcdsaSignature, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

use crate::address::{base58check_decode, base58check_encode};
use crate::error::{Error, Result};
use crate::uint::UInt160;

/// Length of a signature: `r || s`, 32 bytes each.
pub const SIGNATURE_LEN: usize = 64;
/// Length of a compressed public key.
pub const PUBLIC_KEY_LEN: usize = 33;

const WIF_VERSION: u8 = 0x80;
const WIF_COMPRESSED: u8 = 0x01;

/// A P-256 private key. Its `Debug` shows only the public key; its memory is wiped on drop.
#[derive(Clone)]
pub struct PrivateKey {
    key: SigningKey,
}

impl PrivateKey {
    /// A fresh random key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        Self {
            key: SigningKey::random(&mut rand::rngs::OsRng),
        }
    }

    /// From the 32-byte big-endian scalar. Fails for zero or values not below the curve order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != 32 {
            return Err(Error::Length {
                what: "private key",
                expected: 32,
                got: bytes.len(),
            });
        }
        SigningKey::from_slice(bytes)
            .map(|key| Self { key })
            .map_err(|_| Error::PrivateKey)
    }

    /// From 64 hex characters (the 32-byte scalar).
    pub fn from_hex(s: &str) -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        if s.len() != 64 {
            return Err(Error::Length {
                what: "private key",
                expected: 32,
                got: s.len() / 2,
            });
        }
        hex::decode_to_slice(s, bytes.as_mut()).map_err(|_| Error::Hex)?;
        Self::from_bytes(bytes.as_ref())
    }

    /// The 32-byte scalar, wiped when dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.key.to_bytes().into())
    }

    /// Import a WIF string (`0x80 || key || 0x01`, base58check). The WIF is never echoed in errors.
    pub fn from_wif(wif: &str) -> Result<Self> {
        let mut raw = Zeroizing::new(base58check_decode(wif).map_err(|e| match e {
            Error::Checksum => Error::Wif("checksum mismatch"),
            _ => Error::Wif("not base58"),
        })?);
        let res = if raw.len() != 34 {
            Err(Error::Wif("expected 34 bytes"))
        } else if raw.first() != Some(&WIF_VERSION) {
            Err(Error::Wif("version byte is not 0x80"))
        } else if raw.last() != Some(&WIF_COMPRESSED) {
            Err(Error::Wif("compression flag is not 0x01"))
        } else {
            Self::from_bytes(raw.get(1..33).unwrap_or_default())
        };
        raw.zeroize();
        res
    }

    /// Export as WIF (compressed form, as every Neo N3 wallet uses).
    pub fn to_wif(&self) -> Zeroizing<String> {
        let mut payload = Zeroizing::new([0u8; 34]);
        payload[0] = WIF_VERSION;
        payload[1..33].copy_from_slice(self.to_bytes().as_ref());
        payload[33] = WIF_COMPRESSED;
        Zeroizing::new(base58check_encode(payload.as_ref()))
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: *self.key.verifying_key(),
        }
    }

    /// The script hash of the single-signature account of this key.
    pub fn script_hash(&self) -> UInt160 {
        self.public_key().script_hash()
    }

    /// The Neo N3 address of the single-signature account of this key.
    pub fn address(&self) -> String {
        self.public_key().address()
    }

    /// Sign `message`: ECDSA P-256 over SHA-256(message), RFC 6979 nonce, 64-byte `r || s`.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let sig: EcdsaSignature = self.key.sign(message);
        sig.to_bytes().into()
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl PartialEq for PrivateKey {
    fn eq(&self, other: &Self) -> bool {
        use subtle_eq::ct_eq;
        ct_eq(self.to_bytes().as_ref(), other.to_bytes().as_ref())
    }
}
impl Eq for PrivateKey {}

mod subtle_eq {
    /// Constant-time byte comparison for equal-length secrets.
    pub(super) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// A P-256 public key; encoded compressed (33 bytes) everywhere in Neo N3.
#[derive(Clone, Copy)]
pub struct PublicKey {
    key: VerifyingKey,
}

impl PublicKey {
    /// Parse SEC1 bytes: compressed (33 bytes, `02`/`03` prefix) or uncompressed (65 bytes, `04`).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        match (bytes.len(), bytes.first()) {
            (33, Some(0x02 | 0x03)) | (65, Some(0x04)) => {}
            (33 | 65, _) => return Err(Error::PublicKey("bad prefix byte")),
            _ => {
                return Err(Error::PublicKey(
                    "expected 33 (compressed) or 65 (uncompressed) bytes",
                ));
            }
        }
        VerifyingKey::from_sec1_bytes(bytes)
            .map(|key| Self { key })
            .map_err(|_| Error::PublicKey("not a point on P-256"))
    }

    /// Parse hex of the compressed or uncompressed form (an optional `0x` prefix is accepted).
    pub fn from_hex(s: &str) -> Result<Self> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let bytes = hex::decode(s).map_err(|_| Error::Hex)?;
        Self::from_bytes(&bytes)
    }

    /// The 33-byte compressed encoding.
    pub fn to_compressed(&self) -> [u8; PUBLIC_KEY_LEN] {
        let p = self.key.to_encoded_point(true);
        let mut out = [0u8; PUBLIC_KEY_LEN];
        out.copy_from_slice(p.as_bytes());
        out
    }

    /// The 65-byte uncompressed encoding (`04 || X || Y`).
    pub fn to_uncompressed(&self) -> [u8; 65] {
        let p = self.key.to_encoded_point(false);
        let mut out = [0u8; 65];
        out.copy_from_slice(p.as_bytes());
        out
    }

    /// Hex of the compressed encoding.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_compressed())
    }

    /// The single-signature verification script:
    /// `PUSHDATA1 33 <key> SYSCALL System.Crypto.CheckSig`.
    pub fn verification_script(&self) -> Vec<u8> {
        crate::contract::single_sig_script(self)
    }

    /// Script hash of [`verification_script`](Self::verification_script).
    pub fn script_hash(&self) -> UInt160 {
        UInt160::from_script(&self.verification_script())
    }

    /// Neo N3 address of the single-signature account.
    pub fn address(&self) -> String {
        self.script_hash().to_address()
    }

    /// Verify a 64-byte `r || s` signature over SHA-256(`message`). Malformed signatures give `false`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match EcdsaSignature::from_slice(signature) {
            Ok(sig) if signature.len() == SIGNATURE_LEN => self.key.verify(message, &sig).is_ok(),
            _ => false,
        }
    }

    /// Verify a 64-byte `r || s` signature over an already computed 32-byte SHA-256 digest.
    pub fn verify_prehashed(&self, digest: &[u8; 32], signature: &[u8]) -> bool {
        match EcdsaSignature::from_slice(signature) {
            Ok(sig) if signature.len() == SIGNATURE_LEN => {
                self.key.verify_prehash(digest, &sig).is_ok()
            }
            _ => false,
        }
    }

    /// X and Y coordinates (big-endian) used for Neo's key ordering.
    fn coordinates(&self) -> ([u8; 32], [u8; 32]) {
        let u = self.to_uncompressed();
        let mut x = [0u8; 32];
        let mut y = [0u8; 32];
        x.copy_from_slice(&u[1..33]);
        y.copy_from_slice(&u[33..65]);
        (x, y)
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.to_compressed() == other.to_compressed()
    }
}
impl Eq for PublicKey {}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.to_compressed().hash(state);
    }
}

impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PublicKey {
    /// Neo's order for multisig scripts and validator lists: by X coordinate, then by Y.
    fn cmp(&self, other: &Self) -> Ordering {
        self.coordinates().cmp(&other.coordinates())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl FromStr for PublicKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_hex(s)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// The low-S form of a 64-byte `r || s` signature (`s` replaced by `n - s` when `s > n/2`).
/// Both forms verify; some signers (neon-js) always emit low-S, neo-go and this crate do not.
pub fn to_low_s(signature: &[u8]) -> Result<[u8; SIGNATURE_LEN]> {
    if signature.len() != SIGNATURE_LEN {
        return Err(Error::Signature);
    }
    let sig = EcdsaSignature::from_slice(signature).map_err(|_| Error::Signature)?;
    let sig = sig.normalize_s().unwrap_or(sig);
    Ok(sig.to_bytes().into())
}

/// Verify a raw P-256 signature: `public_key` as SEC1 bytes (33 or 65), 64-byte `r || s` over
/// SHA-256(`message`). A malformed key is an error; a malformed or wrong signature is `Ok(false)`.
pub fn verify_signature(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<bool> {
    Ok(PublicKey::from_bytes(public_key)?.verify(message, signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    // neo-go internal/keytestcases/testcases.go
    const WIF: &str = "L1QqQJnpBwbsPGAuutuzPTac8piqvbR1HRjrY5qHup48TBCBFe4g";
    const PRIV: &str = "7d128a6d096f0c14c3a25a2b0c41cf79661bfcb4a8cc95aaaea28bde4d732344";
    const PUB: &str = "02028a99826edc0c97d18e22b6932373d908d323aa7f92656a77ec26e8861699ef";

    #[test]
    fn wif_roundtrip_and_address() {
        let k = PrivateKey::from_wif(WIF).unwrap();
        assert_eq!(hex::encode(k.to_bytes().as_ref()), PRIV);
        assert_eq!(k.to_wif().as_str(), WIF);
        assert_eq!(k.public_key().to_hex(), PUB);
        assert_eq!(k.address(), "NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6i");
        assert_eq!(
            k.script_hash().to_string(),
            "0xa7cbfee3f01f89d58c042644b0b6df2d59a6eb26"
        );
    }

    #[test]
    fn debug_does_not_leak_secret() {
        let k = PrivateKey::from_hex(PRIV).unwrap();
        let dbg = format!("{k:?}");
        assert!(!dbg.contains(PRIV) && !dbg.contains(WIF), "{dbg}");
        assert!(dbg.contains(PUB));
    }

    #[test]
    fn wif_errors_do_not_echo_input() {
        let bad = "L1QqQJnpBwbsPGAuutuzPTac8piqvbR1HRjrY5qHup48TBCBFe4h";
        let e = PrivateKey::from_wif(bad).unwrap_err();
        assert_eq!(e, Error::Wif("checksum mismatch"));
        assert!(!e.to_string().contains(bad));
        assert!(PrivateKey::from_wif("").is_err());
        assert!(PrivateKey::from_bytes(&[0u8; 32]).is_err());
        assert!(PrivateKey::from_bytes(&[0xffu8; 32]).is_err());
    }

    #[test]
    fn sign_is_deterministic_and_verifies() {
        let k = PrivateKey::from_hex(PRIV).unwrap();
        let s1 = k.sign(b"hello");
        assert_eq!(s1, k.sign(b"hello"));
        let p = k.public_key();
        assert!(p.verify(b"hello", &s1));
        assert!(!p.verify(b"hellO", &s1));
        assert!(!p.verify(b"hello", &s1[..63]));
        assert!(p.verify_prehashed(&crate::hash::sha256(b"hello"), &s1));
        assert!(verify_signature(&p.to_uncompressed(), b"hello", &s1).unwrap());
    }

    /// RFC 6979 appendix A.2.5 (P-256, SHA-256, message "sample"): the raw deterministic signature,
    /// high S included, as neo-go's rfc6979 signer produces it (no low-S normalization).
    #[test]
    fn rfc6979_vector() {
        let k = PrivateKey::from_hex(
            "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
        )
        .unwrap();
        let sig = k.sign(b"sample");
        assert_eq!(
            hex::encode(sig),
            "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716\
             f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8"
        );
        let low = to_low_s(&sig).unwrap();
        assert_ne!(low, sig);
        assert_eq!(low[..32], sig[..32]);
        assert!(k.public_key().verify(b"sample", &low));
        assert_eq!(to_low_s(&low).unwrap(), low);
    }

    #[test]
    fn public_key_forms() {
        let p = PublicKey::from_hex(PUB).unwrap();
        let u = PublicKey::from_bytes(&p.to_uncompressed()).unwrap();
        assert_eq!(p, u);
        assert!(PublicKey::from_hex("04").is_err());
        assert!(PublicKey::from_hex(&format!("05{}", &PUB[2..])).is_err());
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), p);
    }
}
