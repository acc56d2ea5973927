//! Append-only, hash-chained audit log.
//!
//! Every entry carries `prev_hash` (the previous entry's hash; 32 zero bytes for seq 1) and
//! `entry_hash = HMAC-SHA256(audit key, prev_hash || canonical(seq, ts, actor, action, target, ip,
//! detail))`, see [`keyed_entry_hash`]. The audit key is sealed by the node's vault
//! ([`Store::with_audit_key`](crate::Store::with_audit_key)), so someone who can only write the
//! database cannot recompute the chain after editing a row. A store without a key (tests, and
//! chains not keyed yet: `audit_head.keyed = 0`) uses plain SHA-256 ([`entry_hash`]). A head row (`audit_head`) holds the last seq and hash, so deleting the newest
//! rows is detected too. Appends are serialized on the head row, so the chain never forks even with
//! several nodes on one PostgreSQL database.

use std::fmt;

use async_trait::async_trait;
use hmac::{Mac, SimpleHmac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{StoreResult, UnixMillis};

/// Hash of "nothing before": the `prev_hash` of entry 1.
pub const GENESIS_HASH: [u8; 32] = [0u8; 32];

/// An entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// Time of the event.
    pub ts: UnixMillis,
    /// Who acted: an account id, `cli`, `system`, ...
    pub actor: String,
    /// What was done, e.g. `apikey.create`.
    pub action: String,
    /// What it was done to, e.g. an API key id.
    pub target: Option<String>,
    /// Client IP, if the action came over the API.
    pub ip: Option<String>,
    /// Extra structured detail (never secrets).
    pub detail: serde_json::Value,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// Time of the event.
    pub ts: UnixMillis,
    /// Who acted.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub target: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// Extra detail.
    pub detail: serde_json::Value,
    /// Hash of the previous entry (hex in JSON).
    #[serde(with = "hex32")]
    pub prev_hash: [u8; 32],
    /// Hash of this entry (hex in JSON).
    #[serde(with = "hex32")]
    pub entry_hash: [u8; 32],
}

/// Filters for [`AuditStore::list_audit`]; every `Some` must match. Results are newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditFilter {
    /// Exact actor.
    pub actor: Option<String>,
    /// Exact action.
    pub action: Option<String>,
    /// Exact target.
    pub target: Option<String>,
    /// `ts >= since`.
    pub since: Option<UnixMillis>,
    /// `ts < until`.
    pub until: Option<UnixMillis>,
    /// Page cursor: only entries with `seq < before_seq` (from [`AuditPage::next_before_seq`]).
    pub before_seq: Option<i64>,
    /// Page size; 0 means 50, capped at 1000.
    pub limit: u32,
}

/// One page of entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    /// Entries, newest first.
    pub entries: Vec<AuditEntry>,
    /// Cursor for the next (older) page; `None` at the end.
    pub next_before_seq: Option<i64>,
}

/// The first problem [`AuditStore::verify_audit`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditProblem {
    /// The row's fields no longer hash to its `entry_hash`: the row was modified.
    Modified {
        /// The modified row.
        seq: i64,
    },
    /// Rows are missing: `seq` is the first missing one (deleted), `next_present` the next
    /// row found (or `None` if all rows after it are gone, detected through the head row).
    Missing {
        /// First missing seq.
        seq: i64,
        /// Next seq present.
        next_present: Option<i64>,
    },
    /// The row's `prev_hash` differs from the previous row's `entry_hash`: the previous row was
    /// rewritten together with its hash, or this row was replaced.
    BrokenLink {
        /// The row whose link is broken.
        seq: i64,
    },
    /// The chain is not keyed (plain SHA-256 hashes) although this store has the audit key: it
    /// was never keyed with this key, or someone rewrote it without the key.
    NotKeyed,
    /// The head row's MAC does not match its seq and hash: the head was moved without the key
    /// (e.g. rows cut off the end and the head set back).
    HeadNotAuthentic,
    /// The head row does not match the last entry.
    HeadMismatch {
        /// Seq recorded in the head.
        head_seq: i64,
        /// Last seq in the log.
        last_seq: i64,
    },
}

impl fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditProblem::Modified { seq } => {
                write!(
                    f,
                    "entry {seq} was modified (its hash does not match its fields)"
                )
            }
            AuditProblem::Missing {
                seq,
                next_present: Some(n),
            } if *n == seq + 1 => {
                write!(f, "entry {seq} was deleted")
            }
            AuditProblem::Missing {
                seq,
                next_present: Some(n),
            } => {
                write!(f, "entries {seq}..{} were deleted", n - 1)
            }
            AuditProblem::Missing {
                seq,
                next_present: None,
            } => {
                write!(f, "entry {seq} and all later entries were deleted")
            }
            AuditProblem::BrokenLink { seq } => write!(
                f,
                "entry {seq} does not link to entry {} (one of them was rewritten)",
                seq - 1
            ),
            AuditProblem::NotKeyed => f.write_str(
                "the chain is not keyed with this node's audit key (plain SHA-256 hashes): it was \
                 rewritten without the key, or never keyed",
            ),
            AuditProblem::HeadNotAuthentic => f.write_str(
                "the chain head's MAC does not match (the head was moved without the audit key)",
            ),
            AuditProblem::HeadMismatch { head_seq, last_seq } => write!(
                f,
                "chain head says {head_seq} entries but the log ends at {last_seq} with a different hash"
            ),
        }
    }
}

/// Result of [`AuditStore::verify_audit`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerification {
    /// Rows checked.
    pub entries: u64,
    /// The first problem, `None` if the chain is intact.
    pub problem: Option<AuditProblem>,
}

impl AuditVerification {
    /// Whether the chain is intact.
    pub fn is_ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Append an entry at the end of the chain (serialized across connections and nodes).
    async fn append_audit(&self, entry: &NewAuditEntry) -> StoreResult<AuditEntry>;

    /// Entries matching the filter, newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<AuditPage>;

    /// Walk the whole chain and report the first modified, deleted or relinked row.
    async fn verify_audit(&self) -> StoreResult<AuditVerification>;
}

/// The fields of an entry as stored (detail as its stored JSON text), for hashing.
#[derive(Debug, Clone, Copy)]
pub struct CanonicalFields<'a> {
    /// Seq.
    pub seq: i64,
    /// Timestamp.
    pub ts: UnixMillis,
    /// Actor.
    pub actor: &'a str,
    /// Action.
    pub action: &'a str,
    /// Target.
    pub target: Option<&'a str>,
    /// IP.
    pub ip: Option<&'a str>,
    /// Detail JSON text exactly as stored.
    pub detail: &'a str,
}

/// `SHA-256(prev_hash || seq as 8 bytes BE || ts as 8 bytes BE || f(actor) || f(action) ||
/// f(target) || f(ip) || f(detail))` where `f(s)` is a 4-byte big-endian length and the UTF-8
/// bytes, and an absent optional field is the 4 bytes `FF FF FF FF`.
pub fn entry_hash(prev_hash: &[u8; 32], fields: &CanonicalFields<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    feed(prev_hash, fields, &mut |b| h.update(b));
    h.finalize().into()
}

/// The keyed entry hash: HMAC-SHA256 under the audit key over exactly the bytes [`entry_hash`]
/// hashes.
pub fn keyed_entry_hash(
    key: &AuditKey,
    prev_hash: &[u8; 32],
    fields: &CanonicalFields<'_>,
) -> [u8; 32] {
    let mut m = key.mac();
    feed(prev_hash, fields, &mut |b| m.update(b));
    m.finalize().into_bytes().into()
}

/// MAC of the chain head: HMAC-SHA256(key, `"nsl-audit/v1/head"` || seq as 8 bytes BE ||
/// head hash).
pub fn head_mac(key: &AuditKey, seq: i64, head_hash: &[u8]) -> [u8; 32] {
    let mut m = key.mac();
    m.update(b"nsl-audit/v1/head");
    m.update(&seq.to_be_bytes());
    m.update(head_hash);
    m.finalize().into_bytes().into()
}

fn feed(prev_hash: &[u8; 32], fields: &CanonicalFields<'_>, out: &mut dyn FnMut(&[u8])) {
    fn put(out: &mut dyn FnMut(&[u8]), s: Option<&str>) {
        match s {
            Some(s) => {
                // Fields are far below 4 GiB; saturate rather than wrap if one ever is not.
                let len = u32::try_from(s.len()).unwrap_or(u32::MAX - 1);
                out(&len.to_be_bytes());
                out(s.as_bytes());
            }
            None => out(&[0xFF; 4]),
        }
    }
    out(prev_hash);
    out(&fields.seq.to_be_bytes());
    out(&fields.ts.to_be_bytes());
    put(out, Some(fields.actor));
    put(out, Some(fields.action));
    put(out, fields.target);
    put(out, fields.ip);
    put(out, Some(fields.detail));
}

/// The 32-byte key of the audit chain's HMAC. Zeroized on drop; `Debug` is redacted. The node
/// keeps it sealed by its vault (`<data_dir>/vault/audit.key`).
#[derive(Clone)]
pub struct AuditKey(Zeroizing<[u8; 32]>);

impl AuditKey {
    /// Take 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key bytes (to seal them).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn mac(&self) -> SimpleHmac<Sha256> {
        // HMAC takes keys of any length: this cannot fail.
        <SimpleHmac<Sha256> as Mac>::new_from_slice(self.0.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(<redacted>)")
    }
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let bytes = hex::decode(&s).map_err(serde::de::Error::custom)?;
        bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("expected 32 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(actor: &str) -> CanonicalFields<'_> {
        CanonicalFields {
            seq: 1,
            ts: 1_700_000_000_000,
            actor,
            action: "a",
            target: None,
            ip: Some(""),
            detail: "{}",
        }
    }

    #[test]
    fn hash_depends_on_every_field_and_boundaries() {
        let base = entry_hash(&GENESIS_HASH, &fields("x"));
        assert_ne!(base, entry_hash(&GENESIS_HASH, &fields("y")));
        assert_ne!(base, entry_hash(&[1u8; 32], &fields("x")));
        // None and "" differ; moving bytes between fields changes the hash.
        let mut f = fields("x");
        f.ip = None;
        assert_ne!(base, entry_hash(&GENESIS_HASH, &f));
        let a = CanonicalFields {
            actor: "ab",
            action: "c",
            ..fields("")
        };
        let b = CanonicalFields {
            actor: "a",
            action: "bc",
            ..fields("")
        };
        assert_ne!(entry_hash(&GENESIS_HASH, &a), entry_hash(&GENESIS_HASH, &b));
        // Deterministic.
        assert_eq!(base, entry_hash(&GENESIS_HASH, &fields("x")));
    }

    #[test]
    fn problems_read_well() {
        assert_eq!(
            AuditProblem::Missing {
                seq: 3,
                next_present: Some(4)
            }
            .to_string(),
            "entry 3 was deleted"
        );
        assert_eq!(
            AuditProblem::Modified { seq: 2 }.to_string(),
            "entry 2 was modified (its hash does not match its fields)"
        );
    }
}
