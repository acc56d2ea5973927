//! Shared primitives: GAS amounts in 10^-8 units, identifiers, stable error codes.
//!
//! - [`GasAmount`]: an amount of GAS as a signed integer count of 10^-8 GAS (the unit Neo itself
//!   uses for GAS, "datoshi"). Never a float. Text form is a decimal with at most 8 fractional digits
//!   (`"1.5"` <-> `150_000_000` units); JSON form is that decimal string, so no client ever rounds it
//!   through a double.
//! - [`AccountId`]: the id of a tenant account (a UUID v4), shared by the API, the store and every
//!   service that keeps rows per account.
//!
//! Invariants: parsing never panics; arithmetic is checked (`checked_add`/`checked_sub` return `None`
//! on overflow instead of wrapping).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Errors of this crate: malformed text forms of its types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrimitivesError {
    /// A GAS amount text is not a plain decimal number.
    #[error("invalid GAS amount {input:?}: {reason}")]
    InvalidGasAmount {
        /// The rejected text (amounts are not secret).
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An account id is not a UUID.
    #[error("invalid account id {0:?}: expected a UUID")]
    InvalidAccountId(String),
}

/// Number of fractional decimal digits of GAS.
pub const GAS_DECIMALS: u32 = 8;

/// Units (10^-8 GAS) in one GAS.
pub const GAS_UNIT: i64 = 100_000_000;

/// An amount of GAS in 10^-8 units (the smallest GAS unit). Signed so that deltas can be expressed;
/// balances and prices validate non-negativity where they need it ([`GasAmount::is_negative`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GasAmount(i64);

impl GasAmount {
    /// Zero GAS.
    pub const ZERO: GasAmount = GasAmount(0);

    /// An amount from a count of 10^-8 GAS units.
    pub const fn from_units(units: i64) -> Self {
        Self(units)
    }

    /// The amount as a count of 10^-8 GAS units (what is stored and sent on chain).
    pub const fn units(self) -> i64 {
        self.0
    }

    /// Whole GAS, checked: `None` if `gas * 10^8` overflows.
    pub const fn from_gas(gas: i64) -> Option<Self> {
        match gas.checked_mul(GAS_UNIT) {
            Some(u) => Some(Self(u)),
            None => None,
        }
    }

    /// Sum, `None` on overflow.
    pub const fn checked_add(self, other: Self) -> Option<Self> {
        match self.0.checked_add(other.0) {
            Some(u) => Some(Self(u)),
            None => None,
        }
    }

    /// Difference, `None` on overflow.
    pub const fn checked_sub(self, other: Self) -> Option<Self> {
        match self.0.checked_sub(other.0) {
            Some(u) => Some(Self(u)),
            None => None,
        }
    }

    /// Whether the amount is below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Parse a decimal text such as `"1.5"`, `"0.00000001"`, `"-2"` or `"10"`.
    ///
    /// Rejected: empty text, signs other than one leading `-`, a `+`, exponents, spaces, separators,
    /// more than 8 fractional digits (never rounded), and values outside the `i64` unit range.
    pub fn parse(input: &str) -> Result<Self, PrimitivesError> {
        let err = |reason| PrimitivesError::InvalidGasAmount {
            input: input.to_string(),
            reason,
        };
        let (negative, body) = match input.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, input),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        if int_part.is_empty() {
            return Err(err("missing integer digits"));
        }
        if !int_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("only digits and one '.' are allowed"));
        }
        let frac = frac_part.unwrap_or("");
        if frac_part.is_some() && frac.is_empty() {
            return Err(err("missing digits after '.'"));
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("only digits and one '.' are allowed"));
        }
        if frac.len() > GAS_DECIMALS as usize {
            return Err(err("more than 8 decimal places"));
        }
        // Accumulate as a negative or positive i128 to check the i64 range once, exactly.
        let mut units: i128 = 0;
        for b in int_part.bytes() {
            units = units * 10 + i128::from(b - b'0');
            if units > i128::from(i64::MAX) + 1 {
                return Err(err("out of range"));
            }
        }
        for b in frac.bytes() {
            units = units * 10 + i128::from(b - b'0');
        }
        for _ in frac.len()..GAS_DECIMALS as usize {
            units *= 10;
        }
        if negative {
            units = -units;
        }
        i64::try_from(units)
            .map(Self)
            .map_err(|_| err("out of range"))
    }
}

impl fmt::Display for GasAmount {
    /// Shortest exact decimal: `150000000` units -> `1.5`, `100000000` -> `1`, `1` -> `0.00000001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let unit = GAS_UNIT.unsigned_abs();
        let whole = abs / unit;
        let frac = abs % unit;
        if frac == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let digits = format!("{frac:08}");
            write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl FromStr for GasAmount {
    type Err = PrimitivesError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for GasAmount {
    /// Serialized as the decimal string (`"1.5"`), never as a JSON number.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GasAmount {
    /// Accepts only the decimal string form, so a float can never sneak in.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Id of a tenant account (a UUID v4). Text form is the hyphenated lowercase UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(uuid::Uuid);

impl AccountId {
    /// A fresh random id.
    pub fn new_random() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    /// Wrap an existing UUID.
    pub const fn from_uuid(id: uuid::Uuid) -> Self {
        Self(id)
    }

    /// The UUID inside.
    pub const fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for AccountId {
    type Err = PrimitivesError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| PrimitivesError::InvalidAccountId(s.to_string()))
    }
}

/// The stored text form (store rows decode it with `#[sqlx(try_from = "String")]`).
impl TryFrom<String> for AccountId {
    type Error = PrimitivesError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_displays_examples() {
        let cases = [
            ("1.5", 150_000_000),
            ("0.00000001", 1),
            ("10", 1_000_000_000),
            ("0", 0),
            ("-2.25", -225_000_000),
            ("92233720368.54775807", i64::MAX),
            ("-92233720368.54775808", i64::MIN),
        ];
        for (text, units) in cases {
            let a = GasAmount::parse(text).unwrap();
            assert_eq!(a.units(), units, "{text}");
            assert_eq!(a.to_string(), text, "{text}");
        }
        assert_eq!(GasAmount::parse("1.50").unwrap().to_string(), "1.5");
        assert_eq!(GasAmount::parse("007").unwrap().units(), 700_000_000);
    }

    #[test]
    fn rejects_bad_text() {
        for bad in [
            "",
            "-",
            ".5",
            "1.",
            "1.000000001",
            "1e8",
            "+1",
            " 1",
            "1 ",
            "1,5",
            "1.2.3",
            "--1",
            "92233720368.54775808",
            "-92233720368.54775809",
            "99999999999999999999999",
        ] {
            assert!(GasAmount::parse(bad).is_err(), "{bad:?} accepted");
        }
        let msg = GasAmount::parse("1.123456789").unwrap_err().to_string();
        assert!(msg.contains("more than 8 decimal places"), "{msg}");
    }

    #[test]
    fn json_is_a_string() {
        let a = GasAmount::from_units(150_000_000);
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"1.5\"");
        let back: GasAmount = serde_json::from_str("\"1.5\"").unwrap();
        assert_eq!(back, a);
        assert!(serde_json::from_str::<GasAmount>("1.5").is_err());
    }

    #[test]
    fn checked_arithmetic() {
        assert_eq!(
            GasAmount::from_gas(2),
            Some(GasAmount::from_units(200_000_000))
        );
        assert_eq!(GasAmount::from_gas(i64::MAX), None);
        assert_eq!(
            GasAmount::from_units(i64::MAX).checked_add(GasAmount::from_units(1)),
            None
        );
        assert_eq!(
            GasAmount::from_units(i64::MIN).checked_sub(GasAmount::from_units(1)),
            None
        );
    }

    #[test]
    fn account_id_round_trip() {
        let id = AccountId::new_random();
        assert_eq!(id.to_string().parse::<AccountId>().unwrap(), id);
        assert!("not-a-uuid".parse::<AccountId>().is_err());
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(units in any::<i64>()) {
            let a = GasAmount::from_units(units);
            prop_assert_eq!(GasAmount::parse(&a.to_string()).unwrap(), a);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = GasAmount::parse(&s);
        }
    }
}

/// The naming rule of secrets, shared by the secrets service (which stores them) and the
/// functions service (which refuses a grant of a name that could never be stored).
pub mod secret_name {
    /// Longest secret name, in bytes.
    pub const MAX_LEN: usize = 128;

    /// 1 to [`MAX_LEN`] characters from `[A-Za-z0-9_.-]`, the first a letter or `_` (so it reads
    /// like an environment variable or config key).
    pub fn is_valid(name: &str) -> bool {
        let mut bytes = name.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
        first_ok
            && name.len() <= MAX_LEN
            && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn names() {
            for ok in ["A", "_x", "api_key-2.v", &"a".repeat(super::MAX_LEN)] {
                assert!(super::is_valid(ok), "{ok}");
            }
            for bad in [
                "",
                "1a",
                "-a",
                "a b",
                "a/b",
                "é",
                &"a".repeat(super::MAX_LEN + 1),
            ] {
                assert!(!super::is_valid(bad), "{bad}");
            }
        }
    }
}
