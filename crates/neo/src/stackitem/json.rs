//! The JSON form of stack items in RPC results (`invokefunction`, `getapplicationlog`...).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use num_bigint::BigInt;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};

use super::{InteropInterface, StackItem};

/// Deepest nesting accepted when reading JSON stack items.
const MAX_JSON_DEPTH: usize = 64;

impl StackItem {
    /// The RPC JSON value of this item.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Any => json!({"type": "Any"}),
            Self::Pointer(p) => json!({"type": "Pointer", "value": p}),
            Self::Boolean(b) => json!({"type": "Boolean", "value": b}),
            Self::Integer(i) => json!({"type": "Integer", "value": i.to_string()}),
            Self::ByteString(b) => json!({"type": "ByteString", "value": STANDARD.encode(b)}),
            Self::Buffer(b) => json!({"type": "Buffer", "value": STANDARD.encode(b)}),
            Self::Array(v) => {
                json!({"type": "Array", "value": v.iter().map(Self::to_json).collect::<Vec<_>>()})
            }
            Self::Struct(v) => {
                json!({"type": "Struct", "value": v.iter().map(Self::to_json).collect::<Vec<_>>()})
            }
            Self::Map(v) => json!({"type": "Map", "value": v.iter()
                .map(|(k, v)| json!({"key": k.to_json(), "value": v.to_json()}))
                .collect::<Vec<_>>()}),
            Self::InteropInterface(i) => {
                let mut m = Map::new();
                m.insert("type".into(), "InteropInterface".into());
                if let Some(x) = &i.interface {
                    m.insert("interface".into(), x.clone().into());
                }
                if let Some(x) = &i.id {
                    m.insert("id".into(), x.clone().into());
                }
                if let Some(x) = &i.iterator {
                    m.insert(
                        "iterator".into(),
                        x.iter().map(Self::to_json).collect::<Vec<_>>().into(),
                    );
                }
                if let Some(x) = i.truncated {
                    m.insert("truncated".into(), x.into());
                }
                Value::Object(m)
            }
        }
    }

    /// Parse the RPC JSON value of an item.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        from_json_at(v, MAX_JSON_DEPTH)
    }
}

fn from_json_at(v: &Value, depth: usize) -> Result<StackItem, String> {
    if depth == 0 {
        return Err("stack item nesting too deep".into());
    }
    let obj = v.as_object().ok_or("stack item is not a JSON object")?;
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or("stack item without \"type\"")?;
    let value = obj.get("value");
    let need = || value.ok_or_else(|| format!("{kind} stack item without \"value\""));
    let b64 = |v: &Value| -> Result<Vec<u8>, String> {
        let s = v
            .as_str()
            .ok_or_else(|| format!("{kind} value is not a string"))?;
        STANDARD
            .decode(s)
            .map_err(|e| format!("{kind} value is not base64: {e}"))
    };
    let list = |v: &Value| -> Result<Vec<StackItem>, String> {
        v.as_array()
            .ok_or_else(|| format!("{kind} value is not an array"))?
            .iter()
            .map(|x| from_json_at(x, depth - 1))
            .collect()
    };
    Ok(match kind {
        "Any" => StackItem::Any,
        "Pointer" => {
            let p = need()?.as_u64().ok_or("Pointer value is not a number")?;
            StackItem::Pointer(u32::try_from(p).map_err(|_| "Pointer value out of range")?)
        }
        "Boolean" => StackItem::Boolean(match need()? {
            Value::Bool(b) => *b,
            Value::String(s) if s.eq_ignore_ascii_case("true") => true,
            Value::String(s) if s.eq_ignore_ascii_case("false") => false,
            _ => return Err("Boolean value is not a boolean".into()),
        }),
        "Integer" => {
            let i: BigInt = match need()? {
                Value::String(s) => s
                    .parse()
                    .map_err(|_| format!("Integer value {s:?} is not a decimal"))?,
                Value::Number(n) => n
                    .to_string()
                    .parse()
                    .map_err(|_| format!("Integer value {n} is not an integer"))?,
                _ => return Err("Integer value is not a string".into()),
            };
            if crate::script::int_to_bytes(&i).len() > crate::script::MAX_INTEGER_SIZE {
                return Err("Integer value exceeds 256 bits".into());
            }
            StackItem::Integer(i)
        }
        "ByteString" => StackItem::ByteString(b64(need()?)?),
        "Buffer" => StackItem::Buffer(b64(need()?)?),
        "Array" => StackItem::Array(list(need()?)?),
        "Struct" => StackItem::Struct(list(need()?)?),
        "Map" => {
            let entries = need()?.as_array().ok_or("Map value is not an array")?;
            let mut out = Vec::with_capacity(entries.len());
            for e in entries {
                let k = e.get("key").ok_or("Map entry without \"key\"")?;
                let v = e.get("value").ok_or("Map entry without \"value\"")?;
                out.push((from_json_at(k, depth - 1)?, from_json_at(v, depth - 1)?));
            }
            StackItem::Map(out)
        }
        "InteropInterface" => StackItem::InteropInterface(InteropInterface {
            interface: obj
                .get("interface")
                .and_then(Value::as_str)
                .map(str::to_owned),
            id: obj.get("id").and_then(Value::as_str).map(str::to_owned),
            iterator: obj.get("iterator").map(list).transpose()?,
            truncated: obj.get("truncated").and_then(Value::as_bool),
        }),
        other => return Err(format!("unknown stack item type {other:?}")),
    })
}

impl Serialize for StackItem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for StackItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Self::from_json(&v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_shapes() {
        let j = json!({"type":"Array","value":[
            {"type":"Integer","value":"-12345678901234567890"},
            {"type":"ByteString","value":"TkVP"},
            {"type":"Boolean","value":true},
            {"type":"Any"},
            {"type":"Map","value":[{"key":{"type":"ByteString","value":"YQ=="},"value":{"type":"Integer","value":"1"}}]},
            {"type":"InteropInterface","interface":"IIterator","id":"8f0b7e6f-4b1c-4c55-8d2a-2a1c7f0b6b0e"}
        ]});
        let item: StackItem = serde_json::from_value(j.clone()).unwrap();
        let arr = item.as_array().unwrap();
        assert_eq!(
            arr[0].as_int().unwrap().to_string(),
            "-12345678901234567890"
        );
        assert_eq!(arr[1].as_string().unwrap(), "NEO");
        assert!(arr[2].as_bool().unwrap());
        assert!(arr[3].is_null());
        assert_eq!(serde_json::to_value(&item).unwrap(), j);
    }

    #[test]
    fn bad_json() {
        for bad in [
            json!({"type":"Integer","value":"1x"}),
            json!({"type":"Integer"}),
            json!({"type":"ByteString","value":"!!"}),
            json!({"type":"Nope"}),
            json!([1]),
            json!({"type":"Integer","value":"1".repeat(100)}),
        ] {
            assert!(serde_json::from_value::<StackItem>(bad).is_err());
        }
    }
}
