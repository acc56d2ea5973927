//! `[functions]` section: the functions service (`nsl-functions`) run by `nsl serve`: operator
//! maxima of every execution and the size of the execution pool.

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Smallest QuickJS heap the sandbox can run with (`nsl_sandbox::MIN_MEMORY_BYTES`), bytes.
pub const MIN_FUNCTION_MEMORY_BYTES: u64 = 2 * 1024 * 1024;

/// `[functions]` section. Enabled by default. Per-function limits above a maximum are lowered to
/// it when a version is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FunctionsConfig {
    /// Serve `/v1/functions` and `/v1/executions` (and answer gateway `function` requests when
    /// the oracle service runs). Default `true`.
    pub enabled: bool,
    /// Largest (and default) wall-clock budget of one execution, milliseconds. Default 10000.
    pub max_timeout_ms: u64,
    /// Largest (and default) QuickJS heap of one execution, bytes (at least 2 MiB). Default
    /// 134217728 (128 MiB).
    pub max_memory_bytes: u64,
    /// Most `fetch` calls per execution (largest and default). Default 5.
    pub max_fetches: u32,
    /// Largest JSON result of an execution, bytes. Default 65536.
    pub max_result_bytes: u64,
    /// Console output kept per execution, bytes. Default 16384.
    pub max_log_bytes: u64,
    /// Largest function source, bytes. Default 262144.
    pub max_source_bytes: u64,
    /// Largest `args` of an API execution, bytes of JSON. Default 65536.
    pub max_args_bytes: u64,
    /// Most `allowed_hosts` entries per version. Default 32.
    pub max_allowed_hosts: u32,
    /// Most granted secret names per version. Default 32.
    pub max_secrets: u32,
    /// Executions running at once (each on its own thread); `0` = the CPU count. Default 0.
    pub max_concurrent: u32,
    /// API executions accepted but not finished at most; beyond it `execute` answers 503.
    /// Default 1000.
    pub max_pending: u32,
    /// Executions returned by a list call at most (1..=1000). Default 100.
    pub list_limit: u32,
    /// `secrets.get` calls per execution at most (each name is decrypted and audited once per
    /// execution, repeated calls are answered from the execution's cache but still count); the
    /// call past the limit throws a `HostError`. Default 100.
    pub max_secret_gets: u32,
    /// Functions per account at most (then `403 quota_exceeded`). Default 100.
    pub max_functions_per_account: u32,
    /// Versions per function at most (then `403 quota_exceeded`). Default 100.
    pub max_versions_per_function: u32,
    /// Source bytes stored per account, all versions of all functions, at most (then `403
    /// quota_exceeded`). Default 16777216 (16 MiB).
    pub max_source_bytes_per_account: u64,
    /// API executions an account may start per minute on this node (sliding window; then `429
    /// execution_quota_exceeded`). `0` = no limit. Default 600.
    pub max_executions_per_minute: u32,
    /// Executions of one account running at once (fair share of `max_concurrent`: one account's
    /// flood waits behind its own cap and leaves the other slots to other accounts). `0` = half
    /// of `max_concurrent`, at least 1. Default 0.
    pub max_concurrent_per_account: u32,
    /// API executions of one account queued or running at most (then `429
    /// execution_quota_exceeded`). Default 100.
    pub max_pending_per_account: u32,
    /// Finished executions kept per function (older ones are deleted after each execution).
    /// `0` = no count limit. Default 1000.
    pub execution_retention_count: u32,
    /// Finished executions older than this many days are deleted (after each execution of the
    /// same function). `0` = no age limit. Default 30.
    pub execution_retention_days: u32,
}

impl Default for FunctionsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_timeout_ms: 10_000,
            max_memory_bytes: 128 * 1024 * 1024,
            max_fetches: 5,
            max_result_bytes: 64 * 1024,
            max_log_bytes: 16 * 1024,
            max_source_bytes: 256 * 1024,
            max_args_bytes: 64 * 1024,
            max_allowed_hosts: 32,
            max_secrets: 32,
            max_concurrent: 0,
            max_pending: 1000,
            list_limit: 100,
            max_secret_gets: 100,
            max_functions_per_account: 100,
            max_versions_per_function: 100,
            max_source_bytes_per_account: 16 * 1024 * 1024,
            max_executions_per_minute: 600,
            max_concurrent_per_account: 0,
            max_pending_per_account: 100,
            execution_retention_count: 1000,
            execution_retention_days: 30,
        }
    }
}

impl FunctionsConfig {
    /// Check ranges; errors name the key (`functions.<key>`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: format!("functions.{key}"),
                message: message.to_string(),
            })
        };
        if self.max_timeout_ms == 0 {
            return invalid("max_timeout_ms", "must be at least 1");
        }
        if self.max_memory_bytes < MIN_FUNCTION_MEMORY_BYTES {
            return invalid(
                "max_memory_bytes",
                "must be at least 2097152 (2 MiB, the sandbox's smallest heap)",
            );
        }
        if self.max_pending_per_account == 0 {
            return invalid("max_pending_per_account", "must be at least 1");
        }
        if self.max_result_bytes == 0 {
            return invalid("max_result_bytes", "must be at least 1");
        }
        if self.max_source_bytes == 0 {
            return invalid("max_source_bytes", "must be at least 1");
        }
        if self.max_args_bytes < 4 {
            return invalid(
                "max_args_bytes",
                "must be at least 4 (the JSON `null` of no args)",
            );
        }
        if self.max_pending == 0 {
            return invalid("max_pending", "must be at least 1");
        }
        if !(1..=1000).contains(&self.list_limit) {
            return invalid("list_limit", "must be between 1 and 1000");
        }
        Ok(())
    }
}
