//! The egress client: URL checks, manual redirects, capped body, total timeout.

use std::error::Error as StdError;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use url::{Host, Url};

use crate::error::{EgressError, ForbiddenReason};
use crate::policy::{EgressPolicy, RequestOptions};
use crate::redact::RedactedUrl;
use crate::resolve::{BlockedResolution, GuardedResolver};

/// Headers a caller may not set: they belong to the transport.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
];

/// The one outbound HTTP client of the node. Cheap to clone (shares one connection pool).
#[derive(Clone)]
pub struct Egress {
    client: reqwest::Client,
    policy: Arc<EgressPolicy>,
}

impl fmt::Debug for Egress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Egress")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// A successful (or, with `accept_error_status`, any final) response, body fully read.
#[derive(Clone)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The final URL after redirects (may carry the caller's query string: do not log it).
    pub url: Url,
    /// The `Content-Type` header, if any and valid UTF-8.
    pub content_type: Option<String>,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, at most the effective `max_response_bytes`.
    pub body: Bytes,
    /// How many redirects were followed.
    pub redirects: u32,
}

impl Response {
    /// The body as UTF-8 text, `None` if it is not valid UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &RedactedUrl::new(&self.url))
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .field("redirects", &self.redirects)
            .finish_non_exhaustive()
    }
}

impl Egress {
    /// Build the client for a policy. Fails only on an unusable policy (see
    /// [`EgressPolicy`] field docs) or if the TLS backend cannot start.
    pub fn new(policy: EgressPolicy) -> Result<Self, EgressError> {
        policy.validate().map_err(EgressError::InvalidPolicy)?;
        let policy = Arc::new(policy);
        let mut builder = reqwest::Client::builder();
        for path in &policy.extra_ca_files {
            let pem = std::fs::read(path).map_err(|e| {
                EgressError::InvalidPolicy(format!(
                    "extra_ca_files: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    EgressError::InvalidPolicy(format!(
                        "extra_ca_files: {} holds no PEM certificate",
                        path.display()
                    ))
                })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            // Redirects are followed by hand so every hop is re-validated.
            .redirect(reqwest::redirect::Policy::none())
            // Never route through a proxy from the environment: the proxy would dial, not us.
            .no_proxy()
            .referer(false)
            // Behaviour must not depend on reqwest features another crate enables: no
            // Accept-Encoding, no transparent decompression (the cap counts bytes on the wire).
            .no_gzip()
            .no_brotli()
            .no_deflate()
            .no_zstd()
            .dns_resolver(Arc::new(GuardedResolver {
                policy: Arc::clone(&policy),
            }))
            .timeout(policy.timeout())
            .connect_timeout(policy.timeout())
            .user_agent(policy.user_agent.as_str())
            .https_only(!policy.allow_http)
            .build()
            .map_err(|e| {
                EgressError::InvalidPolicy(format!(
                    "cannot build the HTTP client: {}",
                    error_chain(&e.without_url())
                ))
            })?;
        Ok(Self { client, policy })
    }

    /// The policy this client enforces.
    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// `GET url`.
    pub async fn get(&self, url: &str, opts: &RequestOptions) -> Result<Response, EgressError> {
        self.send(Method::GET, url, None, opts).await
    }

    /// `POST url` with a body (give a `Content-Type` in `opts.headers`).
    pub async fn post(
        &self,
        url: &str,
        body: Bytes,
        opts: &RequestOptions,
    ) -> Result<Response, EgressError> {
        self.send(Method::POST, url, Some(body), opts).await
    }

    /// Any method. Redirects 301/302/303 turn a non-`HEAD` request into a body-less `GET`; 307/308 keep
    /// method and body.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<Bytes>,
        opts: &RequestOptions,
    ) -> Result<Response, EgressError> {
        let budget = opts
            .timeout
            .map_or(self.policy.timeout(), |t| t.min(self.policy.timeout()));
        let url = self.check_url(url, opts)?;
        let headers = build_headers(&opts.headers)?;
        match tokio::time::timeout(budget, self.run(method, url, body, headers, opts, budget)).await
        {
            Ok(result) => result,
            Err(_) => {
                tracing::debug!(?budget, "egress: total timeout");
                Err(EgressError::Timeout { after: budget })
            }
        }
    }

    /// Parse a URL and check it against the policy and `opts` without any network access: scheme,
    /// host allowlist, IP-literal hosts (in every numeric form the WHATWG URL parser normalises).
    /// Host names are checked again, after resolution, when dialled.
    pub fn check_url(&self, url: &str, opts: &RequestOptions) -> Result<Url, EgressError> {
        let parsed = Url::parse(url).map_err(|e| EgressError::InvalidUrl(e.to_string()))?;
        self.check_parsed(&parsed, opts)?;
        Ok(parsed)
    }

    /// Resolve a redirect `location` against `from` and check the hop: never `https` -> `http`,
    /// then every rule of [`Egress::check_url`].
    pub fn check_redirect(
        &self,
        from: &Url,
        location: &str,
        opts: &RequestOptions,
    ) -> Result<Url, EgressError> {
        let next = from.join(location).map_err(|e| {
            EgressError::InvalidUrl(format!(
                "redirect location from {}: {e}",
                RedactedUrl::new(from)
            ))
        })?;
        if from.scheme() == "https" && next.scheme() == "http" {
            return Err(EgressError::Forbidden {
                url: RedactedUrl::new(&next),
                reason: ForbiddenReason::InsecureRedirect,
            });
        }
        self.check_parsed(&next, opts)?;
        Ok(next)
    }

    fn check_parsed(&self, url: &Url, opts: &RequestOptions) -> Result<(), EgressError> {
        match url.scheme() {
            "https" => {}
            "http" if self.policy.allow_http => {}
            other => {
                return Err(EgressError::ProtocolNotSupported {
                    scheme: other.to_owned(),
                });
            }
        }
        let forbidden = |reason| EgressError::Forbidden {
            url: RedactedUrl::new(url),
            reason,
        };
        let host_str = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| EgressError::InvalidUrl("URL has no host".into()))?;
        if !opts.host_allowed(host_str) {
            return Err(forbidden(ForbiddenReason::HostNotAllowed {
                host: host_str.to_owned(),
            }));
        }
        let literal = match url.host() {
            Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            // The WHATWG parser turns every numeric IPv4 form into Host::Ipv4 for http(s); this is a
            // second line in case a domain string still parses as an address.
            Some(Host::Domain(d)) => d.parse::<IpAddr>().ok(),
            None => None,
        };
        if let Some(addr) = literal {
            self.policy
                .check_address(addr)
                .map_err(|reason| forbidden(ForbiddenReason::BlockedAddress { addr, reason }))?;
        }
        Ok(())
    }

    async fn run(
        &self,
        mut method: Method,
        url: Url,
        mut body: Option<Bytes>,
        headers: HeaderMap,
        opts: &RequestOptions,
        budget: Duration,
    ) -> Result<Response, EgressError> {
        let origin = url.origin();
        let mut current = url;
        let mut redirects: u32 = 0;
        loop {
            let redacted = RedactedUrl::new(&current);
            let mut request = self.client.request(method.clone(), current.clone());
            if current.origin() == origin {
                request = request.headers(headers.clone());
            }
            if let Some(b) = &body {
                request = request.body(b.clone());
            }
            tracing::debug!(url = %redacted, %method, hop = redirects, "egress: request");
            let response = request
                .send()
                .await
                .map_err(|e| map_transport_error(e, &current, budget))?;
            let status = response.status();
            tracing::debug!(url = %redacted, status = status.as_u16(), "egress: response");

            let location = is_redirect(status)
                .then(|| response.headers().get(LOCATION))
                .flatten()
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if let Some(location) = location {
                if redirects >= self.policy.max_redirects {
                    return Err(EgressError::TooManyRedirects {
                        max: self.policy.max_redirects,
                    });
                }
                let next = self.check_redirect(&current, &location, opts)?;
                redirects += 1;
                if matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER
                ) && method != Method::HEAD
                {
                    method = Method::GET;
                    body = None;
                }
                tracing::debug!(from = %redacted, to = %RedactedUrl::new(&next), "egress: redirect");
                current = next;
                continue;
            }
            return self
                .finish(response, current, redirects, opts, budget)
                .await;
        }
    }

    async fn finish(
        &self,
        mut response: reqwest::Response,
        url: Url,
        redirects: u32,
        opts: &RequestOptions,
        budget: Duration,
    ) -> Result<Response, EgressError> {
        let status = response.status();
        if !status.is_success() && !opts.accept_error_status {
            let url = RedactedUrl::new(&url);
            return Err(if status == StatusCode::NOT_FOUND {
                EgressError::NotFound { url }
            } else {
                EgressError::Http {
                    status: status.as_u16(),
                    url,
                }
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // 204 has no content, so there is no type to check.
        if status != StatusCode::NO_CONTENT
            && !self.policy.content_type_allowed(content_type.as_deref())
        {
            return Err(EgressError::ContentTypeNotSupported {
                content_type: content_type.map(|c| c.chars().take(100).collect()),
            });
        }
        let limit = opts
            .max_response_bytes
            .map_or(self.policy.max_response_bytes, |m| {
                m.min(self.policy.max_response_bytes)
            });
        let announced = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if announced.is_some_and(|len| len > limit) {
            return Err(EgressError::TooLarge { limit });
        }
        let capacity =
            usize::try_from(announced.unwrap_or(0).min(limit).min(64 * 1024)).unwrap_or(0);
        let mut buf = BytesMut::with_capacity(capacity);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| map_transport_error(e, &url, budget))?
        {
            let total = (buf.len() as u64).saturating_add(chunk.len() as u64);
            if total > limit {
                return Err(EgressError::TooLarge { limit });
            }
            buf.extend_from_slice(&chunk);
        }
        let headers = std::mem::take(response.headers_mut());
        Ok(Response {
            status: status.as_u16(),
            url,
            content_type,
            headers,
            body: buf.freeze(),
            redirects,
        })
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    )
}

fn build_headers(pairs: &[(String, String)]) -> Result<HeaderMap, EgressError> {
    let mut map = HeaderMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        let invalid = || EgressError::InvalidHeader { name: name.clone() };
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        if RESERVED_HEADERS.contains(&header.as_str()) {
            return Err(invalid());
        }
        let mut value = HeaderValue::from_str(value).map_err(|_| invalid())?;
        value.set_sensitive(true);
        map.append(header, value);
    }
    Ok(map)
}

/// Turn a transport error into an [`EgressError`] without ever printing the URL reqwest carries.
fn map_transport_error(err: reqwest::Error, url: &Url, budget: Duration) -> EgressError {
    let redacted = RedactedUrl::new(url);
    let err = err.without_url();
    if let Some(blocked) = find_source::<BlockedResolution>(&err) {
        return EgressError::Forbidden {
            url: redacted,
            reason: ForbiddenReason::BlockedResolution {
                host: blocked.host.clone(),
                addr: blocked.addr,
                reason: blocked.reason,
            },
        };
    }
    if err.is_timeout() {
        return EgressError::Timeout { after: budget };
    }
    let message = error_chain(&err);
    if err.is_connect() {
        EgressError::Connect {
            url: redacted,
            message,
        }
    } else {
        EgressError::Request {
            url: redacted,
            message,
        }
    }
}

fn find_source<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// `outer: inner: innermost`, each level once.
fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut current = err.source();
    while let Some(e) = current {
        let text = e.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        current = e.source();
    }
    out
}
