//! Operator configuration of the functions service.

/// Operator maxima and pool size. Per-function limits above a maximum are clamped down to it.
#[derive(Debug, Clone)]
pub struct FunctionsConfig {
    /// Largest per-execution timeout, milliseconds (default 10 000).
    pub max_timeout_ms: u64,
    /// Largest per-execution heap, bytes (default 128 MiB).
    pub max_memory_bytes: u64,
    /// Most `fetch` calls per execution (default 5).
    pub max_fetches: u32,
    /// Largest source, bytes (default 256 KiB).
    pub max_source_bytes: usize,
    /// Largest serialized `args`, bytes (default 64 KiB).
    pub max_args_bytes: usize,
    /// Most entries in `allowed_hosts` (default 32).
    pub max_allowed_hosts: usize,
    /// Most granted secret names (default 32).
    pub max_secrets: usize,
    /// Executions running at once; further ones wait queued (default: CPU count).
    pub max_concurrent: usize,
    /// Executions accepted but not finished (queued + running) at most; beyond it `execute` is
    /// refused with [`crate::FunctionsError::Busy`] (HTTP 503) (default 1000).
    pub max_pending: usize,
    /// Executions returned by a list call at most (default 100).
    pub list_limit: u32,
}

impl Default for FunctionsConfig {
    fn default() -> Self {
        Self {
            max_timeout_ms: 10_000,
            max_memory_bytes: 128 * 1024 * 1024,
            max_fetches: 5,
            max_source_bytes: 256 * 1024,
            max_args_bytes: 64 * 1024,
            max_allowed_hosts: 32,
            max_secrets: 32,
            max_concurrent: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            max_pending: 1000,
            list_limit: 100,
        }
    }
}
