//! [`ChainStore`]: the runtime's persistent state (tables of migration `0012_chain_runtime.sql`:
//! `chain_cursors`, `chain_requests`, `chain_request_history`, `chain_outbox`, and the oracle's
//! `oracle_request_fields`), implemented for [`nsl_store::Store`] with one SQL text for SQLite and
//! PostgreSQL (only the claim's lock clause differs).
//!
//! Invariants kept here:
//! - A request row is unique per `(chain, tx_hash, notification_index)`: recording a block's
//!   requests twice (a crash between a sink's write and the cursor's) changes nothing, so a
//!   restart neither loses nor duplicates a request.
//! - A row is worked on by one worker at a time: a claim is one `UPDATE ... WHERE id IN (SELECT
//!   ... FOR UPDATE SKIP LOCKED)` on PostgreSQL (SQLite: one writer at a time), safe across
//!   processes.
//! - The outbox entry (signed transaction bytes and hash) is written, with the rows' state
//!   `outbox`, before the transaction is broadcast; every row state change appends a history row.
//! - One transaction may answer several rows (they share its `chain_outbox` entry through
//!   `response_tx_hash`), or none (a push or timer service's transaction, [`ChainStore::submit_tx`]).

use async_trait::async_trait;
use nsl_store::{Store, StoreError, StoreResult, UnixMillis};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

/// Which contract a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    /// The NSL gateway's `ServiceRequest` (service type `oracle`).
    Gateway,
    /// Neo's native OracleContract `OracleRequest`.
    Native,
}

impl RequestKind {
    /// `gateway` or `native`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Native => "native",
        }
    }

    fn parse(s: &str) -> StoreResult<Self> {
        match s {
            "gateway" => Ok(Self::Gateway),
            "native" => Ok(Self::Native),
            other => Err(StoreError::Corrupt(format!(
                "oracle request kind {other:?}"
            ))),
        }
    }
}

/// The stored text form (rows decode it with `#[sqlx(try_from = "String")]`).
impl TryFrom<String> for RequestKind {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

/// The stored text form (rows decode it with `#[sqlx(try_from = "String")]`).
impl TryFrom<String> for RequestState {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("request state {s:?}")))
    }
}

/// The stored text form (rows decode it with `#[sqlx(try_from = "String")]`).
impl TryFrom<String> for TxState {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("outbox state {s:?}")))
    }
}

/// Life cycle of a request row: `seen -> fetched -> outbox -> sent -> confirmed`, or `failed` /
/// `expired`. A response whose validUntilBlock passed goes back to `fetched` to be rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestState {
    /// Picked up from a block.
    Seen,
    /// The answer (code and result) is stored.
    Fetched,
    /// The signed response is in the outbox, maybe not broadcast yet.
    Outbox,
    /// Broadcast, not yet in a block.
    Sent,
    /// The response is in a block.
    Confirmed,
    /// Cannot be answered (detail in the history).
    Failed,
    /// The request is gone from the chain (answered by another node or expired).
    Expired,
}

impl RequestState {
    /// Every state, in life-cycle order.
    pub const ALL: [RequestState; 7] = [
        Self::Seen,
        Self::Fetched,
        Self::Outbox,
        Self::Sent,
        Self::Confirmed,
        Self::Failed,
        Self::Expired,
    ];

    /// The state's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seen => "seen",
            Self::Fetched => "fetched",
            Self::Outbox => "outbox",
            Self::Sent => "sent",
            Self::Confirmed => "confirmed",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    /// Parse a stored state name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A request picked up by the follower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    /// Gateway or native.
    pub kind: RequestKind,
    /// Hash of the requesting transaction (`0x` hex).
    pub tx_hash: String,
    /// Index of the notification in the transaction's application log.
    pub notification_index: i64,
    /// Height of the block holding the request.
    pub block_index: i64,
    /// The gateway's or the OracleContract's request id.
    pub request_id: i64,
    /// Requesting contract (`0x` hex script hash).
    pub requester: String,
    /// URL to fetch (empty when the payload was invalid).
    pub url: String,
    /// JSONPath filter.
    pub filter: Option<String>,
    /// Why the request is invalid (answered with code `Error` without fetching).
    pub invalid: Option<String>,
    /// The gateway service type (`oracle` for native requests too).
    pub service: String,
    /// Raw payload for service types other than `oracle` (their handler reads it).
    pub payload: Option<Vec<u8>>,
    /// GAS budget of a gateway request's response (system + network fee); `None` for native
    /// requests.
    pub gas_budget: Option<i64>,
}

/// A stored request row (columns: `REQUEST_COLUMNS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct RequestRow {
    /// Row id (UUID).
    pub id: String,
    /// `neo:<network magic>`.
    pub chain: String,
    /// Gateway or native.
    #[sqlx(try_from = "String")]
    pub kind: RequestKind,
    /// Requesting transaction.
    pub tx_hash: String,
    /// Notification index in that transaction.
    pub notification_index: i64,
    /// Block of the request.
    pub block_index: i64,
    /// On-chain request id.
    pub request_id: i64,
    /// Requesting contract.
    pub requester: String,
    /// URL.
    pub url: String,
    /// Filter.
    pub filter: Option<String>,
    /// Why the request is invalid, if it is.
    pub invalid: Option<String>,
    /// The gateway service type (`oracle`, `function`, ...; `oracle` for native requests).
    pub service: String,
    /// Raw payload for service types other than `oracle`.
    #[serde(skip)]
    pub payload: Option<Vec<u8>>,
    /// GAS budget of a gateway request's response (GAS fractions); `None` for native requests.
    pub gas_budget: Option<i64>,
    /// Current state.
    #[sqlx(try_from = "String")]
    pub state: RequestState,
    /// Response code once fetched.
    pub code: Option<i64>,
    /// Result bytes once fetched (empty unless the code is Success).
    #[serde(skip)]
    pub result: Option<Vec<u8>>,
    /// Hash of the (last) response transaction.
    pub response_tx_hash: Option<String>,
    /// Block holding the response, once confirmed.
    pub confirmed_block: Option<i64>,
    /// Claims of the row by a worker that did not give it back (crashed, hung, killed); see
    /// [`ChainStore::claim`].
    #[sqlx(rename = "r_attempts")]
    pub attempts: i64,
    /// When the row was created.
    pub created_at: UnixMillis,
    /// When it last changed.
    pub updated_at: UnixMillis,
}

/// One state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct HistoryEntry {
    /// The state entered.
    pub state: String,
    /// When.
    pub at: UnixMillis,
    /// Detail (error text, transaction hash, ...).
    pub detail: Option<String>,
}

/// A signed response waiting for (or after) broadcast, seen from one of the rows it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct OutboxRow {
    /// The request row.
    pub request: String,
    /// Transaction hash.
    #[sqlx(rename = "o_tx_hash")]
    pub tx_hash: String,
    /// The signed transaction bytes.
    #[serde(skip)]
    pub tx: Vec<u8>,
    /// Last block that may include it.
    pub valid_until_block: i64,
    /// Broadcast attempts.
    #[sqlx(rename = "o_attempts")]
    pub attempts: i64,
}

/// One row's part of [`ChainStore::write_outboxes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxWrite {
    /// The signed response (its `request` is the row id).
    pub outbox: OutboxRow,
    /// The response code it carries.
    pub code: i64,
    /// The answer's result, when the row's answer is not stored yet.
    pub answer: Option<Vec<u8>>,
}

/// A request with its history and outbox entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestDetail {
    /// The row.
    #[serde(flatten)]
    pub request: RequestRow,
    /// State changes, oldest first.
    pub history: Vec<HistoryEntry>,
    /// The current outbox entry, if any.
    pub outbox: Option<OutboxRow>,
}

/// Largest page [`ChainStore::list_requests`] returns (the API pages by 500 and asks for one
/// more row to know whether another page follows).
pub const MAX_LIST_LIMIT: i64 = 501;

/// Filter of [`ChainStore::list_requests`].
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    /// Only this state.
    pub state: Option<RequestState>,
    /// Only these requesters (`0x` hex script hashes); `None`: every requester, an empty list:
    /// no rows.
    pub requesters: Option<Vec<String>>,
    /// Only this gateway service type (`oracle`, `function`, ...).
    pub service: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

/// What [`ChainStore::enter_chain`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainEntry {
    /// A cursor of this chain without a genesis took the current one (pre-0011 data).
    pub adopted: bool,
    /// The next block of the current chain's cursor, when one was kept or adopted.
    pub resume_at: Option<i64>,
    /// Chains whose cursor and rows were retired.
    pub retired: Vec<RetiredChain>,
}

/// A chain the node no longer follows (see [`ChainStore::enter_chain`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredChain {
    /// Its `neo:<magic>` key.
    pub chain: String,
    /// Its genesis hash, when the cursor knew it.
    pub genesis: Option<String>,
    /// The block its cursor was at.
    pub next_block: i64,
    /// The chain key its rows now have.
    pub renamed_to: String,
    /// Unfinished rows that ended `expired`.
    pub expired: u64,
}

/// Persistence of the chain runtime: cursor, request queue, outbox. Object safe; implemented by
/// [`nsl_store::Store`].
#[async_trait]
pub trait ChainStore: Send + Sync {
    /// The follower's next block for `(chain, source)`, `None` before the first block (also
    /// when [`ChainStore::enter_chain`] only recorded the chain's genesis).
    async fn cursor(&self, chain: &str, source: &str) -> StoreResult<Option<i64>>;

    /// Move the cursor of `(chain, source)` to `next_block` (the follower, once every sink has
    /// recorded the block before it).
    async fn set_cursor(
        &self,
        chain: &str,
        source: &str,
        next_block: i64,
        now: UnixMillis,
    ) -> StoreResult<()>;

    /// Insert the requests of one block (idempotently) and set the cursor to `next_block`, in
    /// one transaction. New rows are claimed for `claim = (owner, until)` when given, so the
    /// caller can work on them at once. Returns the rows that were new.
    async fn record_block(
        &self,
        chain: &str,
        source: &str,
        next_block: i64,
        requests: &[NewRequest],
        claim: Option<(&str, UnixMillis)>,
        now: UnixMillis,
    ) -> StoreResult<Vec<RequestRow>>;

    /// Insert requests found outside the follower (the native oracle's catch-up at start)
    /// idempotently, without moving the cursor: a request the follower already recorded (same
    /// `(chain, tx hash, notification index)`) is skipped. Returns the rows that were new (claimed
    /// for `claim` when given).
    async fn record_requests(
        &self,
        chain: &str,
        requests: &[NewRequest],
        claim: Option<(&str, UnixMillis)>,
        now: UnixMillis,
    ) -> StoreResult<Vec<RequestRow>>;

    /// At start: check the `source` cursors against the chain the node is on (`chain` =
    /// `neo:<magic>`, `genesis` = its block 0 hash), in one transaction. A cursor of `chain`
    /// with the same genesis is kept (resume); one without a genesis (written before migration
    /// 0011) adopts `genesis`; any other cursor of `source` (another genesis, or another magic)
    /// belongs to a chain the node no longer follows and is retired: the cursor is deleted, its
    /// unfinished rows end `expired` (their responses would be meaningless on the new chain, and
    /// their outbox entries are dropped so nothing is sent), and all its rows move to chain
    /// `<chain>@<old genesis>#<now>` so that they keep their history but no longer collide with the
    /// new chain's.
    async fn enter_chain(
        &self,
        chain: &str,
        source: &str,
        genesis: &str,
        now: UnixMillis,
    ) -> StoreResult<ChainEntry>;

    /// Claim up to `limit` rows in `seen` or `fetched` whose claim is free or expired, for
    /// `owner` until `until`. Each claim adds one to the row's `attempts` (a claim made by
    /// [`ChainStore::record_block`] is the first); [`ChainStore::release`] takes it back, a
    /// lease that runs out or [`ChainStore::release_owner`] (the worker died) does not. A
    /// [`ChainStore::requeue`] starts the count again.
    async fn claim(
        &self,
        owner: &str,
        until: UnixMillis,
        limit: i64,
        now: UnixMillis,
    ) -> StoreResult<Vec<RequestRow>>;

    /// Store the answer of a claimed `seen` row: state `fetched`.
    async fn store_answer(
        &self,
        id: &str,
        owner: &str,
        code: i64,
        result: &[u8],
        now: UnixMillis,
    ) -> StoreResult<bool>;

    /// Record the signed responses of rows claimed by `owner`, all in one transaction: per row
    /// the outbox entry and state `outbox`, claim released. A write whose `answer` is
    /// `Some(result)` may find its row still `seen` (the answer is stored too, with a `fetched`
    /// history entry); with `None` the row must be `fetched`. Returns, per write, whether it
    /// happened (`false`: the row is no longer this owner's or no longer in that state).
    async fn write_outboxes(
        &self,
        owner: &str,
        writes: &[OutboxWrite],
        now: UnixMillis,
    ) -> StoreResult<Vec<bool>>;

    /// A broadcast of the outbox transaction succeeded: state `sent` (from `outbox`), attempt
    /// counted.
    async fn mark_sent(&self, id: &str, now: UnixMillis) -> StoreResult<()>;

    /// [`ChainStore::mark_sent`] for several rows in one transaction.
    async fn mark_sent_many(&self, ids: &[String], now: UnixMillis) -> StoreResult<()>;

    /// The response is in block `block`: state `confirmed`.
    async fn mark_confirmed(&self, id: &str, block: i64, now: UnixMillis) -> StoreResult<bool>;

    /// End a row in `failed` or `expired` with a reason.
    async fn mark_final(
        &self,
        id: &str,
        state: RequestState,
        detail: &str,
        now: UnixMillis,
    ) -> StoreResult<()>;

    /// The outbox transaction `tx_hash` will not answer (its validUntilBlock passed, or it
    /// FAULTed): drop it, back to `fetched` to be rebuilt; `why` goes into the history.
    async fn requeue(
        &self,
        id: &str,
        tx_hash: &str,
        why: &str,
        now: UnixMillis,
    ) -> StoreResult<bool>;

    /// Give up a claim (transient error, shutdown): the row is claimable again and the claim
    /// does not count as an attempt.
    async fn release(&self, id: &str, owner: &str) -> StoreResult<()>;

    /// Give up every claim of `owner` (at start: what a previous run of this instance held; the
    /// claims still count as attempts). Returns how many rows were released.
    async fn release_owner(&self, owner: &str) -> StoreResult<u64>;

    /// Rows in `outbox` or `sent` with their outbox entries.
    async fn in_flight(&self) -> StoreResult<Vec<(RequestRow, OutboxRow)>>;

    /// One request with history and outbox entry.
    async fn request(&self, id: &str) -> StoreResult<Option<RequestDetail>>;

    /// A page of requests, newest first.
    async fn list_requests(&self, filter: &RequestFilter) -> StoreResult<Vec<RequestRow>>;

    /// Number of rows per state.
    async fn count_by_state(&self) -> StoreResult<Vec<(String, i64)>>;

    /// Record a signed transaction that answers no request row (push and timer services), state
    /// `outbox`, before it is broadcast. `false` when the hash is already recorded.
    async fn submit_tx(&self, tx: &NewOutboxTx, now: UnixMillis) -> StoreResult<bool>;

    /// Transactions of `chain` without request rows still in `outbox` or `sent`, oldest first.
    async fn pending_txs(&self, chain: &str) -> StoreResult<Vec<OutboxTx>>;

    /// One outbox entry by transaction hash.
    async fn outbox_tx(&self, tx_hash: &str) -> StoreResult<Option<OutboxTx>>;

    /// Move a live (`outbox`/`sent`) transaction to `state`; `Sent` counts a broadcast.
    /// `false` when it was not live.
    async fn mark_tx(
        &self,
        tx_hash: &str,
        state: TxState,
        block: Option<i64>,
        detail: Option<&str>,
        now: UnixMillis,
    ) -> StoreResult<bool>;
}

/// Life cycle of a `chain_outbox` entry: `outbox -> sent -> confirmed`, or `failed` (FAULT) /
/// `expired` (validUntilBlock passed, or the chain was retired).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TxState {
    /// Signed and stored, maybe not broadcast yet.
    Outbox,
    /// Broadcast at least once.
    Sent,
    /// In a block, HALTed.
    Confirmed,
    /// In a block, FAULTed.
    Failed,
    /// Can no longer be included.
    Expired,
}

impl TxState {
    /// The state's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outbox => "outbox",
            Self::Sent => "sent",
            Self::Confirmed => "confirmed",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    /// Parse a stored state name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Outbox,
            Self::Sent,
            Self::Confirmed,
            Self::Failed,
            Self::Expired,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// A signed transaction without request rows, for [`ChainStore::submit_tx`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxTx {
    /// Transaction hash (`0x` hex).
    pub tx_hash: String,
    /// `neo:<magic>`.
    pub chain: String,
    /// The owning service (receives FAULT / expiry reports).
    pub service: String,
    /// The service's reference (what the transaction is for), free text.
    pub reference: String,
    /// The signed transaction bytes.
    pub tx: Vec<u8>,
    /// Last block that may include it.
    pub valid_until_block: i64,
}

/// A `chain_outbox` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct OutboxTx {
    /// Transaction hash.
    pub tx_hash: String,
    /// `neo:<magic>`.
    pub chain: String,
    /// The owning service.
    pub service: String,
    /// The service's reference (`request <row id>` for request rows).
    pub reference: String,
    /// The signed transaction bytes.
    #[serde(skip)]
    pub tx: Vec<u8>,
    /// Last block that may include it.
    pub valid_until_block: i64,
    /// Current state.
    #[sqlx(try_from = "String")]
    pub state: TxState,
    /// Broadcasts.
    pub attempts: i64,
    /// Block holding it, once confirmed (or FAULTed).
    pub confirmed_block: Option<i64>,
    /// Why it failed or expired.
    pub detail: Option<String>,
    /// When it was stored.
    pub created_at: UnixMillis,
    /// When it last changed.
    pub updated_at: UnixMillis,
}

/// Columns of a [`RequestRow`]: the queue row and the oracle's own fields (table
/// `oracle_request_fields`, absent for other services).
const REQUEST_COLUMNS: &str = "r.id, r.chain, r.kind, r.tx_hash, r.notification_index, \
     r.block_index, r.request_id, r.requester, COALESCE(f.url, '') AS url, f.filter, f.invalid, \
     r.service, r.payload, r.gas_budget, r.state, r.code, r.result, r.response_tx_hash, \
     r.confirmed_block, r.attempts AS r_attempts, r.created_at, r.updated_at";

/// The request table joined with the oracle's fields.
const REQUEST_FROM: &str = "chain_requests r LEFT JOIN oracle_request_fields f ON f.request = r.id";

fn request_row(row: &AnyRow) -> StoreResult<RequestRow> {
    Ok(RequestRow::from_row(row)?)
}

fn outbox_row(row: &AnyRow) -> StoreResult<OutboxRow> {
    Ok(OutboxRow::from_row(row)?)
}

const OUTBOX_TX_COLUMNS: &str = "tx_hash, chain, service, reference, tx, valid_until_block, \
     state, attempts, confirmed_block, detail, created_at, updated_at";

fn outbox_tx(row: &AnyRow) -> StoreResult<OutboxTx> {
    Ok(OutboxTx::from_row(row)?)
}

const INSERT_HISTORY: &str =
    "INSERT INTO chain_request_history (request, state, at, detail) VALUES ($1, $2, $3, $4)";

async fn history<'c, E>(
    exec: E,
    id: &str,
    state: RequestState,
    at: UnixMillis,
    detail: Option<&str>,
) -> StoreResult<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(INSERT_HISTORY)
        .bind(id.to_string())
        .bind(state.as_str())
        .bind(at)
        .bind(detail.map(str::to_string))
        .execute(exec)
        .await?;
    Ok(())
}

/// Set the state of the outbox transaction a request row points at (if it is still live).
async fn end_row_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    state: TxState,
    detail: &str,
    now: UnixMillis,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE chain_outbox SET state = $1, detail = $2, updated_at = $3 WHERE tx_hash = \
         (SELECT response_tx_hash FROM chain_requests WHERE id = $4) \
         AND state IN ('outbox', 'sent')",
    )
    .bind(state.as_str())
    .bind(detail)
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One write of [`ChainStore::write_outboxes`] inside its transaction.
async fn write_outbox(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    owner: &str,
    w: &OutboxWrite,
    now: UnixMillis,
) -> StoreResult<bool> {
    let (id, outbox, code) = (w.outbox.request.as_str(), &w.outbox, w.code);
    let res = match &w.answer {
        Some(result) => {
            sqlx::query(
                "UPDATE chain_requests SET state = 'outbox', code = $1, result = $2, \
                 response_tx_hash = $3, claimed_by = NULL, claim_until = NULL, updated_at = $4 \
                 WHERE id = $5 AND state IN ('seen', 'fetched') AND claimed_by = $6",
            )
            .bind(code)
            .bind(result.clone())
            .bind(outbox.tx_hash.clone())
            .bind(now)
            .bind(id)
            .bind(owner)
            .execute(&mut **tx)
            .await?
        }
        None => {
            sqlx::query(
                "UPDATE chain_requests SET state = 'outbox', code = $1, response_tx_hash = $2, \
                 claimed_by = NULL, claim_until = NULL, updated_at = $3 \
                 WHERE id = $4 AND state = 'fetched' AND claimed_by = $5",
            )
            .bind(code)
            .bind(outbox.tx_hash.clone())
            .bind(now)
            .bind(id)
            .bind(owner)
            .execute(&mut **tx)
            .await?
        }
    };
    if res.rows_affected() != 1 {
        return Ok(false);
    }
    if let Some(result) = &w.answer {
        let detail = format!("code {code}, {} bytes", result.len());
        history(&mut **tx, id, RequestState::Fetched, now, Some(&detail)).await?;
    }
    // Several rows answered by one transaction share its outbox entry (the first write makes
    // it); its chain and service are the row's.
    sqlx::query(
        "INSERT INTO chain_outbox (tx_hash, chain, service, reference, tx, valid_until_block, \
         state, attempts, created_at, updated_at) \
         SELECT $1, chain, service, 'request ' || id, $2, $3, 'outbox', 0, $4, $4 \
         FROM chain_requests WHERE id = $5 \
         ON CONFLICT (tx_hash) DO NOTHING",
    )
    .bind(outbox.tx_hash.clone())
    .bind(outbox.tx.clone())
    .bind(outbox.valid_until_block)
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    let detail = format!(
        "tx {} validUntilBlock {}",
        outbox.tx_hash, outbox.valid_until_block
    );
    history(&mut **tx, id, RequestState::Outbox, now, Some(&detail)).await?;
    Ok(true)
}

/// Insert `requests` of `chain` (skipping those already recorded); the new rows.
async fn insert_requests(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    chain: &str,
    requests: &[NewRequest],
    claim: Option<(&str, UnixMillis)>,
    now: UnixMillis,
) -> StoreResult<Vec<RequestRow>> {
    let (claimed_by, claim_until) = match claim {
        Some((owner, until)) => (Some(owner.to_string()), Some(until)),
        None => (None, None),
    };
    let mut inserted = Vec::new();
    for r in requests {
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        let res = sqlx::query(
            "INSERT INTO chain_requests (id, chain, kind, tx_hash, notification_index, \
             block_index, request_id, requester, service, payload, gas_budget, state, \
             claimed_by, claim_until, attempts, created_at, updated_at) VALUES ($1, $2, $3, $4, \
             $5, $6, $7, $8, $9, $10, $11, 'seen', $12, $13, $14, $15, $15) \
             ON CONFLICT (chain, tx_hash, notification_index) DO NOTHING",
        )
        .bind(id.clone())
        .bind(chain)
        .bind(r.kind.as_str())
        .bind(r.tx_hash.clone())
        .bind(r.notification_index)
        .bind(r.block_index)
        .bind(r.request_id)
        .bind(r.requester.clone())
        .bind(r.service.clone())
        .bind(r.payload.clone())
        .bind(r.gas_budget)
        .bind(claimed_by.clone())
        .bind(claim_until)
        .bind(i64::from(claim.is_some()))
        .bind(now)
        .execute(&mut **tx)
        .await?;
        if res.rows_affected() != 1 {
            continue;
        }
        if !r.url.is_empty() || r.filter.is_some() || r.invalid.is_some() {
            sqlx::query(
                "INSERT INTO oracle_request_fields (request, url, filter, invalid) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id.clone())
            .bind(r.url.clone())
            .bind(r.filter.clone())
            .bind(r.invalid.clone())
            .execute(&mut **tx)
            .await?;
        }
        let detail = format!("block {} tx {}", r.block_index, r.tx_hash);
        history(&mut **tx, &id, RequestState::Seen, now, Some(&detail)).await?;
        inserted.push(RequestRow {
            id,
            chain: chain.to_string(),
            kind: r.kind,
            tx_hash: r.tx_hash.clone(),
            notification_index: r.notification_index,
            block_index: r.block_index,
            request_id: r.request_id,
            requester: r.requester.clone(),
            url: r.url.clone(),
            filter: r.filter.clone(),
            invalid: r.invalid.clone(),
            service: r.service.clone(),
            payload: r.payload.clone(),
            gas_budget: r.gas_budget,
            state: RequestState::Seen,
            code: None,
            result: None,
            response_tx_hash: None,
            confirmed_block: None,
            attempts: i64::from(claim.is_some()),
            created_at: now,
            updated_at: now,
        });
    }
    Ok(inserted)
}

/// `$first, $first+1, ...` for an IN list of `n` values.
fn marks(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Upsert the cursor of `(chain, source)` inside a transaction.
async fn write_cursor(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    chain: &str,
    source: &str,
    next_block: i64,
    now: UnixMillis,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO chain_cursors (chain, source, next_block, updated_at) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (chain, source) DO UPDATE SET next_block = excluded.next_block, \
         updated_at = excluded.updated_at",
    )
    .bind(chain)
    .bind(source)
    .bind(next_block)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl ChainStore for Store {
    async fn cursor(&self, chain: &str, source: &str) -> StoreResult<Option<i64>> {
        let row = sqlx::query(
            "SELECT next_block FROM chain_cursors WHERE chain = $1 AND source = $2 \
                 AND next_block >= 0",
        )
        .bind(chain)
        .bind(source)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get::<i64, _>(0)).transpose()?)
    }

    async fn set_cursor(
        &self,
        chain: &str,
        source: &str,
        next_block: i64,
        now: UnixMillis,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        write_cursor(&mut tx, chain, source, next_block, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_block(
        &self,
        chain: &str,
        source: &str,
        next_block: i64,
        requests: &[NewRequest],
        claim: Option<(&str, UnixMillis)>,
        now: UnixMillis,
    ) -> StoreResult<Vec<RequestRow>> {
        let mut tx = self.pool().begin().await?;
        // First statement is a write: takes SQLite's write lock up front.
        write_cursor(&mut tx, chain, source, next_block, now).await?;
        let inserted = insert_requests(&mut tx, chain, requests, claim, now).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    async fn record_requests(
        &self,
        chain: &str,
        requests: &[NewRequest],
        claim: Option<(&str, UnixMillis)>,
        now: UnixMillis,
    ) -> StoreResult<Vec<RequestRow>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool().begin().await?;
        let inserted = insert_requests(&mut tx, chain, requests, claim, now).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    async fn enter_chain(
        &self,
        chain: &str,
        source: &str,
        genesis: &str,
        now: UnixMillis,
    ) -> StoreResult<ChainEntry> {
        let mut tx = self.pool().begin().await?;
        // First statement is a write: takes SQLite's write lock up front (two processes
        // starting at once see each other's decision).
        sqlx::query("UPDATE chain_cursors SET genesis = genesis WHERE source = $1")
            .bind(source)
            .execute(&mut *tx)
            .await?;
        let cursors =
            sqlx::query("SELECT chain, next_block, genesis FROM chain_cursors WHERE source = $1")
                .bind(source)
                .fetch_all(&mut *tx)
                .await?;
        let mut entry = ChainEntry::default();
        for c in cursors {
            let (old_chain, next_block, old_genesis): (String, i64, Option<String>) =
                (c.try_get(0)?, c.try_get(1)?, c.try_get(2)?);
            if old_chain == chain {
                match old_genesis.as_deref() {
                    Some(g) if g == genesis => {
                        entry.resume_at = Some(next_block);
                        continue;
                    }
                    None => {
                        sqlx::query(
                            "UPDATE chain_cursors SET genesis = $1, updated_at = $2 \
                             WHERE chain = $3 AND source = $4",
                        )
                        .bind(genesis)
                        .bind(now)
                        .bind(chain)
                        .bind(source)
                        .execute(&mut *tx)
                        .await?;
                        entry.adopted = true;
                        entry.resume_at = Some(next_block);
                        continue;
                    }
                    Some(_) => {}
                }
            }
            let renamed_to = format!(
                "{old_chain}@{}#{now}",
                old_genesis.as_deref().unwrap_or("unknown")
            );
            let reason = format!(
                "chain reset: the node now follows {chain} genesis {genesis}; this request \
                 was made on {old_chain} genesis {}",
                old_genesis.as_deref().unwrap_or("unknown")
            );
            let open = sqlx::query(
                "SELECT id FROM chain_requests WHERE chain = $1 \
                 AND state NOT IN ('confirmed', 'failed', 'expired')",
            )
            .bind(old_chain.clone())
            .fetch_all(&mut *tx)
            .await?;
            for row in &open {
                let id: String = row.try_get(0)?;
                sqlx::query(
                    "UPDATE chain_requests SET state = 'expired', claimed_by = NULL, \
                     claim_until = NULL, updated_at = $1 WHERE id = $2",
                )
                .bind(now)
                .bind(id.clone())
                .execute(&mut *tx)
                .await?;
                history(&mut *tx, &id, RequestState::Expired, now, Some(&reason)).await?;
            }
            // Nothing of the old chain is sent to the new one (request rows or not).
            sqlx::query(
                "UPDATE chain_outbox SET state = 'expired', detail = $1, updated_at = $2 \
                 WHERE chain = $3 AND state IN ('outbox', 'sent')",
            )
            .bind(reason.clone())
            .bind(now)
            .bind(old_chain.clone())
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE chain_outbox SET chain = $1 WHERE chain = $2")
                .bind(renamed_to.clone())
                .bind(old_chain.clone())
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE chain_requests SET chain = $1 WHERE chain = $2")
                .bind(renamed_to.clone())
                .bind(old_chain.clone())
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM chain_cursors WHERE chain = $1 AND source = $2")
                .bind(old_chain.clone())
                .bind(source)
                .execute(&mut *tx)
                .await?;
            entry.retired.push(RetiredChain {
                chain: old_chain,
                genesis: old_genesis,
                next_block,
                renamed_to,
                expired: open.len() as u64,
            });
        }
        if entry.resume_at.is_none() {
            // No cursor of this chain yet: remember its genesis now, so that the first cursor
            // write (the follower's first block) is bound to it.
            sqlx::query(
                "INSERT INTO chain_cursors (chain, source, next_block, updated_at, genesis) \
                 VALUES ($1, $2, -1, $3, $4)",
            )
            .bind(chain)
            .bind(source)
            .bind(now)
            .bind(genesis)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(entry)
    }

    async fn claim(
        &self,
        owner: &str,
        until: UnixMillis,
        limit: i64,
        now: UnixMillis,
    ) -> StoreResult<Vec<RequestRow>> {
        // One statement: the candidates are locked as they are chosen (PostgreSQL skips rows
        // another claimer holds; SQLite has one writer at a time), so two claimers never get
        // the same row.
        let lock = match self.backend() {
            nsl_store::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            nsl_store::Backend::Sqlite => "",
        };
        let claimed = sqlx::query(&format!(
            "UPDATE chain_requests SET claimed_by = $1, claim_until = $2, \
             attempts = attempts + 1 WHERE id IN (SELECT id FROM chain_requests \
             WHERE state IN ('seen', 'fetched') AND (claim_until IS NULL OR claim_until < $3) \
             ORDER BY created_at LIMIT $4{lock}) RETURNING id"
        ))
        .bind(owner)
        .bind(until)
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let ids = claimed
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<Vec<_>, _>>()?;
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM {REQUEST_FROM} WHERE r.id IN ({}) \
             ORDER BY r.created_at",
            marks(1, ids.len())
        );
        let mut query = sqlx::query(&sql);
        for id in &ids {
            query = query.bind(id.clone());
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(request_row).collect()
    }

    async fn store_answer(
        &self,
        id: &str,
        owner: &str,
        code: i64,
        result: &[u8],
        now: UnixMillis,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        let res = sqlx::query(
            "UPDATE chain_requests SET state = 'fetched', code = $1, result = $2, updated_at = $3 \
             WHERE id = $4 AND state = 'seen' AND claimed_by = $5",
        )
        .bind(code)
        .bind(result.to_vec())
        .bind(now)
        .bind(id)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() != 1 {
            return Ok(false);
        }
        let detail = format!("code {code}, {} bytes", result.len());
        history(&mut *tx, id, RequestState::Fetched, now, Some(&detail)).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn write_outboxes(
        &self,
        owner: &str,
        writes: &[OutboxWrite],
        now: UnixMillis,
    ) -> StoreResult<Vec<bool>> {
        let mut tx = self.pool().begin().await?;
        let mut done = Vec::with_capacity(writes.len());
        for w in writes {
            done.push(write_outbox(&mut tx, owner, w, now).await?);
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn mark_sent(&self, id: &str, now: UnixMillis) -> StoreResult<()> {
        self.mark_sent_many(&[id.to_string()], now).await
    }

    async fn mark_sent_many(&self, ids: &[String], now: UnixMillis) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        for id in ids {
            sqlx::query(
                "UPDATE chain_outbox SET attempts = attempts + 1, last_sent_at = $1, \
                 state = CASE WHEN state = 'outbox' THEN 'sent' ELSE state END, updated_at = $1 \
                 WHERE tx_hash = (SELECT response_tx_hash FROM chain_requests WHERE id = $2)",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let res = sqlx::query(
                "UPDATE chain_requests SET state = 'sent', updated_at = $1 \
                 WHERE id = $2 AND state = 'outbox'",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if res.rows_affected() == 1 {
                history(&mut *tx, id, RequestState::Sent, now, None).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn mark_confirmed(&self, id: &str, block: i64, now: UnixMillis) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        let res = sqlx::query(
            "UPDATE chain_requests SET state = 'confirmed', confirmed_block = $1, updated_at = $2 \
             WHERE id = $3 AND state IN ('outbox', 'sent')",
        )
        .bind(block)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE chain_outbox SET state = 'confirmed', confirmed_block = $1, updated_at = $2 \
             WHERE tx_hash = (SELECT response_tx_hash FROM chain_requests WHERE id = $3)",
        )
        .bind(block)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let detail = format!("block {block}");
        history(&mut *tx, id, RequestState::Confirmed, now, Some(&detail)).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn mark_final(
        &self,
        id: &str,
        state: RequestState,
        detail: &str,
        now: UnixMillis,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        let res = sqlx::query(
            "UPDATE chain_requests SET state = $1, claimed_by = NULL, claim_until = NULL, \
             updated_at = $2 WHERE id = $3 AND state NOT IN ('confirmed', 'failed', 'expired')",
        )
        .bind(state.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 1 {
            let tx_state = if state == RequestState::Expired {
                TxState::Expired
            } else {
                TxState::Failed
            };
            end_row_tx(&mut tx, id, tx_state, detail, now).await?;
            history(&mut *tx, id, state, now, Some(detail)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn requeue(
        &self,
        id: &str,
        tx_hash: &str,
        why: &str,
        now: UnixMillis,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        end_row_tx(&mut tx, id, TxState::Expired, why, now).await?;
        let res = sqlx::query(
            "UPDATE chain_requests SET state = 'fetched', claimed_by = NULL, claim_until = NULL, \
             attempts = 0, updated_at = $1 WHERE id = $2 AND state IN ('outbox', 'sent') \
             AND response_tx_hash = $3",
        )
        .bind(now)
        .bind(id)
        .bind(tx_hash)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() != 1 {
            return Ok(false);
        }
        let detail = format!("tx {tx_hash}: {why}; rebuilding");
        history(&mut *tx, id, RequestState::Fetched, now, Some(&detail)).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn release(&self, id: &str, owner: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE chain_requests SET claimed_by = NULL, claim_until = NULL, \
             attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END \
             WHERE id = $1 AND claimed_by = $2",
        )
        .bind(id)
        .bind(owner)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn release_owner(&self, owner: &str) -> StoreResult<u64> {
        let res = sqlx::query(
            "UPDATE chain_requests SET claimed_by = NULL, claim_until = NULL \
             WHERE claimed_by = $1",
        )
        .bind(owner)
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected())
    }

    async fn in_flight(&self) -> StoreResult<Vec<(RequestRow, OutboxRow)>> {
        let rows = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS}, r.id AS request, o.tx_hash AS o_tx_hash, o.tx, \
             o.valid_until_block, o.attempts AS o_attempts FROM {REQUEST_FROM} \
             JOIN chain_outbox o ON o.tx_hash = r.response_tx_hash \
             WHERE r.state IN ('outbox', 'sent') ORDER BY r.created_at"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((request_row(r)?, outbox_row(r)?)))
            .collect()
    }

    async fn request(&self, id: &str) -> StoreResult<Option<RequestDetail>> {
        let Some(row) = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM {REQUEST_FROM} WHERE r.id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let request = request_row(&row)?;
        let history = sqlx::query_as::<_, HistoryEntry>(
            "SELECT state, at, detail FROM chain_request_history WHERE request = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        // The live (or confirmed) transaction of the row; a dropped one (expired, rebuilt)
        // stays in chain_outbox for the record but is not the row's outbox entry.
        let outbox = sqlx::query(
            "SELECT r.id AS request, o.tx_hash AS o_tx_hash, o.tx, o.valid_until_block, \
             o.attempts AS o_attempts FROM chain_requests r \
             JOIN chain_outbox o ON o.tx_hash = r.response_tx_hash \
             WHERE r.id = $1 AND o.state IN ('outbox', 'sent', 'confirmed', 'failed')",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .map(|r| outbox_row(&r))
        .transpose()?;
        Ok(Some(RequestDetail {
            request,
            history,
            outbox,
        }))
    }

    async fn list_requests(&self, filter: &RequestFilter) -> StoreResult<Vec<RequestRow>> {
        let requesters = match &filter.requesters {
            Some(list) if list.is_empty() => return Ok(Vec::new()),
            Some(list) => list.as_slice(),
            None => &[],
        };
        // $1 state, $2 service, $3 limit, $4 offset, then one placeholder per requester.
        let requester_clause = if requesters.is_empty() {
            String::new()
        } else {
            format!(" AND r.requester IN ({})", marks(5, requesters.len()))
        };
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM {REQUEST_FROM} \
             WHERE ($1 IS NULL OR r.state = $1) AND ($2 IS NULL OR r.service = $2)\
             {requester_clause} ORDER BY r.created_at DESC, r.id LIMIT $3 OFFSET $4"
        );
        let mut query = sqlx::query(&sql)
            .bind(filter.state.map(|s| s.as_str().to_string()))
            .bind(filter.service.clone())
            .bind(filter.limit.clamp(1, MAX_LIST_LIMIT))
            .bind(filter.offset.max(0));
        for r in requesters {
            query = query.bind(r.clone());
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(request_row).collect()
    }

    async fn count_by_state(&self) -> StoreResult<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) FROM chain_requests GROUP BY state")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
            .collect()
    }

    async fn submit_tx(&self, tx: &NewOutboxTx, now: UnixMillis) -> StoreResult<bool> {
        let res = sqlx::query(
            "INSERT INTO chain_outbox (tx_hash, chain, service, reference, tx, valid_until_block, \
             state, attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'outbox', 0, $7, $7) \
             ON CONFLICT (tx_hash) DO NOTHING",
        )
        .bind(tx.tx_hash.clone())
        .bind(tx.chain.clone())
        .bind(tx.service.clone())
        .bind(tx.reference.clone())
        .bind(tx.tx.clone())
        .bind(tx.valid_until_block)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn pending_txs(&self, chain: &str) -> StoreResult<Vec<OutboxTx>> {
        // Transactions that answer no request row (rows carry their own life cycle).
        let rows = sqlx::query(&format!(
            "SELECT {OUTBOX_TX_COLUMNS} FROM chain_outbox o WHERE o.chain = $1 \
             AND o.state IN ('outbox', 'sent') AND NOT EXISTS \
             (SELECT 1 FROM chain_requests r WHERE r.response_tx_hash = o.tx_hash) \
             ORDER BY o.created_at"
        ))
        .bind(chain)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(outbox_tx).collect()
    }

    async fn outbox_tx(&self, tx_hash: &str) -> StoreResult<Option<OutboxTx>> {
        sqlx::query(&format!(
            "SELECT {OUTBOX_TX_COLUMNS} FROM chain_outbox WHERE tx_hash = $1"
        ))
        .bind(tx_hash)
        .fetch_optional(self.pool())
        .await?
        .map(|r| outbox_tx(&r))
        .transpose()
    }

    async fn mark_tx(
        &self,
        tx_hash: &str,
        state: TxState,
        block: Option<i64>,
        detail: Option<&str>,
        now: UnixMillis,
    ) -> StoreResult<bool> {
        let sent = i64::from(state == TxState::Sent);
        let res = sqlx::query(
            "UPDATE chain_outbox SET state = $1, confirmed_block = COALESCE($2, confirmed_block), \
             detail = COALESCE($3, detail), attempts = attempts + $4, \
             last_sent_at = CASE WHEN $4 = 1 THEN $5 ELSE last_sent_at END, updated_at = $5 \
             WHERE tx_hash = $6 AND state IN ('outbox', 'sent')",
        )
        .bind(state.as_str())
        .bind(block)
        .bind(detail.map(str::to_string))
        .bind(sent)
        .bind(now)
        .bind(tx_hash)
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    //! Every case runs on a SQLite file and on a fresh PostgreSQL database
    //! (`NSL_TEST_PG_URL`, default `postgres://root@127.0.0.1:5432/postgres`), dropped afterwards.

    use std::time::Duration;

    use sqlx::{Connection, Executor, PgConnection};

    use super::*;

    const DEFAULT_PG_URL: &str = "postgres://root@127.0.0.1:5432/postgres";

    struct Db {
        url: String,
        store: Store,
        _dir: Option<tempfile::TempDir>,
        pg: Option<(String, String)>,
    }

    impl Drop for Db {
        fn drop(&mut self) {
            if let Some((admin, name)) = self.pg.take() {
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    rt.block_on(async move {
                        let mut c = PgConnection::connect(&admin).await?;
                        c.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                            .await?;
                        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                    })
                    .map_err(|e| std::io::Error::other(e.to_string()))
                })
                .join();
            }
        }
    }

    async fn open(url: &str) -> Store {
        let store = Store::connect_url(url, 8, Duration::from_secs(30))
            .await
            .unwrap();
        store.migrate(&[&crate::MIGRATIONS]).await.unwrap();
        store
    }

    async fn sqlite() -> Db {
        let db = sqlite_bare().await;
        db.store.migrate(&[&crate::MIGRATIONS]).await.unwrap();
        db
    }

    /// A SQLite file without migrations.
    async fn sqlite_bare() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        Db {
            store: Store::connect_url(&url, 8, Duration::from_secs(30))
                .await
                .unwrap(),
            url,
            _dir: Some(dir),
            pg: None,
        }
    }

    async fn postgres() -> Db {
        let db = postgres_bare().await;
        db.store.migrate(&[&crate::MIGRATIONS]).await.unwrap();
        db
    }

    /// A fresh PostgreSQL database without migrations.
    async fn postgres_bare() -> Db {
        let admin = std::env::var("NSL_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into());
        let mut c = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL unreachable at {admin}: {e}"));
        let name = format!("nsl_chain_t_{}", uuid::Uuid::new_v4().simple());
        c.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        let url = format!("{base}/{name}");
        Db {
            store: Store::connect_url(&url, 8, Duration::from_secs(30))
                .await
                .unwrap(),
            url,
            _dir: None,
            pg: Some((admin.clone(), name)),
        }
    }

    /// One [`ChainStore::write_outboxes`] write with code 0.
    async fn write(
        s: &Store,
        owner: &str,
        outbox: &OutboxRow,
        answer: Option<&[u8]>,
        now: UnixMillis,
    ) -> bool {
        let w = OutboxWrite {
            outbox: outbox.clone(),
            code: 0,
            answer: answer.map(<[u8]>::to_vec),
        };
        s.write_outboxes(owner, &[w], now).await.unwrap()[0]
    }

    fn req(tx: &str, index: i64, kind: RequestKind) -> NewRequest {
        NewRequest {
            kind,
            tx_hash: tx.into(),
            notification_index: index,
            block_index: 7,
            request_id: 3,
            requester: "0x01".into(),
            url: "https://example.com".into(),
            filter: Some("$.x".into()),
            invalid: None,
            service: "oracle".into(),
            payload: None,
            gas_budget: None,
        }
    }

    async fn life_cycle(db: Db) {
        let s = &db.store;
        assert_eq!(s.cursor("neo:1", "oracle").await.unwrap(), None);
        let reqs = [
            req("0xaa", 0, RequestKind::Gateway),
            req("0xaa", 1, RequestKind::Native),
        ];
        assert_eq!(
            s.record_block("neo:1", "oracle", 8, &reqs, None, 100)
                .await
                .unwrap()
                .len(),
            2
        );
        // Replaying the block inserts nothing and keeps the cursor consistent.
        assert_eq!(
            s.record_block("neo:1", "oracle", 8, &reqs, None, 101)
                .await
                .unwrap()
                .len(),
            0
        );
        assert_eq!(s.cursor("neo:1", "oracle").await.unwrap(), Some(8));

        // Two processes claim at once: every row goes to exactly one of them.
        let other = open(&db.url).await;
        let (a, b) = tokio::join!(
            s.claim("a", 10_000, 10, 200),
            other.claim("b", 10_000, 10, 200)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.len() + b.len(), 2, "{a:?} {b:?}");
        // A held claim is not taken again before its lease ends, but is after.
        assert!(s.claim("c", 20_000, 10, 300).await.unwrap().is_empty());
        let retaken = s.claim("c", 20_000, 10, 10_001).await.unwrap();
        assert_eq!(retaken.len(), 2);
        let row = &retaken[0];

        // A stale owner cannot write; the current one can.
        assert!(!s.store_answer(&row.id, "a", 0, b"[1]", 400).await.unwrap());
        assert!(s.store_answer(&row.id, "c", 0, b"[1]", 400).await.unwrap());
        let outbox = OutboxRow {
            request: row.id.clone(),
            tx_hash: "0xbb".into(),
            tx: vec![1, 2, 3],
            valid_until_block: 50,
            attempts: 0,
        };
        assert!(write(s, "c", &outbox, None, 500).await);
        let flight = s.in_flight().await.unwrap();
        assert_eq!(flight.len(), 1);
        assert_eq!(flight[0].1.tx, vec![1, 2, 3]);
        s.mark_sent(&row.id, 600).await.unwrap();
        // Expired unconfirmed: back to fetched, outbox dropped, then rebuilt and confirmed.
        assert!(!s.requeue(&row.id, "0xother", "expired", 700).await.unwrap());
        assert!(s.requeue(&row.id, "0xbb", "expired", 700).await.unwrap());
        assert!(s.in_flight().await.unwrap().is_empty());
        let again = s.claim("d", 50_000, 10, 30_000).await.unwrap();
        let again = again.iter().find(|r| r.id == row.id).unwrap();
        assert_eq!(again.state, RequestState::Fetched);
        assert_eq!(again.result.as_deref(), Some(&b"[1]"[..]));
        let outbox2 = OutboxRow {
            tx_hash: "0xcc".into(),
            ..outbox
        };
        assert!(write(s, "d", &outbox2, None, 800).await);
        s.mark_sent(&row.id, 900).await.unwrap();
        assert!(s.mark_confirmed(&row.id, 12, 1000).await.unwrap());
        assert!(!s.mark_confirmed(&row.id, 13, 1001).await.unwrap());

        let d = s.request(&row.id).await.unwrap().unwrap();
        assert_eq!(d.request.state, RequestState::Confirmed);
        assert_eq!(d.request.confirmed_block, Some(12));
        assert_eq!(d.request.response_tx_hash.as_deref(), Some("0xcc"));
        let states: Vec<_> = d.history.iter().map(|h| h.state.as_str()).collect();
        assert_eq!(
            states,
            [
                "seen",
                "fetched",
                "outbox",
                "sent",
                "fetched",
                "outbox",
                "sent",
                "confirmed"
            ]
        );
        assert_eq!(d.outbox.unwrap().tx_hash, "0xcc");

        let other_id = retaken.iter().find(|r| r.id != row.id).unwrap().id.clone();
        s.mark_final(&other_id, RequestState::Expired, "gone", 1100)
            .await
            .unwrap();
        let confirmed = s
            .list_requests(&RequestFilter {
                state: Some(RequestState::Confirmed),
                limit: 10,
                ..RequestFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(confirmed.len(), 1);
        let mut counts = s.count_by_state().await.unwrap();
        counts.sort();
        assert_eq!(
            counts,
            [("confirmed".to_string(), 1), ("expired".to_string(), 1)]
        );
        other.close().await;
        s.close().await;
    }

    /// The follower's fast path: rows recorded already claimed by it, answered and written to the
    /// outbox in one step, marked sent in a batch; other service types keep their payload; the
    /// requester filter of the listing.
    async fn fast_path_and_services(db: Db) {
        let s = &db.store;
        let mut function = req("0xf1", 0, RequestKind::Gateway);
        function.service = "function".into();
        function.payload = Some(br#"{"function":"f"}"#.to_vec());
        function.url = String::new();
        function.requester = "0x02".into();
        function.gas_budget = Some(70_000_000);
        let reqs = [req("0xf0", 0, RequestKind::Gateway), function];
        let rows = s
            .record_block("neo:1", "oracle", 9, &reqs, Some(("me", 5_000)), 100)
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
        // Claimed by the recorder: nobody else takes them before the lease ends.
        assert!(s.claim("other", 9_000, 10, 200).await.unwrap().is_empty());
        // The same instance after a restart releases them at once (and only its own).
        assert_eq!(s.release_owner("someone else").await.unwrap(), 0);
        assert_eq!(s.release_owner("me").await.unwrap(), 2);
        let back = s.claim("me", 5_000, 10, 200).await.unwrap();
        assert_eq!(back.len(), 2);
        let stored = s.request(&rows[1].id).await.unwrap().unwrap().request;
        // Claimed by the recorder, then again after the restart: two attempts.
        assert_eq!(stored.attempts, 2);
        assert_eq!(
            stored,
            RequestRow {
                attempts: 2,
                ..rows[1].clone()
            }
        );
        assert_eq!(stored.service, "function");
        assert_eq!(stored.payload.as_deref(), Some(&br#"{"function":"f"}"#[..]));
        // The request's GAS budget (migration 0008) comes back from the store.
        assert_eq!(stored.gas_budget, Some(70_000_000));
        let first = s.request(&rows[0].id).await.unwrap().unwrap().request;
        assert_eq!(first.gas_budget, None);

        let writes: Vec<OutboxWrite> = rows
            .iter()
            .enumerate()
            .map(|(i, row)| OutboxWrite {
                outbox: OutboxRow {
                    request: row.id.clone(),
                    tx_hash: format!("0xd{i}"),
                    tx: vec![9],
                    valid_until_block: 60,
                    attempts: 0,
                },
                code: 0,
                answer: Some(b"[7]".to_vec()),
            })
            .collect();
        // Only the claim owner may write, straight from `seen`; one transaction for the batch.
        assert_eq!(
            s.write_outboxes("other", &writes, 300).await.unwrap(),
            [false, false]
        );
        assert!(
            !write(s, "me", &writes[0].outbox, None, 300).await,
            "row is not fetched"
        );
        assert_eq!(
            s.write_outboxes("me", &writes, 300).await.unwrap(),
            [true, true]
        );
        assert_eq!(
            s.write_outboxes("me", &writes, 301).await.unwrap(),
            [false, false],
            "written once"
        );
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        s.mark_sent_many(&ids, 400).await.unwrap();
        let d = s.request(&rows[0].id).await.unwrap().unwrap();
        assert_eq!(d.request.state, RequestState::Sent);
        assert_eq!(d.request.result.as_deref(), Some(&b"[7]"[..]));
        assert_eq!(d.outbox.as_ref().unwrap().attempts, 1);
        let states: Vec<_> = d.history.iter().map(|h| h.state.as_str()).collect();
        assert_eq!(states, ["seen", "fetched", "outbox", "sent"]);

        let by = |requesters: Option<Vec<String>>| RequestFilter {
            requesters,
            limit: 10,
            ..RequestFilter::default()
        };
        let mine = s
            .list_requests(&by(Some(vec!["0x02".into()])))
            .await
            .unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].id, rows[1].id);
        let both = s
            .list_requests(&by(Some(vec!["0x01".into(), "0x02".into()])))
            .await
            .unwrap();
        assert_eq!(both.len(), 2);
        assert!(s.list_requests(&by(Some(vec![]))).await.unwrap().is_empty());
        assert_eq!(s.list_requests(&by(None)).await.unwrap().len(), 2);
        let functions = s
            .list_requests(&RequestFilter {
                service: Some("function".into()),
                ..by(None)
            })
            .await
            .unwrap();
        assert_eq!(functions.len(), 1);
        assert_eq!(functions[0].service, "function");
        s.close().await;
    }

    /// Claims count as attempts unless the worker gives the row back; a restart's release of
    /// the dead run's claims keeps the count; a rebuild starts it again.
    async fn attempts(db: Db) {
        let s = &db.store;
        let rows = s
            .record_block(
                "neo:1",
                "oracle",
                8,
                &[req("0xaa", 0, RequestKind::Native)],
                Some(("me", 1_000)),
                100,
            )
            .await
            .unwrap();
        assert_eq!(
            rows[0].attempts, 1,
            "the follower's claim is the first attempt"
        );
        let id = rows[0].id.clone();
        let attempts = |rows: Vec<RequestRow>| rows.iter().find(|r| r.id == id).map(|r| r.attempts);
        // The worker crashed: the restarted instance releases its old claims, claims again.
        assert_eq!(s.release_owner("me").await.unwrap(), 1);
        assert_eq!(
            attempts(s.claim("me", 5_000, 10, 200).await.unwrap()),
            Some(2)
        );
        // The worker hung: its lease runs out and someone else claims it.
        assert_eq!(
            attempts(s.claim("other", 9_000, 10, 5_001).await.unwrap()),
            Some(3)
        );
        // A live worker gives it back (RPC down, shutdown): that claim does not count.
        s.release(&id, "other").await.unwrap();
        assert_eq!(
            attempts(s.claim("other", 9_000, 10, 5_002).await.unwrap()),
            Some(3)
        );
        let detail = s.request(&id).await.unwrap().unwrap();
        assert_eq!(detail.request.attempts, 3);
        // Answered, signed, expired unbroadcast: rebuilt with a fresh count.
        assert!(
            s.store_answer(&id, "other", 0xff, b"", 5_003)
                .await
                .unwrap()
        );
        let outbox = OutboxRow {
            request: id.clone(),
            tx_hash: "0xbb".into(),
            tx: vec![1],
            valid_until_block: 50,
            attempts: 0,
        };
        assert!(write(s, "other", &outbox, None, 5_004).await);
        assert!(s.requeue(&id, "0xbb", "expired", 5_005).await.unwrap());
        assert_eq!(
            attempts(s.claim("me", 9_000, 10, 5_006).await.unwrap()),
            Some(1)
        );
    }

    /// A fresh chain under the same magic (a restarted `nsl dev`) retires the old chain's
    /// cursor and unfinished rows; the same chain resumes; a pre-0011 cursor adopts.
    async fn chain_identity(db: Db) {
        let s = &db.store;
        // Pre-0011 data: a cursor without genesis, one row sent (outbox), one confirmed.
        let reqs = [
            req("0xaa", 0, RequestKind::Native),
            req("0xbb", 0, RequestKind::Gateway),
        ];
        let rows = s
            .record_block("neo:1", "oracle", 50, &reqs, Some(("a", 10_000)), 100)
            .await
            .unwrap();
        let outbox = |id: &str, tx: &str| OutboxRow {
            request: id.into(),
            tx_hash: tx.into(),
            tx: vec![1, 2, 3],
            valid_until_block: 99,
            attempts: 0,
        };
        assert!(write(s, "a", &outbox(&rows[0].id, "0xr0"), Some(b"x"), 110).await);
        assert!(write(s, "a", &outbox(&rows[1].id, "0xr1"), Some(b"y"), 110).await);
        assert!(s.mark_confirmed(&rows[1].id, 45, 120).await.unwrap());

        let entry = s
            .enter_chain("neo:1", "oracle", "0xgen_a", 200)
            .await
            .unwrap();
        assert!(entry.adopted);
        assert_eq!(entry.resume_at, Some(50));
        assert!(entry.retired.is_empty());
        // Same chain again: resume, nothing retired.
        let entry = s
            .enter_chain("neo:1", "oracle", "0xgen_a", 210)
            .await
            .unwrap();
        assert_eq!(
            entry,
            ChainEntry {
                adopted: false,
                resume_at: Some(50),
                retired: vec![]
            }
        );
        assert_eq!(s.cursor("neo:1", "oracle").await.unwrap(), Some(50));

        // A fresh chain with the same magic: the old cursor and the sent row are retired.
        let entry = s
            .enter_chain("neo:1", "oracle", "0xgen_b", 300)
            .await
            .unwrap();
        assert_eq!(entry.resume_at, None);
        assert_eq!(entry.retired.len(), 1);
        let old = &entry.retired[0];
        assert_eq!(
            (
                old.chain.as_str(),
                old.genesis.as_deref(),
                old.next_block,
                old.expired
            ),
            ("neo:1", Some("0xgen_a"), 50, 1)
        );
        assert_eq!(s.cursor("neo:1", "oracle").await.unwrap(), None);
        // Nothing of the old chain is left to send, and its rows keep their history.
        assert!(s.in_flight().await.unwrap().is_empty());
        assert!(s.claim("w", 10_000, 10, 310).await.unwrap().is_empty());
        let sent = s.request(&rows[0].id).await.unwrap().unwrap();
        assert_eq!(sent.request.state, RequestState::Expired);
        assert_eq!(sent.request.chain, old.renamed_to);
        assert!(sent.outbox.is_none());
        let last = sent.history.last().unwrap();
        assert!(
            last.detail.as_deref().unwrap().contains("chain reset"),
            "{last:?}"
        );
        let done = s.request(&rows[1].id).await.unwrap().unwrap();
        assert_eq!(done.request.state, RequestState::Confirmed);
        // The new chain records its own requests, even with the same tx hash as the old chain's.
        let new = s
            .record_block("neo:1", "oracle", 3, &reqs[..1], None, 320)
            .await
            .unwrap();
        assert_eq!(new.len(), 1);
        assert_eq!(s.cursor("neo:1", "oracle").await.unwrap(), Some(3));
        // The new cursor kept the new chain's genesis: a restart on it resumes.
        let entry = s
            .enter_chain("neo:1", "oracle", "0xgen_b", 400)
            .await
            .unwrap();
        assert_eq!(
            (entry.adopted, entry.resume_at, entry.retired.len()),
            (false, Some(3), 0)
        );
        // Catch-up rows are idempotent with the follower's.
        let again = s
            .record_requests("neo:1", &reqs, Some(("w", 10_000)), 410)
            .await
            .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].tx_hash, "0xbb");
        assert_eq!(again[0].attempts, 1);
        // Another magic: the chain of magic 1 is retired too.
        let entry = s
            .enter_chain("neo:2", "oracle", "0xgen_c", 500)
            .await
            .unwrap();
        assert_eq!(entry.retired.len(), 1);
        assert_eq!(entry.retired[0].expired, 2);
        assert_eq!(s.cursor("neo:1", "oracle").await.unwrap(), None);
    }

    #[tokio::test]
    async fn chain_identity_sqlite() {
        chain_identity(sqlite().await).await;
    }

    #[tokio::test]
    async fn chain_identity_postgres() {
        chain_identity(postgres().await).await;
    }

    #[tokio::test]
    async fn attempts_sqlite() {
        attempts(sqlite().await).await;
    }

    #[tokio::test]
    async fn attempts_postgres() {
        attempts(postgres().await).await;
    }

    #[tokio::test]
    async fn fast_path_and_services_sqlite() {
        fast_path_and_services(sqlite().await).await;
    }

    #[tokio::test]
    async fn fast_path_and_services_postgres() {
        fast_path_and_services(postgres().await).await;
    }

    #[tokio::test]
    async fn life_cycle_sqlite() {
        life_cycle(sqlite().await).await;
    }

    #[tokio::test]
    async fn life_cycle_postgres() {
        life_cycle(postgres().await).await;
    }

    /// Two claimers (separate pools, as two processes) take rows at the same time: no row is
    /// given to both, and every row is given to one.
    async fn concurrent_claims(db: Db) {
        let s = &db.store;
        let reqs: Vec<NewRequest> = (0..60)
            .map(|i| req(&format!("0x{i:02x}"), 0, RequestKind::Gateway))
            .collect();
        assert_eq!(
            s.record_requests("neo:1", &reqs, None, 100)
                .await
                .unwrap()
                .len(),
            60
        );
        let mut tasks = Vec::new();
        for owner in ["a", "b", "c"] {
            let store = open(&db.url).await;
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let rows = store.claim(owner, 10_000, 4, 200).await.unwrap();
                    if rows.is_empty() {
                        break got;
                    }
                    assert!(rows.iter().all(|r| r.attempts == 1), "{rows:?}");
                    got.extend(rows.into_iter().map(|r| r.id));
                    tokio::task::yield_now().await;
                }
            }));
        }
        let mut all = Vec::new();
        let mut per_owner = Vec::new();
        for t in tasks {
            let got = t.await.unwrap();
            per_owner.push(got.len());
            all.extend(got);
        }
        let total = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), total, "a row was claimed twice: {per_owner:?}");
        assert_eq!(total, 60, "{per_owner:?}");
        // Nothing left to claim while the leases run.
        assert!(s.claim("d", 10_000, 100, 300).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn concurrent_claims_sqlite() {
        concurrent_claims(sqlite().await).await;
    }

    #[tokio::test]
    async fn concurrent_claims_postgres() {
        concurrent_claims(postgres().await).await;
    }

    /// Apply the migrations up to `version`.
    async fn migrate_to(db: &Db, version: i64) {
        db.store
            .migrate_until(&[&crate::MIGRATIONS], version)
            .await
            .unwrap();
    }

    /// An operator's database at migration 0011 (oracle tables with a cursor, a confirmed
    /// response, an in-flight one, a fresh native request and a `function` request) keeps all
    /// of it through 0012.
    async fn migration_0012_keeps_rows(db: Db) {
        migrate_to(&db, 11).await;
        let pool = db.store.pool();
        let exec = |sql: &'static str| async move {
            sqlx::query(sql).execute(pool).await.unwrap();
        };
        exec(
            "INSERT INTO oracle_cursors (chain, source, next_block, updated_at, genesis) \
              VALUES ('neo:1', 'oracle', 42, 1, '0xgen')",
        )
        .await;
        exec(
            "INSERT INTO oracle_requests (id, chain, kind, tx_hash, notification_index, \
              block_index, request_id, requester, url, filter, invalid, state, code, result, \
              response_tx_hash, confirmed_block, created_at, updated_at, service, gas_budget, \
              attempts) VALUES \
              ('a', 'neo:1', 'gateway', '0xa1', 0, 10, 1, '0x01', 'https://a', '$.x', NULL, \
               'confirmed', 0, NULL, '0xta', 11, 5, 6, 'oracle', 100, 1), \
              ('b', 'neo:1', 'native', '0xb1', 2, 12, 2, '0x02', 'https://b', NULL, NULL, \
               'sent', 0, NULL, '0xtb', NULL, 7, 8, 'oracle', NULL, 1), \
              ('c', 'neo:1', 'native', '0xc1', 0, 13, 3, '0x03', 'https://c', '$.c', NULL, \
               'seen', NULL, NULL, NULL, NULL, 9, 9, 'oracle', NULL, 0), \
              ('d', 'neo:1', 'gateway', '0xd1', 1, 14, 4, '0x04', '', NULL, NULL, \
               'fetched', 0, NULL, NULL, NULL, 10, 10, 'function', 500, 2)",
        )
        .await;
        exec(
            "INSERT INTO oracle_request_history (request, state, at, detail) VALUES \
              ('a', 'seen', 5, 'block 10'), ('a', 'confirmed', 6, 'block 11'), \
              ('b', 'seen', 7, NULL), ('b', 'sent', 8, NULL), ('c', 'seen', 9, NULL), \
              ('d', 'seen', 10, NULL)",
        )
        .await;
        // Blobs through binds (their literals differ between the backends).
        for (id, hash, tx, vub, at) in [
            ("a", "0xta", vec![0x0au8, 0x0b], 100i64, 5i64),
            ("b", "0xtb", vec![0x0c, 0x0d], 200, 7),
        ] {
            sqlx::query(
                "INSERT INTO oracle_outbox (request, tx_hash, tx, valid_until_block, attempts, \
                 created_at, last_sent_at) VALUES ($1, $2, $3, $4, 1, $5, $5)",
            )
            .bind(id)
            .bind(hash)
            .bind(tx)
            .bind(vub)
            .bind(at)
            .execute(pool)
            .await
            .unwrap();
        }
        sqlx::query("UPDATE oracle_requests SET payload = $1 WHERE id = 'd'")
            .bind(vec![1u8, 2, 3])
            .execute(pool)
            .await
            .unwrap();

        db.store.migrate(&[&crate::MIGRATIONS]).await.unwrap();
        let s = &db.store;
        assert_eq!(s.cursor("neo:1", "follower").await.unwrap(), Some(42));
        let entry = s
            .enter_chain("neo:1", "follower", "0xgen", 20)
            .await
            .unwrap();
        assert_eq!(entry.resume_at, Some(42));
        assert!(entry.retired.is_empty());

        let a = s.request("a").await.unwrap().unwrap();
        assert_eq!(a.request.state, RequestState::Confirmed);
        assert_eq!(a.request.url, "https://a");
        assert_eq!(a.request.filter.as_deref(), Some("$.x"));
        assert_eq!(a.request.gas_budget, Some(100));
        assert_eq!(a.request.confirmed_block, Some(11));
        assert_eq!(a.history.len(), 2);
        assert_eq!(a.history[1].detail.as_deref(), Some("block 11"));
        let outbox = a.outbox.unwrap();
        assert_eq!(outbox.tx_hash, "0xta");
        assert_eq!(outbox.tx, vec![0x0a, 0x0b]);
        assert_eq!(outbox.valid_until_block, 100);

        // The in-flight response is still the sender's to confirm.
        let flying = s.in_flight().await.unwrap();
        assert_eq!(flying.len(), 1);
        assert_eq!(flying[0].0.id, "b");
        assert_eq!(flying[0].1.tx_hash, "0xtb");
        assert_eq!(flying[0].1.attempts, 1);
        assert!(s.mark_confirmed("b", 15, 30).await.unwrap());
        let b = s.request("b").await.unwrap().unwrap();
        assert_eq!(b.history.len(), 3, "history appends after the move");
        assert_eq!(
            s.outbox_tx("0xtb").await.unwrap().unwrap().state,
            TxState::Confirmed
        );

        let c = s.request("c").await.unwrap().unwrap().request;
        assert_eq!(
            (c.url.as_str(), c.filter.as_deref()),
            ("https://c", Some("$.c"))
        );
        assert_eq!(c.kind, RequestKind::Native);
        let d = s.request("d").await.unwrap().unwrap().request;
        assert_eq!(d.service, "function");
        assert_eq!(d.url, "");
        assert_eq!(d.payload.as_deref(), Some(&[1u8, 2, 3][..]));
        assert_eq!(d.attempts, 2);
        assert_eq!(d.state, RequestState::Fetched);
        let mut counts = s.count_by_state().await.unwrap();
        counts.sort();
        assert_eq!(
            counts,
            vec![
                ("confirmed".to_string(), 2),
                ("fetched".into(), 1),
                ("seen".into(), 1)
            ]
        );
        // The old tables are gone.
        assert!(
            sqlx::query("SELECT 1 FROM oracle_outbox")
                .fetch_all(pool)
                .await
                .is_err()
        );
        assert!(
            sqlx::query("SELECT 1 FROM oracle_requests")
                .fetch_all(pool)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn migration_0012_keeps_rows_sqlite() {
        migration_0012_keeps_rows(sqlite_bare().await).await;
    }

    #[tokio::test]
    async fn migration_0012_keeps_rows_postgres() {
        migration_0012_keeps_rows(postgres_bare().await).await;
    }

    /// Transactions without request rows (push services): stored once, listed while live,
    /// ended once; one transaction answering two rows shares one outbox entry.
    async fn outbox_without_and_with_rows(db: Db) {
        let s = &db.store;
        let tx = NewOutboxTx {
            tx_hash: "0xp1".into(),
            chain: "neo:1".into(),
            service: "pricefeed".into(),
            reference: "NEO-USD round 7".into(),
            tx: vec![9, 9],
            valid_until_block: 50,
        };
        assert!(s.submit_tx(&tx, 100).await.unwrap());
        assert!(!s.submit_tx(&tx, 101).await.unwrap());
        let live = s.pending_txs("neo:1").await.unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].state, TxState::Outbox);
        assert!(s.pending_txs("neo:2").await.unwrap().is_empty());
        assert!(
            s.mark_tx("0xp1", TxState::Sent, None, None, 102)
                .await
                .unwrap()
        );
        assert!(
            s.mark_tx("0xp1", TxState::Confirmed, Some(12), None, 103)
                .await
                .unwrap()
        );
        assert!(
            !s.mark_tx("0xp1", TxState::Expired, None, None, 104)
                .await
                .unwrap()
        );
        let done = s.outbox_tx("0xp1").await.unwrap().unwrap();
        assert_eq!(
            (done.state, done.confirmed_block, done.attempts),
            (TxState::Confirmed, Some(12), 1)
        );
        assert!(s.pending_txs("neo:1").await.unwrap().is_empty());

        // Two rows, one transaction.
        let reqs = [
            req("0xaa", 0, RequestKind::Gateway),
            req("0xbb", 0, RequestKind::Gateway),
        ];
        let rows = s
            .record_requests("neo:1", &reqs, Some(("me", 10_000)), 200)
            .await
            .unwrap();
        let outbox = OutboxRow {
            request: String::new(),
            tx_hash: "0xbatch".into(),
            tx: vec![1],
            valid_until_block: 60,
            attempts: 0,
        };
        for row in &rows {
            let o = OutboxRow {
                request: row.id.clone(),
                ..outbox.clone()
            };
            assert!(write(s, "me", &o, Some(b"r"), 201).await);
        }
        let flying = s.in_flight().await.unwrap();
        assert_eq!(flying.len(), 2);
        assert!(flying.iter().all(|(_, o)| o.tx_hash == "0xbatch"));
        // Rows' transactions are not "pending without rows".
        assert!(s.pending_txs("neo:1").await.unwrap().is_empty());
        s.mark_sent_many(&[rows[0].id.clone(), rows[1].id.clone()], 202)
            .await
            .unwrap();
        for row in &rows {
            assert!(s.mark_confirmed(&row.id, 20, 203).await.unwrap());
        }
        let shared = s.outbox_tx("0xbatch").await.unwrap().unwrap();
        assert_eq!(shared.state, TxState::Confirmed);
        assert_eq!(shared.confirmed_block, Some(20));
    }

    #[tokio::test]
    async fn outbox_without_and_with_rows_sqlite() {
        outbox_without_and_with_rows(sqlite().await).await;
    }

    #[tokio::test]
    async fn outbox_without_and_with_rows_postgres() {
        outbox_without_and_with_rows(postgres().await).await;
    }
}
