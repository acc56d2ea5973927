//! `[chain]` section: how the node reaches the Neo chain (RPC endpoints, failover).

use serde::{Deserialize, Serialize};

/// `[chain]` section: the JSON-RPC endpoints of the Neo chain the node's services follow and send
/// to, and the failover settings of the client over them (`neo_rpc::FailoverConfig`).
///
/// Endpoint rule: `rpc_urls` when it lists any URL, else `oracle.rpc_url` alone (kept as an
/// alias so existing configs go on working); see [`ChainConfig::endpoints`].
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainConfig {
    /// Endpoints of the same chain, most preferred first (`http://` or `https://`; user info and
    /// query may carry credentials: they are never logged). Empty (default): `oracle.rpc_url`.
    /// Environment: comma-separated, `NSL_CHAIN__RPC_URLS=http://a:10332,http://b:10332`.
    pub rpc_urls: Vec<String>,
    /// Consecutive transport failures (connection, timeout, HTTP 5xx/429) that open an
    /// endpoint's circuit breaker. Default 3.
    pub breaker_threshold: u32,
    /// Milliseconds an opened breaker keeps its endpoint out before one probe. Default 1000.
    pub breaker_cooldown_ms: u64,
    /// Ceiling in milliseconds of the cooldown, which doubles after each failed probe.
    /// Default 30000.
    pub breaker_max_cooldown_ms: u64,
    /// An endpoint more than this many blocks behind the best one is used only after the others.
    /// Default 5.
    pub lag_threshold: u32,
    /// Milliseconds between health checks (`getblockcount` on every endpoint); `0` disables
    /// them. Only with two or more endpoints. Default 1000.
    pub health_interval_ms: u64,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            rpc_urls: Vec::new(),
            breaker_threshold: 3,
            breaker_cooldown_ms: 1_000,
            breaker_max_cooldown_ms: 30_000,
            lag_threshold: 5,
            health_interval_ms: 1_000,
        }
    }
}

impl std::fmt::Debug for ChainConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainConfig")
            .field("rpc_urls", &self.redacted_rpc_urls())
            .field("breaker_threshold", &self.breaker_threshold)
            .field("breaker_cooldown_ms", &self.breaker_cooldown_ms)
            .field("breaker_max_cooldown_ms", &self.breaker_max_cooldown_ms)
            .field("lag_threshold", &self.lag_threshold)
            .field("health_interval_ms", &self.health_interval_ms)
            .finish()
    }
}

impl ChainConfig {
    /// The endpoints to use: `rpc_urls` if not empty, else `[oracle_rpc_url]`.
    pub fn endpoints(&self, oracle_rpc_url: &str) -> Vec<String> {
        if self.rpc_urls.is_empty() {
            vec![oracle_rpc_url.to_string()]
        } else {
            self.rpc_urls.clone()
        }
    }

    /// `rpc_urls` with passwords and queries redacted (for display).
    pub fn redacted_rpc_urls(&self) -> Vec<String> {
        self.rpc_urls.iter().map(|u| redact_endpoint(u)).collect()
    }

    /// Check value ranges (URLs in errors are redacted).
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        let invalid = |key: &str, message: String| {
            Err(crate::ConfigError::Invalid {
                key: format!("chain.{key}"),
                message,
            })
        };
        for (i, url) in self.rpc_urls.iter().enumerate() {
            let u = url.trim();
            let rest = u
                .strip_prefix("http://")
                .or_else(|| u.strip_prefix("https://"));
            if rest.is_none_or(|r| r.split(['/', '?', '#']).next().unwrap_or("").is_empty()) {
                return invalid(
                    &format!("rpc_urls[{i}]"),
                    format!(
                        "{:?} is not an http:// or https:// URL with a host",
                        redact_endpoint(url)
                    ),
                );
            }
        }
        if self.breaker_threshold == 0 {
            return invalid("breaker_threshold", "must be at least 1".into());
        }
        if self.breaker_cooldown_ms == 0 {
            return invalid("breaker_cooldown_ms", "must be at least 1".into());
        }
        if self.breaker_max_cooldown_ms < self.breaker_cooldown_ms {
            return invalid(
                "breaker_max_cooldown_ms",
                "must be at least breaker_cooldown_ms".into(),
            );
        }
        Ok(())
    }
}

/// An endpoint URL for display: password and query replaced by the redaction marker.
pub(crate) fn redact_endpoint(url: &str) -> String {
    let masked = crate::types::redact_url_password(url);
    match masked.split_once('?') {
        Some((base, _)) => format!("{base}?{}", crate::REDACTED),
        None => masked,
    }
}
