//! Values that cross the vault boundary: public keys, signatures, attestation
//! reports, master-key metadata, data keys and secret plaintexts.
//!
//! Public values (keys, signatures, reports) print and serialize as hex.
//! Secret values ([`DataKey`], [`SecretBytes`]) zeroize on drop and print as
//! `<redacted>`.

use std::fmt;

use p256::ecdsa::VerifyingKey;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::crypto::Writer;
use crate::error::{Result, VaultError};

/// A P-256 (secp256r1) public key, the curve Neo N3 uses for accounts.
///
/// Serializes as the 33-byte compressed SEC1 encoding in hex, which is the
/// form Neo puts in verification scripts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(p256::PublicKey);

impl PublicKey {
    /// Parse a SEC1-encoded point (33-byte compressed or 65-byte
    /// uncompressed).
    pub fn from_sec1_bytes(bytes: &[u8]) -> Result<Self> {
        p256::PublicKey::from_sec1_bytes(bytes)
            .map(Self)
            .map_err(|_| VaultError::InvalidPublicKey("not a valid SEC1-encoded P-256 point"))
    }

    /// Parse a hex SEC1 encoding.
    pub fn from_hex(text: &str) -> Result<Self> {
        let bytes =
            hex::decode(text.trim()).map_err(|_| VaultError::InvalidPublicKey("not valid hex"))?;
        Self::from_sec1_bytes(&bytes)
    }

    /// The 33-byte compressed SEC1 encoding (`02`/`03` prefix + x).
    pub fn to_compressed(&self) -> [u8; 33] {
        let point = self.0.to_encoded_point(true);
        let mut out = [0u8; 33];
        // A compressed P-256 point is always 33 bytes.
        out.copy_from_slice(point.as_bytes());
        out
    }

    /// The compressed encoding in lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_compressed())
    }

    /// The ECDSA verifying key, for callers that verify with `p256` directly.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::from(&self.0)
    }

    /// The underlying `p256` public key.
    pub fn as_p256(&self) -> &p256::PublicKey {
        &self.0
    }

    /// Verify a signature over a 32-byte SHA-256 digest.
    pub fn verify_digest(&self, digest: &[u8; 32], signature: &Signature) -> bool {
        let Ok(sig) = p256::ecdsa::Signature::from_slice(signature.as_bytes()) else {
            return false;
        };
        self.verifying_key().verify_prehash(digest, &sig).is_ok()
    }

    /// Verify a signature over `SHA-256(message)`.
    pub fn verify_message(&self, message: &[u8], signature: &Signature) -> bool {
        self.verify_digest(&sha256(message), signature)
    }
}

impl From<p256::PublicKey> for PublicKey {
    fn from(key: p256::PublicKey) -> Self {
        Self(key)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// A P-256 ECDSA signature as 64 bytes `r || s` (big-endian), the form Neo
/// puts in invocation scripts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; 64]);

impl Signature {
    /// Wrap 64 bytes `r || s`.
    pub fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }

    /// Parse 64 bytes `r || s` from a slice.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        <[u8; 64]>::try_from(bytes)
            .map(Self)
            .map_err(|_| VaultError::InvalidSignature("expected 64 bytes r || s"))
    }

    /// Parse hex `r || s`.
    pub fn from_hex(text: &str) -> Result<Self> {
        let bytes =
            hex::decode(text.trim()).map_err(|_| VaultError::InvalidSignature("not valid hex"))?;
        Self::from_slice(&bytes)
    }

    /// The 64 bytes `r || s`.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    /// The 64 bytes `r || s`, by value.
    pub fn to_bytes(&self) -> [u8; 64] {
        self.0
    }

    /// Lowercase hex of `r || s`.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// Metadata of a named signing key (never the key itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyInfo {
    /// The key's name inside the vault.
    pub name: String,
    /// Its public key.
    pub public_key: PublicKey,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
}

/// The 64 bytes of caller data an attestation report binds (the size of SGX
/// `REPORTDATA`).
///
/// Convention in this product: the first 32 bytes are a SHA-256 hash, the
/// last 32 are zero. [`ReportData::for_public_key`] hashes the compressed
/// public key, so a verifier who knows the key recomputes the same value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReportData([u8; 64]);

impl ReportData {
    /// `SHA-256(compressed public key) || 32 zero bytes`.
    pub fn for_public_key(key: &PublicKey) -> Self {
        Self::for_hash(sha256(&key.to_compressed()))
    }

    /// `SHA-256(data) || 32 zero bytes`.
    pub fn for_data(data: &[u8]) -> Self {
        Self::for_hash(sha256(data))
    }

    /// `hash || 32 zero bytes`.
    pub fn for_hash(hash: [u8; 32]) -> Self {
        let mut out = [0u8; 64];
        let (head, _) = out.split_at_mut(32);
        head.copy_from_slice(&hash);
        Self(out)
    }

    /// Exactly these 64 bytes.
    pub fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }

    /// The 64 bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }
}

impl fmt::Debug for ReportData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReportData({})", hex::encode(self.0))
    }
}

impl Serialize for ReportData {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for ReportData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 64];
        hex::decode_to_slice(text.trim(), &mut out)
            .map_err(|_| serde::de::Error::custom("report_data must be 64 bytes of hex"))?;
        Ok(Self(out))
    }
}

/// What backs a vault and therefore what its attestation is worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttestationMode {
    /// Software only ([`crate::SoftwareVault`]): keys live in ordinary process
    /// memory and the report is signed by a key of the same process. It proves
    /// nothing to a third party; it exists so the whole pipeline runs in
    /// development and CI. Serialized as `"simulated"`.
    Simulated,
}

impl AttestationMode {
    /// The serialized name (`"simulated"`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Simulated => "simulated",
        }
    }

    fn code(self) -> u8 {
        match self {
            Self::Simulated => 0,
        }
    }
}

impl fmt::Display for AttestationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The platform evidence inside an [`AttestationReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Evidence {
    /// A software signature by the vault's internal attestation key over the
    /// report's fields. Self-signed: it shows the report was not altered
    /// after it left the vault and which vault produced it, nothing more.
    Simulated {
        /// The vault's attestation public key (stable for a vault's life).
        signer: PublicKey,
        /// Signature over the report's canonical bytes.
        signature: Signature,
    },
}

/// An attestation report: the vault's statement that it holds the state
/// described by `report_data` (by convention the hash of a public key it
/// generated, see [`ReportData::for_public_key`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationReport {
    /// `simulated` for the software vault. Check this first.
    pub mode: AttestationMode,
    /// The bound 64 bytes of caller data.
    pub report_data: ReportData,
    /// Random identifier of the vault instance (hex, 16 bytes), stable
    /// across restarts of the same vault state.
    pub vault_id: String,
    /// When the report was produced, seconds since the Unix epoch.
    pub issued_at: u64,
    /// Platform evidence.
    pub evidence: Evidence,
}

const REPORT_DOMAIN: &[u8] = b"nsl-enclave/v1/simulated-report";

impl AttestationReport {
    /// The canonical bytes the evidence signs: a domain string, the mode, the
    /// vault id, the time and the report data, length-prefixed where variable.
    pub fn signed_bytes(&self) -> Vec<u8> {
        report_signed_bytes(self.mode, &self.vault_id, self.issued_at, &self.report_data)
    }

    /// Check the evidence against the report's fields. For a simulated report
    /// this verifies the self-signature; callers who want more than integrity
    /// must also pin `signer` to a key they trust, and must treat
    /// `mode == simulated` as "no hardware guarantee".
    pub fn verify(&self) -> Result<()> {
        match (&self.evidence, self.mode) {
            (Evidence::Simulated { signer, signature }, AttestationMode::Simulated) => {
                if signer.verify_message(&self.signed_bytes(), signature) {
                    Ok(())
                } else {
                    Err(VaultError::AttestationInvalid(
                        "simulated report signature does not match its fields",
                    ))
                }
            }
        }
    }

    /// Whether this report binds `data` (constant-time comparison is not
    /// needed: report data is public).
    pub fn binds(&self, data: &ReportData) -> bool {
        self.report_data == *data
    }
}

pub(crate) fn report_signed_bytes(
    mode: AttestationMode,
    vault_id: &str,
    issued_at: u64,
    report_data: &ReportData,
) -> Vec<u8> {
    let mut w = Writer::with_capacity(REPORT_DOMAIN.len() + vault_id.len() + 80);
    w.bytes(REPORT_DOMAIN);
    w.u8(mode.code());
    w.u32(u32::try_from(vault_id.len()).unwrap_or(u32::MAX));
    w.bytes(vault_id.as_bytes());
    w.u64(issued_at);
    w.bytes(report_data.as_bytes());
    w.finish().to_vec()
}

/// Lifecycle state of one master key version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MasterKeyState {
    /// New data keys are wrapped under this version.
    Current,
    /// Kept only to unwrap data keys not yet re-wrapped.
    DecryptOnly,
    /// Key material destroyed; data wrapped under it cannot be opened.
    Retired,
}

/// Metadata of one master key version (never the key itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterKeyInfo {
    /// Version number, starting at 1, never reused.
    pub version: u32,
    /// Lifecycle state.
    pub state: MasterKeyState,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
    /// Retirement time, if retired.
    pub retired_at: Option<u64>,
}

/// A 256-bit data-encryption key (one per secret version). Zeroized on drop;
/// `Debug` prints `<redacted>`.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// A fresh random key from the operating system's random source.
    pub fn generate() -> Result<Self> {
        let mut key = Zeroizing::new([0u8; 32]);
        crate::crypto::random_bytes(key.as_mut_slice())?;
        Ok(Self(key))
    }

    /// Take ownership of key bytes (for vault implementations that unwrap).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key bytes. Named so that every use stands out in review.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// A data key encrypted under one master key version.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The master key version that wrapped it.
    pub key_version: u32,
    /// `nonce (12) || AES-256-GCM(data key) || tag (16)`: 60 bytes.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedKey")
            .field("key_version", &self.key_version)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// Secret plaintext handed out by the vault (unsealed data, opened
/// secrets). Zeroized on drop; `Debug` prints only the length.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub(crate) fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    /// Take ownership of plaintext bytes (for vault implementations).
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The plaintext. Named so that every use stands out in review.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// A VRF output and its proof (ECVRF-P256-SHA256-TAI, RFC 9381), made by
/// [`crate::Vault::vrf_prove`]. Anyone can check it against the vault's
/// published VRF public key with `nsl_vrf::verify`. Public values: `Debug`
/// prints them in hex.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VrfProof {
    /// The output `beta` (32 bytes).
    pub beta: [u8; 32],
    /// The proof `pi` (81 bytes: `Gamma || c || s`).
    pub proof: [u8; 81],
}

impl fmt::Debug for VrfProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VrfProof")
            .field("beta", &hex::encode(self.beta))
            .field("proof", &hex::encode(self.proof))
            .finish()
    }
}
