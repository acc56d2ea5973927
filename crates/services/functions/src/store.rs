//! [`FunctionStore`]: users' JavaScript functions, their immutable versions and executions
//! (tables of migrations `0003_functions` and `0007_functions_onchain`).
//!
//! A function is an `(account, name)` pair with a current version; every update appends a new
//! [`FunctionVersion`] (source, limits, fetch allowlist, granted secret names) and bumps
//! `current_version` in one transaction. An execution row is written (`queued`) before the code
//! runs, moves to `running`, then to `succeeded` or `failed` exactly once.

use async_trait::async_trait;
use nsl_primitives::AccountId;
use sqlx::Row;
use sqlx::any::AnyRow;

use nsl_store::{Store, StoreError, StoreResult, UnixMillis};

/// Id of a function (UUID, stored as text).
pub type FunctionId = uuid::Uuid;
/// Id of an execution (UUID, stored as text).
pub type ExecutionId = uuid::Uuid;

/// The content of one version of a function (already validated by the service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionVersionSpec {
    /// ES module source.
    pub source: String,
    /// Wall-clock limit, milliseconds.
    pub timeout_ms: u64,
    /// Heap limit, bytes.
    pub memory_bytes: u64,
    /// Most `fetch` calls per execution.
    pub max_fetches: u32,
    /// Hosts `fetch` may reach (`api.example.com`, `*.example.com`).
    pub allowed_hosts: Vec<String>,
    /// Secret names `secrets.get` may read.
    pub secrets: Vec<String>,
    /// Requesters (`0x` + 40 lowercase hex script hashes) allowed to run this version from chain
    /// through the gateway; empty: not callable from chain.
    pub onchain_callers: Vec<String>,
}

/// One stored version of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionVersion {
    /// Version number, 1 for the first.
    pub version: i64,
    /// What the version contains.
    pub spec: FunctionVersionSpec,
    /// When it was created.
    pub created_at: UnixMillis,
}

/// A function with its current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRecord {
    /// Function id.
    pub id: FunctionId,
    /// Owner.
    pub account_id: AccountId,
    /// Name, unique per account.
    pub name: String,
    /// Creation time.
    pub created_at: UnixMillis,
    /// Time of the latest version.
    pub updated_at: UnixMillis,
    /// The current (latest) version.
    pub current: FunctionVersion,
}

/// Lifecycle state of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// Persisted, waiting for a worker.
    Queued,
    /// A worker is running it.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Finished with an error (see `error_kind`).
    Failed,
}

impl ExecutionStatus {
    /// `queued`, `running`, `succeeded` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Whether the execution is over.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

impl std::str::FromStr for ExecutionStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "queued" => Ok(Self::Queued),
            "running" => Ok(Self::Running),
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::Corrupt(format!(
                "unknown execution status {other:?}"
            ))),
        }
    }
}

/// The gateway request that triggered a chain execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainTrigger {
    /// The gateway's request id.
    pub request_id: u64,
    /// Hash of the requesting transaction (`0x` hex).
    pub tx_hash: String,
    /// The requester (`0x` + 40 lowercase hex script hash).
    pub requester: String,
}

/// A new execution, inserted as `queued`.
#[derive(Debug, Clone)]
pub struct NewExecution {
    /// Function executed.
    pub function_id: FunctionId,
    /// Owner of the function.
    pub account_id: AccountId,
    /// Version executed.
    pub version: i64,
    /// Argument passed to `main`.
    pub args: serde_json::Value,
    /// The gateway request, for an execution triggered from chain; `None` for API calls.
    pub chain: Option<ChainTrigger>,
}

/// How an execution ended, written once by [`FunctionStore::finish_execution`].
#[derive(Debug, Clone)]
pub struct ExecutionOutcome {
    /// `Succeeded` or `Failed`.
    pub status: ExecutionStatus,
    /// Error kind (`timeout`, `memory_limit`, `script_error`, ... or `interrupted`) when failed.
    pub error_kind: Option<String>,
    /// Error message when failed (never contains secret values).
    pub error_message: Option<String>,
    /// The JSON result when succeeded.
    pub result: Option<serde_json::Value>,
    /// Captured console output (a JSON array, already capped by the sandbox).
    pub logs: serde_json::Value,
    /// Wall-clock duration.
    pub duration_ms: i64,
    /// Peak memory used, bytes.
    pub memory_bytes: i64,
    /// `fetch` calls made.
    pub fetch_count: i64,
    /// When it finished.
    pub finished_at: UnixMillis,
}

/// A stored execution.
#[derive(Debug, Clone)]
pub struct ExecutionRecord {
    /// Execution id.
    pub id: ExecutionId,
    /// Function executed.
    pub function_id: FunctionId,
    /// Owner.
    pub account_id: AccountId,
    /// Version executed.
    pub version: i64,
    /// State.
    pub status: ExecutionStatus,
    /// Error kind when failed.
    pub error_kind: Option<String>,
    /// Error message when failed.
    pub error_message: Option<String>,
    /// Argument passed to `main`.
    pub args: serde_json::Value,
    /// Result when succeeded.
    pub result: Option<serde_json::Value>,
    /// Console output (JSON array).
    pub logs: serde_json::Value,
    /// Wall-clock duration when finished.
    pub duration_ms: Option<i64>,
    /// Peak memory when finished.
    pub memory_bytes: Option<i64>,
    /// `fetch` calls when finished.
    pub fetch_count: Option<i64>,
    /// When it was queued.
    pub created_at: UnixMillis,
    /// When a worker started it.
    pub started_at: Option<UnixMillis>,
    /// When it finished.
    pub finished_at: Option<UnixMillis>,
    /// The gateway request that triggered it (trigger `chain`); `None` for API calls.
    pub chain: Option<ChainTrigger>,
}

impl ExecutionRecord {
    /// `chain` for an execution triggered by a gateway request, else `api`.
    pub fn trigger(&self) -> &'static str {
        if self.chain.is_some() { "chain" } else { "api" }
    }
}

/// Storage of functions, versions and executions. Every read takes the owner: rows of other
/// accounts are invisible (`None` / empty), never an error that reveals they exist.
#[async_trait]
pub trait FunctionStore: Send + Sync {
    /// Create a function with version 1. [`StoreError::Conflict`] if the account already has a
    /// function of that name.
    async fn create_function(
        &self,
        account: AccountId,
        name: &str,
        spec: &FunctionVersionSpec,
    ) -> StoreResult<FunctionRecord>;

    /// Append a version and make it current. [`StoreError::NotFound`] if `account` has no such
    /// function.
    async fn add_function_version(
        &self,
        account: AccountId,
        id: FunctionId,
        spec: &FunctionVersionSpec,
    ) -> StoreResult<FunctionRecord>;

    /// The account's function `id` with its current version.
    async fn function(
        &self,
        account: AccountId,
        id: FunctionId,
    ) -> StoreResult<Option<FunctionRecord>>;

    /// The account's functions, oldest first.
    async fn list_functions(&self, account: AccountId) -> StoreResult<Vec<FunctionRecord>>;

    /// Function `id` with its current version, whoever owns it. Only for callers that act for
    /// the owner without a session: a gateway request names a function by id, and the run is the
    /// owner's (checked against the version's `onchain_callers` by the service).
    async fn function_by_id(&self, id: FunctionId) -> StoreResult<Option<FunctionRecord>>;

    /// Insert a `queued` execution.
    async fn insert_execution(
        &self,
        new: &NewExecution,
        now: UnixMillis,
    ) -> StoreResult<ExecutionRecord>;

    /// `queued` -> `running`; `false` if the execution is not queued (any more).
    async fn mark_execution_running(&self, id: ExecutionId, now: UnixMillis) -> StoreResult<bool>;

    /// Write the outcome of a `queued` or `running` execution; `false` if it was already final.
    async fn finish_execution(
        &self,
        id: ExecutionId,
        outcome: &ExecutionOutcome,
    ) -> StoreResult<bool>;

    /// The account's execution `id`.
    async fn execution(
        &self,
        account: AccountId,
        id: ExecutionId,
    ) -> StoreResult<Option<ExecutionRecord>>;

    /// The latest `limit` executions of the account's function `function_id`, newest first.
    async fn list_executions(
        &self,
        account: AccountId,
        function_id: FunctionId,
        limit: u32,
    ) -> StoreResult<Vec<ExecutionRecord>>;

    /// The latest `limit` executions of all the account's functions, newest first; only those
    /// with `trigger` (`api` or `chain`) when given.
    async fn list_account_executions(
        &self,
        account: AccountId,
        trigger: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<ExecutionRecord>>;

    /// Mark every `queued` or `running` execution `failed` with kind `interrupted` (call once at
    /// startup, before workers run: their process is gone). Returns how many were changed.
    async fn fail_interrupted_executions(&self, now: UnixMillis) -> StoreResult<u64>;

    /// Quota figures of `account`: how many functions it has and the bytes of the sources of
    /// all their versions.
    async fn function_usage(&self, account: AccountId) -> StoreResult<FunctionUsage>;

    /// Number of stored versions of `account`'s function `id` (0 if there is no such function).
    async fn version_count(&self, account: AccountId, id: FunctionId) -> StoreResult<u64>;

    /// Delete finished executions of function `id` created before `older_than` or beyond the
    /// newest `keep` (`keep` = 0: no count limit). Returns how many were deleted.
    async fn prune_executions(
        &self,
        id: FunctionId,
        keep: u64,
        older_than: UnixMillis,
    ) -> StoreResult<u64>;
}

/// What [`FunctionStore::function_usage`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FunctionUsage {
    /// Functions of the account.
    pub functions: u64,
    /// Source bytes of every stored version of them.
    pub source_bytes: u64,
}

fn parse_uuid(s: &str, what: &str) -> StoreResult<uuid::Uuid> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} {s:?} is not a UUID")))
}

fn parse_account(s: &str) -> StoreResult<AccountId> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("account id {s:?} is not a UUID")))
}

fn json_list(s: &str, what: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn json_value(s: &str, what: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v} is negative")))
}

const FUNCTION_COLS: &str = "f.id, f.account_id, f.name, f.created_at, f.updated_at, \
    v.version, v.source, v.timeout_ms, v.memory_bytes, v.max_fetches, v.allowed_hosts, \
    v.secrets, v.onchain_callers, v.created_at AS version_created_at";

const FUNCTION_FROM: &str = "functions f JOIN function_versions v \
    ON v.function_id = f.id AND v.version = f.current_version";

fn function_from_row(r: &AnyRow) -> StoreResult<FunctionRecord> {
    let max_fetches: i64 = r.try_get("max_fetches")?;
    Ok(FunctionRecord {
        id: parse_uuid(&r.try_get::<String, _>("id")?, "function id")?,
        account_id: parse_account(&r.try_get::<String, _>("account_id")?)?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        current: FunctionVersion {
            version: r.try_get("version")?,
            spec: FunctionVersionSpec {
                source: r.try_get("source")?,
                timeout_ms: to_u64(r.try_get("timeout_ms")?, "timeout_ms")?,
                memory_bytes: to_u64(r.try_get("memory_bytes")?, "memory_bytes")?,
                max_fetches: u32::try_from(max_fetches)
                    .map_err(|_| StoreError::Corrupt(format!("max_fetches {max_fetches}")))?,
                allowed_hosts: json_list(
                    &r.try_get::<String, _>("allowed_hosts")?,
                    "allowed_hosts",
                )?,
                secrets: json_list(&r.try_get::<String, _>("secrets")?, "secrets")?,
                onchain_callers: json_list(
                    &r.try_get::<String, _>("onchain_callers")?,
                    "onchain_callers",
                )?,
            },
            created_at: r.try_get("version_created_at")?,
        },
    })
}

const EXECUTION_COLS: &str = "id, function_id, account_id, version, status, error_kind, \
    error_message, args, result, logs, duration_ms, memory_bytes, fetch_count, created_at, \
    started_at, finished_at, trigger_kind, gateway_request_id, request_tx_hash, requester";

fn execution_from_row(r: &AnyRow) -> StoreResult<ExecutionRecord> {
    let result: Option<String> = r.try_get("result")?;
    let trigger: String = r.try_get("trigger_kind")?;
    let chain = match trigger.as_str() {
        "api" => None,
        "chain" => {
            let request_id: Option<i64> = r.try_get("gateway_request_id")?;
            let tx_hash: Option<String> = r.try_get("request_tx_hash")?;
            let requester: Option<String> = r.try_get("requester")?;
            match (request_id, tx_hash, requester) {
                (Some(id), Some(tx_hash), Some(requester)) => Some(ChainTrigger {
                    request_id: to_u64(id, "gateway_request_id")?,
                    tx_hash,
                    requester,
                }),
                _ => {
                    return Err(StoreError::Corrupt(
                        "chain execution without its gateway request".into(),
                    ));
                }
            }
        }
        other => {
            return Err(StoreError::Corrupt(format!(
                "unknown execution trigger {other:?}"
            )));
        }
    };
    Ok(ExecutionRecord {
        id: parse_uuid(&r.try_get::<String, _>("id")?, "execution id")?,
        function_id: parse_uuid(&r.try_get::<String, _>("function_id")?, "function id")?,
        account_id: parse_account(&r.try_get::<String, _>("account_id")?)?,
        version: r.try_get("version")?,
        status: r.try_get::<String, _>("status")?.parse()?,
        error_kind: r.try_get("error_kind")?,
        error_message: r.try_get("error_message")?,
        args: json_value(&r.try_get::<String, _>("args")?, "execution args")?,
        result: result
            .map(|s| json_value(&s, "execution result"))
            .transpose()?,
        logs: json_value(&r.try_get::<String, _>("logs")?, "execution logs")?,
        duration_ms: r.try_get("duration_ms")?,
        memory_bytes: r.try_get("memory_bytes")?,
        fetch_count: r.try_get("fetch_count")?,
        created_at: r.try_get("created_at")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        chain,
    })
}

fn json_text(list: &[String]) -> String {
    serde_json::Value::from(list.to_vec()).to_string()
}

async fn insert_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: FunctionId,
    version: i64,
    spec: &FunctionVersionSpec,
    now: UnixMillis,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO function_versions (function_id, version, source, timeout_ms, \
             memory_bytes, max_fetches, allowed_hosts, secrets, onchain_callers, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id.to_string())
    .bind(version)
    .bind(&spec.source)
    .bind(to_i64(spec.timeout_ms))
    .bind(to_i64(spec.memory_bytes))
    .bind(i64::from(spec.max_fetches))
    .bind(json_text(&spec.allowed_hosts))
    .bind(json_text(&spec.secrets))
    .bind(json_text(&spec.onchain_callers))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl FunctionStore for Store {
    async fn create_function(
        &self,
        account: AccountId,
        name: &str,
        spec: &FunctionVersionSpec,
    ) -> StoreResult<FunctionRecord> {
        let id = uuid::Uuid::new_v4();
        let now = nsl_store::now_ms();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO functions (id, account_id, name, current_version, created_at, updated_at) \
             VALUES ($1, $2, $3, 1, $4, $4)",
        )
        .bind(id.to_string())
        .bind(account.to_string())
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_version(&mut tx, id, 1, spec, now).await?;
        tx.commit().await?;
        Ok(FunctionRecord {
            id,
            account_id: account,
            name: name.to_string(),
            created_at: now,
            updated_at: now,
            current: FunctionVersion {
                version: 1,
                spec: spec.clone(),
                created_at: now,
            },
        })
    }

    async fn add_function_version(
        &self,
        account: AccountId,
        id: FunctionId,
        spec: &FunctionVersionSpec,
    ) -> StoreResult<FunctionRecord> {
        let now = nsl_store::now_ms();
        let mut tx = self.pool().begin().await?;
        // The write comes first: it takes the lock that serializes concurrent updates.
        let row = sqlx::query(
            "UPDATE functions SET current_version = current_version + 1, updated_at = $1 \
             WHERE id = $2 AND account_id = $3 RETURNING current_version",
        )
        .bind(now)
        .bind(id.to_string())
        .bind(account.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound("function".into()));
        };
        let version: i64 = row.try_get(0)?;
        insert_version(&mut tx, id, version, spec, now).await?;
        tx.commit().await?;
        self.function(account, id)
            .await?
            .ok_or_else(|| StoreError::NotFound("function".into()))
    }

    async fn function(
        &self,
        account: AccountId,
        id: FunctionId,
    ) -> StoreResult<Option<FunctionRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {FUNCTION_COLS} FROM {FUNCTION_FROM} WHERE f.id = $1 AND f.account_id = $2"
        ))
        .bind(id.to_string())
        .bind(account.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(function_from_row).transpose()
    }

    async fn list_functions(&self, account: AccountId) -> StoreResult<Vec<FunctionRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {FUNCTION_COLS} FROM {FUNCTION_FROM} WHERE f.account_id = $1 \
             ORDER BY f.created_at, f.id"
        ))
        .bind(account.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(function_from_row).collect()
    }

    async fn function_by_id(&self, id: FunctionId) -> StoreResult<Option<FunctionRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {FUNCTION_COLS} FROM {FUNCTION_FROM} WHERE f.id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(function_from_row).transpose()
    }

    async fn insert_execution(
        &self,
        new: &NewExecution,
        now: UnixMillis,
    ) -> StoreResult<ExecutionRecord> {
        let id = uuid::Uuid::new_v4();
        let logs = serde_json::Value::Array(Vec::new());
        let chain = new.chain.as_ref();
        sqlx::query(
            "INSERT INTO function_executions (id, function_id, account_id, version, status, args, \
             logs, created_at, trigger_kind, gateway_request_id, request_tx_hash, requester) \
             VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id.to_string())
        .bind(new.function_id.to_string())
        .bind(new.account_id.to_string())
        .bind(new.version)
        .bind(new.args.to_string())
        .bind(logs.to_string())
        .bind(now)
        .bind(if chain.is_some() { "chain" } else { "api" })
        .bind(chain.map(|c| to_i64(c.request_id)))
        .bind(chain.map(|c| c.tx_hash.clone()))
        .bind(chain.map(|c| c.requester.clone()))
        .execute(self.pool())
        .await?;
        Ok(ExecutionRecord {
            id,
            function_id: new.function_id,
            account_id: new.account_id,
            version: new.version,
            status: ExecutionStatus::Queued,
            error_kind: None,
            error_message: None,
            args: new.args.clone(),
            result: None,
            logs,
            duration_ms: None,
            memory_bytes: None,
            fetch_count: None,
            created_at: now,
            started_at: None,
            finished_at: None,
            chain: new.chain.clone(),
        })
    }

    async fn mark_execution_running(&self, id: ExecutionId, now: UnixMillis) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE function_executions SET status = 'running', started_at = $1 \
             WHERE id = $2 AND status = 'queued'",
        )
        .bind(now)
        .bind(id.to_string())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_execution(
        &self,
        id: ExecutionId,
        outcome: &ExecutionOutcome,
    ) -> StoreResult<bool> {
        if !outcome.status.is_final() {
            return Err(StoreError::InvalidArgument(format!(
                "finish_execution with status {}",
                outcome.status.as_str()
            )));
        }
        let done = sqlx::query(
            "UPDATE function_executions SET status = $1, error_kind = $2, error_message = $3, \
             result = $4, logs = $5, duration_ms = $6, memory_bytes = $7, fetch_count = $8, \
             finished_at = $9 WHERE id = $10 AND status IN ('queued', 'running')",
        )
        .bind(outcome.status.as_str())
        .bind(outcome.error_kind.clone())
        .bind(outcome.error_message.clone())
        .bind(outcome.result.as_ref().map(|v| v.to_string()))
        .bind(outcome.logs.to_string())
        .bind(outcome.duration_ms)
        .bind(outcome.memory_bytes)
        .bind(outcome.fetch_count)
        .bind(outcome.finished_at)
        .bind(id.to_string())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn execution(
        &self,
        account: AccountId,
        id: ExecutionId,
    ) -> StoreResult<Option<ExecutionRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {EXECUTION_COLS} FROM function_executions WHERE id = $1 AND account_id = $2"
        ))
        .bind(id.to_string())
        .bind(account.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(execution_from_row).transpose()
    }

    async fn list_executions(
        &self,
        account: AccountId,
        function_id: FunctionId,
        limit: u32,
    ) -> StoreResult<Vec<ExecutionRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {EXECUTION_COLS} FROM function_executions \
             WHERE function_id = $1 AND account_id = $2 \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        ))
        .bind(function_id.to_string())
        .bind(account.to_string())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(execution_from_row).collect()
    }

    async fn list_account_executions(
        &self,
        account: AccountId,
        trigger: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<ExecutionRecord>> {
        let rows = match trigger {
            Some(t) => {
                sqlx::query(&format!(
                    "SELECT {EXECUTION_COLS} FROM function_executions \
                     WHERE account_id = $1 AND trigger_kind = $2 \
                     ORDER BY created_at DESC, id DESC LIMIT $3"
                ))
                .bind(account.to_string())
                .bind(t.to_string())
                .bind(i64::from(limit))
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {EXECUTION_COLS} FROM function_executions WHERE account_id = $1 \
                     ORDER BY created_at DESC, id DESC LIMIT $2"
                ))
                .bind(account.to_string())
                .bind(i64::from(limit))
                .fetch_all(self.pool())
                .await?
            }
        };
        rows.iter().map(execution_from_row).collect()
    }

    async fn fail_interrupted_executions(&self, now: UnixMillis) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE function_executions SET status = 'failed', error_kind = 'interrupted', \
             error_message = 'the node stopped before the execution finished', finished_at = $1 \
             WHERE status IN ('queued', 'running')",
        )
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    async fn function_usage(&self, account: AccountId) -> StoreResult<FunctionUsage> {
        let functions: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM functions WHERE account_id = $1")
                .bind(account.to_string())
                .fetch_one(self.pool())
                .await?
                .try_get("n")?;
        // Byte length on both backends: SQLite's LENGTH of a BLOB, PostgreSQL's octet_length.
        let bytes_expr = match self.backend() {
            nsl_store::Backend::Sqlite => "LENGTH(CAST(v.source AS BLOB))",
            nsl_store::Backend::Postgres => "octet_length(v.source)",
        };
        let source_bytes: i64 = sqlx::query(&format!(
            "SELECT CAST(COALESCE(SUM({bytes_expr}), 0) AS BIGINT) AS bytes \
             FROM function_versions v JOIN functions f ON f.id = v.function_id \
             WHERE f.account_id = $1"
        ))
        .bind(account.to_string())
        .fetch_one(self.pool())
        .await?
        .try_get("bytes")?;
        Ok(FunctionUsage {
            functions: u64::try_from(functions).unwrap_or(0),
            source_bytes: u64::try_from(source_bytes).unwrap_or(0),
        })
    }

    async fn version_count(&self, account: AccountId, id: FunctionId) -> StoreResult<u64> {
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM function_versions v JOIN functions f \
             ON f.id = v.function_id WHERE f.id = $1 AND f.account_id = $2",
        )
        .bind(id.to_string())
        .bind(account.to_string())
        .fetch_one(self.pool())
        .await?
        .try_get("n")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn prune_executions(
        &self,
        id: FunctionId,
        keep: u64,
        older_than: UnixMillis,
    ) -> StoreResult<u64> {
        let keep = if keep == 0 {
            i64::MAX
        } else {
            i64::try_from(keep).unwrap_or(i64::MAX)
        };
        let done = sqlx::query(
            "DELETE FROM function_executions WHERE function_id = $1 \
             AND status IN ('succeeded', 'failed') AND (created_at < $2 OR id NOT IN \
             (SELECT id FROM function_executions WHERE function_id = $3 \
              ORDER BY created_at DESC, id DESC LIMIT $4))",
        )
        .bind(id.to_string())
        .bind(older_than)
        .bind(id.to_string())
        .bind(keep)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
