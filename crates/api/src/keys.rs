//! API key material: format, generation, hashing, constant-time comparison.
//!
//! A key reads `nsl_<prefix>_<secret>`: `prefix` is 12 lowercase hex characters (48 random bits,
//! unique, stored in clear, used to find the key), `secret` 64 lowercase hex characters (256 random
//! bits). The full key is shown once at creation; the store keeps only SHA-256 of the full key string.
//! A fast hash is right here: the key has 256 bits of entropy, so there is nothing to brute force,
//! unlike a password. Comparison of hashes is constant-time.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Literal start of every key.
pub const KEY_PREFIX_TAG: &str = "nsl_";
/// Length of the public prefix in characters.
pub const PREFIX_LEN: usize = 12;
/// Length of the secret part in characters.
pub const SECRET_LEN: usize = 64;

/// A freshly generated key. `Debug` redacts the secret.
pub struct NewKey {
    /// Public prefix (lookup id).
    pub prefix: String,
    /// The whole key, to show to the user exactly once.
    pub full: String,
    /// SHA-256 of `full`, to store.
    pub hash: [u8; 32],
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("prefix", &self.prefix)
            .field("full", &"<redacted>")
            .finish()
    }
}

/// Generate a new random key.
pub fn generate() -> NewKey {
    let mut rng = rand::rngs::OsRng;
    let mut p = [0u8; PREFIX_LEN / 2];
    let mut s = [0u8; SECRET_LEN / 2];
    rng.fill_bytes(&mut p);
    rng.fill_bytes(&mut s);
    let prefix = hex::encode(p);
    let full = format!("{KEY_PREFIX_TAG}{prefix}_{}", hex::encode(s));
    let hash = hash_key(&full);
    NewKey { prefix, full, hash }
}

/// SHA-256 of a full key string.
pub fn hash_key(full: &str) -> [u8; 32] {
    Sha256::digest(full.as_bytes()).into()
}

/// If `s` has the shape of an API key, its prefix. Shape only: nothing is verified.
pub fn parse_prefix(s: &str) -> Option<&str> {
    let rest = s.strip_prefix(KEY_PREFIX_TAG)?;
    let (prefix, secret) = rest.split_once('_')?;
    let hex_lower = |x: &str| {
        x.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    (prefix.len() == PREFIX_LEN
        && secret.len() == SECRET_LEN
        && hex_lower(prefix)
        && hex_lower(secret))
    .then_some(prefix)
}

/// Constant-time equality of two hashes (or any byte strings of equal length).
pub fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Opaque refresh tokens: `nslr_` + 64 hex characters (256 random bits); stored as SHA-256.
pub mod refresh {
    use super::*;

    /// Literal start of refresh tokens.
    pub const TAG: &str = "nslr_";

    /// A new refresh token and its hash.
    pub fn generate() -> (String, [u8; 32]) {
        let mut s = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut s);
        let token = format!("{TAG}{}", hex::encode(s));
        let h = hash_key(&token);
        (token, h)
    }

    /// Whether `s` has the shape of a refresh token.
    pub fn well_formed(s: &str) -> bool {
        s.strip_prefix(TAG).is_some_and(|h| {
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_hash() {
        let k = generate();
        assert_eq!(parse_prefix(&k.full), Some(k.prefix.as_str()));
        assert_eq!(
            k.full.len(),
            KEY_PREFIX_TAG.len() + PREFIX_LEN + 1 + SECRET_LEN
        );
        assert!(hashes_equal(&hash_key(&k.full), &k.hash));
        let other = generate();
        assert_ne!(other.full, k.full);
        assert!(!hashes_equal(&other.hash, &k.hash));
        assert!(!format!("{k:?}").contains(&k.full[17..]));
    }

    #[test]
    fn malformed_keys_have_no_prefix() {
        let k = generate();
        for bad in [
            "",
            "nsl_",
            "nsl_abc_def",
            &k.full[1..],
            &k.full[..k.full.len() - 1],
            &k.full.to_uppercase(),
            &format!("{}x", k.full),
            &k.full.replacen('_', "-", 2),
        ] {
            assert_eq!(parse_prefix(bad), None, "{bad}");
        }
    }

    #[test]
    fn refresh_tokens_are_well_formed() {
        let (t, h) = refresh::generate();
        assert!(refresh::well_formed(&t));
        assert_eq!(hash_key(&t), h);
        assert!(!refresh::well_formed(&t[..t.len() - 1]));
        assert!(!refresh::well_formed("nslr_zz"));
    }

    #[test]
    fn unequal_lengths_are_unequal() {
        assert!(!hashes_equal(b"abc", b"abcd"));
        assert!(hashes_equal(b"abc", b"abc"));
    }
}
