//! The software vault's key-encryption key (KEK): where it comes from and how
//! it is parsed. The KEK value never appears in errors, logs or `Debug`.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::crypto::Key32;
use crate::error::{Result, VaultError};

/// Environment variable holding the KEK itself: 32 bytes as 64 hex
/// characters or base64.
pub const ENV_KEK: &str = "NSL_VAULT_KEK";
/// Environment variable naming a file that holds the KEK (hex, base64, or
/// exactly 32 raw bytes).
pub const ENV_KEK_FILE: &str = "NSL_VAULT_KEK_FILE";

/// A 32-byte key-encryption key. Zeroized on drop; `Debug` is redacted.
#[derive(Clone)]
pub struct Kek(Key32);

impl Kek {
    /// Take 32 raw bytes. An all-zero key is refused (a blank placeholder is
    /// a configuration mistake, not a key).
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self> {
        if bytes == [0u8; 32] {
            return Err(VaultError::KekInvalid {
                origin: "bytes".into(),
                reason: "all-zero key",
            });
        }
        Ok(Self(Key32::from_bytes(bytes)))
    }

    /// A fresh random KEK.
    pub fn generate() -> Result<Self> {
        Ok(Self(Key32::random()?))
    }

    /// Parse text: 64 hex characters or base64 (standard alphabet, with or
    /// without padding) of exactly 32 bytes; surrounding whitespace ignored.
    /// `origin` names the source in error messages (never the value).
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let invalid = |reason| VaultError::KekInvalid {
            origin: origin.to_owned(),
            reason,
        };
        let text = text.trim();
        let mut bytes = Zeroizing::new([0u8; 32]);
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode_to_slice(text, bytes.as_mut_slice())
                .map_err(|_| invalid("not valid hex"))?;
        } else {
            let mut buf = Zeroizing::new([0u8; 48]);
            let n = base64::engine::general_purpose::STANDARD
                .decode_slice(text, buf.as_mut_slice())
                .or_else(|_| {
                    base64::engine::general_purpose::STANDARD_NO_PAD
                        .decode_slice(text, buf.as_mut_slice())
                })
                .map_err(|_| invalid("expected 32 bytes as 64 hex characters or base64"))?;
            let decoded = buf
                .get(..n)
                .ok_or(invalid("expected 32 bytes as 64 hex characters or base64"))?;
            if decoded.len() != 32 {
                return Err(invalid("decodes to a length other than 32 bytes"));
            }
            bytes.copy_from_slice(decoded);
        }
        Self::from_bytes(*bytes).map_err(|_| invalid("all-zero key"))
    }

    /// Read a KEK file: hex or base64 text, or exactly 32 raw bytes. Warns
    /// when the file is readable by group or others.
    pub fn from_file(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        let data = Zeroizing::new(fs::read(path).map_err(|e| VaultError::io(path, e))?);
        warn_if_shared(path);
        // 32 raw bytes are told apart from text by content: random bytes are
        // essentially never all printable ASCII, and a 32-character text
        // (a passphrase?) is refused rather than used as a weak key.
        let printable = data
            .iter()
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
        if !printable {
            let raw: [u8; 32] = data
                .as_slice()
                .try_into()
                .map_err(|_| VaultError::KekInvalid {
                    origin: origin.clone(),
                    reason: "expected 32 raw bytes, 64 hex characters or base64",
                })?;
            return Self::from_bytes(raw).map_err(|_| VaultError::KekInvalid {
                origin,
                reason: "all-zero key",
            });
        }
        let text = std::str::from_utf8(&data).map_err(|_| VaultError::KekInvalid {
            origin: origin.clone(),
            reason: "not text",
        })?;
        Self::parse(text, &origin)
    }

    pub(crate) fn key(&self) -> &Key32 {
        &self.0
    }

    /// The KEK as 64 hex characters and a newline (the dev KEK file's
    /// content), built in place in a zeroizing buffer.
    pub(crate) fn to_hex_line(&self) -> Zeroizing<Vec<u8>> {
        let mut line = Zeroizing::new(vec![b'\n'; 65]);
        if let Some(digits) = line.get_mut(..64) {
            // 32 bytes always encode to exactly 64 hex digits.
            let _ = hex::encode_to_slice(self.0.as_bytes(), digits);
        }
        line
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kek(<redacted>)")
    }
}

#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{:o}", mode & 0o777),
                "vault KEK file is readable by group or others; chmod 600 it"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {}

/// Where the software vault gets its KEK.
#[derive(Clone, Debug)]
pub enum KekSource {
    /// A KEK already in memory (from `NSL_VAULT_KEK`, or a test).
    Key(Kek),
    /// A file holding the KEK (from `NSL_VAULT_KEK_FILE`).
    File(PathBuf),
    /// Development only: `vault.kek` beside the state, generated on first
    /// start. It sits next to what it protects, so it protects nothing;
    /// every start logs a warning saying so.
    DevFile,
}

impl KekSource {
    /// Read [`ENV_KEK`] / [`ENV_KEK_FILE`] from the process environment; with
    /// neither set, [`KekSource::DevFile`] if `dev_mode`, else
    /// [`VaultError::KekMissing`].
    pub fn from_env(dev_mode: bool) -> Result<Self> {
        Self::from_lookup(dev_mode, |name| std::env::var(name).ok())
    }

    /// Like [`KekSource::from_env`] with a caller-supplied variable lookup
    /// (for configuration layers and tests). Setting both variables is an
    /// error: the operator must say which one is meant.
    pub fn from_lookup(dev_mode: bool, lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let value = lookup(ENV_KEK)
            .map(Zeroizing::new)
            .filter(|v| !v.trim().is_empty());
        let file = lookup(ENV_KEK_FILE).filter(|v| !v.trim().is_empty());
        match (value, file) {
            (Some(_), Some(_)) => Err(VaultError::KekInvalid {
                origin: format!("{ENV_KEK} and {ENV_KEK_FILE}"),
                reason: "both are set; set only one",
            }),
            (Some(value), None) => Ok(Self::Key(Kek::parse(&value, ENV_KEK)?)),
            (None, Some(path)) => Ok(Self::File(PathBuf::from(path.trim()))),
            (None, None) if dev_mode => Ok(Self::DevFile),
            (None, None) => Err(VaultError::KekMissing),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn parses_hex_and_base64_to_the_same_key() {
        let a = Kek::parse(HEX, "t").unwrap();
        let bytes = hex::decode(HEX).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let b = Kek::parse(&format!("  {b64}\n"), "t").unwrap();
        let c = Kek::parse(b64.trim_end_matches('='), "t").unwrap();
        assert_eq!(a.key().as_bytes(), b.key().as_bytes());
        assert_eq!(a.key().as_bytes(), c.key().as_bytes());
    }

    #[test]
    fn rejects_bad_values_without_echoing_them() {
        for bad in [
            "abc",
            &HEX[..62],
            "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            &"00".repeat(32),
            "AAAA",
        ] {
            let err = Kek::parse(bad, "NSL_VAULT_KEK").unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("NSL_VAULT_KEK"), "{msg}");
            if bad.len() > 8 {
                assert!(!msg.contains(bad), "{msg}");
            }
        }
    }

    #[test]
    fn env_lookup_rules() {
        let none = |_: &str| None;
        assert!(matches!(
            KekSource::from_lookup(false, none),
            Err(VaultError::KekMissing)
        ));
        assert!(matches!(
            KekSource::from_lookup(true, none),
            Ok(KekSource::DevFile)
        ));
        let both = |_: &str| Some(HEX.to_owned());
        assert!(KekSource::from_lookup(true, both).is_err());
        let value = |n: &str| (n == ENV_KEK).then(|| HEX.to_owned());
        assert!(matches!(
            KekSource::from_lookup(false, value),
            Ok(KekSource::Key(_))
        ));
        let file = |n: &str| (n == ENV_KEK_FILE).then(|| "/etc/kek".to_owned());
        assert!(matches!(
            KekSource::from_lookup(false, file),
            Ok(KekSource::File(p)) if p == Path::new("/etc/kek")
        ));
    }

    #[test]
    fn debug_is_redacted() {
        let kek = Kek::parse(HEX, "t").unwrap();
        let text = format!("{kek:?} {:?}", KekSource::Key(kek.clone()));
        assert!(!text.contains("0102"), "{text}");
        assert!(text.contains("redacted"));
    }
}
