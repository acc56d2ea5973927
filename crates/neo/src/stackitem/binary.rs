//! StdLib binary serialization of stack items (`StdLib.serialize` / `deserialize`).
//!
//! Format: a type byte, then for Boolean one byte (0/1), for Integer var-bytes (at most 32),
//! for ByteString/Buffer var-bytes, for Array/Struct a var-int count and the elements, for Map a
//! var-int count and key/value pairs, for Any nothing. Pointer and InteropInterface cannot be
//! serialized.

use crate::error::{Error, Result};
use crate::io::{BinReader, BinWriter};
use crate::script::{MAX_INTEGER_SIZE, int_from_bytes, int_to_bytes};

use super::StackItem;

/// Largest item and largest serialized output (C# `ExecutionEngineLimits.MaxItemSize`,
/// neo-go `stackitem.MaxSize`): 65535 * 2 bytes.
pub const MAX_ITEM_SIZE: usize = u16::MAX as usize * 2;
/// Most items in one serialized value, containers included (neo-go `MaxDeserialized`,
/// C# `MaxStackSize`).
pub const MAX_SERIALIZED_ITEMS: usize = 2048;
/// Largest map key (C# `Map.MaxKeySize`).
pub const MAX_KEY_SIZE: usize = 64;

const T_ANY: u8 = 0x00;
const T_BOOLEAN: u8 = 0x20;
const T_INTEGER: u8 = 0x21;
const T_BYTESTRING: u8 = 0x28;
const T_BUFFER: u8 = 0x30;
const T_ARRAY: u8 = 0x40;
const T_STRUCT: u8 = 0x41;
const T_MAP: u8 = 0x48;

impl StackItem {
    /// Serialize with StdLib's format and the default limits (2048 items, 131070 bytes).
    pub fn serialize(&self) -> Result<Vec<u8>> {
        let mut w = BinWriter::new();
        let mut budget = MAX_SERIALIZED_ITEMS;
        serialize_into(self, &mut w, &mut budget)?;
        let out = w.into_bytes();
        if out.len() > MAX_ITEM_SIZE {
            return Err(Error::Limit {
                what: "serialized stack item size",
                got: out.len() as u64,
                max: MAX_ITEM_SIZE as u64,
            });
        }
        Ok(out)
    }

    /// Deserialize StdLib's format with the default limits; the whole input must be one item.
    pub fn deserialize(data: &[u8]) -> Result<Self> {
        Self::deserialize_limited(data, MAX_SERIALIZED_ITEMS)
    }

    /// Deserialize with a custom item-count limit.
    pub fn deserialize_limited(data: &[u8], max_items: usize) -> Result<Self> {
        let mut r = BinReader::new(data);
        let mut budget = max_items;
        let item = deserialize_from(&mut r, &mut budget)?;
        r.finish()?;
        Ok(item)
    }
}

fn take(budget: &mut usize) -> Result<()> {
    *budget = budget.checked_sub(1).ok_or(Error::Limit {
        what: "stack items",
        got: MAX_SERIALIZED_ITEMS as u64 + 1,
        max: MAX_SERIALIZED_ITEMS as u64,
    })?;
    Ok(())
}

/// Pre-order walk with an explicit stack, so deep nesting cannot overflow the thread stack.
fn serialize_into(root: &StackItem, w: &mut BinWriter, budget: &mut usize) -> Result<()> {
    let mut stack = vec![root];
    while let Some(item) = stack.pop() {
        take(budget)?;
        if w.len() > MAX_ITEM_SIZE {
            return Err(Error::Limit {
                what: "serialized stack item size",
                got: w.len() as u64,
                max: MAX_ITEM_SIZE as u64,
            });
        }
        let too_many = |n: usize| Error::Limit {
            what: "stack items",
            got: n as u64,
            max: MAX_SERIALIZED_ITEMS as u64,
        };
        match item {
            StackItem::Any => w.write_u8(T_ANY),
            StackItem::Boolean(b) => {
                w.write_u8(T_BOOLEAN);
                w.write_bool(*b);
            }
            StackItem::Integer(i) => {
                let b = int_to_bytes(i);
                if b.len() > MAX_INTEGER_SIZE {
                    return Err(Error::IntegerRange(format!(
                        "{} bytes > {MAX_INTEGER_SIZE}",
                        b.len()
                    )));
                }
                w.write_u8(T_INTEGER);
                w.write_var_bytes(&b);
            }
            StackItem::ByteString(b) => {
                w.write_u8(T_BYTESTRING);
                w.write_var_bytes(b);
            }
            StackItem::Buffer(b) => {
                w.write_u8(T_BUFFER);
                w.write_var_bytes(b);
            }
            StackItem::Array(v) | StackItem::Struct(v) => {
                if v.len() > *budget {
                    return Err(too_many(v.len()));
                }
                w.write_u8(if matches!(item, StackItem::Array(_)) {
                    T_ARRAY
                } else {
                    T_STRUCT
                });
                w.write_var_int(v.len() as u64);
                stack.extend(v.iter().rev());
            }
            StackItem::Map(entries) => {
                if entries.len() > *budget / 2 {
                    return Err(too_many(entries.len() * 2));
                }
                w.write_u8(T_MAP);
                w.write_var_int(entries.len() as u64);
                for (k, v) in entries.iter().rev() {
                    check_key(k)?;
                    stack.push(v);
                    stack.push(k);
                }
            }
            StackItem::Pointer(_) | StackItem::InteropInterface(_) => {
                return Err(Error::Format(format!(
                    "{} stack items cannot be serialized",
                    item.type_name()
                )));
            }
        }
    }
    Ok(())
}

/// Map keys must be primitive (Boolean, Integer, ByteString) and at most 64 bytes.
fn check_key(k: &StackItem) -> Result<()> {
    let size = match k {
        StackItem::Boolean(_) => 1,
        StackItem::Integer(i) => int_to_bytes(i).len(),
        StackItem::ByteString(b) => b.len(),
        other => {
            return Err(Error::Format(format!(
                "{} cannot be a map key",
                other.type_name()
            )));
        }
    };
    if size > MAX_KEY_SIZE {
        return Err(Error::Limit {
            what: "map key size",
            got: size as u64,
            max: MAX_KEY_SIZE as u64,
        });
    }
    Ok(())
}

/// A container being filled while deserializing.
enum Frame {
    List {
        is_struct: bool,
        remaining: usize,
        items: Vec<StackItem>,
    },
    Map {
        remaining: usize,
        entries: Vec<(StackItem, StackItem)>,
        key: Option<StackItem>,
    },
}

/// Iterative (explicit stack) so that the deepest nesting the item budget allows cannot overflow
/// the thread stack.
fn deserialize_from(r: &mut BinReader<'_>, budget: &mut usize) -> Result<StackItem> {
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        take(budget)?;
        let t = r.read_u8()?;
        let mut value = match t {
            T_ANY => StackItem::Any,
            T_BOOLEAN => StackItem::Boolean(r.read_bool()?),
            T_INTEGER => StackItem::Integer(int_from_bytes(r.read_var_bytes(MAX_INTEGER_SIZE)?)),
            T_BYTESTRING => StackItem::ByteString(r.read_var_bytes(MAX_ITEM_SIZE)?.to_vec()),
            T_BUFFER => StackItem::Buffer(r.read_var_bytes(MAX_ITEM_SIZE)?.to_vec()),
            T_ARRAY | T_STRUCT => {
                let n = r.read_len(*budget, "stack items")?;
                let is_struct = t == T_STRUCT;
                if n > 0 {
                    stack.push(Frame::List {
                        is_struct,
                        remaining: n,
                        items: Vec::with_capacity(n),
                    });
                    continue;
                }
                if is_struct {
                    StackItem::Struct(Vec::new())
                } else {
                    StackItem::Array(Vec::new())
                }
            }
            T_MAP => {
                let n = r.read_len(*budget / 2, "stack items")?;
                if n > 0 {
                    stack.push(Frame::Map {
                        remaining: n,
                        entries: Vec::with_capacity(n),
                        key: None,
                    });
                    continue;
                }
                StackItem::Map(Vec::new())
            }
            other => {
                return Err(Error::Format(format!(
                    "unknown or unserializable stack item type {other:#04x}"
                )));
            }
        };
        // Hand the finished value to its parent; close every parent that is now complete.
        loop {
            let Some(top) = stack.last_mut() else {
                return Ok(value);
            };
            match top {
                Frame::List {
                    remaining, items, ..
                } => {
                    items.push(value);
                    *remaining -= 1;
                }
                Frame::Map {
                    remaining,
                    entries,
                    key,
                } => match key.take() {
                    None => {
                        check_key(&value)?;
                        *key = Some(value);
                        break;
                    }
                    Some(k) => {
                        // A repeated key overwrites the earlier value, as the VM's map assignment does.
                        match entries.iter_mut().find(|(ek, _)| *ek == k) {
                            Some(slot) => slot.1 = value,
                            None => entries.push((k, value)),
                        }
                        *remaining -= 1;
                    }
                },
            }
            let done = match top {
                Frame::List { remaining, .. } | Frame::Map { remaining, .. } => *remaining == 0,
            };
            if !done {
                break;
            }
            value = match stack.pop() {
                Some(Frame::List {
                    is_struct: true,
                    items,
                    ..
                }) => StackItem::Struct(items),
                Some(Frame::List {
                    is_struct: false,
                    items,
                    ..
                }) => StackItem::Array(items),
                Some(Frame::Map { entries, .. }) => StackItem::Map(entries),
                None => return Err(Error::Format("internal: empty frame stack".into())),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        // An array claiming more elements than the item budget is rejected before allocating.
        assert!(matches!(
            StackItem::deserialize(&[0x40, 0xfe, 0xff, 0xff, 0xff, 0x00]),
            Err(Error::Limit { .. })
        ));
        // Integers longer than 32 bytes.
        let mut big = vec![0x21, 33];
        big.extend([1u8; 33]);
        assert!(StackItem::deserialize(&big).is_err());
        // Array keys are not allowed.
        assert!(StackItem::deserialize(&[0x48, 0x01, 0x40, 0x00, 0x00]).is_err());
        // Trailing bytes.
        assert!(matches!(
            StackItem::deserialize(&[0x00, 0x00]),
            Err(Error::TrailingBytes(1))
        ));
        assert!(StackItem::Pointer(1).serialize().is_err());
        let too_many = StackItem::Array(vec![StackItem::Any; MAX_SERIALIZED_ITEMS]);
        assert!(too_many.serialize().is_err());
        let ok = StackItem::Array(vec![StackItem::Any; MAX_SERIALIZED_ITEMS - 1]);
        assert_eq!(
            StackItem::deserialize(&ok.serialize().unwrap()).unwrap(),
            ok
        );
        let huge = StackItem::ByteString(vec![0; MAX_ITEM_SIZE]);
        assert!(huge.serialize().is_err());
    }
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    #[test]
    fn deepest_nesting_within_budget_does_not_overflow_the_stack() {
        let n = MAX_SERIALIZED_ITEMS - 1;
        let mut data = Vec::new();
        for _ in 0..n {
            data.extend([T_ARRAY, 0x01]);
        }
        data.push(T_ANY);
        let item = StackItem::deserialize(&data).unwrap();
        assert!(item.serialize().unwrap() == data);
        drop(item);
        data.splice(0..0, [T_ARRAY, 0x01]);
        assert!(matches!(
            StackItem::deserialize(&data),
            Err(Error::Limit { .. })
        ));
    }
}
