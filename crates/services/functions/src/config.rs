//! Operator configuration of the functions service (`[functions]` in the node's TOML config,
//! see [`FunctionsConfig::from_config`]).

/// Operator maxima and pool size. Per-function limits above a maximum are clamped down to it.
#[derive(Debug, Clone)]
pub struct FunctionsConfig {
    /// Largest per-execution timeout, milliseconds (default 10 000).
    pub max_timeout_ms: u64,
    /// Largest per-execution heap, bytes (default 128 MiB).
    pub max_memory_bytes: u64,
    /// Most `fetch` calls per execution (default 5).
    pub max_fetches: u32,
    /// Largest JSON result of an execution, bytes (default 64 KiB).
    pub max_result_bytes: usize,
    /// Most console output kept per execution, bytes (default 16 KiB).
    pub max_log_bytes: usize,
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
    /// `secrets.get` calls per execution at most (default 100).
    pub max_secret_gets: u32,
    /// Functions per account at most (default 100).
    pub max_functions_per_account: u64,
    /// Versions per function at most (default 100).
    pub max_versions_per_function: u64,
    /// Source bytes of all versions of an account's functions at most (default 16 MiB).
    pub max_source_bytes_per_account: u64,
    /// API executions an account may start per minute; 0 = no limit (default 600).
    pub max_executions_per_minute: u64,
    /// Executions of one account running at once (default: half of `max_concurrent`, >= 1).
    pub max_concurrent_per_account: usize,
    /// API executions of one account queued or running at most (default 100).
    pub max_pending_per_account: usize,
    /// Finished executions kept per function; 0 = no count limit (default 1000).
    pub execution_retention_count: u64,
    /// Finished executions older than this are deleted, milliseconds; 0 = no age limit
    /// (default 30 days).
    pub execution_retention_ms: i64,
}

impl Default for FunctionsConfig {
    /// The defaults of the `[functions]` section (one place: `nsl-config`).
    fn default() -> Self {
        Self::from_config(&nsl_config::FunctionsConfig::default())
    }
}

fn cpu_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

impl FunctionsConfig {
    /// The service configuration of the node's `[functions]` section (already validated by
    /// `nsl-config`); `max_concurrent = 0` there means the CPU count.
    pub fn from_config(c: &nsl_config::FunctionsConfig) -> Self {
        Self {
            max_timeout_ms: c.max_timeout_ms,
            max_memory_bytes: c.max_memory_bytes,
            max_fetches: c.max_fetches,
            max_result_bytes: to_usize(c.max_result_bytes),
            max_log_bytes: to_usize(c.max_log_bytes),
            max_source_bytes: to_usize(c.max_source_bytes),
            max_args_bytes: to_usize(c.max_args_bytes),
            max_allowed_hosts: to_usize(u64::from(c.max_allowed_hosts)),
            max_secrets: to_usize(u64::from(c.max_secrets)),
            max_concurrent: match c.max_concurrent {
                0 => cpu_count(),
                n => to_usize(u64::from(n)),
            },
            max_pending: to_usize(u64::from(c.max_pending)),
            list_limit: c.list_limit,
            max_secret_gets: c.max_secret_gets,
            max_functions_per_account: u64::from(c.max_functions_per_account),
            max_versions_per_function: u64::from(c.max_versions_per_function),
            max_source_bytes_per_account: c.max_source_bytes_per_account,
            max_executions_per_minute: u64::from(c.max_executions_per_minute),
            max_concurrent_per_account: match c.max_concurrent_per_account {
                0 => {
                    let pool = match c.max_concurrent {
                        0 => cpu_count(),
                        n => to_usize(u64::from(n)),
                    };
                    pool.div_ceil(2).max(1)
                }
                n => to_usize(u64::from(n)),
            },
            max_pending_per_account: to_usize(u64::from(c.max_pending_per_account)),
            execution_retention_count: u64::from(c.execution_retention_count),
            execution_retention_ms: i64::from(c.execution_retention_days) * 86_400_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_values_reach_the_service() {
        // `max_concurrent = 0` in the file means the CPU count.
        let d = FunctionsConfig::default();
        assert!(d.max_concurrent >= 1);
        assert_eq!(d.max_timeout_ms, 10_000);
        let set = FunctionsConfig::from_config(&nsl_config::FunctionsConfig {
            max_concurrent: 3,
            max_timeout_ms: 500,
            ..nsl_config::FunctionsConfig::default()
        });
        assert_eq!((set.max_concurrent, set.max_timeout_ms), (3, 500));
    }
}
