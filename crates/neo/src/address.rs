//! Neo N3 addresses: base58check of `version || script hash (little-endian)`.

use crate::error::{Error, Result};
use crate::hash::hash256;
use crate::uint::UInt160;

/// Address version byte of Neo N3 (addresses start with `N`).
pub const ADDRESS_VERSION: u8 = 0x35;

/// Base58check-encode `payload` (payload || first 4 bytes of hash256(payload)).
pub fn base58check_encode(payload: &[u8]) -> String {
    let checksum = hash256(payload);
    let mut buf = Vec::with_capacity(payload.len() + 4);
    buf.extend_from_slice(payload);
    buf.extend_from_slice(&checksum[..4]);
    bs58::encode(buf).into_string()
}

/// Decode a base58check string and verify its checksum; returns the payload.
pub fn base58check_decode(s: &str) -> Result<Vec<u8>> {
    let raw = bs58::decode(s).into_vec().map_err(|_| Error::Base58)?;
    if raw.len() < 4 {
        return Err(Error::Length {
            what: "base58check data",
            expected: 4,
            got: raw.len(),
        });
    }
    let (payload, checksum) = raw.split_at(raw.len() - 4);
    if hash256(payload)[..4] != *checksum {
        return Err(Error::Checksum);
    }
    Ok(payload.to_vec())
}

/// The Neo N3 address of a script hash.
pub fn script_hash_to_address(hash: &UInt160) -> String {
    let mut payload = [0u8; 21];
    payload[0] = ADDRESS_VERSION;
    payload[1..].copy_from_slice(hash.as_bytes());
    base58check_encode(&payload)
}

/// The script hash of a Neo N3 address (checks length, checksum and version byte).
pub fn address_to_script_hash(address: &str) -> Result<UInt160> {
    let payload = base58check_decode(address)?;
    if payload.len() != 21 {
        return Err(Error::Length {
            what: "address payload",
            expected: 21,
            got: payload.len(),
        });
    }
    let (version, hash) = payload.split_at(1);
    if version != [ADDRESS_VERSION] {
        return Err(Error::AddressVersion {
            expected: ADDRESS_VERSION,
            got: version.first().copied().unwrap_or(0),
        });
    }
    UInt160::from_slice_le(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_address() {
        // neo-go internal/keytestcases/testcases.go
        let h = UInt160::from_hex_be("0xa7cbfee3f01f89d58c042644b0b6df2d59a6eb26").unwrap();
        assert_eq!(
            script_hash_to_address(&h),
            "NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6i"
        );
        assert_eq!(
            address_to_script_hash("NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6i").unwrap(),
            h
        );
    }

    #[test]
    fn bad_addresses() {
        assert_eq!(
            address_to_script_hash("NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6j"),
            Err(Error::Checksum)
        );
        assert_eq!(address_to_script_hash("0OIl"), Err(Error::Base58));
        assert!(matches!(
            address_to_script_hash(""),
            Err(Error::Length { .. })
        ));
        // A Neo Legacy (version 0x17) address: right length and checksum, wrong version.
        let legacy = base58check_encode(&[0x17; 21]);
        assert!(matches!(
            address_to_script_hash(&legacy),
            Err(Error::AddressVersion { got: 0x17, .. })
        ));
    }
}
