//! [`FunctionsService`]: validation, versions and executions.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use nsl_egress::Egress;
use nsl_primitives::AccountId;
use nsl_sandbox::{
    ExecutionRequest, ExecutionScope, HostPattern, Limits, MIN_MEMORY_BYTES, Report, Sandbox,
    SandboxConfig, Status,
};
use nsl_store::{StoreError, now_ms};
use serde::Deserialize;
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

use crate::chain::{self, ChainOutcome, MAX_ONCHAIN_CALLERS};
use crate::config::FunctionsConfig;
use crate::error::FunctionsError;
use crate::hosts::{EgressFetch, FunctionSecrets, GrantedSecrets};
use crate::store::{
    ChainTrigger, ExecutionId, ExecutionOutcome, ExecutionRecord, ExecutionStatus, FunctionId,
    FunctionRecord, FunctionStore, FunctionVersionSpec, NewExecution,
};

/// Longest function name, characters.
const MAX_NAME_CHARS: usize = 100;

/// Limits asked for by a user; absent fields take the operator maxima.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsInput {
    /// Wall-clock budget, milliseconds (1 ..; clamped to the maximum).
    pub timeout_ms: Option<u64>,
    /// Heap limit, bytes (at least 2 MiB; clamped to the maximum).
    pub memory_bytes: Option<u64>,
    /// Most `fetch` calls (clamped to the maximum).
    pub max_fetches: Option<u32>,
}

/// A function as created or updated by a user.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionInput {
    /// ES module exporting `default` a (usually async) function `main(args)`.
    pub source: String,
    /// Resource limits.
    #[serde(default)]
    pub limits: LimitsInput,
    /// Hosts `fetch` may reach: `api.example.com` or `*.example.com`.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Names of the account's secrets `secrets.get` may read.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Requesters allowed to run this version from chain through the gateway: `0x` script
    /// hashes or `N...` addresses (stored as `0x` + lowercase big-endian hex). Empty: not
    /// callable from chain.
    #[serde(default)]
    pub onchain_callers: Vec<String>,
}

/// Whether `execute` waits for the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecuteMode {
    /// Run and return the finished execution.
    #[default]
    Sync,
    /// Return the queued execution at once; poll it by id.
    Async,
}

struct Inner {
    store: Arc<dyn FunctionStore>,
    egress: Arc<Egress>,
    secrets: Arc<dyn FunctionSecrets>,
    config: FunctionsConfig,
    permits: Arc<Semaphore>,
    pending: Arc<AtomicUsize>,
    /// Per account: its own slots within `permits` (fair share) and its pending API executions.
    accounts: Accounts,
}

/// Every account's [`AccountSlots`], created on first use.
type Accounts = Arc<Mutex<HashMap<AccountId, AccountSlots>>>;

/// One account's share of the pool.
struct AccountSlots {
    running: Arc<Semaphore>,
    pending: usize,
    /// Start times (ms) of the account's API executions in the last minute.
    recent: VecDeque<i64>,
}

/// Counts an execution as pending (on the node and, for API runs, for its account) until
/// dropped.
struct PendingGuard {
    node: Arc<AtomicUsize>,
    account: Option<(Accounts, AccountId)>,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.node.fetch_sub(1, Ordering::AcqRel);
        if let Some((accounts, id)) = &self.account {
            let mut map = accounts.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(slots) = map.get_mut(id) {
                slots.pending = slots.pending.saturating_sub(1);
            }
        }
    }
}

/// The functions service. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct FunctionsService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FunctionsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionsService")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// The naming rule of secrets: a name the secrets service could never store is refused up front.
fn valid_secret_name(name: &str) -> bool {
    nsl_primitives::secret_name::is_valid(name)
}

impl FunctionsService {
    /// A service over `store`, fetching through `egress` and reading secrets from `secrets`.
    pub fn new(
        store: Arc<dyn FunctionStore>,
        egress: Arc<Egress>,
        secrets: Arc<dyn FunctionSecrets>,
        config: FunctionsConfig,
    ) -> Self {
        let permits = Arc::new(Semaphore::new(config.max_concurrent.max(1)));
        Self {
            inner: Arc::new(Inner {
                store,
                egress,
                secrets,
                config,
                permits,
                pending: Arc::new(AtomicUsize::new(0)),
                accounts: Arc::new(Mutex::new(HashMap::new())),
            }),
        }
    }

    /// The operator configuration.
    pub fn config(&self) -> &FunctionsConfig {
        &self.inner.config
    }

    /// Mark executions a previous process left `queued` or `running` as `failed` / `interrupted`.
    /// Call once at startup, before serving. Returns how many were marked.
    ///
    /// One node per database: with several nodes on one PostgreSQL database this would also fail
    /// executions another live node is running.
    pub async fn recover(&self) -> Result<u64, FunctionsError> {
        let n = self
            .inner
            .store
            .fail_interrupted_executions(now_ms())
            .await?;
        if n > 0 {
            tracing::warn!(
                count = n,
                "functions: executions interrupted by a restart marked failed"
            );
        }
        Ok(n)
    }

    /// Validate `input` and clamp its limits to the operator maxima.
    pub fn validate(&self, input: &FunctionInput) -> Result<FunctionVersionSpec, FunctionsError> {
        let c = &self.inner.config;
        if input.source.trim().is_empty() {
            return Err(FunctionsError::invalid("empty_source", "source is empty"));
        }
        if input.source.len() > c.max_source_bytes {
            return Err(FunctionsError::invalid(
                "source_too_large",
                format!(
                    "source is {} bytes; at most {} are accepted",
                    input.source.len(),
                    c.max_source_bytes
                ),
            ));
        }
        let timeout_ms = match input.limits.timeout_ms {
            Some(0) => {
                return Err(FunctionsError::invalid(
                    "invalid_limits",
                    "limits.timeout_ms must be at least 1",
                ));
            }
            Some(t) => t.min(c.max_timeout_ms),
            None => c.max_timeout_ms,
        };
        let min_memory = u64::try_from(MIN_MEMORY_BYTES).unwrap_or(u64::MAX);
        let memory_bytes = match input.limits.memory_bytes {
            Some(m) if m < min_memory => {
                return Err(FunctionsError::invalid(
                    "invalid_limits",
                    format!("limits.memory_bytes must be at least {min_memory}"),
                ));
            }
            Some(m) => m.min(c.max_memory_bytes),
            None => c.max_memory_bytes,
        };
        let max_fetches = input
            .limits
            .max_fetches
            .map_or(c.max_fetches, |f| f.min(c.max_fetches));
        if input.allowed_hosts.len() > c.max_allowed_hosts {
            return Err(FunctionsError::invalid(
                "too_many_hosts",
                format!("at most {} allowed_hosts", c.max_allowed_hosts),
            ));
        }
        let mut allowed_hosts = Vec::with_capacity(input.allowed_hosts.len());
        for h in &input.allowed_hosts {
            if HostPattern::parse(h).is_none() {
                return Err(FunctionsError::invalid(
                    "invalid_host",
                    format!("allowed_hosts entry {h:?} is not a host name or *.domain pattern"),
                ));
            }
            let h = h.trim().to_ascii_lowercase();
            if !allowed_hosts.contains(&h) {
                allowed_hosts.push(h);
            }
        }
        if input.secrets.len() > c.max_secrets {
            return Err(FunctionsError::invalid(
                "too_many_secrets",
                format!("at most {} secrets", c.max_secrets),
            ));
        }
        let mut secrets = Vec::with_capacity(input.secrets.len());
        for s in &input.secrets {
            if !valid_secret_name(s) {
                return Err(FunctionsError::invalid(
                    "invalid_secret_name",
                    format!(
                        "secret name {s:?}: 1 to {} of A-Z a-z 0-9 _ - . starting with a letter or _",
                        nsl_primitives::secret_name::MAX_LEN
                    ),
                ));
            }
            if !secrets.contains(s) {
                secrets.push(s.clone());
            }
        }
        if input.onchain_callers.len() > MAX_ONCHAIN_CALLERS {
            return Err(FunctionsError::invalid(
                "too_many_onchain_callers",
                format!("at most {MAX_ONCHAIN_CALLERS} onchain_callers"),
            ));
        }
        let mut onchain_callers = Vec::with_capacity(input.onchain_callers.len());
        for c in &input.onchain_callers {
            let Some(hash) = chain::normalize_caller(c) else {
                return Err(FunctionsError::invalid(
                    "invalid_onchain_caller",
                    format!(
                        "onchain_callers entry {c:?} is not a 0x script hash (40 hex digits) or a Neo N3 address"
                    ),
                ));
            };
            if !onchain_callers.contains(&hash) {
                onchain_callers.push(hash);
            }
        }
        Ok(FunctionVersionSpec {
            source: input.source.clone(),
            timeout_ms,
            memory_bytes,
            max_fetches,
            allowed_hosts,
            secrets,
            onchain_callers,
        })
    }

    /// Create a function (version 1).
    pub async fn create(
        &self,
        account: AccountId,
        name: &str,
        input: &FunctionInput,
    ) -> Result<FunctionRecord, FunctionsError> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(FunctionsError::invalid(
                "invalid_name",
                format!("name must be 1 to {MAX_NAME_CHARS} printable characters"),
            ));
        }
        let spec = self.validate(input)?;
        let c = &self.inner.config;
        let usage = self.inner.store.function_usage(account).await?;
        if usage.functions >= c.max_functions_per_account {
            return Err(FunctionsError::quota(
                "functions",
                format!(
                    "the account has {} functions; at most {} are allowed",
                    usage.functions, c.max_functions_per_account
                ),
            ));
        }
        self.check_source_bytes(usage.source_bytes, &spec)?;
        match self.inner.store.create_function(account, name, &spec).await {
            Ok(f) => Ok(f),
            Err(StoreError::Conflict { .. }) => Err(FunctionsError::Conflict),
            Err(e) => Err(e.into()),
        }
    }

    /// Store a new version of the account's function `id` and make it current.
    pub async fn update(
        &self,
        account: AccountId,
        id: FunctionId,
        input: &FunctionInput,
    ) -> Result<FunctionRecord, FunctionsError> {
        let spec = self.validate(input)?;
        let c = &self.inner.config;
        let versions = self.inner.store.version_count(account, id).await?;
        if versions >= c.max_versions_per_function {
            return Err(FunctionsError::quota(
                "versions",
                format!(
                    "the function has {versions} versions; at most {} are allowed",
                    c.max_versions_per_function
                ),
            ));
        }
        let usage = self.inner.store.function_usage(account).await?;
        self.check_source_bytes(usage.source_bytes, &spec)?;
        match self
            .inner
            .store
            .add_function_version(account, id, &spec)
            .await
        {
            Ok(f) => Ok(f),
            Err(StoreError::NotFound(_)) => Err(FunctionsError::NotFound("function")),
            Err(e) => Err(e.into()),
        }
    }

    fn check_source_bytes(
        &self,
        stored: u64,
        spec: &FunctionVersionSpec,
    ) -> Result<(), FunctionsError> {
        let max = self.inner.config.max_source_bytes_per_account;
        let new = u64::try_from(spec.source.len()).unwrap_or(u64::MAX);
        if stored.saturating_add(new) > max {
            return Err(FunctionsError::quota(
                "stored_bytes",
                format!(
                    "the account stores {stored} bytes of function sources; {new} more would \
                     pass the {max} allowed"
                ),
            ));
        }
        Ok(())
    }

    /// The account's function `id`.
    pub async fn get(
        &self,
        account: AccountId,
        id: FunctionId,
    ) -> Result<FunctionRecord, FunctionsError> {
        self.inner
            .store
            .function(account, id)
            .await?
            .ok_or(FunctionsError::NotFound("function"))
    }

    /// The account's functions.
    pub async fn list(&self, account: AccountId) -> Result<Vec<FunctionRecord>, FunctionsError> {
        Ok(self.inner.store.list_functions(account).await?)
    }

    /// The account's execution `id`.
    pub async fn execution(
        &self,
        account: AccountId,
        id: ExecutionId,
    ) -> Result<ExecutionRecord, FunctionsError> {
        self.inner
            .store
            .execution(account, id)
            .await?
            .ok_or(FunctionsError::NotFound("execution"))
    }

    /// The latest executions of the account's function `id`, newest first.
    pub async fn executions(
        &self,
        account: AccountId,
        id: FunctionId,
    ) -> Result<Vec<ExecutionRecord>, FunctionsError> {
        self.get(account, id).await?;
        Ok(self
            .inner
            .store
            .list_executions(account, id, self.inner.config.list_limit)
            .await?)
    }

    /// The latest executions of all the account's functions, newest first (at most
    /// `list_limit`); only those with `trigger` (`api` or `chain`) when given.
    pub async fn account_executions(
        &self,
        account: AccountId,
        trigger: Option<&str>,
    ) -> Result<Vec<ExecutionRecord>, FunctionsError> {
        if let Some(t) = trigger
            && !matches!(t, "api" | "chain")
        {
            return Err(FunctionsError::invalid(
                "invalid_trigger",
                format!("trigger {t:?}: use api or chain"),
            ));
        }
        Ok(self
            .inner
            .store
            .list_account_executions(account, trigger, self.inner.config.list_limit)
            .await?)
    }

    /// Execute the current version of the account's function `id` with `args`. The execution
    /// row is persisted (`queued`) first. `Sync` waits and returns the finished execution;
    /// `Async` returns the queued one at once and runs it on a spawned task.
    pub async fn execute(
        &self,
        account: AccountId,
        id: FunctionId,
        args: serde_json::Value,
        mode: ExecuteMode,
    ) -> Result<ExecutionRecord, FunctionsError> {
        self.check_args(&args)?;
        let function = self.get(account, id).await?;
        let max_pending = self.inner.config.max_pending.max(1);
        if self
            .inner
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max_pending).then_some(n + 1)
            })
            .is_err()
        {
            return Err(FunctionsError::Busy);
        }
        let mut pending = PendingGuard {
            node: self.inner.pending.clone(),
            account: None,
        };
        let c = &self.inner.config;
        {
            let mut map = self
                .inner
                .accounts
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let slots = self.slots(&mut map, account);
            // Executions started in the last minute (this node's memory: a sliding window).
            let now = now_ms();
            while slots.recent.front().is_some_and(|t| *t <= now - 60_000) {
                slots.recent.pop_front();
            }
            let started = u64::try_from(slots.recent.len()).unwrap_or(u64::MAX);
            if c.max_executions_per_minute > 0 && started >= c.max_executions_per_minute {
                let oldest = slots.recent.front().copied().unwrap_or(now);
                let wait_ms = u64::try_from(oldest + 60_000 - now).unwrap_or(1);
                return Err(FunctionsError::ExecutionQuota {
                    message: format!(
                        "executions_per_minute: the account started {started} executions in the \
                         last minute; at most {} are allowed",
                        c.max_executions_per_minute
                    ),
                    retry_after_secs: wait_ms.div_ceil(1000).max(1),
                });
            }
            if slots.pending >= c.max_pending_per_account {
                return Err(FunctionsError::ExecutionQuota {
                    message: format!(
                        "pending_executions: the account has {} executions queued or running; \
                         at most {} are allowed",
                        slots.pending, c.max_pending_per_account
                    ),
                    retry_after_secs: 1,
                });
            }
            slots.pending += 1;
            if c.max_executions_per_minute > 0 {
                slots.recent.push_back(now);
            }
        }
        pending.account = Some((self.inner.accounts.clone(), account));
        self.start(function, args, None, pending, mode).await
    }

    /// The slots of `account`, created on first use.
    fn slots<'m>(
        &self,
        map: &'m mut HashMap<AccountId, AccountSlots>,
        account: AccountId,
    ) -> &'m mut AccountSlots {
        let per_account = self.inner.config.max_concurrent_per_account.max(1);
        map.entry(account).or_insert_with(|| AccountSlots {
            running: Arc::new(Semaphore::new(per_account)),
            pending: 0,
            recent: VecDeque::new(),
        })
    }

    fn check_args(&self, args: &serde_json::Value) -> Result<(), FunctionsError> {
        let args_len = args.to_string().len();
        if args_len > self.inner.config.max_args_bytes {
            return Err(FunctionsError::invalid(
                "args_too_large",
                format!(
                    "args are {args_len} bytes of JSON; at most {} are accepted",
                    self.inner.config.max_args_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Record the execution (`queued`) and run it on a spawned task; `Sync` waits for the end.
    async fn start(
        &self,
        function: FunctionRecord,
        args: serde_json::Value,
        chain: Option<ChainTrigger>,
        pending: PendingGuard,
        mode: ExecuteMode,
    ) -> Result<ExecutionRecord, FunctionsError> {
        let account = function.account_id;
        let record = self
            .inner
            .store
            .insert_execution(
                &NewExecution {
                    function_id: function.id,
                    account_id: account,
                    version: function.current.version,
                    args,
                    chain,
                },
                now_ms(),
            )
            .await?;
        // Spawned in both modes: a caller that goes away (closed HTTP request, stopped oracle
        // worker) never leaves the execution half-recorded.
        let this = self.clone();
        let queued = record.clone();
        let exec_id = record.id;
        let task = tokio::spawn(async move {
            let _pending = pending;
            let result = this.run(record, function).await;
            if let Err(e) = &result {
                tracing::error!(execution_id = %exec_id, error = %e, "functions: execution could not be recorded");
            }
            result
        });
        match mode {
            ExecuteMode::Async => Ok(queued),
            ExecuteMode::Sync => {
                task.await.map_err(|e| {
                    FunctionsError::Internal(format!("execution task failed: {e}"))
                })??;
                self.execution(account, exec_id).await
            }
        }
    }

    /// Run function `function_id` for a gateway request of `requester` (a `0x` script hash, or
    /// an address) and wait for the end. The run is an execution of the function's owner
    /// (trigger `chain`, with `request`), of the current version, with the owner's granted
    /// secrets and the version's limits. Runs only if the current version lists `requester` in
    /// its `onchain_callers`. Chain runs are not refused for `max_pending` (the oracle
    /// runtime's worker count bounds them); they wait for the same execution slots
    /// (`max_concurrent`) as API runs. Never fails: every problem is an outcome.
    pub async fn execute_for_chain(
        &self,
        function_id: &str,
        requester: &str,
        args: serde_json::Value,
        request: ChainTrigger,
    ) -> ChainOutcome {
        let Ok(id) = function_id.trim().parse::<FunctionId>() else {
            return ChainOutcome::NotFound;
        };
        let Some(requester) = chain::normalize_caller(requester) else {
            return ChainOutcome::Forbidden;
        };
        let function = match self.inner.store.function_by_id(id).await {
            Ok(Some(f)) => f,
            Ok(None) => return ChainOutcome::NotFound,
            Err(e) => {
                tracing::error!(function_id = %id, error = %e, "functions: chain request: reading the function failed");
                return ChainOutcome::Rejected { kind: "internal" };
            }
        };
        if !function.current.spec.onchain_callers.contains(&requester) {
            tracing::info!(function_id = %id, %requester, request_id = request.request_id, "functions: chain request refused: requester not in onchain_callers");
            return ChainOutcome::Forbidden;
        }
        if self.check_args(&args).is_err() {
            return ChainOutcome::Rejected {
                kind: "args_too_large",
            };
        }
        self.inner.pending.fetch_add(1, Ordering::AcqRel);
        let pending = PendingGuard {
            node: self.inner.pending.clone(),
            account: None,
        };
        let trigger = ChainTrigger {
            requester,
            ..request
        };
        match self
            .start(function, args, Some(trigger), pending, ExecuteMode::Sync)
            .await
        {
            Ok(e) if e.status == ExecutionStatus::Succeeded => ChainOutcome::Succeeded {
                execution_id: e.id,
                result: e.result.unwrap_or(serde_json::Value::Null),
            },
            Ok(e) => ChainOutcome::Failed {
                execution_id: e.id,
                kind: e.error_kind.unwrap_or_else(|| "internal".into()),
            },
            Err(FunctionsError::ShuttingDown) => ChainOutcome::Rejected {
                kind: "shutting_down",
            },
            Err(e) => {
                tracing::error!(function_id = %id, error = %e, "functions: chain execution failed");
                ChainOutcome::Rejected { kind: "internal" }
            }
        }
    }

    /// Answer a gateway `function` request: parse `payload` ([`chain::parse_payload`]), run it
    /// with [`Self::execute_for_chain`], and return the code and result bytes to fulfil with.
    pub async fn answer_chain_request(
        &self,
        payload: &[u8],
        requester: &str,
        request: ChainTrigger,
    ) -> nsl_service_api::Answer {
        let outcome = match chain::parse_payload(payload) {
            Ok(p) => {
                self.execute_for_chain(&p.function, requester, p.args, request)
                    .await
            }
            Err(why) => {
                tracing::info!(request_id = request.request_id, reason = %why, "functions: malformed chain request");
                ChainOutcome::Rejected {
                    kind: "invalid_payload",
                }
            }
        };
        outcome.answer()
    }

    /// Run a queued execution to its end and record the outcome.
    async fn run(
        self,
        record: ExecutionRecord,
        function: FunctionRecord,
    ) -> Result<(), FunctionsError> {
        let inner = &self.inner;
        // The account's own slot first: an account with many executions waits behind its own
        // cap, and the node's slots stay free for other accounts (fair share).
        let account_slots = {
            let mut map = inner.accounts.lock().unwrap_or_else(|e| e.into_inner());
            self.slots(&mut map, record.account_id).running.clone()
        };
        let account_permit = account_slots
            .acquire_owned()
            .await
            .map_err(|_| FunctionsError::ShuttingDown)?;
        let permit = inner
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| FunctionsError::ShuttingDown)?;
        if !inner
            .store
            .mark_execution_running(record.id, now_ms())
            .await?
        {
            return Ok(());
        }
        let spec = &function.current.spec;
        let handle = Handle::current();
        let max_limits = Limits {
            timeout_ms: inner.config.max_timeout_ms,
            memory_bytes: usize::try_from(inner.config.max_memory_bytes).unwrap_or(usize::MAX),
            max_fetches: inner.config.max_fetches,
            max_result_bytes: inner.config.max_result_bytes,
            max_log_bytes: inner.config.max_log_bytes,
            max_secret_gets: inner.config.max_secret_gets,
            ..Limits::default()
        };
        let limits = Limits {
            timeout_ms: spec.timeout_ms,
            memory_bytes: usize::try_from(spec.memory_bytes).unwrap_or(usize::MAX),
            max_fetches: spec.max_fetches,
            max_result_bytes: inner.config.max_result_bytes,
            max_log_bytes: inner.config.max_log_bytes,
            max_secret_gets: inner.config.max_secret_gets,
            ..Limits::default()
        };
        let sandbox = Sandbox::new(
            SandboxConfig {
                max_limits,
                max_concurrent: 1,
            },
            Arc::new(EgressFetch::new(
                inner.egress.clone(),
                spec.allowed_hosts.clone(),
                handle.clone(),
            )),
            Arc::new(GrantedSecrets::new(
                inner.secrets.clone(),
                record.account_id,
                function.id,
                spec.secrets.clone(),
                handle,
            )),
        );
        let request = ExecutionRequest {
            source: spec.source.clone(),
            args: record.args.clone(),
            limits,
            scope: ExecutionScope {
                owner: record.account_id.to_string(),
                function_id: function.id.to_string(),
            },
            allowed_hosts: spec.allowed_hosts.clone(),
            granted_secrets: spec.secrets.clone(),
        };
        let joined = tokio::task::spawn_blocking(move || {
            let _permits = (permit, account_permit);
            sandbox.execute(&request)
        })
        .await;
        let outcome = match joined {
            Ok(report) => outcome_of(&report),
            Err(e) => ExecutionOutcome {
                status: ExecutionStatus::Failed,
                error_kind: Some("internal".into()),
                error_message: Some(format!("sandbox worker failed: {e}")),
                result: None,
                logs: serde_json::Value::Array(Vec::new()),
                duration_ms: 0,
                memory_bytes: 0,
                fetch_count: 0,
                finished_at: now_ms(),
            },
        };
        inner.store.finish_execution(record.id, &outcome).await?;
        // Retention: old finished executions of this function go (best effort).
        let c = &inner.config;
        let older_than = if c.execution_retention_ms > 0 {
            now_ms() - c.execution_retention_ms
        } else {
            i64::MIN
        };
        if let Err(e) = inner
            .store
            .prune_executions(function.id, c.execution_retention_count, older_than)
            .await
        {
            tracing::warn!(function_id = %function.id, error = %e, "functions: pruning old executions failed");
        }
        Ok(())
    }
}

/// The stored outcome of a sandbox report.
fn outcome_of(report: &Report) -> ExecutionOutcome {
    let message = match &report.status {
        Status::Ok => None,
        Status::Timeout => Some("the execution exceeded its timeout".to_string()),
        Status::MemoryLimit => Some("the execution exceeded its memory limit".to_string()),
        Status::StackOverflow => Some("the execution exceeded its stack limit".to_string()),
        Status::ScriptError { message, .. } => Some(message.clone()),
        Status::ResultTooLarge { size, limit } => Some(format!(
            "the result is {size} bytes; at most {limit} are kept"
        )),
        Status::HostError { message } => Some(message.clone()),
        Status::Internal { message } => Some(message.clone()),
    };
    let ok = report.status.is_ok();
    ExecutionOutcome {
        status: if ok {
            ExecutionStatus::Succeeded
        } else {
            ExecutionStatus::Failed
        },
        error_kind: (!ok).then(|| report.status.kind().to_string()),
        error_message: message,
        result: if ok {
            Some(report.result.clone().unwrap_or(serde_json::Value::Null))
        } else {
            None
        },
        logs: serde_json::to_value(&report.logs)
            .unwrap_or_else(|_| serde_json::Value::Array(Vec::new())),
        duration_ms: i64::try_from(report.duration.as_millis()).unwrap_or(i64::MAX),
        memory_bytes: i64::try_from(report.peak_memory_bytes).unwrap_or(i64::MAX),
        fetch_count: i64::from(report.fetch_count),
        finished_at: now_ms(),
    }
}
