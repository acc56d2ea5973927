//! Cross-cutting middleware: request ids, the request span and access log, metrics, the one error
//! format, per-request timeout, panic guard, client IP.
//!
//! Layer order (outermost first), as built by [`crate::router`]:
//!
//! ```text
//! finalize (request id, span, metrics, error body rendering, x-request-id header)
//!  -> timeout (504 `timeout`)
//!   -> catch panic (500 `internal`, no details)
//!    -> body limit (413 `payload_too_large`)
//!     -> route: group rate limit (per IP) -> auth extractor (per key) -> handler
//! ```

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;
use tracing::field::Empty;

use crate::error::{ApiError, ErrorBody, ErrorCode, ErrorPayload};
use crate::metrics::{HttpSeries, method_label};
use crate::ratelimit::{RouteGroup, Subject, retry_after_secs};
use crate::state::AppState;

/// Header carrying the request id, in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the current request, available as a request extension to handlers.
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

impl RequestId {
    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Accept a client-supplied id only if it is short and made of safe characters (it is logged and
/// echoed); otherwise generate one.
fn request_id_from(headers: &HeaderMap) -> Arc<str> {
    if let Some(v) = headers.get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()) {
        let ok = !v.is_empty()
            && v.len() <= 128
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if ok {
            return Arc::from(v);
        }
    }
    // 128 random bits from the thread-local CSPRNG (no system call per request).
    Arc::from(format!("{:032x}", rand::random::<u128>()))
}

struct InFlight;

impl InFlight {
    fn enter() -> Self {
        HttpSeries::get().in_flight().increment(1.0);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        HttpSeries::get().in_flight().decrement(1.0);
    }
}

/// Outermost middleware: see the module docs.
pub async fn finalize(mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = request_id_from(req.headers());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = method_label(req.method());
    let route: Arc<str> = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| Arc::from(p.as_str()))
        .unwrap_or_else(|| Arc::from("unmatched"));
    let span = tracing::info_span!(
        "request",
        method = %method,
        route = %route,
        request_id = %id,
        status = Empty,
        latency_ms = Empty,
    );
    let guard = InFlight::enter();
    let res = next.run(req).instrument(span.clone()).await;
    drop(guard);

    let mut res = render_errors(res, &id);
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let status = res.status();
    let elapsed = start.elapsed();
    HttpSeries::get().record(method, &route, status.as_u16(), elapsed.as_secs_f64());
    span.record("status", status.as_u16());
    span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
    let _e = span.enter();
    if status.is_server_error() {
        tracing::warn!("request finished");
    } else {
        tracing::info!("request finished");
    }
    res
}

/// Marks an error response whose body is its own documented shape (e.g. `/ready`'s 503 naming
/// the services that are down): [`render_errors`] leaves it alone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OwnErrorBody;

/// Give every error response the one JSON format with the request id.
fn render_errors(res: Response, request_id: &str) -> Response {
    if res.extensions().get::<OwnErrorBody>().is_some() {
        return res;
    }
    let payload = match res.extensions().get::<ErrorPayload>() {
        Some(p) => p.clone(),
        None if res.status().is_client_error() || res.status().is_server_error() => {
            let code = ErrorCode::from_status(res.status());
            ErrorPayload {
                code,
                message: code.default_message().to_owned(),
            }
        }
        None => return res,
    };
    let (mut parts, _old_body) = res.into_parts();
    let body = ErrorBody {
        code: payload.code,
        message: payload.message,
        request_id: request_id.to_owned(),
    };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // A foreign layer may have used a status without a code of its own (e.g. 408): align it.
    parts.status = payload.code.status();
    Response::from_parts(parts, Body::from(json))
}

/// Per-request deadline: a request still running after `timeout` is dropped and answered with
/// 504 `timeout`.
pub async fn timeout(State(timeout): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(timeout_ms = timeout.as_millis() as u64, "request timed out");
            ApiError::Timeout.into_response()
        }
    }
}

/// Response for a panicking handler: 500 `internal`, no details (the panic hook prints the panic
/// on the server's stderr).
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("request handler panicked").into_response()
}

/// Route group of a request: `/v1/auth/*` is `auth`, other GET/HEAD requests `read`, the rest
/// `write`.
pub fn route_group(method: &http::Method, path: &str) -> RouteGroup {
    if path.starts_with("/v1/auth/") {
        RouteGroup::Auth
    } else if method == http::Method::GET || method == http::Method::HEAD {
        RouteGroup::Read
    } else {
        RouteGroup::Write
    }
}

/// Per-IP rate limit of the request's route group (429 + `Retry-After`); records the group as a
/// request extension for the per-credential limit applied by [`crate::auth::Principal`].
pub async fn rate_limit(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let group = route_group(req.method(), &path);
    let ip = client_ip(req.headers(), req.extensions(), &state.settings().forwarded);
    if let Err(wait) = state.inner().limiter.check(group, Subject::Ip(ip)) {
        return ApiError::RateLimited {
            retry_after_secs: retry_after_secs(wait),
        }
        .into_response();
    }
    req.extensions_mut().insert(group);
    next.run(req).await
}

/// How the client IP is derived from `X-Forwarded-For` (`[api] trust_forwarded_for`,
/// `trusted_proxies`).
#[derive(Debug, Clone, Default)]
pub struct ForwardedFor {
    /// Use the header at all.
    pub enabled: bool,
    /// Networks of trusted reverse proxies (address, prefix length); empty: trust the last entry.
    pub trusted_proxies: Vec<(IpAddr, u8)>,
}

impl ForwardedFor {
    /// From `[api]`: invalid CIDRs were refused by config validation and are skipped here.
    pub fn from_config(api: &nsl_config::ApiConfig) -> Self {
        Self {
            enabled: api.trust_forwarded_for,
            trusted_proxies: api
                .trusted_proxies
                .iter()
                .filter_map(|c| nsl_config::parse_cidr(c))
                .collect(),
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted_proxies
            .iter()
            .any(|&(net, prefix)| in_network(ip, canonical(net), prefix))
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn in_network(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    e.parse::<IpAddr>()
        .ok()
        .or_else(|| e.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The client's IP (rate limit key, audit entries):
///
/// - without `trust_forwarded_for`: the socket peer;
/// - with it and no `trusted_proxies`: exactly the last `X-Forwarded-For` entry (the one the proxy
///   in front of the node appended); if that entry is not an address, the peer;
/// - with `trusted_proxies`: the peer unless the peer is a trusted proxy; else the list walked
///   right to left, skipping trusted proxies: the first other address is the client (an entry that
///   is not an address stops the walk at the last trusted hop).
///
/// Entries left of the client's are whatever the client sent and never count. Without a socket
/// (in-process tests) the peer is the unspecified address.
pub fn client_ip(
    req_headers: &HeaderMap,
    extensions: &http::Extensions,
    forwarded: &ForwardedFor,
) -> IpAddr {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    if !forwarded.enabled {
        return peer;
    }
    let entries: Vec<&str> = req_headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    if forwarded.trusted_proxies.is_empty() {
        return entries
            .last()
            .and_then(|e| parse_forwarded(e))
            .unwrap_or(peer);
    }
    if !forwarded.is_trusted(peer) {
        return peer;
    }
    let mut hop = peer;
    for e in entries.iter().rev() {
        let Some(ip) = parse_forwarded(e) else {
            return hop;
        };
        if !forwarded.is_trusted(ip) {
            return ip;
        }
        hop = ip;
    }
    hop
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_propagated_only_when_safe() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID_HEADER, HeaderValue::from_static("abc-123_x.y:z"));
        assert_eq!(&*request_id_from(&h), "abc-123_x.y:z");
        h.insert(
            REQUEST_ID_HEADER,
            HeaderValue::from_static("bad id\"with<stuff>"),
        );
        let id = request_id_from(&h);
        assert_eq!(id.len(), 32);
        let long = "a".repeat(129);
        h.insert(REQUEST_ID_HEADER, HeaderValue::from_str(&long).unwrap());
        assert_eq!(request_id_from(&h).len(), 32);
    }

    fn xff(v: &'static str, peer: [u8; 4]) -> (HeaderMap, http::Extensions) {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static(v));
        let mut ext = http::Extensions::new();
        ext.insert(ConnectInfo(SocketAddr::from((peer, 1000))));
        (h, ext)
    }

    #[test]
    fn forwarded_for_only_when_trusted() {
        let off = ForwardedFor::default();
        let last = ForwardedFor {
            enabled: true,
            trusted_proxies: vec![],
        };
        let (h, ext) = xff("1.1.1.1, 2.2.2.2", [9, 9, 9, 9]);
        assert_eq!(client_ip(&h, &ext, &off), IpAddr::from([9, 9, 9, 9]));
        assert_eq!(client_ip(&h, &ext, &last), IpAddr::from([2, 2, 2, 2]));
        let (h, ext) = xff("garbage", [9, 9, 9, 9]);
        assert_eq!(client_ip(&h, &ext, &last), IpAddr::from([9, 9, 9, 9]));
    }

    #[test]
    fn only_the_last_entry_counts_without_trusted_proxies() {
        let last = ForwardedFor {
            enabled: true,
            trusted_proxies: vec![],
        };
        // The client appended junk after a spoofed address: the proxy's own entry is junk-free,
        // so a non-address last entry means the peer, never the spoofed address left of it.
        let (h, ext) = xff("6.6.6.6, not-an-ip", [9, 9, 9, 9]);
        assert_eq!(client_ip(&h, &ext, &last), IpAddr::from([9, 9, 9, 9]));
        let (h, ext) = xff("6.6.6.6,", [9, 9, 9, 9]);
        assert_eq!(client_ip(&h, &ext, &last), IpAddr::from([9, 9, 9, 9]));
        let (h, ext) = xff("6.6.6.6, 203.0.113.7:4711", [9, 9, 9, 9]);
        assert_eq!(client_ip(&h, &ext, &last), IpAddr::from([203, 0, 113, 7]));
    }

    #[test]
    fn trusted_proxies_are_walked_right_to_left() {
        let fwd = ForwardedFor {
            enabled: true,
            trusted_proxies: vec![
                (IpAddr::from([10, 0, 0, 0]), 8),
                ("fd00::".parse().unwrap(), 8),
            ],
        };
        // Client -> proxy 10.0.0.2 -> proxy 10.0.0.1 -> node.
        let (h, ext) = xff("6.6.6.6, 203.0.113.7, 10.0.0.2", [10, 0, 0, 1]);
        assert_eq!(client_ip(&h, &ext, &fwd), IpAddr::from([203, 0, 113, 7]));
        // A peer that is not a trusted proxy is the client, whatever it claims.
        let (h, ext) = xff("203.0.113.7", [198, 51, 100, 1]);
        assert_eq!(client_ip(&h, &ext, &fwd), IpAddr::from([198, 51, 100, 1]));
        // Only trusted hops: the leftmost of them.
        let (h, ext) = xff("10.1.1.1, 10.0.0.2", [10, 0, 0, 1]);
        assert_eq!(client_ip(&h, &ext, &fwd), IpAddr::from([10, 1, 1, 1]));
        // Garbage stops the walk at the last trusted hop.
        let (h, ext) = xff("6.6.6.6, junk, 10.0.0.2", [10, 0, 0, 1]);
        assert_eq!(client_ip(&h, &ext, &fwd), IpAddr::from([10, 0, 0, 2]));
    }
}
