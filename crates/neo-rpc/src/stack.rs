//! Stack items as the RPC returns them, and typed reads of them.
//!
//! Temporary: raw JSON until `neo::StackItem` lands; then this module re-exports it and the
//! readers below delegate to its methods.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use neo::{BigInt, UInt160};

use crate::error::{Error, Result};

/// A VM stack item in RPC JSON form (`{"type": "Integer", "value": "1"}`).
pub type StackItem = serde_json::Value;

fn kind(item: &StackItem) -> &str {
    item.get("type").and_then(|t| t.as_str()).unwrap_or("?")
}

fn mismatch(item: &StackItem, want: &str) -> Error {
    Error::invalid("stack item", format!("expected {want}, got {}", kind(item)))
}

/// An integer (also from a Boolean or a ByteString of at most 32 bytes, as the VM converts).
pub fn to_int(item: &StackItem) -> Result<BigInt> {
    match kind(item) {
        "Integer" => item
            .get("value")
            .and_then(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .or_else(|| v.as_i64().map(|i| i.to_string()))
            })
            .and_then(|s| s.parse::<BigInt>().ok())
            .ok_or_else(|| mismatch(item, "an integer value")),
        "Boolean" => Ok(BigInt::from(u8::from(to_bool(item)?))),
        "ByteString" | "Buffer" => {
            let b = to_bytes(item)?;
            if b.len() > 32 {
                return Err(mismatch(item, "at most 32 bytes for an integer"));
            }
            Ok(neo::script::int_from_bytes(&b))
        }
        _ => Err(mismatch(item, "Integer")),
    }
}

/// Bytes of a ByteString or Buffer (an Integer gives its VM encoding).
pub fn to_bytes(item: &StackItem) -> Result<Vec<u8>> {
    match kind(item) {
        "ByteString" | "Buffer" => {
            let s = item
                .get("value")
                .and_then(|v| v.as_str())
                .ok_or_else(|| mismatch(item, "a base64 value"))?;
            B64.decode(s).map_err(|_| mismatch(item, "base64"))
        }
        "Integer" => Ok(neo::script::int_to_bytes(&to_int(item)?)),
        _ => Err(mismatch(item, "ByteString")),
    }
}

/// A Boolean (an Integer is true when non-zero).
pub fn to_bool(item: &StackItem) -> Result<bool> {
    match kind(item) {
        "Boolean" => item
            .get("value")
            .and_then(|v| v.as_bool())
            .ok_or_else(|| mismatch(item, "a boolean value")),
        "Integer" => Ok(to_int(item)? != BigInt::from(0)),
        _ => Err(mismatch(item, "Boolean")),
    }
}

/// A UTF-8 string from a ByteString.
pub fn to_string(item: &StackItem) -> Result<String> {
    String::from_utf8(to_bytes(item)?).map_err(|_| mismatch(item, "UTF-8"))
}

/// A script hash from a 20-byte ByteString (little-endian, as contracts store it).
pub fn to_hash160(item: &StackItem) -> Result<UInt160> {
    Ok(UInt160::from_slice_le(&to_bytes(item)?)?)
}

/// The items of an Array or Struct.
pub fn to_array(item: &StackItem) -> Result<&[StackItem]> {
    match kind(item) {
        "Array" | "Struct" => item
            .get("value")
            .and_then(|v| v.as_array())
            .map(Vec::as_slice)
            .ok_or_else(|| mismatch(item, "an array value")),
        _ => Err(mismatch(item, "Array")),
    }
}

/// An integer that fits in `i64`.
pub fn to_i64(item: &StackItem) -> Result<i64> {
    i64::try_from(to_int(item)?).map_err(|_| mismatch(item, "an integer within i64"))
}
