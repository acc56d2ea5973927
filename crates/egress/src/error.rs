//! The egress error enum and its stable kinds.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::ip::BlockReason;
use crate::redact::RedactedUrl;

/// Why a request was refused by policy.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForbiddenReason {
    /// The URL's host is an IP literal that may not be dialled.
    BlockedAddress {
        /// The literal address.
        addr: IpAddr,
        /// Why it is refused.
        reason: BlockReason,
    },
    /// The host name resolved to an address that may not be dialled (any such address refuses the
    /// whole name).
    BlockedResolution {
        /// The host name.
        host: String,
        /// The refused address.
        addr: IpAddr,
        /// Why it is refused.
        reason: BlockReason,
    },
    /// The host is not in the caller's allowlist.
    HostNotAllowed {
        /// The host as in the URL.
        host: String,
    },
    /// A redirect from `https` to `http`.
    InsecureRedirect,
}

impl fmt::Display for ForbiddenReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BlockedAddress { addr, reason } => write!(f, "address {addr} is a {reason}"),
            Self::BlockedResolution { host, addr, reason } => {
                write!(f, "host `{host}` resolves to {addr}, a {reason}")
            }
            Self::HostNotAllowed { host } => write!(f, "host `{host}` is not in the allowlist"),
            Self::InsecureRedirect => f.write_str("redirect from https to http"),
        }
    }
}

/// Everything that can go wrong with a fetch. Messages never contain a query string, user info or
/// header value (URLs are [`RedactedUrl`]s).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EgressError {
    /// The URL does not parse or has no host.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The scheme is not `https` (or `http` when the policy allows it).
    #[error("protocol `{scheme}` is not supported")]
    ProtocolNotSupported {
        /// The refused scheme.
        scheme: String,
    },
    /// Refused by policy: blocked address, host not in the allowlist, https -> http redirect.
    #[error("forbidden: {url}: {reason}")]
    Forbidden {
        /// The hop that was refused.
        url: RedactedUrl,
        /// Why.
        reason: ForbiddenReason,
    },
    /// The server answered 404.
    #[error("not found: {url}")]
    NotFound {
        /// The hop that answered 404.
        url: RedactedUrl,
    },
    /// The server answered another non-2xx status (or a redirect without a usable `Location`).
    #[error("HTTP status {status} from {url}")]
    Http {
        /// The status code.
        status: u16,
        /// The hop that answered.
        url: RedactedUrl,
    },
    /// The total time budget ran out.
    #[error("timed out after {after:?}")]
    Timeout {
        /// The budget that ran out.
        after: Duration,
    },
    /// The body is larger than the cap (announced by `Content-Length` or found while reading).
    #[error("response body exceeds {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: u64,
    },
    /// The `Content-Type` is not in the allowlist.
    #[error("content type {} is not allowed", content_type.as_deref().unwrap_or("(none)"))]
    ContentTypeNotSupported {
        /// The response's `Content-Type`, truncated to 100 characters; `None` if absent.
        content_type: Option<String>,
    },
    /// More redirects than the policy allows.
    #[error("more than {max} redirects")]
    TooManyRedirects {
        /// The policy's maximum.
        max: u32,
    },
    /// DNS failure, refused connection, TLS failure.
    #[error("cannot connect to {url}: {message}")]
    Connect {
        /// The hop that failed.
        url: RedactedUrl,
        /// What failed (no URL inside).
        message: String,
    },
    /// Any other transport or protocol failure (bad header, reset while reading the body, ...).
    #[error("request to {url} failed: {message}")]
    Request {
        /// The hop that failed.
        url: RedactedUrl,
        /// What failed (no URL inside).
        message: String,
    },
    /// A request header given by the caller is not valid.
    #[error("invalid request header `{name}`")]
    InvalidHeader {
        /// The header name (the value is never shown).
        name: String,
    },
    /// The policy cannot be used (see [`crate::EgressPolicy`]).
    #[error("invalid egress policy: {0}")]
    InvalidPolicy(String),
}

/// The stable category of an [`EgressError`], for mapping to protocol codes and metrics labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`EgressError::InvalidUrl`].
    InvalidUrl,
    /// [`EgressError::ProtocolNotSupported`].
    ProtocolNotSupported,
    /// [`EgressError::Forbidden`].
    Forbidden,
    /// [`EgressError::NotFound`].
    NotFound,
    /// [`EgressError::Http`].
    Http,
    /// [`EgressError::Timeout`].
    Timeout,
    /// [`EgressError::TooLarge`].
    TooLarge,
    /// [`EgressError::ContentTypeNotSupported`].
    ContentTypeNotSupported,
    /// [`EgressError::TooManyRedirects`].
    TooManyRedirects,
    /// [`EgressError::Connect`].
    Connect,
    /// [`EgressError::Request`], [`EgressError::InvalidHeader`], [`EgressError::InvalidPolicy`].
    Error,
}

impl ErrorKind {
    /// Stable snake_case name (logs, metrics, API error codes).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidUrl => "invalid_url",
            Self::ProtocolNotSupported => "protocol_not_supported",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Http => "http",
            Self::Timeout => "timeout",
            Self::TooLarge => "too_large",
            Self::ContentTypeNotSupported => "content_type_not_supported",
            Self::TooManyRedirects => "too_many_redirects",
            Self::Connect => "connect",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl EgressError {
    /// The stable category of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidUrl(_) => ErrorKind::InvalidUrl,
            Self::ProtocolNotSupported { .. } => ErrorKind::ProtocolNotSupported,
            Self::Forbidden { .. } => ErrorKind::Forbidden,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::Http { .. } => ErrorKind::Http,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::TooLarge { .. } => ErrorKind::TooLarge,
            Self::ContentTypeNotSupported { .. } => ErrorKind::ContentTypeNotSupported,
            Self::TooManyRedirects { .. } => ErrorKind::TooManyRedirects,
            Self::Connect { .. } => ErrorKind::Connect,
            Self::Request { .. } | Self::InvalidHeader { .. } | Self::InvalidPolicy(_) => {
                ErrorKind::Error
            }
        }
    }

    /// The text shown to tenants (a function's `fetch` error, an oracle request's detail): like
    /// `Display`, but without what the node learned on its own side: no resolved or refused
    /// addresses (`host resolves to 10.0.0.5, a private address` is `forbidden: destination not
    /// allowed`) and
    /// no transport error text (which can name addresses). Only the URL the tenant gave (redacted,
    /// host as written) may appear. The full `Display` text is for the operator log.
    pub fn public_message(&self) -> String {
        match self {
            Self::Forbidden { reason, .. } => match reason {
                ForbiddenReason::HostNotAllowed { host } => {
                    format!(
                        "forbidden: destination not allowed: host `{host}` is not in the allowlist"
                    )
                }
                ForbiddenReason::InsecureRedirect => {
                    "forbidden: destination not allowed: redirect from https to http".into()
                }
                _ => "forbidden: destination not allowed".into(),
            },
            Self::Connect { .. } => "cannot connect to the destination".into(),
            Self::Request { .. } => "the request to the destination failed".into(),
            Self::NotFound { .. } => "not found (HTTP 404)".into(),
            Self::Http { status, .. } => format!("HTTP status {status}"),
            other => other.to_string(),
        }
    }

    /// The HTTP status for [`EgressError::NotFound`] (404) and [`EgressError::Http`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::NotFound { .. } => Some(404),
            Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}
