//! Host capabilities handed to user code: outbound HTTP and secrets.
//!
//! The sandbox performs every policy check it owns (allowlist, request count, request size,
//! grants) *before* calling a host, so a host only ever sees requests the function was allowed
//! to make. Hosts are called synchronously on the executing thread; they must respect the
//! deadline they are given.

use std::fmt;
use std::time::Instant;

use zeroize::Zeroizing;

/// Error a host returns to the sandbox. Its `Display` text is shown to the user script (and
/// ends up in execution reports), so it must never contain secret values or internal details.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The host refused the request by policy (for example the egress SSRF guard).
    #[error("refused: {0}")]
    Refused(String),
    /// The request did not finish before the execution deadline.
    #[error("timed out")]
    Timeout,
    /// The response body exceeded the size the sandbox asked for.
    #[error("response larger than {limit} bytes")]
    ResponseTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// Any other failure (connection refused, TLS, backend unavailable ...).
    #[error("failed: {0}")]
    Failed(String),
}

/// Who is executing: passed to hosts for scoping and auditing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionScope {
    /// Owner (user / account) of the function.
    pub owner: String,
    /// Function identifier.
    pub function_id: String,
}

/// An outbound HTTP request that passed the sandbox checks.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    /// Upper-case method: GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS.
    pub method: String,
    /// Absolute http(s) URL whose host is on the function's allowlist.
    pub url: url::Url,
    /// Header names (lower-case) and values, in the order the script gave them.
    pub headers: Vec<(String, String)>,
    /// Request body (empty when none).
    pub body: Vec<u8>,
    /// The host must not return (and should not read) more body bytes than this.
    pub max_response_bytes: usize,
    /// The host must give up by this instant and return [`HostError::Timeout`].
    pub deadline: Instant,
}

/// The host's answer to a [`FetchRequest`].
#[derive(Debug, Clone, Default)]
pub struct FetchResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers (any case; the sandbox lower-cases names).
    pub headers: Vec<(String, String)>,
    /// Response body, at most `max_response_bytes` long.
    pub body: Vec<u8>,
}

/// Outbound HTTP for user code. The node implements it with the egress crate.
pub trait FetchHost: Send + Sync {
    /// Perform one request. Called on the executing (blocking) thread.
    fn fetch(
        &self,
        scope: &ExecutionScope,
        request: &FetchRequest,
    ) -> Result<FetchResponse, HostError>;
}

/// A secret value: zeroed on drop, redacted in `Debug`.
#[derive(Clone)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    /// Wrap a secret.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret text. Keep the borrow short; never log it.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// Secret storage for user code. Called only for names granted to the executing function.
pub trait SecretsHost: Send + Sync {
    /// The secret `name` of `scope`, `Ok(None)` when it does not exist.
    fn get(&self, scope: &ExecutionScope, name: &str) -> Result<Option<SecretValue>, HostError>;
}

/// A [`FetchHost`] that refuses everything (for nodes without egress).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFetch;

impl FetchHost for NoFetch {
    fn fetch(&self, _: &ExecutionScope, _: &FetchRequest) -> Result<FetchResponse, HostError> {
        Err(HostError::Refused(
            "outbound HTTP is disabled on this node".into(),
        ))
    }
}

/// A [`SecretsHost`] without any secrets.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSecrets;

impl SecretsHost for NoSecrets {
    fn get(&self, _: &ExecutionScope, _: &str) -> Result<Option<SecretValue>, HostError> {
        Ok(None)
    }
}

/// One entry of a function's fetch allowlist: `api.example.com` (exactly that host) or
/// `*.example.com` (any subdomain, not the apex). Matching is case-insensitive; IP literals
/// must be listed exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    suffix: bool,
    host: String,
}

impl HostPattern {
    /// Parse a pattern; `None` for empty or malformed entries (which then match nothing).
    pub fn parse(pattern: &str) -> Option<Self> {
        let p = pattern.trim().to_ascii_lowercase();
        let (suffix, host) = match p.strip_prefix("*.") {
            Some(rest) => (true, rest.to_string()),
            None => (false, p),
        };
        let valid = !host.is_empty()
            && !host.contains('*')
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        valid.then_some(Self { suffix, host })
    }

    /// Whether `host` (as in a parsed URL) is matched.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        if self.suffix {
            host.strip_suffix(self.host.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'))
        } else {
            host == self.host
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        let exact = HostPattern::parse("API.Example.com").expect("valid");
        assert!(exact.matches("api.example.com"));
        assert!(!exact.matches("x.api.example.com"));
        assert!(!exact.matches("api.example.com.evil.net"));
        let wild = HostPattern::parse("*.example.com").expect("valid");
        assert!(wild.matches("a.example.com"));
        assert!(wild.matches("a.b.example.com"));
        assert!(!wild.matches("example.com"));
        assert!(!wild.matches("badexample.com"));
        assert!(HostPattern::parse("").is_none());
        assert!(HostPattern::parse("*").is_none());
        assert!(HostPattern::parse("a/b").is_none());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = SecretValue::new("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }
}
