//! Signers, witness scopes and witness rules.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::io::{BinReader, BinWriter};
use crate::keys::PublicKey;
use crate::uint::UInt160;

/// Most contracts, groups or rules a signer may list, and most sub-conditions of `And`/`Or`
/// (C# `Signer.MaxSubitems`, `WitnessCondition.MaxSubitems`).
pub const MAX_SUBITEMS: usize = 16;
/// Deepest nesting of witness conditions (C# `WitnessCondition.MaxNestingDepth`): a root and two
/// levels below it.
pub const MAX_CONDITION_NESTING: usize = 3;

/// Where a signer's witness is valid: a set of flags.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WitnessScope(u8);

impl WitnessScope {
    /// Only for transaction fee payment (no contract may use the witness).
    pub const NONE: Self = Self(0x00);
    /// Only when the entry script calls the contract directly.
    pub const CALLED_BY_ENTRY: Self = Self(0x01);
    /// Only in the contracts listed in `allowed_contracts`.
    pub const CUSTOM_CONTRACTS: Self = Self(0x10);
    /// Only in contracts of the groups listed in `allowed_groups`.
    pub const CUSTOM_GROUPS: Self = Self(0x20);
    /// As decided by `rules`.
    pub const WITNESS_RULES: Self = Self(0x40);
    /// Everywhere (cannot be combined with other flags).
    pub const GLOBAL: Self = Self(0x80);

    const ALL_BITS: u8 = 0x01 | 0x10 | 0x20 | 0x40 | 0x80;
    const NAMES: [(Self, &'static str); 5] = [
        (Self::CALLED_BY_ENTRY, "CalledByEntry"),
        (Self::CUSTOM_CONTRACTS, "CustomContracts"),
        (Self::CUSTOM_GROUPS, "CustomGroups"),
        (Self::WITNESS_RULES, "WitnessRules"),
        (Self::GLOBAL, "Global"),
    ];

    /// From the scope byte; fails for unknown bits or `Global` combined with anything.
    pub fn from_bits(b: u8) -> Result<Self> {
        if b & !Self::ALL_BITS != 0 {
            return Err(Error::Format(format!(
                "unknown witness scope bits {b:#04x}"
            )));
        }
        if b & Self::GLOBAL.0 != 0 && b != Self::GLOBAL.0 {
            return Err(Error::Format(
                "Global scope cannot be combined with other scopes".into(),
            ));
        }
        Ok(Self(b))
    }

    /// The scope byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether all flags of `other` are set (`NONE` is contained only in `NONE`).
    pub const fn contains(self, other: Self) -> bool {
        if other.0 == 0 {
            self.0 == 0
        } else {
            self.0 & other.0 == other.0
        }
    }

    /// Flag names in Neo's order, e.g. `["CalledByEntry", "CustomContracts"]`; `["None"]` for none.
    pub fn names(self) -> Vec<&'static str> {
        if self.0 == 0 {
            return vec!["None"];
        }
        Self::NAMES
            .iter()
            .filter(|(f, _)| self.0 & f.0 != 0)
            .map(|(_, n)| *n)
            .collect()
    }

    /// Parse `"CalledByEntry, CustomContracts"` (the JSON form of C# and neo-go).
    pub fn from_names(s: &str) -> Result<Self> {
        let mut bits = 0u8;
        for part in s.split(',') {
            let part = part.trim();
            if part == "None" {
                continue;
            }
            let (flag, _) = Self::NAMES
                .iter()
                .find(|(_, n)| *n == part)
                .ok_or_else(|| Error::Format(format!("unknown witness scope {part:?}")))?;
            bits |= flag.0;
        }
        Self::from_bits(bits)
    }
}

impl std::ops::BitOr for WitnessScope {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl fmt::Display for WitnessScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(", "))
    }
}

impl fmt::Debug for WitnessScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WitnessScope({self})")
    }
}

impl Serialize for WitnessScope {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WitnessScope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::from_names(&s).map_err(serde::de::Error::custom)
    }
}

/// Allow or deny, the outcome of a matching [`WitnessRule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WitnessAction {
    /// Deny (byte 0).
    Deny = 0,
    /// Allow (byte 1).
    Allow = 1,
}

/// A condition of a witness rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WitnessCondition {
    /// Constant (type 0x00).
    Boolean(bool),
    /// Negation (type 0x01).
    Not(Box<WitnessCondition>),
    /// All of 1..=16 conditions (type 0x02).
    And(Vec<WitnessCondition>),
    /// Any of 1..=16 conditions (type 0x03).
    Or(Vec<WitnessCondition>),
    /// The current contract is this one (type 0x18).
    ScriptHash(UInt160),
    /// The current contract is in this group (type 0x19).
    Group(PublicKey),
    /// Called by the entry script (type 0x20).
    CalledByEntry,
    /// Called by this contract (type 0x28).
    CalledByContract(UInt160),
    /// Called by a contract in this group (type 0x29).
    CalledByGroup(PublicKey),
}

impl WitnessCondition {
    /// The condition's type byte.
    pub fn type_byte(&self) -> u8 {
        match self {
            Self::Boolean(_) => 0x00,
            Self::Not(_) => 0x01,
            Self::And(_) => 0x02,
            Self::Or(_) => 0x03,
            Self::ScriptHash(_) => 0x18,
            Self::Group(_) => 0x19,
            Self::CalledByEntry => 0x20,
            Self::CalledByContract(_) => 0x28,
            Self::CalledByGroup(_) => 0x29,
        }
    }

    /// The condition's type name as in JSON (`"ScriptHash"`...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Boolean(_) => "Boolean",
            Self::Not(_) => "Not",
            Self::And(_) => "And",
            Self::Or(_) => "Or",
            Self::ScriptHash(_) => "ScriptHash",
            Self::Group(_) => "Group",
            Self::CalledByEntry => "CalledByEntry",
            Self::CalledByContract(_) => "CalledByContract",
            Self::CalledByGroup(_) => "CalledByGroup",
        }
    }

    /// Nesting depth: 1 for a leaf.
    pub fn depth(&self) -> usize {
        match self {
            Self::Not(c) => 1 + c.depth(),
            Self::And(cs) | Self::Or(cs) => 1 + cs.iter().map(Self::depth).max().unwrap_or(0),
            _ => 1,
        }
    }

    /// Check nesting depth, sub-condition counts and non-empty `And`/`Or`, as decoding does.
    pub fn validate(&self) -> Result<()> {
        self.validate_at(MAX_CONDITION_NESTING)
    }

    fn validate_at(&self, max_depth: usize) -> Result<()> {
        if max_depth == 0 {
            return Err(Error::Limit {
                what: "witness condition nesting",
                got: (MAX_CONDITION_NESTING + 1) as u64,
                max: MAX_CONDITION_NESTING as u64,
            });
        }
        match self {
            Self::Not(c) => c.validate_at(max_depth - 1),
            Self::And(cs) | Self::Or(cs) => {
                if cs.is_empty() {
                    return Err(Error::Format(format!(
                        "empty {} condition",
                        self.type_name()
                    )));
                }
                if cs.len() > MAX_SUBITEMS {
                    return Err(Error::Limit {
                        what: "witness sub-conditions",
                        got: cs.len() as u64,
                        max: MAX_SUBITEMS as u64,
                    });
                }
                cs.iter().try_for_each(|c| c.validate_at(max_depth - 1))
            }
            _ => Ok(()),
        }
    }

    /// Binary encoding: type byte then the type's fields.
    pub fn encode(&self, w: &mut BinWriter) {
        w.write_u8(self.type_byte());
        match self {
            Self::Boolean(b) => w.write_bool(*b),
            Self::Not(c) => c.encode(w),
            Self::And(cs) | Self::Or(cs) => {
                w.write_var_int(cs.len() as u64);
                cs.iter().for_each(|c| c.encode(w));
            }
            Self::ScriptHash(h) | Self::CalledByContract(h) => w.write_bytes(h.as_bytes()),
            Self::Group(k) | Self::CalledByGroup(k) => w.write_bytes(&k.to_compressed()),
            Self::CalledByEntry => {}
        }
    }

    /// Decode one condition, enforcing the nesting and sub-item limits.
    pub fn decode(r: &mut BinReader<'_>) -> Result<Self> {
        Self::decode_at(r, MAX_CONDITION_NESTING)
    }

    fn decode_at(r: &mut BinReader<'_>, max_depth: usize) -> Result<Self> {
        if max_depth == 0 {
            return Err(Error::Limit {
                what: "witness condition nesting",
                got: (MAX_CONDITION_NESTING + 1) as u64,
                max: MAX_CONDITION_NESTING as u64,
            });
        }
        let t = r.read_u8()?;
        Ok(match t {
            0x00 => Self::Boolean(r.read_bool()?),
            0x01 => Self::Not(Box::new(Self::decode_at(r, max_depth - 1)?)),
            0x02 | 0x03 => {
                let n = r.read_len(MAX_SUBITEMS, "witness sub-conditions")?;
                if n == 0 {
                    return Err(Error::Format("empty And/Or condition".into()));
                }
                let cs = (0..n)
                    .map(|_| Self::decode_at(r, max_depth - 1))
                    .collect::<Result<Vec<_>>>()?;
                if t == 0x02 {
                    Self::And(cs)
                } else {
                    Self::Or(cs)
                }
            }
            0x18 => Self::ScriptHash(UInt160::from_bytes_le(r.read_array()?)),
            0x19 => Self::Group(PublicKey::from_bytes(r.read_bytes(33)?)?),
            0x20 => Self::CalledByEntry,
            0x28 => Self::CalledByContract(UInt160::from_bytes_le(r.read_array()?)),
            0x29 => Self::CalledByGroup(PublicKey::from_bytes(r.read_bytes(33)?)?),
            other => {
                return Err(Error::Format(format!(
                    "unknown witness condition type {other:#04x}"
                )));
            }
        })
    }
}

/// JSON shape shared by all condition types (C# / neo-go RPC form).
#[derive(Serialize, Deserialize)]
struct ConditionJson {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expression: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expressions: Option<Vec<WitnessCondition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hash: Option<UInt160>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group: Option<PublicKey>,
}

impl Serialize for WitnessCondition {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let mut j = ConditionJson {
            kind: self.type_name().to_owned(),
            expression: None,
            expressions: None,
            hash: None,
            group: None,
        };
        match self {
            Self::Boolean(b) => j.expression = Some(serde_json::Value::Bool(*b)),
            Self::Not(c) => j.expression = Some(serde_json::to_value(c).map_err(S::Error::custom)?),
            Self::And(cs) | Self::Or(cs) => j.expressions = Some(cs.clone()),
            Self::ScriptHash(h) | Self::CalledByContract(h) => j.hash = Some(*h),
            Self::Group(k) | Self::CalledByGroup(k) => j.group = Some(*k),
            Self::CalledByEntry => {}
        }
        j.serialize(s)
    }
}

impl<'de> Deserialize<'de> for WitnessCondition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let j = ConditionJson::deserialize(d)?;
        let missing = |f: &str| D::Error::custom(format!("{} condition without \"{f}\"", j.kind));
        let c = match j.kind.as_str() {
            "Boolean" => match &j.expression {
                Some(serde_json::Value::Bool(b)) => Self::Boolean(*b),
                Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("true") => {
                    Self::Boolean(true)
                }
                Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") => {
                    Self::Boolean(false)
                }
                _ => return Err(missing("expression")),
            },
            "Not" => {
                let e = j.expression.clone().ok_or_else(|| missing("expression"))?;
                Self::Not(Box::new(
                    serde_json::from_value(e).map_err(D::Error::custom)?,
                ))
            }
            "And" => Self::And(
                j.expressions
                    .clone()
                    .ok_or_else(|| missing("expressions"))?,
            ),
            "Or" => Self::Or(
                j.expressions
                    .clone()
                    .ok_or_else(|| missing("expressions"))?,
            ),
            "ScriptHash" => Self::ScriptHash(j.hash.ok_or_else(|| missing("hash"))?),
            "Group" => Self::Group(j.group.ok_or_else(|| missing("group"))?),
            "CalledByEntry" => Self::CalledByEntry,
            "CalledByContract" => Self::CalledByContract(j.hash.ok_or_else(|| missing("hash"))?),
            "CalledByGroup" => Self::CalledByGroup(j.group.ok_or_else(|| missing("group"))?),
            other => {
                return Err(D::Error::custom(format!(
                    "unknown witness condition type {other:?}"
                )));
            }
        };
        c.validate().map_err(D::Error::custom)?;
        Ok(c)
    }
}

/// A witness rule: if `condition` matches, `action` decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessRule {
    /// Allow or deny.
    pub action: WitnessAction,
    /// When the rule applies.
    pub condition: WitnessCondition,
}

impl WitnessRule {
    /// A rule.
    pub fn new(action: WitnessAction, condition: WitnessCondition) -> Self {
        Self { action, condition }
    }

    /// Binary encoding: action byte, condition.
    pub fn encode(&self, w: &mut BinWriter) {
        w.write_u8(self.action as u8);
        self.condition.encode(w);
    }

    /// Decode one rule.
    pub fn decode(r: &mut BinReader<'_>) -> Result<Self> {
        let action = match r.read_u8()? {
            0 => WitnessAction::Deny,
            1 => WitnessAction::Allow,
            b => {
                return Err(Error::Format(format!(
                    "unknown witness rule action {b:#04x}"
                )));
            }
        };
        Ok(Self {
            action,
            condition: WitnessCondition::decode(r)?,
        })
    }
}

/// A transaction signer: an account and where its witness may be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signer {
    /// The account's script hash.
    pub account: UInt160,
    /// Where the witness is valid.
    pub scopes: WitnessScope,
    /// Contracts allowed with `CustomContracts`.
    #[serde(
        rename = "allowedcontracts",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allowed_contracts: Vec<UInt160>,
    /// Groups allowed with `CustomGroups`.
    #[serde(
        rename = "allowedgroups",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allowed_groups: Vec<PublicKey>,
    /// Rules used with `WitnessRules`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<WitnessRule>,
}

impl Signer {
    /// A signer with the given scopes and no lists.
    pub fn new(account: UInt160, scopes: WitnessScope) -> Self {
        Self {
            account,
            scopes,
            allowed_contracts: Vec::new(),
            allowed_groups: Vec::new(),
            rules: Vec::new(),
        }
    }

    /// `CalledByEntry` signer (the usual choice for a sender).
    pub fn called_by_entry(account: UInt160) -> Self {
        Self::new(account, WitnessScope::CALLED_BY_ENTRY)
    }

    /// `None` scope signer (fee payer only).
    pub fn none(account: UInt160) -> Self {
        Self::new(account, WitnessScope::NONE)
    }

    /// `Global` scope signer.
    pub fn global(account: UInt160) -> Self {
        Self::new(account, WitnessScope::GLOBAL)
    }

    /// Add `CustomContracts` with these contracts.
    pub fn with_allowed_contracts(mut self, contracts: Vec<UInt160>) -> Self {
        self.scopes = self.scopes | WitnessScope::CUSTOM_CONTRACTS;
        self.allowed_contracts = contracts;
        self
    }

    /// Add `CustomGroups` with these groups.
    pub fn with_allowed_groups(mut self, groups: Vec<PublicKey>) -> Self {
        self.scopes = self.scopes | WitnessScope::CUSTOM_GROUPS;
        self.allowed_groups = groups;
        self
    }

    /// Add `WitnessRules` with these rules.
    pub fn with_rules(mut self, rules: Vec<WitnessRule>) -> Self {
        self.scopes = self.scopes | WitnessScope::WITNESS_RULES;
        self.rules = rules;
        self
    }

    /// Check scope bits, list sizes, and that lists are present only with their scope flag
    /// (otherwise they would be silently dropped on encoding).
    pub fn validate(&self) -> Result<()> {
        WitnessScope::from_bits(self.scopes.bits())?;
        let lists = [
            (
                WitnessScope::CUSTOM_CONTRACTS,
                self.allowed_contracts.len(),
                "allowed contracts",
            ),
            (
                WitnessScope::CUSTOM_GROUPS,
                self.allowed_groups.len(),
                "allowed groups",
            ),
            (
                WitnessScope::WITNESS_RULES,
                self.rules.len(),
                "witness rules",
            ),
        ];
        for (flag, len, what) in lists {
            if len > MAX_SUBITEMS {
                return Err(Error::Limit {
                    what,
                    got: len as u64,
                    max: MAX_SUBITEMS as u64,
                });
            }
            if len > 0 && self.scopes.bits() & flag.bits() == 0 {
                return Err(Error::Format(format!(
                    "{what} given without the {flag} scope"
                )));
            }
        }
        self.rules.iter().try_for_each(|r| r.condition.validate())
    }

    /// Binary encoding: account, scope byte, then the lists the scope calls for.
    pub fn encode(&self, w: &mut BinWriter) {
        w.write_bytes(self.account.as_bytes());
        w.write_u8(self.scopes.bits());
        if self.scopes.bits() & WitnessScope::CUSTOM_CONTRACTS.bits() != 0 {
            w.write_var_int(self.allowed_contracts.len() as u64);
            self.allowed_contracts
                .iter()
                .for_each(|h| w.write_bytes(h.as_bytes()));
        }
        if self.scopes.bits() & WitnessScope::CUSTOM_GROUPS.bits() != 0 {
            w.write_var_int(self.allowed_groups.len() as u64);
            self.allowed_groups
                .iter()
                .for_each(|k| w.write_bytes(&k.to_compressed()));
        }
        if self.scopes.bits() & WitnessScope::WITNESS_RULES.bits() != 0 {
            w.write_var_int(self.rules.len() as u64);
            self.rules.iter().for_each(|r| r.encode(w));
        }
    }

    /// Decode one signer, enforcing the scope rules and list limits.
    pub fn decode(r: &mut BinReader<'_>) -> Result<Self> {
        let account = UInt160::from_bytes_le(r.read_array()?);
        let scopes = WitnessScope::from_bits(r.read_u8()?)?;
        let mut s = Self::new(account, scopes);
        if scopes.bits() & WitnessScope::CUSTOM_CONTRACTS.bits() != 0 {
            let n = r.read_len(MAX_SUBITEMS, "allowed contracts")?;
            s.allowed_contracts = (0..n)
                .map(|_| r.read_array().map(UInt160::from_bytes_le))
                .collect::<Result<_>>()?;
        }
        if scopes.bits() & WitnessScope::CUSTOM_GROUPS.bits() != 0 {
            let n = r.read_len(MAX_SUBITEMS, "allowed groups")?;
            s.allowed_groups = (0..n)
                .map(|_| r.read_bytes(33).and_then(PublicKey::from_bytes))
                .collect::<Result<_>>()?;
        }
        if scopes.bits() & WitnessScope::WITNESS_RULES.bits() != 0 {
            let n = r.read_len(MAX_SUBITEMS, "witness rules")?;
            s.rules = (0..n)
                .map(|_| WitnessRule::decode(r))
                .collect::<Result<_>>()?;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_names() {
        let s = WitnessScope::CALLED_BY_ENTRY | WitnessScope::CUSTOM_CONTRACTS;
        assert_eq!(s.to_string(), "CalledByEntry, CustomContracts");
        assert_eq!(
            WitnessScope::from_names("CalledByEntry, CustomContracts").unwrap(),
            s
        );
        assert_eq!(WitnessScope::NONE.to_string(), "None");
        assert_eq!(
            WitnessScope::from_names("None").unwrap(),
            WitnessScope::NONE
        );
        assert!(WitnessScope::from_bits(0x81).is_err());
        assert!(WitnessScope::from_bits(0x02).is_err());
        assert!(WitnessScope::from_names("Global, CalledByEntry").is_err());
    }

    #[test]
    fn condition_nesting_limit() {
        let ok = WitnessCondition::Not(Box::new(WitnessCondition::And(vec![
            WitnessCondition::Boolean(true),
        ])));
        ok.validate().unwrap();
        let mut w = BinWriter::new();
        ok.encode(&mut w);
        let b = w.into_bytes();
        assert_eq!(
            WitnessCondition::decode(&mut BinReader::new(&b)).unwrap(),
            ok
        );
        let deep = WitnessCondition::Not(Box::new(ok));
        assert!(deep.validate().is_err());
        let mut w = BinWriter::new();
        deep.encode(&mut w);
        let b = w.into_bytes();
        assert!(matches!(
            WitnessCondition::decode(&mut BinReader::new(&b)),
            Err(Error::Limit { .. })
        ));
    }

    #[test]
    fn condition_json() {
        let c = WitnessCondition::And(vec![
            WitnessCondition::Boolean(false),
            WitnessCondition::CalledByContract(UInt160::ZERO),
            WitnessCondition::CalledByEntry,
        ]);
        let j = serde_json::to_value(&c).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"type":"And","expressions":[
                {"type":"Boolean","expression":false},
                {"type":"CalledByContract","hash":"0x0000000000000000000000000000000000000000"},
                {"type":"CalledByEntry"}]})
        );
        assert_eq!(serde_json::from_value::<WitnessCondition>(j).unwrap(), c);
    }
}
