//! Fixed-size hashes in Neo byte order: [`UInt160`] (script hashes) and [`UInt256`] (tx/block hashes).
//!
//! Neo stores these little-endian (the order a hash function outputs and the wire carries) and shows
//! them big-endian with a `0x` prefix. `UInt160::from_bytes_le(hash160(script))` is a script's hash;
//! its `Display` is the familiar `0x...` string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

macro_rules! neo_uint {
    ($(#[$doc:meta])* $name:ident, $len:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;
            /// The all-zero value.
            pub const ZERO: Self = Self([0u8; $len]);

            /// From bytes in storage (little-endian) order, e.g. a hash function's output.
            pub const fn from_bytes_le(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// From bytes in display (big-endian) order.
            pub fn from_bytes_be(mut bytes: [u8; $len]) -> Self {
                bytes.reverse();
                Self(bytes)
            }

            /// From a little-endian slice; fails unless it has exactly `LEN` bytes.
            pub fn from_slice_le(bytes: &[u8]) -> Result<Self> {
                let arr: [u8; $len] = bytes.try_into().map_err(|_| Error::Length {
                    what: $what,
                    expected: $len,
                    got: bytes.len(),
                })?;
                Ok(Self(arr))
            }

            /// Bytes in storage (little-endian) order.
            pub const fn to_bytes_le(&self) -> [u8; $len] {
                self.0
            }

            /// Bytes in display (big-endian) order.
            pub fn to_bytes_be(&self) -> [u8; $len] {
                let mut b = self.0;
                b.reverse();
                b
            }

            /// Borrow the little-endian bytes.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Parse big-endian hex, with or without a `0x` prefix (the form `Display` produces).
            pub fn from_hex_be(s: &str) -> Result<Self> {
                let s = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
                if s.len() != $len * 2 {
                    return Err(Error::Length { what: $what, expected: $len, got: s.len() / 2 });
                }
                let mut arr = [0u8; $len];
                hex::decode_to_slice(s, &mut arr).map_err(|_| Error::Hex)?;
                Ok(Self::from_bytes_be(arr))
            }

            /// Parse little-endian hex (raw storage order, as in scripts), with or without `0x`.
            pub fn from_hex_le(s: &str) -> Result<Self> {
                let s = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
                if s.len() != $len * 2 {
                    return Err(Error::Length { what: $what, expected: $len, got: s.len() / 2 });
                }
                let mut arr = [0u8; $len];
                hex::decode_to_slice(s, &mut arr).map_err(|_| Error::Hex)?;
                Ok(Self(arr))
            }

            /// Big-endian hex without the `0x` prefix.
            pub fn to_hex_be(&self) -> String {
                hex::encode(self.to_bytes_be())
            }

            /// Little-endian hex (storage order) without a prefix.
            pub fn to_hex_le(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "0x{}", self.to_hex_be())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(0x{})", stringify!($name), self.to_hex_be())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::from_hex_be(s)
            }
        }

        impl From<[u8; $len]> for $name {
            /// From little-endian (storage order) bytes.
            fn from(b: [u8; $len]) -> Self {
                Self(b)
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $name {
            /// Numeric order of the little-endian value (as Neo compares them).
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.0.iter().rev().cmp(other.0.iter().rev())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::from_hex_be(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

neo_uint!(
    /// A 160-bit hash, usually a script hash (account or contract). Stored little-endian, shown as
    /// `0x` + big-endian hex.
    UInt160,
    20,
    "UInt160"
);

neo_uint!(
    /// A 256-bit hash, usually a transaction or block hash. Stored little-endian, shown as
    /// `0x` + big-endian hex.
    UInt256,
    32,
    "UInt256"
);

impl UInt160 {
    /// The script hash of `script`: `hash160(script)`.
    pub fn from_script(script: &[u8]) -> Self {
        Self(crate::hash::hash160(script))
    }

    /// The Neo N3 address of this script hash (version 0x35).
    pub fn to_address(&self) -> String {
        crate::address::script_hash_to_address(self)
    }

    /// Parse a Neo N3 address into its script hash.
    pub fn from_address(address: &str) -> Result<Self> {
        crate::address::address_to_script_hash(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_reversed_hex() {
        let h = UInt160::from_hex_be("0xa7cbfee3f01f89d58c042644b0b6df2d59a6eb26").unwrap();
        assert_eq!(h.to_bytes_le()[0], 0x26);
        assert_eq!(h.to_string(), "0xa7cbfee3f01f89d58c042644b0b6df2d59a6eb26");
        assert_eq!(
            h,
            "a7cbfee3f01f89d58c042644b0b6df2d59a6eb26".parse().unwrap()
        );
        assert_eq!(h.to_hex_le(), "26eba6592ddfb6b04426048cd5891ff0e3fecba7");
        assert_eq!(UInt160::from_hex_le(&h.to_hex_le()).unwrap(), h);
    }

    #[test]
    fn serde_as_string() {
        let h: UInt256 = serde_json::from_str(
            "\"0x0000000000000000000000000000000000000000000000000000000000000001\"",
        )
        .unwrap();
        assert_eq!(h.to_bytes_le()[0], 1);
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            "\"0x0000000000000000000000000000000000000000000000000000000000000001\""
        );
        assert!(serde_json::from_str::<UInt256>("\"0x01\"").is_err());
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(
            UInt160::from_hex_be("0x12"),
            Err(Error::Length { .. })
        ));
        assert!(matches!(
            UInt160::from_hex_be(&"zz".repeat(20)),
            Err(Error::Hex)
        ));
        assert!(UInt160::from_slice_le(&[0u8; 19]).is_err());
        // Multi-byte UTF-8 whose byte length matches must not panic.
        assert!(UInt160::from_hex_be(&"é".repeat(20)).is_err());
    }

    #[test]
    fn ordering_is_numeric() {
        let a = UInt160::from_hex_be("0x0100000000000000000000000000000000000000").unwrap();
        let b = UInt160::from_hex_be("0x00ffffffffffffffffffffffffffffffffffffff").unwrap();
        assert!(a > b);
    }
}
