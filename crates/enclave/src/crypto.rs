//! Internal primitives: 32-byte secret keys, HKDF derivation, AES-256-GCM,
//! randomness and a small checked binary reader/writer.
//!
//! Nothing here is public: the crate's API exposes operations, not keys.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Result, VaultError};

/// Length of an AES-GCM nonce.
pub(crate) const NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag.
pub(crate) const TAG_LEN: usize = 16;
/// HKDF salt shared by every derivation in this crate (domain separation
/// comes from the `info` strings).
const HKDF_SALT: &[u8] = b"nsl-enclave/v1";

/// Fill `buf` from the operating system's random source.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<()> {
    OsRng
        .try_fill_bytes(buf)
        .map_err(|_| VaultError::Crypto("system random source unavailable"))
}

/// A fresh random AES-GCM nonce.
pub(crate) fn random_nonce() -> Result<[u8; NONCE_LEN]> {
    let mut nonce = [0u8; NONCE_LEN];
    random_bytes(&mut nonce)?;
    Ok(nonce)
}

/// A 32-byte secret key, zeroized on drop, never printed.
#[derive(Clone)]
pub(crate) struct Key32(Zeroizing<[u8; 32]>);

impl Key32 {
    /// Take ownership of key bytes.
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A fresh random key from the OS random source.
    pub(crate) fn random() -> Result<Self> {
        let mut key = Zeroizing::new([0u8; 32]);
        random_bytes(key.as_mut_slice())?;
        Ok(Self(key))
    }

    /// The raw key bytes (crate-internal only).
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// HKDF-SHA256 with this key as input keying material, a fixed crate
    /// salt and the given `info` label.
    pub(crate) fn derive(&self, info: &[u8]) -> Result<Key32> {
        derive_key(self.0.as_slice(), info)
    }

    /// Encrypt `plaintext` with a fresh random nonce; returns
    /// `(nonce, ciphertext || tag)`.
    pub(crate) fn encrypt(
        &self,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<([u8; NONCE_LEN], Vec<u8>)> {
        let nonce = random_nonce()?;
        let ciphertext = self.encrypt_with_nonce(&nonce, aad, plaintext)?;
        Ok((nonce, ciphertext))
    }

    /// Encrypt with a caller-chosen nonce (which must never repeat under this
    /// key); returns `ciphertext || tag`.
    pub(crate) fn encrypt_with_nonce(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let cipher = self.cipher()?;
        let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
        buf.extend_from_slice(plaintext);
        cipher
            .encrypt_in_place(Nonce::from_slice(nonce), aad, &mut buf)
            .map_err(|_| VaultError::Crypto("AES-GCM encryption"))?;
        Ok(buf)
    }

    /// Decrypt and authenticate; `None` when authentication fails.
    pub(crate) fn decrypt(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>> {
        if ciphertext.len() < TAG_LEN {
            return Ok(None);
        }
        let cipher = self.cipher()?;
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        match cipher.decrypt_in_place(Nonce::from_slice(nonce), aad, &mut *buf) {
            Ok(()) => Ok(Some(buf)),
            Err(_) => Ok(None),
        }
    }

    fn cipher(&self) -> Result<Aes256Gcm> {
        Aes256Gcm::new_from_slice(self.0.as_slice())
            .map_err(|_| VaultError::Crypto("AES-256-GCM key setup"))
    }
}

impl std::fmt::Debug for Key32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key32(<redacted>)")
    }
}

/// HKDF-SHA256 over arbitrary-length input keying material (a 16-byte SGX
/// sealing key works as well as a 32-byte KEK).
pub(crate) fn derive_key(ikm: &[u8], info: &[u8]) -> Result<Key32> {
    let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), ikm);
    let mut okm = Zeroizing::new([0u8; 32]);
    hk.expand(info, okm.as_mut_slice())
        .map_err(|_| VaultError::Crypto("HKDF expand"))?;
    Ok(Key32(okm))
}

/// Append-only binary writer into a zeroizing buffer (for plaintexts that
/// contain key material).
pub(crate) struct Writer {
    buf: Zeroizing<Vec<u8>>,
}

impl Writer {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Zeroizing::new(Vec::with_capacity(capacity)),
        }
    }
    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub(crate) fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    pub(crate) fn finish(self) -> Zeroizing<Vec<u8>> {
        self.buf
    }
}

/// Checked binary reader: every read either succeeds or reports truncation;
/// it never panics on short input.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data }
    }
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.data.len() < n {
            return None;
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Some(head)
    }
    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N).and_then(|s| s.try_into().ok())
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }
    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }
    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aead_round_trip_and_aad_binding() {
        let key = Key32::random().unwrap();
        let (nonce, ct) = key.encrypt(b"aad", b"hello").unwrap();
        let pt = key.decrypt(&nonce, b"aad", &ct).unwrap().unwrap();
        assert_eq!(pt.as_slice(), b"hello");
        assert!(key.decrypt(&nonce, b"other", &ct).unwrap().is_none());
        assert!(key.decrypt(&nonce, b"aad", &ct[..5]).unwrap().is_none());
    }

    #[test]
    fn derivation_separates_domains() {
        let root = Key32::from_bytes([7u8; 32]);
        let a = root.derive(b"a").unwrap();
        let b = root.derive(b"b").unwrap();
        assert_ne!(a.as_bytes(), b.as_bytes());
        assert_eq!(a.as_bytes(), root.derive(b"a").unwrap().as_bytes());
    }

    #[test]
    fn reader_reports_truncation() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(), Some(0x0102));
        assert_eq!(r.u32(), None);
        assert_eq!(r.u8(), Some(3));
        assert!(r.is_empty());
    }
}
