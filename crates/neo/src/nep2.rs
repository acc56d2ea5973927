//! NEP-2: passphrase-protected private keys (`6P...` strings).
//!
//! `scrypt(NFC(passphrase), salt = addresshash, N, r, p, 64)` gives two halves; the key XOR half 1
//! is encrypted with AES-256-ECB under half 2. `addresshash` (first 4 bytes of
//! `hash256(address)`) lets decryption detect a wrong passphrase.

use aes::Aes256;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit, generic_array::GenericArray};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::address::{base58check_decode, base58check_encode};
use crate::error::{Error, Result};
use crate::hash::hash256;
use crate::keys::PrivateKey;

const NEP2_PREFIX: [u8; 3] = [0x01, 0x42, 0xe0];
const NEP2_LEN: usize = 39;
/// Most memory scrypt may use (`128 * N * r` bytes), so a hostile wallet file cannot exhaust memory.
pub const MAX_SCRYPT_MEMORY: u64 = 1 << 30;

/// Scrypt parameters of NEP-2 (as NEP-6 wallets store them: `{"n":16384,"r":8,"p":8}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScryptParams {
    /// CPU/memory cost, a power of two.
    pub n: u64,
    /// Block size.
    pub r: u32,
    /// Parallelism.
    pub p: u32,
}

impl Default for ScryptParams {
    /// The NEP-2 standard parameters: N = 16384, r = 8, p = 8.
    fn default() -> Self {
        Self {
            n: 16384,
            r: 8,
            p: 8,
        }
    }
}

impl ScryptParams {
    /// Validate and convert to the scrypt crate's parameters for a 64-byte output.
    fn to_params(self) -> Result<scrypt::Params> {
        if self.n < 2 || !self.n.is_power_of_two() {
            return Err(Error::Scrypt(format!(
                "n = {} is not a power of two >= 2",
                self.n
            )));
        }
        if self.r == 0 || self.p == 0 {
            return Err(Error::Scrypt("r and p must be positive".into()));
        }
        let mem = 128u64
            .saturating_mul(self.n)
            .saturating_mul(u64::from(self.r));
        if mem > MAX_SCRYPT_MEMORY {
            return Err(Error::Scrypt(format!(
                "needs {mem} bytes of memory, more than {MAX_SCRYPT_MEMORY}"
            )));
        }
        if u64::from(self.r) * u64::from(self.p) > 1 << 12 {
            return Err(Error::Scrypt(format!(
                "r * p = {} is too large",
                u64::from(self.r) * u64::from(self.p)
            )));
        }
        let log_n = self.n.trailing_zeros() as u8;
        scrypt::Params::new(log_n, self.r, self.p, 64).map_err(|e| Error::Scrypt(e.to_string()))
    }
}

fn derive(passphrase: &str, salt: &[u8], params: ScryptParams) -> Result<Zeroizing<[u8; 64]>> {
    let p = params.to_params()?;
    let phrase = Zeroizing::new(passphrase.nfc().collect::<String>());
    let mut out = Zeroizing::new([0u8; 64]);
    scrypt::scrypt(phrase.as_bytes(), salt, &p, out.as_mut())
        .map_err(|e| Error::Scrypt(e.to_string()))?;
    Ok(out)
}

fn address_hash(key: &PrivateKey) -> [u8; 4] {
    let h = hash256(key.address().as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// Encrypt `key` with `passphrase` into a NEP-2 string.
pub fn encrypt(key: &PrivateKey, passphrase: &str, params: ScryptParams) -> Result<String> {
    let salt = address_hash(key);
    let derived = derive(passphrase, &salt, params)?;
    let cipher = Aes256::new(GenericArray::from_slice(&derived[32..]));
    let mut block = Zeroizing::new([0u8; 32]);
    let secret = key.to_bytes();
    for (i, b) in block.iter_mut().enumerate() {
        *b = secret[i] ^ derived[i];
    }
    let mut out = Vec::with_capacity(NEP2_LEN);
    out.extend_from_slice(&NEP2_PREFIX);
    out.extend_from_slice(&salt);
    for chunk in block.chunks_exact_mut(16) {
        let ga = GenericArray::from_mut_slice(chunk);
        cipher.encrypt_block(ga);
        out.extend_from_slice(ga);
    }
    Ok(base58check_encode(&out))
}

/// Check that `nep2` is well-formed (prefix, length, checksum) without decrypting it.
pub fn validate(nep2: &str) -> Result<()> {
    decode(nep2).map(|_| ())
}

fn decode(nep2: &str) -> Result<Vec<u8>> {
    let raw = base58check_decode(nep2).map_err(|e| match e {
        Error::Checksum => Error::Nep2("checksum mismatch"),
        _ => Error::Nep2("not base58"),
    })?;
    if raw.len() != NEP2_LEN {
        return Err(Error::Nep2("expected 39 bytes"));
    }
    if raw[..3] != NEP2_PREFIX {
        return Err(Error::Nep2("prefix is not 0x0142e0"));
    }
    Ok(raw)
}

/// Decrypt a NEP-2 string. A wrong passphrase gives [`Error::WrongPassword`].
pub fn decrypt(nep2: &str, passphrase: &str, params: ScryptParams) -> Result<PrivateKey> {
    let raw = decode(nep2)?;
    let salt = &raw[3..7];
    let derived = derive(passphrase, salt, params)?;
    let cipher = Aes256::new(GenericArray::from_slice(&derived[32..]));
    let mut plain = Zeroizing::new([0u8; 32]);
    plain.copy_from_slice(&raw[7..39]);
    for chunk in plain.chunks_exact_mut(16) {
        cipher.decrypt_block(GenericArray::from_mut_slice(chunk));
    }
    for (i, b) in plain.iter_mut().enumerate() {
        *b ^= derived[i];
    }
    let key = PrivateKey::from_bytes(plain.as_ref()).map_err(|_| Error::WrongPassword)?;
    if address_hash(&key) != salt {
        return Err(Error::WrongPassword);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: ScryptParams = ScryptParams { n: 2, r: 1, p: 1 };

    #[test]
    fn roundtrip_and_wrong_password() {
        let k = PrivateKey::generate();
        let s = encrypt(&k, "pass", FAST).unwrap();
        assert!(s.starts_with("6P"));
        assert_eq!(decrypt(&s, "pass", FAST).unwrap(), k);
        assert_eq!(
            decrypt(&s, "wrong", FAST).unwrap_err(),
            Error::WrongPassword
        );
    }

    #[test]
    fn malformed() {
        assert_eq!(
            decrypt("6PYxyz", "a", FAST).unwrap_err(),
            Error::Nep2("checksum mismatch")
        );
        assert!(matches!(decrypt("", "a", FAST), Err(Error::Nep2(_))));
        let other = base58check_encode(&[0x01; 39]);
        assert_eq!(
            validate(&other).unwrap_err(),
            Error::Nep2("prefix is not 0x0142e0")
        );
        assert!(ScryptParams { n: 3, r: 1, p: 1 }.to_params().is_err());
        assert!(
            ScryptParams {
                n: 1 << 40,
                r: 8,
                p: 8
            }
            .to_params()
            .is_err()
        );
        assert!(ScryptParams { n: 2, r: 0, p: 1 }.to_params().is_err());
    }
}
