//! The operator's egress policy and the per-call options.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ip::{BlockReason, IpNetwork, blocked_reason};

/// Default cap on a response body: 1 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 1024 * 1024;
/// Default total time budget of one fetch: 10 s.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Default number of redirects followed (as Neo's reference oracle).
pub const DEFAULT_MAX_REDIRECTS: u32 = 2;

/// What the node may fetch. Deserializable from the `[egress]` config section; every key has a
/// production-safe default (`EgressPolicy::default()`): HTTPS only, public addresses only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EgressPolicy {
    /// Allow plain `http://` URLs. Default `false`: HTTPS only. A redirect from HTTPS to HTTP is
    /// refused whatever this says.
    pub allow_http: bool,
    /// Allow every address, private and loopback included. Default `false`. For development only.
    pub allow_private_hosts: bool,
    /// Addresses or CIDR networks that may be dialled although they are not public (for example an
    /// operator's internal price source, `10.20.0.5/32`). Default empty.
    pub exempt_networks: Vec<IpNetwork>,
    /// Redirects followed at most; one more is `TooManyRedirects`. Default 2.
    pub max_redirects: u32,
    /// Response body cap in bytes; a larger body is `TooLarge`. Default 1 MiB.
    pub max_response_bytes: u64,
    /// Total time budget of a fetch in milliseconds: DNS, connect, TLS, headers, body and every
    /// redirect hop together. Default 10 000.
    pub timeout_ms: u64,
    /// Media types accepted (`type/subtype`, or `type/*`), compared case-insensitively with the
    /// response's `Content-Type` stripped of parameters such as `charset`. An empty list accepts any
    /// type, even a missing header. Default `application/json`, `text/plain`.
    pub allowed_content_types: Vec<String>,
    /// `User-Agent` header sent with every request.
    pub user_agent: String,
    /// PEM files of extra trusted root certificates (e.g. the internal CA of a source in
    /// `exempt_networks`), trusted in addition to the built-in web roots. Default empty.
    pub extra_ca_files: Vec<PathBuf>,
}

impl Default for EgressPolicy {
    fn default() -> Self {
        Self {
            allow_http: false,
            allow_private_hosts: false,
            exempt_networks: Vec::new(),
            max_redirects: DEFAULT_MAX_REDIRECTS,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            allowed_content_types: vec!["application/json".to_owned(), "text/plain".to_owned()],
            user_agent: concat!("nsl/", env!("CARGO_PKG_VERSION")).to_owned(),
            extra_ca_files: Vec::new(),
        }
    }
}

impl EgressPolicy {
    /// A development policy: plain HTTP and private addresses allowed; every other default kept.
    /// Never use it in production.
    pub fn development() -> Self {
        Self {
            allow_http: true,
            allow_private_hosts: true,
            ..Self::default()
        }
    }

    /// The total time budget as a [`Duration`].
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Whether this policy lets the client dial `ip`; the reason if not.
    pub fn check_address(&self, ip: IpAddr) -> Result<(), BlockReason> {
        if self.allow_private_hosts || self.exempt_networks.iter().any(|n| n.contains(ip)) {
            return Ok(());
        }
        match blocked_reason(ip) {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }

    /// Whether a `Content-Type` header value is acceptable under this policy.
    pub fn content_type_allowed(&self, header: Option<&str>) -> bool {
        if self.allowed_content_types.is_empty() {
            return true;
        }
        let Some(essence) = header.and_then(media_type_essence) else {
            return false;
        };
        self.allowed_content_types.iter().any(|allowed| {
            let allowed = allowed.trim().to_ascii_lowercase();
            match allowed.strip_suffix("/*") {
                Some(main) => essence.split_once('/').is_some_and(|(m, _)| m == main),
                None => allowed == essence,
            }
        })
    }

    /// Check the policy for values that cannot work.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.timeout_ms == 0 {
            return Err("timeout_ms must be greater than 0".into());
        }
        if self.max_response_bytes == 0 {
            return Err("max_response_bytes must be greater than 0".into());
        }
        if http::HeaderValue::from_str(&self.user_agent).is_err() {
            return Err("user_agent is not a valid header value".into());
        }
        for t in &self.allowed_content_types {
            let t = t.trim();
            let ok = t
                .split_once('/')
                .is_some_and(|(a, b)| a != "*" && is_token(a) && (b == "*" || is_token(b)));
            if !ok {
                return Err(format!(
                    "allowed_content_types: `{t}` is not a media type (type/subtype or type/*)"
                ));
            }
        }
        Ok(())
    }
}

/// `type/subtype` in lower case, parameters dropped; `None` if the value is not a media type.
fn media_type_essence(header: &str) -> Option<String> {
    let essence = header.split(';').next()?.trim();
    let (a, b) = essence.split_once('/')?;
    if !is_token(a) || !is_token(b) {
        return None;
    }
    Some(essence.to_ascii_lowercase())
}

/// RFC 9110 token characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Options for one fetch. Limits here can only tighten the policy, never loosen it.
#[derive(Clone, Default)]
pub struct RequestOptions {
    /// If set, only these hosts may be contacted, on the first hop and on every redirect: exact
    /// names (case-insensitive, trailing dot ignored), `*.example.com` for any subdomain of
    /// `example.com` (not the apex), or IP literals as written in a URL (`203.0.113.9`, `[2001:db8::1]`).
    /// The address checks still apply to allowed hosts.
    pub allowed_hosts: Option<Vec<String>>,
    /// Extra request headers (e.g. an API key header). Values are never logged or printed. They are
    /// dropped when a redirect leaves the origin (scheme, host, port) of the first request.
    pub headers: Vec<(String, String)>,
    /// Tighter body cap than the policy's (the smaller one wins).
    pub max_response_bytes: Option<u64>,
    /// Tighter total time budget than the policy's (the smaller one wins).
    pub timeout: Option<Duration>,
    /// Return non-2xx responses as [`crate::Response`] instead of `NotFound` / `Http` errors
    /// (size and content-type rules still apply). Default `false`.
    pub accept_error_status: bool,
}

impl fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("RequestOptions")
            .field("allowed_hosts", &self.allowed_hosts)
            .field("headers", &header_names)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("timeout", &self.timeout)
            .field("accept_error_status", &self.accept_error_status)
            .finish()
    }
}

impl RequestOptions {
    /// Whether `host` (as in [`url::Url::host_str`]) matches the allowlist; `true` without one.
    pub fn host_allowed(&self, host: &str) -> bool {
        let Some(list) = &self.allowed_hosts else {
            return true;
        };
        let host = normalize_host(host);
        list.iter().any(|pattern| {
            let pattern = normalize_host(pattern);
            match pattern.strip_prefix("*.") {
                Some(suffix) if !suffix.is_empty() => host
                    .strip_suffix(suffix)
                    .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
                _ => host == pattern,
            }
        })
    }
}

fn normalize_host(h: &str) -> String {
    h.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_production_safe() {
        let p = EgressPolicy::default();
        assert!(!p.allow_http);
        assert!(!p.allow_private_hosts);
        assert!(p.exempt_networks.is_empty());
        assert_eq!(p.max_redirects, 2);
        assert!(p.validate().is_ok());
        assert!(p.check_address("127.0.0.1".parse().unwrap()).is_err());
        assert!(p.check_address("8.8.8.8".parse().unwrap()).is_ok());
    }

    #[test]
    fn policy_deserializes_with_defaults_and_rejects_unknown_keys() {
        let p: EgressPolicy = toml::from_str(
            r#"
            allow_http = true
            exempt_networks = ["10.20.0.5/32"]
            max_response_bytes = 65535
            allowed_content_types = ["application/json"]
            "#,
        )
        .unwrap();
        assert!(p.allow_http);
        assert!(!p.allow_private_hosts);
        assert_eq!(p.max_redirects, 2);
        assert_eq!(p.max_response_bytes, 65535);
        assert!(p.check_address("10.20.0.5".parse().unwrap()).is_ok());
        assert!(p.check_address("10.20.0.6".parse().unwrap()).is_err());

        assert!(toml::from_str::<EgressPolicy>("allow_privat_hosts = true").is_err());
        assert!(toml::from_str::<EgressPolicy>(r#"exempt_networks = ["10.0.0.0/40"]"#).is_err());
    }

    #[test]
    fn content_type_parameters_and_case_are_ignored() {
        let p = EgressPolicy::default();
        assert!(p.content_type_allowed(Some("application/json")));
        assert!(p.content_type_allowed(Some("Application/JSON; charset=utf-8")));
        assert!(p.content_type_allowed(Some("text/plain;charset=\"UTF-8\"")));
        assert!(!p.content_type_allowed(Some("text/html; charset=utf-8")));
        assert!(!p.content_type_allowed(Some("application/jsonp")));
        assert!(!p.content_type_allowed(Some("application")));
        assert!(!p.content_type_allowed(Some("")));
        assert!(!p.content_type_allowed(None));

        let any = EgressPolicy {
            allowed_content_types: vec![],
            ..EgressPolicy::default()
        };
        assert!(any.content_type_allowed(None));
        assert!(any.content_type_allowed(Some("image/png")));

        let wild = EgressPolicy {
            allowed_content_types: vec!["text/*".into()],
            ..EgressPolicy::default()
        };
        assert!(wild.content_type_allowed(Some("text/csv")));
        assert!(!wild.content_type_allowed(Some("application/json")));
    }

    #[test]
    fn invalid_policies_are_reported() {
        let bad = |f: fn(&mut EgressPolicy)| {
            let mut p = EgressPolicy::default();
            f(&mut p);
            p.validate().is_err()
        };
        assert!(bad(|p| p.timeout_ms = 0));
        assert!(bad(|p| p.max_response_bytes = 0));
        assert!(bad(|p| p.user_agent = "a\nb".into()));
        assert!(bad(|p| p.allowed_content_types = vec!["json".into()]));
        assert!(bad(|p| p.allowed_content_types = vec!["*/json".into()]));
    }

    #[test]
    fn host_allowlist_matching() {
        let opts = RequestOptions {
            allowed_hosts: Some(vec![
                "api.example.com".into(),
                "*.prices.example".into(),
                "203.0.113.9".into(),
                "[2001:db8::1]".into(),
            ]),
            ..RequestOptions::default()
        };
        assert!(opts.host_allowed("api.example.com"));
        assert!(opts.host_allowed("API.Example.COM."));
        assert!(!opts.host_allowed("example.com"));
        assert!(!opts.host_allowed("evilapi.example.com"));
        assert!(!opts.host_allowed("api.example.com.evil.net"));
        assert!(opts.host_allowed("a.prices.example"));
        assert!(opts.host_allowed("a.b.prices.example"));
        assert!(!opts.host_allowed("prices.example"));
        assert!(!opts.host_allowed("xprices.example"));
        assert!(opts.host_allowed("203.0.113.9"));
        assert!(opts.host_allowed("[2001:db8::1]"));
        assert!(!opts.host_allowed("203.0.113.10"));
        assert!(RequestOptions::default().host_allowed("anything.example"));
        let none = RequestOptions {
            allowed_hosts: Some(vec![]),
            ..RequestOptions::default()
        };
        assert!(!none.host_allowed("api.example.com"));
    }

    #[test]
    fn debug_never_shows_header_values() {
        let opts = RequestOptions {
            headers: vec![("X-Api-Key".into(), "TOPSECRET".into())],
            ..RequestOptions::default()
        };
        let text = format!("{opts:?}");
        assert!(text.contains("X-Api-Key"));
        assert!(!text.contains("TOPSECRET"));
    }
}
