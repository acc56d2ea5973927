//! JavaScript sandbox for user functions (QuickJS via `rquickjs`).
//!
//! Every execution gets its **own QuickJS runtime and context**, created for it and dropped
//! after it: nothing a script does (globals, prototype pollution, pending jobs, memory) can be
//! seen by any other execution, concurrent or later. Inside the execution, every builtin and
//! the host API are frozen before user code runs.
//!
//! ```text
//! Sandbox::execute(request)
//!   limits = request.limits.clamp_to(operator maxima)
//!   Runtime (own allocator: memory limit + peak; stack limit; interrupt handler = deadline)
//!    └─ Context::full ── prelude (bytecode): console / fetch / secrets / crypto, array guards, freeze
//!        └─ user module (ES module, strict) ── `export default async function main(args)`
//!            └─ main(JSON.parse(args)) ── job loop until settled / deadline
//!                └─ JSON.stringify(result) ── size cap ── Report
//! ```
//!
//! Invariants:
//! - The user script sees only the ECMAScript builtins of QuickJS plus `console`, `fetch`,
//!   `secrets`, `crypto` (see `docs/sandbox.md`); no module loader, no timers, no I/O.
//! - Host policy checks (allowlist, request count and size, secret grants) run before any host
//!   is called; a host never sees a refused request.
//! - Every execution ends within its timeout (plus the time a host call overruns its deadline):
//!   the interrupt handler stops JavaScript, regex backtracking included, once the deadline
//!   passes, and the job loop checks it between jobs.
//! - Secret values never appear in `Debug` output; values the script read are redacted from its
//!   logs and error messages.
//!
//! [`Sandbox::execute`] is synchronous and CPU-bound: call it from a blocking thread, or use
//! [`Sandbox::execute_async`], which runs it on tokio's blocking pool with a concurrency bound.

mod alloc;
mod api;
mod engine;
mod host;
mod limits;
mod report;

use std::sync::Arc;
use std::time::Instant;

pub use host::{
    ExecutionScope, FetchHost, FetchRequest, FetchResponse, HostError, HostPattern, NoFetch,
    NoSecrets, SecretValue, SecretsHost,
};
pub use limits::{
    Limits, MAX_RANDOM_BYTES, MAX_STACK_BYTES, MIN_MEMORY_BYTES, MIN_STACK_BYTES, MIN_TIMEOUT,
};
pub use report::{LOG_TRUNCATED_MARKER, LogEntry, LogLevel, Report, Status};

/// One execution of a user function.
#[derive(Debug, Clone, Default)]
pub struct ExecutionRequest {
    /// ES module source; must `export default` a (usually async) function.
    pub source: String,
    /// Argument passed to the default export (as if by `JSON.parse`).
    pub args: serde_json::Value,
    /// The function's own limits (clamped to the operator maxima).
    pub limits: Limits,
    /// Owner and function id, handed to the hosts.
    pub scope: ExecutionScope,
    /// Hosts `fetch` may reach: `api.example.com` or `*.example.com`.
    pub allowed_hosts: Vec<String>,
    /// Secret names `secrets.get` may return.
    pub granted_secrets: Vec<String>,
}

/// Operator configuration of the sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Upper bounds for every per-function limit.
    pub max_limits: Limits,
    /// Most executions [`Sandbox::execute_async`] runs at once (at least 1).
    pub max_concurrent: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            max_limits: Limits::default(),
            max_concurrent: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        }
    }
}

/// The sandbox: operator limits plus the hosts. Cheap to share (`Arc`), safe to call from many
/// threads at once.
pub struct Sandbox {
    max_limits: Limits,
    fetch: Arc<dyn FetchHost>,
    secrets: Arc<dyn SecretsHost>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("max_limits", &self.max_limits)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// A sandbox with the given operator configuration and hosts.
    pub fn new(
        config: SandboxConfig,
        fetch: Arc<dyn FetchHost>,
        secrets: Arc<dyn SecretsHost>,
    ) -> Self {
        Self {
            max_limits: config.max_limits,
            fetch,
            secrets,
            permits: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent.max(1))),
        }
    }

    /// The limits an execution asking for `wanted` gets.
    pub fn effective_limits(&self, wanted: &Limits) -> Limits {
        wanted.clamp_to(&self.max_limits)
    }

    /// Run one execution on the current thread and report how it went. Never panics on script
    /// input; blocks for at most the effective timeout (plus host overrun).
    ///
    /// The current thread needs a stack of at least `limits.stack_bytes` + 1 MiB (tokio blocking
    /// threads and Rust's spawned threads have 2 MiB by default).
    pub fn execute(&self, request: &ExecutionRequest) -> Report {
        let started = Instant::now();
        let limits = self.effective_limits(&request.limits);
        let state = Arc::new(api::ExecState::new(
            limits,
            started + limits.timeout(),
            request.scope.clone(),
            &request.allowed_hosts,
            &request.granted_secrets,
            self.fetch.clone(),
            self.secrets.clone(),
        ));
        let args_json = request.args.to_string();
        let outcome = engine::run(&state, &request.source, &args_json);
        let collected = state.collect();
        Report {
            status: outcome.status,
            result: outcome.result,
            logs: collected.logs,
            logs_truncated: collected.logs_truncated,
            duration: started.elapsed(),
            peak_memory_bytes: outcome.peak_memory_bytes,
            final_memory_bytes: outcome.final_memory_bytes,
            fetch_count: collected.fetch_count,
            limits,
        }
    }

    /// [`Sandbox::execute`] on tokio's blocking pool, at most `max_concurrent` at a time.
    pub async fn execute_async(self: &Arc<Self>, request: ExecutionRequest) -> Report {
        let limits = self.effective_limits(&request.limits);
        let failed = |message: String| Report {
            status: Status::Internal { message },
            result: None,
            logs: Vec::new(),
            logs_truncated: false,
            duration: std::time::Duration::ZERO,
            peak_memory_bytes: 0,
            final_memory_bytes: 0,
            fetch_count: 0,
            limits,
        };
        let permit = match self.permits.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => return failed("sandbox is shutting down".into()),
        };
        let this = self.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            this.execute(&request)
        })
        .await;
        joined.unwrap_or_else(|e| failed(format!("sandbox worker failed: {e}")))
    }
}
