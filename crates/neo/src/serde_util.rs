//! Serde helpers for the JSON forms used by Neo RPC nodes, usable in other crates'
//! `#[serde(with = "neo::serde_util::base64_bytes")]`.

/// Bytes as standard base64 (with padding), as Neo RPC nodes write scripts and byte strings.
pub mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write bytes as base64.
    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(b))
    }

    /// Read bytes from base64.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// An i64 written as a decimal string (fees), read from a string or a number.
pub mod i64_string {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write a decimal string.
    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    /// Read a decimal string or a number.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<'a> {
            Num(i64),
            Str(std::borrow::Cow<'a, str>),
        }
        match Either::deserialize(d)? {
            Either::Num(n) => Ok(n),
            Either::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Format an amount in 10^-8 units (GAS fractions) as a decimal string: `123450000` -> `"1.2345"`.
pub fn fixed8_to_string(v: i64) -> String {
    let neg = v < 0;
    let abs = v.unsigned_abs();
    let int = abs / 100_000_000;
    let frac = abs % 100_000_000;
    let mut s = if neg {
        format!("-{int}")
    } else {
        int.to_string()
    };
    if frac != 0 {
        let f = format!("{frac:08}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::fixed8_to_string;

    #[test]
    fn fixed8() {
        assert_eq!(fixed8_to_string(0), "0");
        assert_eq!(fixed8_to_string(100_000_000), "1");
        assert_eq!(fixed8_to_string(123_450_000), "1.2345");
        assert_eq!(fixed8_to_string(1), "0.00000001");
        assert_eq!(fixed8_to_string(-50_000_000), "-0.5");
        assert_eq!(fixed8_to_string(i64::MIN), "-92233720368.54775808");
    }
}
