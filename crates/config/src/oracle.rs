//! `[oracle]` section: the oracle service (`nsl_oracle::service`) run by `nsl serve`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Secret;

/// `[oracle]` section. Disabled by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OracleConfig {
    /// Run the oracle service in `nsl serve`. Default `false`.
    pub enabled: bool,
    /// JSON-RPC URL of the Neo node the service follows and sends to. Default
    /// `http://127.0.0.1:20332`.
    pub rpc_url: String,
    /// Script hash (`0x...`) of the NSL gateway contract; empty answers native OracleContract
    /// requests only.
    pub gateway_hash: String,
    /// Deprecated alias of `chain.node_key` (`NSL_ORACLE__NODE_KEY`; never from the TOML
    /// file): used when `[chain]` sets no node key, with a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_key: Option<Secret>,
    /// Deprecated alias of `chain.node_key_file` (see `node_key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_key_file: Option<PathBuf>,
    /// Requests worked on at once (async tasks: fetch or handler, build, sign, broadcast).
    /// Default 128, so that a block full of requests is answered in the next block.
    pub workers: u32,
    /// Deprecated alias of `chain.poll_interval_ms` (applies when `[chain]` keeps its default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_interval_ms: Option<u64>,
    /// Deprecated alias of `chain.block_push` (applies when `[chain]` keeps its default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_push: Option<bool>,
    /// Deprecated alias of `chain.start_block` (applies when `[chain]` sets none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_block: Option<u32>,
    /// Name of this node in work claims; nodes sharing one PostgreSQL need different names.
    /// Empty (default): `nsl serve` derives it from the host name and the data directory, so it
    /// stays the same across restarts and a restarted node takes its unfinished work back at
    /// once instead of waiting for its old claims to expire.
    pub instance: String,
    /// Claims of a request whose worker did not give it back (crashed, hung, killed) before the
    /// request is answered with code `Error` instead of being worked on again. Default 3.
    pub max_attempts: u32,
    /// Egress: allow `http://` URLs (development only). Default `false`.
    pub allow_http: bool,
    /// Egress: allow private, loopback and link-local addresses (development only). Default
    /// `false`.
    pub allow_private_hosts: bool,
    /// Hard ceiling on the system + network fee of one gateway response transaction, in GAS
    /// fractions (10^-8 GAS), whatever the request's budget. Default `200000000` (2 GAS).
    pub max_response_fee: i64,
    /// Deprecated alias of `chain.low_gas_warning` (applies when `[chain]` keeps its default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low_gas_warning: Option<i64>,
    /// Most gateway answers sent in one transaction (`fulfillShare` calls, see docs/gateway.md
    /// "Batched answers"): answers ready together go out in one transaction. 1..=256, default
    /// 64; `1` sends every answer alone. Native OracleContract answers are always one per
    /// transaction.
    pub max_batch: u32,
    /// URL fetches of oracle requests running at once (the rest of a burst waits for a slot
    /// before fetching; handlers such as functions are not counted). Default 16; at least 1.
    /// Hundreds of concurrent TLS handshakes starve the CPU the node also needs to build, sign
    /// and send (docs/benchmarks.md).
    pub max_fetches: u32,
}

impl Default for OracleConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            rpc_url: "http://127.0.0.1:20332".into(),
            gateway_hash: String::new(),
            node_key: None,
            node_key_file: None,
            workers: 128,
            poll_interval_ms: None,
            block_push: None,
            start_block: None,
            instance: String::new(),
            max_attempts: 3,
            allow_http: false,
            allow_private_hosts: false,
            max_response_fee: DEFAULT_MAX_RESPONSE_FEE,
            low_gas_warning: None,
            max_batch: DEFAULT_MAX_BATCH,
            max_fetches: DEFAULT_MAX_FETCHES,
        }
    }
}

/// Default `oracle.max_response_fee`: 2 GAS.
pub const DEFAULT_MAX_RESPONSE_FEE: i64 = 200_000_000;
/// Default `oracle.max_batch`.
pub const DEFAULT_MAX_BATCH: u32 = 64;
/// Largest `oracle.max_batch` (the batch script's limit of calls).
pub const MAX_MAX_BATCH: u32 = 256;
/// Default `oracle.max_fetches`.
pub const DEFAULT_MAX_FETCHES: u32 = 16;
/// Default `chain.low_gas_warning`: 5 GAS.
pub const DEFAULT_LOW_GAS_WARNING: i64 = 500_000_000;

impl OracleConfig {
    /// Check value ranges.
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        let invalid = |key: &str, message: &str| {
            Err(crate::ConfigError::Invalid {
                key: format!("oracle.{key}"),
                message: message.to_string(),
            })
        };
        if self.max_response_fee <= 0 {
            return invalid(
                "max_response_fee",
                "must be positive (GAS fractions, 100000000 = 1 GAS)",
            );
        }
        if self.low_gas_warning.is_some_and(|w| w < 0) {
            return invalid("low_gas_warning", "must not be negative (0 disables it)");
        }
        if !(1..=MAX_MAX_BATCH).contains(&self.max_batch) {
            return invalid(
                "max_batch",
                "must be 1..=256 (answers per transaction; 1 = no batching)",
            );
        }
        if self.max_fetches == 0 {
            return invalid("max_fetches", "must be at least 1 (URL fetches at once)");
        }
        Ok(())
    }

    /// The node key of the deprecated `[oracle]` keys: `NSL_ORACLE__NODE_KEY`, else the content
    /// of `node_key_file`. `Err` with a message (never the key) when neither is usable. Use
    /// [`crate::Config::node_key`], which prefers `[chain]`.
    pub fn node_key(&self) -> Result<Secret, String> {
        crate::chain::read_node_key(
            &self.node_key,
            &self.node_key_file,
            ("NSL_ORACLE__NODE_KEY", "oracle.node_key_file"),
        )
    }

    /// Whether a node key is set here (deprecated `[oracle]` keys).
    pub fn has_node_key(&self) -> bool {
        self.node_key.is_some() || self.node_key_file.is_some()
    }
}
