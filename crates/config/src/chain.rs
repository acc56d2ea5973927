//! `[chain]` section: how the node reaches the Neo chain (RPC endpoints, failover).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Secret;

/// `[chain]` section: the node's chain runtime (one per node, `nsl_chain::ChainRuntime`): the
/// JSON-RPC endpoints of the Neo chain the node's services follow and send to, the failover
/// settings of the client over them (`neo_rpc::FailoverConfig`), the follower's and the
/// transaction sender's settings, and the node key (the account that signs and pays).
///
/// Deprecated aliases in `[oracle]` (from before the runtime was the node's): `poll_interval_ms`,
/// `block_push`, `start_block`, `low_gas_warning`, `node_key` / `node_key_file`. Each applies
/// when the `[chain]` key keeps its default ([`crate::Config::deprecations`] lists them for a
/// warning at start).
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
    /// Pause between follower / sender rounds in milliseconds when nothing is new (how late a
    /// new block is seen without the push). Default 100.
    pub poll_interval_ms: u64,
    /// Take new blocks from the node's WebSocket push (neo-go: `/ws` on the RPC port); polling
    /// every `poll_interval_ms` stays the fallback, and is all there is when the node has no
    /// WebSocket endpoint. Default `true`.
    pub block_push: bool,
    /// First block to read when the database has no cursor yet. Unset: the chain's height at the
    /// first start (requests made before it are not answered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_block: Option<u32>,
    /// Warn (log and `/ready`, which stays 200) when the node account holds less GAS than this,
    /// in GAS fractions. Default `500000000` (5 GAS); `0` disables the warning.
    pub low_gas_warning: i64,
    /// GAS fractions added to a transaction's test-run GAS for its system fee (state written can
    /// grow between the test run and the block). Default `1500000` (0.015 GAS).
    pub system_fee_margin: i64,
    /// WIF of the node key (the node account: signs gateway answers and pays their fees; the
    /// native oracle's designated key). Only from `NSL_CHAIN__NODE_KEY` (never from the TOML
    /// file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_key: Option<Secret>,
    /// File holding the WIF of the node key (surrounding whitespace is trimmed; owner-only
    /// permissions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_key_file: Option<PathBuf>,
}

/// Default `chain.poll_interval_ms`.
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 100;
/// Default `chain.system_fee_margin`: 0.015 GAS.
pub const DEFAULT_SYSTEM_FEE_MARGIN: i64 = 1_500_000;

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            rpc_urls: Vec::new(),
            breaker_threshold: 3,
            breaker_cooldown_ms: 1_000,
            breaker_max_cooldown_ms: 30_000,
            lag_threshold: 5,
            health_interval_ms: 1_000,
            poll_interval_ms: DEFAULT_POLL_INTERVAL_MS,
            block_push: true,
            start_block: None,
            low_gas_warning: crate::DEFAULT_LOW_GAS_WARNING,
            system_fee_margin: DEFAULT_SYSTEM_FEE_MARGIN,
            node_key: None,
            node_key_file: None,
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
            .field("poll_interval_ms", &self.poll_interval_ms)
            .field("block_push", &self.block_push)
            .field("start_block", &self.start_block)
            .field("low_gas_warning", &self.low_gas_warning)
            .field("system_fee_margin", &self.system_fee_margin)
            .field("node_key", &self.node_key)
            .field("node_key_file", &self.node_key_file)
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
        if self.low_gas_warning < 0 {
            return invalid(
                "low_gas_warning",
                "must not be negative (0 disables it)".into(),
            );
        }
        if self.system_fee_margin < 0 {
            return invalid(
                "system_fee_margin",
                "must not be negative (GAS fractions)".into(),
            );
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

/// Read a node key from its variable or file (`names`: the variable and the file key, for
/// messages). `Err` with a message (never the key) when neither is usable.
pub(crate) fn read_node_key(
    node_key: &Option<Secret>,
    node_key_file: &Option<PathBuf>,
    (var, file_key): (&str, &str),
) -> Result<Secret, String> {
    match (node_key, node_key_file) {
        (Some(_), Some(_)) => Err(format!("both {var} and {file_key} are set; keep one")),
        (Some(k), None) if !k.is_empty() => Ok(k.clone()),
        (_, Some(path)) => {
            let meta = std::fs::metadata(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            crate::check_owner_only(&meta).map_err(|e| format!("{}: {e}", path.display()))?;
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let key = Secret::new(text.trim());
            if key.is_empty() {
                return Err(format!("{} is empty", path.display()));
            }
            Ok(key)
        }
        _ => Err(format!("set {var} or {file_key}")),
    }
}
