//! Hex and base64 helpers for the textual forms Neo tools use (hex in CLIs, base64 in RPC).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result};

/// Lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Parse hex, with or without a `0x` prefix.
pub fn from_hex(s: &str) -> Result<Vec<u8>> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(s).map_err(|_| Error::Hex)
}

/// Standard base64 with padding (as RPC nodes write byte strings and scripts).
pub fn to_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Parse standard base64.
pub fn from_base64(s: &str) -> Result<Vec<u8>> {
    STANDARD
        .decode(s)
        .map_err(|_| Error::Format("invalid base64".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrips() {
        assert_eq!(from_hex("0x00ff").unwrap(), vec![0, 255]);
        assert_eq!(to_hex(&[0, 255]), "00ff");
        assert_eq!(from_hex("0f0").unwrap_err(), Error::Hex);
        assert_eq!(from_base64(&to_base64(b"neo")).unwrap(), b"neo");
        assert!(from_base64("!").is_err());
    }
}
