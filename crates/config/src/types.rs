//! The config sections. Every struct rejects unknown keys and every field has a default, so a node
//! starts with no file at all.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Secret;

/// The whole node configuration. Sections are added by the crates that need them; names are stable.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[node]`: where the node keeps its files.
    pub node: NodeConfig,
    /// `[database]`: SQLite (default) or PostgreSQL.
    pub database: DatabaseConfig,
    /// `[log]`: log format and filter.
    pub log: LogConfig,
    /// `[api]`: the HTTP API listener and request limits.
    pub api: ApiConfig,
    /// `[auth]`: JWT signing and token lifetimes.
    pub auth: AuthConfig,
    /// `[rate_limit]`: token buckets per client IP and per API key.
    pub rate_limit: RateLimitConfig,
    /// `[chain]`: RPC endpoints of the Neo chain and their failover settings.
    pub chain: crate::ChainConfig,
    /// `[oracle]`: the oracle service (disabled by default).
    pub oracle: crate::OracleConfig,
    /// `[functions]`: the functions service's maxima and execution pool (enabled by default).
    pub functions: crate::FunctionsConfig,
    /// `[randomness]`: the randomness service (enabled by default).
    pub randomness: crate::RandomnessConfig,
    /// `[vault]`: the node's key vault (development mode switch).
    pub vault: VaultConfig,
    /// `[secrets]`: per-account quotas of the secrets service.
    pub secrets: SecretsConfig,
}

/// `[secrets]` section: operator quotas applied to every account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// Secret names per account at most (then `403 quota_exceeded`). Default 100.
    pub max_secrets_per_account: u32,
    /// Ciphertext bytes of all kept versions of an account's secrets at most (then `403
    /// quota_exceeded`). Default 4194304 (4 MiB).
    pub max_bytes_per_account: u64,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self {
            max_secrets_per_account: 100,
            max_bytes_per_account: 4 * 1024 * 1024,
        }
    }
}

/// `[vault]` section. The key-encryption key itself never comes from the config: it is
/// `NSL_VAULT_KEK` or `NSL_VAULT_KEK_FILE` (see docs/enclave.md).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultConfig {
    /// Development only: with no KEK configured, generate one into a file beside the vault state
    /// (which protects nothing). Default `false`: `nsl serve` without `NSL_VAULT_KEK` or
    /// `NSL_VAULT_KEK_FILE` refuses to start. `nsl dev` sets it.
    pub dev_mode: bool,
}

/// `[node]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// Directory for the node's files (SQLite database, generated JWT secret). Relative paths are
    /// relative to the working directory. Default `.nsl/data`.
    pub data_dir: PathBuf,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(".nsl/data"),
        }
    }
}

/// `[database]` section.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Empty: a SQLite file `nsl.db` in `node.data_dir`. Otherwise `sqlite://PATH` or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`. A password here is redacted in `config show`;
    /// prefer giving the URL through `NSL_DATABASE__URL`.
    pub url: String,
    /// Upper bound of pooled connections. Default 10.
    pub max_connections: u32,
    /// How long to wait for a free pooled connection, in milliseconds. Default 5000.
    pub acquire_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            max_connections: 10,
            acquire_timeout_ms: 5000,
        }
    }
}

impl DatabaseConfig {
    /// The URL with any password replaced by [`crate::REDACTED`]; safe to print.
    pub fn redacted_url(&self) -> String {
        redact_url_password(&self.url)
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout_ms", &self.acquire_timeout_ms)
            .finish()
    }
}

/// Replace the password of `scheme://user:password@host...` by the redaction marker.
pub(crate) fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => {
                format!("{scheme}://{user}:{}@{host}{tail}", crate::REDACTED)
            }
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// `[log]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `human` (default) or `json` (one JSON object per line).
    pub format: LogFormat,
    /// A level (`trace`, `debug`, `info`, `warn`, `error`) or comma-separated `target=level`
    /// directives, e.g. `info,sqlx=warn`. Default `info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            level: "info".into(),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// `[api]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Socket address of the HTTP listener. Default `127.0.0.1:8080`.
    pub listen: String,
    /// Largest accepted request body in bytes. Default 1 MiB.
    pub body_limit_bytes: u64,
    /// Per-request time limit in milliseconds. Default 10000.
    pub request_timeout_ms: u64,
    /// Take the client IP from `X-Forwarded-For` (only behind a trusted reverse proxy). Default false.
    /// Without `trusted_proxies` the last entry is taken (the one your proxy appended).
    pub trust_forwarded_for: bool,
    /// CIDRs of your reverse proxies (e.g. `["10.0.0.0/8"]`). When set (with
    /// `trust_forwarded_for`), `X-Forwarded-For` is used only when the socket peer is one of them,
    /// and walked right to left skipping them: the first address that is not a trusted proxy is the
    /// client. Default empty.
    pub trusted_proxies: Vec<String>,
    /// How long a client may take to send a complete request head (request line and headers),
    /// counted from its first byte, in milliseconds. Default 10000.
    pub header_read_timeout_ms: u64,
    /// How long an idle keep-alive connection (no request in flight, no byte of a new one) stays
    /// open, in milliseconds. Default 60000.
    pub keep_alive_timeout_ms: u64,
    /// Most client connections open at once; a connection beyond it is answered 503 `unavailable`
    /// and closed. Default 1024.
    pub max_connections: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            body_limit_bytes: 1024 * 1024,
            request_timeout_ms: 10_000,
            trust_forwarded_for: false,
            trusted_proxies: Vec::new(),
            header_read_timeout_ms: 10_000,
            keep_alive_timeout_ms: 60_000,
            max_connections: 1024,
        }
    }
}

impl ApiConfig {
    /// The listen address, parsed (validated by [`crate::Config::validate`]).
    pub fn listen_addr(&self) -> Result<std::net::SocketAddr, crate::ConfigError> {
        self.listen
            .parse()
            .map_err(|_| crate::ConfigError::Invalid {
                key: "api.listen".into(),
                message: format!(
                    "{:?} is not a socket address such as 127.0.0.1:8080",
                    self.listen
                ),
            })
    }
}

/// `[auth]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// HMAC key for access tokens. Only from `NSL_AUTH__JWT_SECRET` (never from the TOML file).
    /// When neither this nor `jwt_secret_file` is set, a random key is generated on first start and
    /// kept in `<data_dir>/jwt_secret` (mode 0600). See [`crate::Config::jwt_secret`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_secret: Option<Secret>,
    /// File holding the JWT key (surrounding whitespace is trimmed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_secret_file: Option<PathBuf>,
    /// Access token lifetime in seconds. Default 900.
    pub access_ttl_secs: u64,
    /// Refresh token lifetime in seconds. Default 30 days.
    pub refresh_ttl_secs: u64,
    /// Wallet login challenge lifetime in seconds. Default 300.
    pub challenge_ttl_secs: u64,
    /// Whether a wallet login of an unknown address creates a new `user` account (open sign-up).
    /// Default false for `nsl serve` (accounts are made by the operator, `nsl admin create-account
    /// --wallet`); `nsl dev` turns it on.
    pub open_signup: bool,
    /// The domain (RFC 3986 authority) a wallet login message is bound to, e.g. `app.example.com`.
    /// Empty (default): `api.listen`.
    pub login_domain: String,
    /// The URI a wallet login message is bound to, e.g. `https://app.example.com`. Empty
    /// (default): `http://` + the login domain.
    pub login_uri: String,
    /// Network magic of the Neo N3 network this deployment serves, written into (and checked in)
    /// the wallet login message. Default 860833102 (N3 MainNet).
    pub network_magic: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwt_secret_file: None,
            access_ttl_secs: 900,
            refresh_ttl_secs: 30 * 24 * 3600,
            challenge_ttl_secs: 300,
            open_signup: false,
            login_domain: String::new(),
            login_uri: String::new(),
            network_magic: 860_833_102,
        }
    }
}

/// A token bucket: refills `rate_per_sec` tokens per second up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// Sustained requests per second (may be fractional, e.g. 0.5). Must be > 0.
    pub rate_per_sec: f64,
    /// Largest burst of requests. Must be >= 1.
    pub burst: u32,
}

/// Route groups with their own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteGroup {
    /// Login, challenge, token refresh.
    Auth,
    /// Reading requests (GET).
    Read,
    /// Writing requests (POST, PUT, PATCH, DELETE).
    Write,
}

impl RouteGroup {
    /// All groups.
    pub const ALL: [RouteGroup; 3] = [RouteGroup::Auth, RouteGroup::Read, RouteGroup::Write];

    /// The group's config name.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteGroup::Auth => "auth",
            RouteGroup::Read => "read",
            RouteGroup::Write => "write",
        }
    }
}

/// Per-group overrides; a missing bucket falls back to the section-wide one.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupLimits {
    /// Bucket per client IP for this group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_ip: Option<Bucket>,
    /// Bucket per API key (or per session) for this group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_api_key: Option<Bucket>,
    /// Bucket per account (shared by all its keys and sessions) for this group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_account: Option<Bucket>,
}

/// `[rate_limit]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Whether limits are enforced. Default true.
    pub enabled: bool,
    /// Default bucket per client IP. Default 20/s, burst 40.
    pub per_ip: Bucket,
    /// Default bucket per API key (or session). Default 50/s, burst 100.
    pub per_api_key: Bucket,
    /// Default bucket per account, shared by all its API keys and sessions. Default 100/s,
    /// burst 200.
    pub per_account: Bucket,
    /// IPv6 clients share one per-IP bucket per network of this prefix length (a client usually
    /// holds a whole /64). 1..=128, default 64.
    pub ipv6_prefix_len: u8,
    /// Overrides per route group. Default: `auth` per IP 1/s, burst 10.
    pub groups: RouteGroups,
}

/// `[rate_limit.groups.*]`: overrides per route group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteGroups {
    /// `[rate_limit.groups.auth]`: login, challenge, refresh. Default per IP 1/s, burst 10.
    pub auth: GroupLimits,
    /// `[rate_limit.groups.read]`: reading requests. No override by default.
    pub read: GroupLimits,
    /// `[rate_limit.groups.write]`: writing requests. No override by default.
    pub write: GroupLimits,
}

impl Default for RouteGroups {
    fn default() -> Self {
        Self {
            auth: GroupLimits {
                per_ip: Some(Bucket {
                    rate_per_sec: 1.0,
                    burst: 10,
                }),
                per_api_key: None,
                per_account: None,
            },
            read: GroupLimits::default(),
            write: GroupLimits::default(),
        }
    }
}

impl RouteGroups {
    /// The overrides of one group.
    pub fn get(&self, group: RouteGroup) -> &GroupLimits {
        match group {
            RouteGroup::Auth => &self.auth,
            RouteGroup::Read => &self.read,
            RouteGroup::Write => &self.write,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            per_ip: Bucket {
                rate_per_sec: 20.0,
                burst: 40,
            },
            per_api_key: Bucket {
                rate_per_sec: 50.0,
                burst: 100,
            },
            per_account: Bucket {
                rate_per_sec: 100.0,
                burst: 200,
            },
            ipv6_prefix_len: 64,
            groups: RouteGroups::default(),
        }
    }
}

impl RateLimitConfig {
    /// Effective bucket per client IP for a group.
    pub fn per_ip_for(&self, group: RouteGroup) -> Bucket {
        self.groups.get(group).per_ip.unwrap_or(self.per_ip)
    }

    /// Effective bucket per API key for a group.
    pub fn per_api_key_for(&self, group: RouteGroup) -> Bucket {
        self.groups
            .get(group)
            .per_api_key
            .unwrap_or(self.per_api_key)
    }

    /// Effective bucket per account for a group.
    pub fn per_account_for(&self, group: RouteGroup) -> Bucket {
        self.groups
            .get(group)
            .per_account
            .unwrap_or(self.per_account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_url_passwords() {
        assert_eq!(
            redact_url_password("postgres://u:pw@db:5432/nsl?sslmode=require"),
            "postgres://u:<redacted>@db:5432/nsl?sslmode=require"
        );
        assert_eq!(
            redact_url_password("postgres://u@db/nsl"),
            "postgres://u@db/nsl"
        );
        assert_eq!(redact_url_password("sqlite://x.db"), "sqlite://x.db");
        assert_eq!(redact_url_password(""), "");
    }
}
