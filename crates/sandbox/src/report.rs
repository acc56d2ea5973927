//! What an execution produced: status, result, logs and resource figures.

use std::time::Duration;

use serde::Serialize;

use crate::limits::Limits;

/// How an execution ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Status {
    /// `main` resolved and its value was serialized into [`Report::result`].
    Ok,
    /// The wall-clock deadline passed (CPU loop, never-settling work, slow host call).
    Timeout,
    /// The runtime hit its heap limit.
    MemoryLimit,
    /// The JavaScript stack limit was hit and not caught.
    StackOverflow,
    /// The script threw (or rejected with) a value, failed to compile, or broke the contract
    /// (no default-exported function, result not JSON-serializable, ...).
    ScriptError {
        /// Error message (`name: message` for Error objects).
        message: String,
        /// Trimmed stack trace, when the thrown value had one.
        stack: Option<String>,
    },
    /// The JSON result exceeded `max_result_bytes`.
    ResultTooLarge {
        /// Serialized size of the result.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A host API call (fetch, secrets) failed or was refused and the script did not catch it.
    HostError {
        /// The error message the script saw.
        message: String,
    },
    /// The sandbox itself failed (engine could not start, worker panicked). Not the script's fault.
    Internal {
        /// What failed.
        message: String,
    },
}

impl Status {
    /// Short stable name of the status (for metrics and APIs).
    pub fn kind(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Timeout => "timeout",
            Status::MemoryLimit => "memory_limit",
            Status::StackOverflow => "stack_overflow",
            Status::ScriptError { .. } => "script_error",
            Status::ResultTooLarge { .. } => "result_too_large",
            Status::HostError { .. } => "host_error",
            Status::Internal { .. } => "internal",
        }
    }

    /// Whether the execution succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self, Status::Ok)
    }
}

/// Console level of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// `console.log`
    Log,
    /// `console.info`
    Info,
    /// `console.warn`
    Warn,
    /// `console.error`
    Error,
}

/// One captured console line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// Level.
    pub level: LogLevel,
    /// Formatted text (secret values read during the execution are replaced by `[REDACTED]`).
    pub message: String,
}

/// Marker appended (as a `warn` line) when console output hit `max_log_bytes`.
pub const LOG_TRUNCATED_MARKER: &str = "[log output truncated: max_log_bytes reached]";

/// The outcome of one execution.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Ok or the error kind.
    pub status: Status,
    /// The value `main` resolved to, as JSON (`null` for `undefined`); `None` unless `status` is Ok.
    pub result: Option<serde_json::Value>,
    /// Captured console output, in order, capped at `max_log_bytes`.
    pub logs: Vec<LogEntry>,
    /// Whether console output was cut (the last entry is then [`LOG_TRUNCATED_MARKER`]).
    pub logs_truncated: bool,
    /// Wall-clock duration of the execution, engine start-up included.
    #[serde(serialize_with = "ser_duration_ms")]
    pub duration: Duration,
    /// Peak bytes allocated by the execution's runtime (engine baseline included).
    pub peak_memory_bytes: usize,
    /// Bytes still in use by the runtime when the script finished (QuickJS `memory_usage`).
    pub final_memory_bytes: usize,
    /// Number of `fetch` calls that reached the host.
    pub fetch_count: u32,
    /// The limits that applied (after clamping to the operator maxima).
    pub limits: Limits,
}

fn ser_duration_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}
