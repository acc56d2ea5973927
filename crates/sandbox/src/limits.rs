//! Per-execution resource limits and their clamping against operator maxima.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Lowest memory limit the engine can run with (runtime + full context need a few hundred KiB).
pub const MIN_MEMORY_BYTES: usize = 2 * 1024 * 1024;
/// Lowest JavaScript stack limit accepted (QuickJS treats 0 as "no limit", which we never allow).
pub const MIN_STACK_BYTES: usize = 64 * 1024;
/// Highest JavaScript stack limit accepted: the calling thread needs this plus ~1 MiB headroom,
/// and tokio's blocking threads have 2 MiB stacks by default.
pub const MAX_STACK_BYTES: usize = 1024 * 1024;
/// Lowest timeout accepted.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);
/// Largest `crypto.randomBytes(n)` a script may ask for.
pub const MAX_RANDOM_BYTES: usize = 64 * 1024;

/// Resource limits of one execution.
///
/// A function's own limits are always clamped field by field to the operator's maxima with
/// [`Limits::clamp_to`] before use (then raised to the engine floors above where a value is
/// unusably small, e.g. a zero memory limit, which QuickJS would read as "unlimited").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock budget of the whole execution (module evaluation, `main`, its jobs and
    /// host calls), in milliseconds. Default 10 000.
    pub timeout_ms: u64,
    /// Heap limit of the execution's QuickJS runtime, in bytes. Default 128 MiB.
    pub memory_bytes: usize,
    /// JavaScript stack limit, in bytes. Default 512 KiB.
    pub stack_bytes: usize,
    /// Maximum number of `fetch` calls. Default 5.
    pub max_fetches: u32,
    /// Maximum size of one outgoing request (URL + headers + body), in bytes. Default 64 KiB.
    pub max_fetch_request_bytes: usize,
    /// Maximum size of one response body, in bytes. Default 1 MiB.
    pub max_fetch_response_bytes: usize,
    /// Maximum size of the JSON result, in bytes. Default 64 KiB.
    pub max_result_bytes: usize,
    /// Maximum total size of captured console output, in bytes. Default 16 KiB.
    pub max_log_bytes: usize,
    /// Maximum number of `secrets.get` calls per execution (repeated names count too; each name
    /// is fetched from the host once and then served from the execution's cache). Default 100.
    pub max_secret_gets: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout_ms: 10_000,
            memory_bytes: 128 * 1024 * 1024,
            stack_bytes: 512 * 1024,
            max_fetches: 5,
            max_fetch_request_bytes: 64 * 1024,
            max_fetch_response_bytes: 1024 * 1024,
            max_result_bytes: 64 * 1024,
            max_log_bytes: 16 * 1024,
            max_secret_gets: 100,
        }
    }
}

impl Limits {
    /// The timeout as a [`Duration`].
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Field-wise minimum of `self` and the operator maxima `max`, then raised to the engine
    /// floors ([`MIN_MEMORY_BYTES`], [`MIN_STACK_BYTES`], [`MIN_TIMEOUT`]) and capped at
    /// [`MAX_STACK_BYTES`].
    pub fn clamp_to(&self, max: &Limits) -> Limits {
        let min_timeout_ms = u64::try_from(MIN_TIMEOUT.as_millis()).unwrap_or(1);
        Limits {
            timeout_ms: self.timeout_ms.min(max.timeout_ms).max(min_timeout_ms),
            memory_bytes: self
                .memory_bytes
                .min(max.memory_bytes)
                .max(MIN_MEMORY_BYTES),
            stack_bytes: self
                .stack_bytes
                .min(max.stack_bytes)
                .clamp(MIN_STACK_BYTES, MAX_STACK_BYTES),
            max_fetches: self.max_fetches.min(max.max_fetches),
            max_fetch_request_bytes: self
                .max_fetch_request_bytes
                .min(max.max_fetch_request_bytes),
            max_fetch_response_bytes: self
                .max_fetch_response_bytes
                .min(max.max_fetch_response_bytes),
            max_result_bytes: self.max_result_bytes.min(max.max_result_bytes),
            max_log_bytes: self.max_log_bytes.min(max.max_log_bytes),
            max_secret_gets: self.max_secret_gets.min(max.max_secret_gets),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamp_takes_the_smaller_value_per_field() {
        let max = Limits {
            timeout_ms: 2_000,
            max_fetches: 3,
            ..Limits::default()
        };
        let wanted = Limits {
            timeout_ms: 60_000,
            max_fetches: 1,
            max_log_bytes: 1 << 30,
            ..Limits::default()
        };
        let got = wanted.clamp_to(&max);
        assert_eq!(got.timeout_ms, 2_000);
        assert_eq!(got.max_fetches, 1);
        assert_eq!(got.max_log_bytes, Limits::default().max_log_bytes);
    }

    #[test]
    fn clamp_never_yields_unlimited_engine_values() {
        let zero = Limits {
            timeout_ms: 0,
            memory_bytes: 0,
            stack_bytes: 0,
            ..Limits::default()
        };
        let got = zero.clamp_to(&Limits::default());
        assert_eq!(got.memory_bytes, MIN_MEMORY_BYTES);
        assert_eq!(got.stack_bytes, MIN_STACK_BYTES);
        assert_eq!(got.timeout_ms, 1);
        let huge = Limits {
            stack_bytes: usize::MAX,
            ..Limits::default()
        };
        let max = Limits {
            stack_bytes: usize::MAX,
            ..Limits::default()
        };
        assert_eq!(huge.clamp_to(&max).stack_bytes, MAX_STACK_BYTES);
    }
}
