//! NeoVM stack items: the values contract calls return.
//!
//! [`StackItem`] has two encodings: the JSON form of RPC results (`{"type":"Integer","value":"1"}`,
//! via serde) and StdLib's binary serialization ([`StackItem::serialize`] /
//! [`StackItem::deserialize`], the format of `StdLib.serialize` and of contract storage values).

mod binary;
mod json;

pub use binary::{MAX_ITEM_SIZE, MAX_KEY_SIZE, MAX_SERIALIZED_ITEMS};

use num_bigint::BigInt;

use crate::error::{Error, Result};
use crate::keys::PublicKey;
use crate::script::{MAX_INTEGER_SIZE, int_from_bytes, int_to_bytes};
use crate::uint::{UInt160, UInt256};

/// Details of an `InteropInterface` item as RPC nodes report it (e.g. an iterator session).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InteropInterface {
    /// Interface name, e.g. `"IIterator"` (neo-go, sessions enabled).
    pub interface: Option<String>,
    /// Iterator session id for `traverseiterator`.
    pub id: Option<String>,
    /// Items of an iterator expanded in place (sessions disabled).
    pub iterator: Option<Vec<StackItem>>,
    /// Whether `iterator` was cut short.
    pub truncated: Option<bool>,
}

/// A NeoVM stack item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackItem {
    /// Null.
    Any,
    /// A script position (not serializable).
    Pointer(u32),
    /// A boolean.
    Boolean(bool),
    /// An integer of up to 256 bits.
    Integer(BigInt),
    /// An immutable byte string.
    ByteString(Vec<u8>),
    /// A mutable byte buffer.
    Buffer(Vec<u8>),
    /// An array.
    Array(Vec<StackItem>),
    /// A struct (compared by value in the VM).
    Struct(Vec<StackItem>),
    /// A map; keys are primitive items (Boolean, Integer, ByteString), in insertion order.
    Map(Vec<(StackItem, StackItem)>),
    /// A host object (iterator etc.; not serializable).
    InteropInterface(InteropInterface),
}

impl StackItem {
    /// The type name as RPC nodes write it (`"ByteString"`, `"Integer"`...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Any => "Any",
            Self::Pointer(_) => "Pointer",
            Self::Boolean(_) => "Boolean",
            Self::Integer(_) => "Integer",
            Self::ByteString(_) => "ByteString",
            Self::Buffer(_) => "Buffer",
            Self::Array(_) => "Array",
            Self::Struct(_) => "Struct",
            Self::Map(_) => "Map",
            Self::InteropInterface(_) => "InteropInterface",
        }
    }

    fn mismatch(&self, expected: &'static str) -> Error {
        Error::StackItemType {
            expected,
            got: self.type_name(),
        }
    }

    /// Whether this is null (`Any`).
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Any)
    }

    /// An integer item.
    pub fn int(v: impl Into<BigInt>) -> Self {
        Self::Integer(v.into())
    }

    /// A byte string item.
    pub fn bytes(v: impl Into<Vec<u8>>) -> Self {
        Self::ByteString(v.into())
    }

    /// A byte string item holding UTF-8 text.
    pub fn string(s: &str) -> Self {
        Self::ByteString(s.as_bytes().to_vec())
    }

    /// Boolean value by NeoVM conversion rules: null is false, integers are true unless zero,
    /// byte strings (up to 32 bytes) are true unless all zero, buffers and compound items are true.
    pub fn as_bool(&self) -> Result<bool> {
        match self {
            Self::Any => Ok(false),
            Self::Boolean(b) => Ok(*b),
            Self::Integer(i) => Ok(i.sign() != num_bigint::Sign::NoSign),
            Self::ByteString(b) => {
                if b.len() > MAX_INTEGER_SIZE {
                    return Err(Error::IntegerRange(format!("{} bytes to boolean", b.len())));
                }
                Ok(b.iter().any(|&x| x != 0))
            }
            _ => Ok(true),
        }
    }

    /// Integer value: integers, booleans (0/1), byte strings and buffers of up to 32 bytes
    /// (two's complement little-endian).
    pub fn as_int(&self) -> Result<BigInt> {
        match self {
            Self::Integer(i) => Ok(i.clone()),
            Self::Boolean(b) => Ok(BigInt::from(u8::from(*b))),
            Self::ByteString(b) | Self::Buffer(b) => {
                if b.len() > MAX_INTEGER_SIZE {
                    return Err(Error::IntegerRange(format!("{} bytes to integer", b.len())));
                }
                Ok(int_from_bytes(b))
            }
            _ => Err(self.mismatch("Integer")),
        }
    }

    /// Integer value as `i64`.
    pub fn as_i64(&self) -> Result<i64> {
        let v = self.as_int()?;
        i64::try_from(&v).map_err(|_| Error::IntegerRange(format!("{v} does not fit i64")))
    }

    /// Integer value as `u64`.
    pub fn as_u64(&self) -> Result<u64> {
        let v = self.as_int()?;
        u64::try_from(&v).map_err(|_| Error::IntegerRange(format!("{v} does not fit u64")))
    }

    /// Integer value as `i128`.
    pub fn as_i128(&self) -> Result<i128> {
        let v = self.as_int()?;
        i128::try_from(&v).map_err(|_| Error::IntegerRange(format!("{v} does not fit i128")))
    }

    /// Byte value: byte strings and buffers as they are, integers in NeoVM encoding, booleans as
    /// one byte.
    pub fn as_bytes(&self) -> Result<Vec<u8>> {
        match self {
            Self::ByteString(b) | Self::Buffer(b) => Ok(b.clone()),
            Self::Integer(i) => Ok(int_to_bytes(i)),
            Self::Boolean(b) => Ok(vec![u8::from(*b)]),
            _ => Err(self.mismatch("ByteString")),
        }
    }

    /// Bytes decoded as UTF-8.
    pub fn as_string(&self) -> Result<String> {
        String::from_utf8(self.as_bytes()?)
            .map_err(|_| Error::Format("stack item is not UTF-8".into()))
    }

    /// A 20-byte value as a script hash (bytes taken as little-endian, as contracts return them).
    pub fn as_hash160(&self) -> Result<UInt160> {
        UInt160::from_slice_le(&self.as_bytes()?)
    }

    /// A 32-byte value as a 256-bit hash (little-endian bytes).
    pub fn as_hash256(&self) -> Result<UInt256> {
        let b = self.as_bytes()?;
        let arr: [u8; 32] = b.as_slice().try_into().map_err(|_| Error::Length {
            what: "UInt256",
            expected: 32,
            got: b.len(),
        })?;
        Ok(UInt256::from_bytes_le(arr))
    }

    /// A 33-byte compressed public key.
    pub fn as_public_key(&self) -> Result<PublicKey> {
        PublicKey::from_bytes(&self.as_bytes()?)
    }

    /// Elements of an Array or Struct.
    pub fn as_array(&self) -> Result<&[StackItem]> {
        match self {
            Self::Array(v) | Self::Struct(v) => Ok(v),
            _ => Err(self.mismatch("Array")),
        }
    }

    /// Entries of a Map.
    pub fn as_map(&self) -> Result<&[(StackItem, StackItem)]> {
        match self {
            Self::Map(v) => Ok(v),
            _ => Err(self.mismatch("Map")),
        }
    }

    /// Value of `key` in a Map (keys compared by type and value).
    pub fn map_get(&self, key: &StackItem) -> Result<Option<&StackItem>> {
        Ok(self
            .as_map()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v))
    }
}

impl From<bool> for StackItem {
    fn from(v: bool) -> Self {
        Self::Boolean(v)
    }
}
impl From<i64> for StackItem {
    fn from(v: i64) -> Self {
        Self::Integer(BigInt::from(v))
    }
}
impl From<BigInt> for StackItem {
    fn from(v: BigInt) -> Self {
        Self::Integer(v)
    }
}
impl From<&str> for StackItem {
    fn from(v: &str) -> Self {
        Self::string(v)
    }
}
impl From<Vec<u8>> for StackItem {
    fn from(v: Vec<u8>) -> Self {
        Self::ByteString(v)
    }
}
impl From<Vec<StackItem>> for StackItem {
    fn from(v: Vec<StackItem>) -> Self {
        Self::Array(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors() {
        assert_eq!(StackItem::bytes(vec![0x01, 0x01]).as_i64().unwrap(), 257);
        assert_eq!(StackItem::bytes(vec![0xff]).as_i64().unwrap(), -1);
        assert_eq!(StackItem::int(-1).as_bytes().unwrap(), vec![0xff]);
        assert_eq!(StackItem::int(0).as_bytes().unwrap(), Vec::<u8>::new());
        assert!(!StackItem::bytes(vec![0, 0]).as_bool().unwrap());
        assert!(StackItem::Buffer(vec![]).as_bool().unwrap());
        assert!(StackItem::Any.as_int().is_err());
        assert!(StackItem::bytes(vec![1; 33]).as_int().is_err());
        assert_eq!(StackItem::string("NEO").as_string().unwrap(), "NEO");
        let h = UInt160::from_hex_be("0xef4073a0f2b305a38ec4050e4d3d28bc40ea63f5").unwrap();
        assert_eq!(
            StackItem::bytes(h.to_bytes_le().to_vec())
                .as_hash160()
                .unwrap(),
            h
        );
        assert!(matches!(
            StackItem::Any.as_array(),
            Err(Error::StackItemType {
                expected: "Array",
                got: "Any"
            })
        ));
        let m = StackItem::Map(vec![(StackItem::string("a"), StackItem::int(1))]);
        assert_eq!(
            m.map_get(&StackItem::string("a")).unwrap(),
            Some(&StackItem::int(1))
        );
        assert_eq!(m.map_get(&StackItem::string("b")).unwrap(), None);
    }
}
