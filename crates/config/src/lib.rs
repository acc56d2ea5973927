//! Typed node configuration: TOML file plus `NSL_*` environment overrides.
//!
//! ```text
//! built-in defaults  <--deep merge--  TOML file (optional)  <--  NSL_<SECTION>__<KEY> env vars
//!        \_________________________ one Config, validated _________________________/
//! ```
//!
//! - With no file and no variables, [`Config::default`] runs a local node: SQLite in `.nsl/data`,
//!   API on `127.0.0.1:8080`.
//! - A file only needs the keys it changes; tables merge key by key with the defaults.
//! - Environment overrides use two underscores between path segments:
//!   `NSL_API__LISTEN=0.0.0.0:8080`, `NSL_DATABASE__URL=postgres://...`,
//!   `NSL_RATE_LIMIT__GROUPS__AUTH__PER_IP__BURST=5`. The value is typed by the key (an integer key
//!   needs an integer). Variables without `__` are not config keys (e.g. `NSL_CONFIG`), except that a
//!   near miss of a real key such as `NSL_API_LISTEN` is rejected with a hint.
//!
//! Invariants:
//! - Unknown keys, in the file or in `NSL_*__*` variables, are errors naming the key.
//! - Secrets never come from the TOML file: `auth.jwt_secret` there is an error pointing to
//!   `NSL_AUTH__JWT_SECRET` or `auth.jwt_secret_file`. Secret values are [`Secret`]s, redacted in
//!   Debug, Display and serialized output ([`Config::to_redacted_toml`]).
//! - [`Config::load`] returns only validated configs ([`Config::validate`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod chain;
mod functions;
mod oracle;
mod randomness;
mod secret;
mod types;

pub use chain::{ChainConfig, DEFAULT_POLL_INTERVAL_MS, DEFAULT_SYSTEM_FEE_MARGIN};
pub use functions::{FunctionsConfig, MIN_FUNCTION_MEMORY_BYTES};
pub use oracle::{
    DEFAULT_LOW_GAS_WARNING, DEFAULT_MAX_BATCH, DEFAULT_MAX_FETCHES, DEFAULT_MAX_RESPONSE_FEE,
    MAX_MAX_BATCH, OracleConfig,
};
pub use randomness::{MAX_RANDOMNESS_WORDS, RandomnessConfig};
pub use secret::{REDACTED, Secret};
pub use types::{
    ApiConfig, AuthConfig, Bucket, Config, DatabaseConfig, GroupLimits, LogConfig, LogFormat,
    NodeConfig, RateLimitConfig, RouteGroup, RouteGroups, SecretsConfig, VaultConfig,
};

/// Prefix of environment overrides.
pub const ENV_PREFIX: &str = "NSL_";

/// Name of the generated JWT key file inside `node.data_dir`.
pub const JWT_SECRET_FILE_NAME: &str = "jwt_secret";

/// Name of the default SQLite database file inside `node.data_dir`.
pub const SQLITE_FILE_NAME: &str = "nsl.db";

/// Keys that must never be written in the TOML file, with where to put them instead.
const SECRET_KEYS: &[(&str, &str)] = &[
    (
        "auth.jwt_secret",
        "set NSL_AUTH__JWT_SECRET or point auth.jwt_secret_file at a file",
    ),
    (
        "chain.node_key",
        "set NSL_CHAIN__NODE_KEY or point chain.node_key_file at a file",
    ),
    (
        "oracle.node_key",
        "set NSL_CHAIN__NODE_KEY or point chain.node_key_file at a file",
    ),
];

/// Minimum length of the JWT key.
const MIN_JWT_SECRET_LEN: usize = 32;

/// Configuration errors. Messages name the key, file or variable at fault and never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML, has an unknown key or a value of the wrong type.
    #[error("config file {path}{location}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// `, line N` when known.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A secret was written in the config file.
    #[error(
        "config file {path}: `{key}` must not be in the config file (secrets only from the environment or files): {hint}"
    )]
    SecretInFile {
        /// The file.
        path: PathBuf,
        /// The dotted key.
        key: String,
        /// Where the secret belongs.
        hint: &'static str,
    },
    /// An `NSL_*` environment variable is unknown or has a bad value.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable name (its value is never shown).
        var: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid config `{key}`: {message}")]
    Invalid {
        /// The dotted key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The JWT key file could not be read, created or has unsafe permissions.
    #[error("JWT secret file {path}: {message}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Load from an optional TOML file plus the process environment, then validate.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let env = std::env::vars_os().filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            if !k.starts_with(ENV_PREFIX) {
                return None;
            }
            // A non-UTF-8 value of an NSL_ variable is kept as lossy text so it fails visibly.
            Some((k, v.to_string_lossy().into_owned()))
        });
        Self::load_from(path, env)
    }

    /// Load from an optional TOML file plus the given `NSL_*` variables (tests pass their own),
    /// then validate.
    pub fn load_from(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let file = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?;
                Some((p, text))
            }
            None => None,
        };
        let cfg = Self::build(file.as_ref().map(|(p, t)| (*p, t.as_str())), env)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parse a TOML text as if it were the file `origin` (no environment), then validate.
    pub fn from_toml_str(origin: &Path, text: &str) -> Result<Config, ConfigError> {
        let cfg = Self::build(Some((origin, text)), std::iter::empty())?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn build(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let defaults = to_table(&Config::default());
        let mut merged = defaults.clone();
        if let Some((path, text)) = file {
            let file_err = |e: toml::de::Error| {
                let before = e.span().and_then(|s| text.get(..s.start));
                let location = before
                    .map(|b| format!(", line {}", b.matches('\n').count() + 1))
                    .unwrap_or_default();
                let mut message = e.message().trim().to_string();
                // Name the full dotted key of an unknown field: `api.lisen`, not just `lisen`.
                if let (Some(field), Some(before)) = (unknown_field(&message), before) {
                    let key = match enclosing_table(before) {
                        Some(table) => format!("{table}.{field}"),
                        None => field.to_string(),
                    };
                    message = format!("unknown key `{key}` ({message})");
                }
                ConfigError::File {
                    path: path.to_path_buf(),
                    location,
                    message,
                }
            };
            let table: toml::Table = toml::from_str(text).map_err(file_err)?;
            for (key, hint) in SECRET_KEYS {
                if lookup(&table, &key.split('.').collect::<Vec<_>>()).is_some() {
                    return Err(ConfigError::SecretInFile {
                        path: path.to_path_buf(),
                        key: (*key).to_string(),
                        hint,
                    });
                }
            }
            // Typed parse of the file alone: unknown keys and wrong types reported with a line.
            toml::from_str::<Config>(text).map_err(file_err)?;
            deep_merge(&mut merged, table);
        }
        let env: BTreeMap<String, String> = env.into_iter().collect();
        for (var, value) in &env {
            apply_env_var(&mut merged, &defaults, var, value)?;
        }
        let mut cfg =
            Config::deserialize(toml::Value::Table(merged)).map_err(|e| ConfigError::Invalid {
                key: "(merged config)".into(),
                message: e.message().to_string(),
            })?;
        cfg.apply_deprecated_aliases();
        Ok(cfg)
    }

    /// The `[oracle]` keys that moved to `[chain]` apply where `[chain]` keeps its default.
    fn apply_deprecated_aliases(&mut self) {
        let (oracle, chain) = (&self.oracle, &mut self.chain);
        let default = ChainConfig::default();
        if let Some(v) = oracle.poll_interval_ms
            && chain.poll_interval_ms == default.poll_interval_ms
        {
            chain.poll_interval_ms = v;
        }
        if let Some(v) = oracle.block_push
            && chain.block_push == default.block_push
        {
            chain.block_push = v;
        }
        if chain.start_block.is_none() {
            chain.start_block = oracle.start_block;
        }
        if let Some(v) = oracle.low_gas_warning
            && chain.low_gas_warning == default.low_gas_warning
        {
            chain.low_gas_warning = v;
        }
    }

    /// Warnings for the deprecated `[oracle]` keys this config sets (their `[chain]` names).
    pub fn deprecations(&self) -> Vec<String> {
        let o = &self.oracle;
        let set = [
            ("poll_interval_ms", o.poll_interval_ms.is_some()),
            ("block_push", o.block_push.is_some()),
            ("start_block", o.start_block.is_some()),
            ("low_gas_warning", o.low_gas_warning.is_some()),
            ("node_key", o.node_key.is_some()),
            ("node_key_file", o.node_key_file.is_some()),
        ];
        set.iter()
            .filter(|(_, is_set)| *is_set)
            .map(|(key, _)| {
                format!(
                    "oracle.{key} is deprecated (the node's chain runtime is shared by every \
                     service): use chain.{key}; it applies while chain.{key} keeps its default"
                )
            })
            .collect()
    }

    /// The node key (the node account: signs and pays; the native oracle's designated key) and
    /// the config key it came from: `[chain]` (`NSL_CHAIN__NODE_KEY` or `chain.node_key_file`),
    /// else the deprecated `[oracle]` keys. `Err` with a message (never the key).
    pub fn node_key(&self) -> Result<(Secret, &'static str), String> {
        let chain = &self.chain;
        if chain.node_key.is_some() || chain.node_key_file.is_some() || !self.oracle.has_node_key()
        {
            return chain::read_node_key(
                &chain.node_key,
                &chain.node_key_file,
                ("NSL_CHAIN__NODE_KEY", "chain.node_key_file"),
            )
            .map(|k| (k, "chain.node_key"))
            .map_err(|e| format!("chain.node_key: {e}"));
        }
        self.oracle
            .node_key()
            .map(|k| (k, "oracle.node_key"))
            .map_err(|e| format!("oracle.node_key: {e}"))
    }

    /// Check ranges and consistency. Reads `auth.jwt_secret_file` if set (it must hold a usable key).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| {
            Err(ConfigError::Invalid {
                key: key.to_string(),
                message,
            })
        };
        if self.node.data_dir.as_os_str().is_empty() {
            return invalid("node.data_dir", "must not be empty".into());
        }
        let url = self.database.url.as_str();
        if !(url.is_empty()
            || url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return invalid(
                "database.url",
                format!(
                    "{:?} is not supported: use empty (SQLite in node.data_dir), sqlite://PATH or postgres://...",
                    self.database.redacted_url()
                ),
            );
        }
        if !(1..=10_000).contains(&self.database.max_connections) {
            return invalid(
                "database.max_connections",
                "must be between 1 and 10000".into(),
            );
        }
        if self.database.acquire_timeout_ms == 0 {
            return invalid("database.acquire_timeout_ms", "must be at least 1".into());
        }
        validate_log_level(&self.log.level)?;
        self.api.listen_addr()?;
        if self.api.body_limit_bytes == 0 {
            return invalid("api.body_limit_bytes", "must be at least 1".into());
        }
        if self.api.request_timeout_ms == 0 {
            return invalid("api.request_timeout_ms", "must be at least 1".into());
        }
        for p in &self.api.trusted_proxies {
            if parse_cidr(p).is_none() {
                return invalid(
                    "api.trusted_proxies",
                    format!("{p:?} is not an address or CIDR such as 10.0.0.0/8"),
                );
            }
        }
        if self.api.header_read_timeout_ms == 0 {
            return invalid("api.header_read_timeout_ms", "must be at least 1".into());
        }
        if self.api.keep_alive_timeout_ms == 0 {
            return invalid("api.keep_alive_timeout_ms", "must be at least 1".into());
        }
        if self.api.max_connections == 0 {
            return invalid("api.max_connections", "must be at least 1".into());
        }
        let auth = &self.auth;
        if auth.jwt_secret.is_some() && auth.jwt_secret_file.is_some() {
            return invalid(
                "auth.jwt_secret",
                "both NSL_AUTH__JWT_SECRET and auth.jwt_secret_file are set; keep one".into(),
            );
        }
        if let Some(s) = &auth.jwt_secret {
            check_secret_len(s).map_err(|message| ConfigError::Invalid {
                key: "auth.jwt_secret".into(),
                message,
            })?;
        }
        if let Some(p) = &auth.jwt_secret_file {
            read_secret_file(p)?;
        }
        if auth.jwt_secret.is_none() && auth.jwt_secret_file.is_none() {
            // A previously generated key must still be private and usable (not created here).
            let path = self.node.data_dir.join(JWT_SECRET_FILE_NAME);
            read_generated_secret(&path).map_err(|message| ConfigError::SecretFile {
                path: path.clone(),
                message,
            })?;
        }
        if auth.access_ttl_secs == 0 {
            return invalid("auth.access_ttl_secs", "must be at least 1".into());
        }
        if auth.refresh_ttl_secs <= auth.access_ttl_secs {
            return invalid(
                "auth.refresh_ttl_secs",
                format!(
                    "must be greater than auth.access_ttl_secs ({})",
                    auth.access_ttl_secs
                ),
            );
        }
        for (key, v) in [
            ("auth.login_domain", &auth.login_domain),
            ("auth.login_uri", &auth.login_uri),
        ] {
            if v.chars().any(char::is_control) {
                return invalid(key, "must not contain control characters".into());
            }
        }
        if auth.challenge_ttl_secs == 0 {
            return invalid("auth.challenge_ttl_secs", "must be at least 1".into());
        }
        check_bucket("rate_limit.per_ip", &self.rate_limit.per_ip)?;
        check_bucket("rate_limit.per_api_key", &self.rate_limit.per_api_key)?;
        check_bucket("rate_limit.per_account", &self.rate_limit.per_account)?;
        if !(1..=128).contains(&self.rate_limit.ipv6_prefix_len) {
            return invalid(
                "rate_limit.ipv6_prefix_len",
                "must be between 1 and 128".into(),
            );
        }
        for group in RouteGroup::ALL {
            let g = self.rate_limit.groups.get(group);
            if let Some(b) = &g.per_ip {
                check_bucket(&format!("rate_limit.groups.{}.per_ip", group.as_str()), b)?;
            }
            if let Some(b) = &g.per_api_key {
                check_bucket(
                    &format!("rate_limit.groups.{}.per_api_key", group.as_str()),
                    b,
                )?;
            }
            if let Some(b) = &g.per_account {
                check_bucket(
                    &format!("rate_limit.groups.{}.per_account", group.as_str()),
                    b,
                )?;
            }
        }
        self.functions.validate()?;
        self.randomness.validate()?;
        self.oracle.validate()?;
        self.chain.validate()?;
        Ok(())
    }

    /// The database URL to connect to: `database.url`, or the SQLite file `nsl.db` in
    /// `node.data_dir` when it is empty.
    /// The default path is made absolute (relative to the working directory).
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            let path = self.sqlite_default_path();
            let path = std::path::absolute(&path).unwrap_or(path);
            format!("sqlite://{}", path.display())
        } else {
            self.database.url.clone()
        }
    }

    /// Path of the default SQLite file (`<data_dir>/nsl.db`).
    pub fn sqlite_default_path(&self) -> PathBuf {
        self.node.data_dir.join(SQLITE_FILE_NAME)
    }

    /// The JWT signing key: `NSL_AUTH__JWT_SECRET`, else the content of `auth.jwt_secret_file`,
    /// else `<data_dir>/jwt_secret`, generated (32 random bytes, hex) with mode 0600 on first use.
    /// An existing generated file readable by group or others is refused.
    pub fn jwt_secret(&self) -> Result<Secret, ConfigError> {
        if let Some(s) = &self.auth.jwt_secret {
            return Ok(s.clone());
        }
        if let Some(p) = &self.auth.jwt_secret_file {
            return read_secret_file(p);
        }
        let path = self.node.data_dir.join(JWT_SECRET_FILE_NAME);
        let err = |message: String| ConfigError::SecretFile {
            path: path.clone(),
            message,
        };
        match read_generated_secret(&path) {
            Ok(Some(s)) => return Ok(s),
            Ok(None) => {}
            Err(m) => return Err(err(m)),
        }
        create_private_dir(&self.node.data_dir)
            .map_err(|e| err(format!("cannot create data dir: {e}")))?;
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        let secret = Secret::new(hex::encode(bytes));
        zeroize::Zeroize::zeroize(&mut bytes);
        match write_new_private_file(&path, secret.expose()) {
            Ok(()) => Ok(secret),
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_generated_secret(&path)
                .map_err(err)?
                .ok_or_else(|| err("vanished".into())),
            Err(e) => Err(err(format!("cannot create: {e}"))),
        }
    }

    /// The domain wallet login messages are bound to: `auth.login_domain`, else `api.listen`.
    pub fn login_domain(&self) -> String {
        let d = self.auth.login_domain.trim();
        if d.is_empty() {
            self.api.listen.clone()
        } else {
            d.to_string()
        }
    }

    /// The URI wallet login messages are bound to: `auth.login_uri`, else `http://` + the domain.
    pub fn login_uri(&self) -> String {
        let u = self.auth.login_uri.trim();
        if u.is_empty() {
            format!("http://{}", self.login_domain())
        } else {
            u.to_string()
        }
    }

    /// The effective config as TOML with every secret (and any database password) redacted.
    pub fn to_redacted_toml(&self) -> String {
        let table = self.redacted_table();
        toml::to_string_pretty(&table).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }

    /// The effective config as JSON with every secret (and any database password) redacted.
    pub fn to_redacted_json(&self) -> serde_json::Value {
        serde_json::to_value(self.redacted_table()).unwrap_or(serde_json::Value::Null)
    }

    fn redacted_table(&self) -> toml::Table {
        let mut table = to_table(self);
        if let Some(toml::Value::Table(db)) = table.get_mut("database") {
            db.insert(
                "url".into(),
                toml::Value::String(self.database.redacted_url()),
            );
        }
        if let Some(toml::Value::Table(chain)) = table.get_mut("chain") {
            let urls = self.chain.redacted_rpc_urls();
            chain.insert(
                "rpc_urls".into(),
                toml::Value::Array(urls.into_iter().map(toml::Value::String).collect()),
            );
        }
        if let Some(toml::Value::Table(oracle)) = table.get_mut("oracle") {
            oracle.insert(
                "rpc_url".into(),
                toml::Value::String(chain::redact_endpoint(&self.oracle.rpc_url)),
            );
        }
        table
    }
}

/// Parse `ADDRESS` or `ADDRESS/PREFIX` into the network address and prefix length (host bits kept;
/// callers compare under the mask).
pub fn parse_cidr(s: &str) -> Option<(std::net::IpAddr, u8)> {
    let s = s.trim();
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: std::net::IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse::<u8>().ok()?
        }
        Some(_) => return None,
        None => max,
    };
    (prefix <= max).then_some((addr, prefix))
}

/// The field name of serde's "unknown field `x`, expected ..." message.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(f, _)| f)
}

/// The `[table]` / `[[table]]` header in effect at the end of `before` (TOML text up to an error).
fn enclosing_table(before: &str) -> Option<String> {
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    // The error may point at a key inside a header line itself (`[rate_limit.groups.admin]`).
    let current = before.get(line_start..).unwrap_or("").trim_start();
    if current.starts_with('[') {
        let inner = current.trim_start_matches('[').trim();
        let parent = inner.trim_end_matches('.');
        return (!parent.is_empty()).then(|| parent.to_string());
    }
    before.lines().rev().find_map(|line| {
        let t = line.trim();
        if !t.starts_with('[') {
            return None;
        }
        let end = t.find(']')?;
        Some(t.get(..end)?.trim_start_matches('[').trim().to_string())
    })
}

fn to_table(cfg: &Config) -> toml::Table {
    // Serializing plain structs of strings, numbers and bools into a table cannot fail.
    toml::Table::try_from(cfg).unwrap_or_default()
}

fn lookup<'a>(table: &'a toml::Table, path: &[&str]) -> Option<&'a toml::Value> {
    let (first, rest) = path.split_first()?;
    let v = table.get(*first)?;
    if rest.is_empty() {
        return Some(v);
    }
    match v {
        toml::Value::Table(t) => lookup(t, rest),
        _ => None,
    }
}

fn deep_merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => deep_merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Set `path` to `value` in `table`, creating intermediate tables.
fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("empty key".into());
    };
    let mut cur = table;
    for (i, seg) in parents.iter().enumerate() {
        let entry = cur
            .entry(seg.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = match entry {
            toml::Value::Table(t) => t,
            _ => {
                return Err(format!(
                    "`{}` is a value, not a section",
                    path[..=i].join(".")
                ));
            }
        };
    }
    cur.insert(last.clone(), value);
    Ok(())
}

fn apply_env_var(
    merged: &mut toml::Table,
    defaults: &toml::Table,
    var: &str,
    value: &str,
) -> Result<(), ConfigError> {
    let env_err = |message: String| ConfigError::Env {
        var: var.to_string(),
        message,
    };
    let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
        return Ok(());
    };
    if !rest.contains("__") {
        // Only a near miss of a real key (NSL_API_LISTEN for api.listen) is an error; other
        // NSL_ variables (NSL_CONFIG, NSL_API_KEY for a client, ...) are not config.
        let lower = rest.to_ascii_lowercase();
        for (section, keys) in defaults {
            let Some(key) = lower.strip_prefix(&format!("{section}_")) else {
                continue;
            };
            let known = matches!(keys, toml::Value::Table(t) if t.contains_key(key))
                || SECRET_KEYS
                    .iter()
                    .any(|(k, _)| *k == format!("{section}.{key}"));
            if known {
                return Err(env_err(format!(
                    "not a config override; separate section and key with two underscores: \
                     NSL_{}__{}",
                    section.to_ascii_uppercase(),
                    key.to_ascii_uppercase()
                )));
            }
        }
        return Ok(());
    }
    let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
    if path.iter().any(|s| s.is_empty()) {
        return Err(env_err(
            "empty key segment (three or more underscores in a row?)".into(),
        ));
    }
    let dotted = path.join(".");
    let refs: Vec<&str> = path.iter().map(String::as_str).collect();
    let candidates: Vec<toml::Value> = match lookup(defaults, &refs) {
        Some(toml::Value::String(_)) => vec![toml::Value::String(value.to_string())],
        Some(toml::Value::Integer(_)) => match value.trim().parse::<i64>() {
            Ok(i) => vec![toml::Value::Integer(i)],
            Err(_) => return Err(env_err(format!("`{dotted}` expects an integer"))),
        },
        Some(toml::Value::Float(_)) => match value.trim().parse::<f64>() {
            Ok(f) => vec![toml::Value::Float(f)],
            Err(_) => return Err(env_err(format!("`{dotted}` expects a number"))),
        },
        Some(toml::Value::Boolean(_)) => match value.trim() {
            "true" | "1" => vec![toml::Value::Boolean(true)],
            "false" | "0" => vec![toml::Value::Boolean(false)],
            _ => return Err(env_err(format!("`{dotted}` expects true or false"))),
        },
        // Lists (e.g. `api.trusted_proxies`): comma-separated strings.
        Some(toml::Value::Array(_)) => vec![toml::Value::Array(
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        )],
        Some(toml::Value::Table(_)) => {
            return Err(env_err(format!(
                "`{dotted}` is a section; set its keys, e.g. {var}__<KEY>"
            )));
        }
        Some(_) => vec![toml::Value::String(value.to_string())],
        // Optional keys have no default value to learn the type from: try the plausible types.
        None => {
            let mut c = Vec::new();
            if let Ok(i) = value.trim().parse::<i64>() {
                c.push(toml::Value::Integer(i));
            }
            if let Ok(f) = value.trim().parse::<f64>() {
                c.push(toml::Value::Float(f));
            }
            if let Ok(b) = value.trim().parse::<bool>() {
                c.push(toml::Value::Boolean(b));
            }
            c.push(toml::Value::String(value.to_string()));
            c
        }
    };
    let mut first_error = None;
    for candidate in candidates {
        let mut trial = merged.clone();
        set_path(&mut trial, &path, candidate.clone()).map_err(&env_err)?;
        match Config::deserialize(toml::Value::Table(trial)) {
            Ok(_) => {
                set_path(merged, &path, candidate).map_err(&env_err)?;
                return Ok(());
            }
            Err(e) => {
                first_error.get_or_insert_with(|| e.message().to_string());
            }
        }
    }
    let message = first_error.unwrap_or_default();
    if message.contains("unknown field") {
        Err(env_err(format!(
            "unknown config key `{dotted}` ({message})"
        )))
    } else {
        Err(env_err(format!("config key `{dotted}`: {message}")))
    }
}

fn validate_log_level(level: &str) -> Result<(), ConfigError> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let bad = |message: String| {
        Err(ConfigError::Invalid {
            key: "log.level".into(),
            message,
        })
    };
    if level.trim().is_empty() {
        return bad("must not be empty; use e.g. \"info\" or \"info,sqlx=warn\"".into());
    }
    for directive in level.split(',') {
        let directive = directive.trim();
        let lvl = match directive.split_once('=') {
            Some((target, lvl)) => {
                let ok_target = !target.is_empty()
                    && target
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_:-".contains(c));
                if !ok_target {
                    return bad(format!("bad target in directive {directive:?}"));
                }
                lvl
            }
            None => directive,
        };
        if !LEVELS.contains(&lvl.to_ascii_lowercase().as_str()) {
            return bad(format!(
                "unknown level {lvl:?} in {directive:?}; use trace, debug, info, warn, error or off"
            ));
        }
    }
    Ok(())
}

fn check_bucket(key: &str, b: &Bucket) -> Result<(), ConfigError> {
    if !(b.rate_per_sec.is_finite() && b.rate_per_sec > 0.0) {
        return Err(ConfigError::Invalid {
            key: format!("{key}.rate_per_sec"),
            message: "must be a number greater than 0".into(),
        });
    }
    if b.burst == 0 {
        return Err(ConfigError::Invalid {
            key: format!("{key}.burst"),
            message: "must be at least 1".into(),
        });
    }
    Ok(())
}

fn check_secret_len(s: &Secret) -> Result<(), String> {
    if s.expose().len() < MIN_JWT_SECRET_LEN {
        return Err(format!("must be at least {MIN_JWT_SECRET_LEN} characters"));
    }
    Ok(())
}

fn read_secret_file(path: &Path) -> Result<Secret, ConfigError> {
    let err = |message: String| ConfigError::SecretFile {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let secret = Secret::new(text.trim());
    check_secret_len(&secret).map_err(err)?;
    Ok(secret)
}

/// Read the generated key; `Ok(None)` when it does not exist yet.
fn read_generated_secret(path: &Path) -> Result<Option<Secret>, String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read: {e}")),
    };
    check_owner_only(&meta)?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let secret = Secret::new(text.trim());
    check_secret_len(&secret)?;
    Ok(Some(secret))
}

/// A file holding a secret (the generated JWT key, the oracle node key) must be readable by its
/// owner only: `Err` with the reason otherwise (Unix; elsewhere every file passes).
pub(crate) fn check_owner_only(meta: &std::fs::Metadata) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "permissions are {mode:o}; it must be readable by the owner only (chmod 600)"
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
}

/// Create a directory (and missing parents) readable by the owner only (0700 on Unix); existing
/// directories keep their permissions.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

fn write_new_private_file(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests;
