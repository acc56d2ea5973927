//! The `randomness` table (migrations 0013, 0014): randomness this node served, for
//! `GET /v1/randomness/{id}`. One SQL text for both backends.

use nsl_store::{Store, StoreError, StoreResult, UnixMillis};
use sqlx::Row as _;

/// Where a record's request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A gateway `vrf` request (id = the gateway's request id in decimal).
    Chain,
    /// `POST /v1/randomness` (id = a UUID, owned by an account).
    Api,
}

impl RecordKind {
    /// Stable name (the `kind` column, the API's `source`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chain => "chain",
            Self::Api => "api",
        }
    }

    fn parse(s: &str) -> StoreResult<Self> {
        match s {
            "chain" => Ok(Self::Chain),
            "api" => Ok(Self::Api),
            other => Err(StoreError::Corrupt(format!("randomness kind {other:?}"))),
        }
    }
}

/// One served randomness: everything a verifier needs (with the published VRF key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RandomnessRecord {
    /// Gateway request id (decimal) or API request UUID.
    pub id: String,
    /// Where the request came from.
    pub kind: RecordKind,
    /// The owning account (API requests).
    pub account_id: Option<String>,
    /// The account's sequence number, part of alpha (API requests: 1, 2, 3, ... per account).
    pub sequence: Option<i64>,
    /// The requester's script hash, `0x` hex (gateway requests).
    pub requester: Option<String>,
    /// The consumer's seed.
    pub seed: Vec<u8>,
    /// Words derived from beta.
    pub words: u16,
    /// The VRF input.
    pub alpha: Vec<u8>,
    /// The VRF output.
    pub beta: Vec<u8>,
    /// The ECVRF proof (81 bytes).
    pub proof: Vec<u8>,
    /// The requesting transaction, `0x` hex (gateway requests).
    pub tx_hash: Option<String>,
    /// The block that included the request (gateway requests).
    pub block_index: Option<i64>,
    /// When the node computed it.
    pub created_at: UnixMillis,
}

const COLUMNS: &str = "id, kind, account_id, requester, seed, words, alpha, beta, proof, tx_hash, \
                       block_index, created_at, sequence";

/// Record `r`. A record with the same id is kept as it is (a gateway request answered again
/// after a restart has the same deterministic output); `Ok(false)` then.
pub async fn insert(store: &Store, r: &RandomnessRecord) -> StoreResult<bool> {
    insert_with(store, r, "ON CONFLICT (id) DO NOTHING").await
}

/// Record an API request `r` under its account's sequence number: `Ok(false)` if another
/// request already holds that number (the caller takes the next one), the record is not written.
pub async fn insert_sequenced(store: &Store, r: &RandomnessRecord) -> StoreResult<bool> {
    insert_with(store, r, "ON CONFLICT DO NOTHING").await
}

/// The account's next sequence number (1 for its first request).
pub async fn next_sequence(store: &Store, account_id: &str) -> StoreResult<i64> {
    let row = sqlx::query(
        "SELECT COALESCE(MAX(sequence), 0) AS last FROM randomness WHERE account_id = $1",
    )
    .bind(account_id)
    .fetch_one(store.pool())
    .await?;
    let last: i64 = row.try_get("last")?;
    Ok(last + 1)
}

async fn insert_with(store: &Store, r: &RandomnessRecord, on_conflict: &str) -> StoreResult<bool> {
    let sql = format!(
        "INSERT INTO randomness ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13) {on_conflict}"
    );
    let done = sqlx::query(&sql)
        .bind(&r.id)
        .bind(r.kind.as_str())
        .bind(r.account_id.clone())
        .bind(r.requester.clone())
        .bind(r.seed.clone())
        .bind(i64::from(r.words))
        .bind(r.alpha.clone())
        .bind(r.beta.clone())
        .bind(r.proof.clone())
        .bind(r.tx_hash.clone())
        .bind(r.block_index)
        .bind(r.created_at)
        .bind(r.sequence)
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The record `id`, if any.
pub async fn get(store: &Store, id: &str) -> StoreResult<Option<RandomnessRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM randomness WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(store.pool())
        .await?;
    row.map(|row| -> StoreResult<RandomnessRecord> {
        let words: i64 = row.try_get("words")?;
        Ok(RandomnessRecord {
            id: row.try_get("id")?,
            kind: RecordKind::parse(&row.try_get::<String, _>("kind")?)?,
            account_id: row.try_get("account_id")?,
            requester: row.try_get("requester")?,
            seed: row.try_get("seed")?,
            words: u16::try_from(words)
                .map_err(|_| StoreError::Corrupt(format!("randomness {id}: words {words}")))?,
            alpha: row.try_get("alpha")?,
            beta: row.try_get("beta")?,
            proof: row.try_get("proof")?,
            tx_hash: row.try_get("tx_hash")?,
            block_index: row.try_get("block_index")?,
            created_at: row.try_get("created_at")?,
            sequence: row.try_get("sequence")?,
        })
    })
    .transpose()
}
