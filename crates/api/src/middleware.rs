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

/// Give every error response the one JSON format with the request id.
fn render_errors(res: Response, request_id: &str) -> Response {
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
    let ip = client_ip(
        req.headers(),
        req.extensions(),
        state.settings().trust_forwarded_for,
    );
    if let Err(wait) = state.inner().limiter.check(group, Subject::Ip(ip)) {
        return ApiError::RateLimited {
            retry_after_secs: retry_after_secs(wait),
        }
        .into_response();
    }
    req.extensions_mut().insert(group);
    next.run(req).await
}

/// The client's IP: the socket peer, or with `trust_forwarded_for` the last (rightmost) address of
/// `X-Forwarded-For`, i.e. the one written by the trusted reverse proxy in front of the node.
/// Without a socket (in-process tests) the unspecified address.
pub fn client_ip(
    req_headers: &HeaderMap,
    extensions: &http::Extensions,
    trust_forwarded_for: bool,
) -> IpAddr {
    if trust_forwarded_for
        && let Some(ip) = req_headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .next_back()
    {
        return ip;
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
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

    #[test]
    fn forwarded_for_only_when_trusted() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 2.2.2.2"),
        );
        let mut ext = http::Extensions::new();
        ext.insert(ConnectInfo(SocketAddr::from(([9, 9, 9, 9], 1000))));
        assert_eq!(client_ip(&h, &ext, false), IpAddr::from([9, 9, 9, 9]));
        assert_eq!(client_ip(&h, &ext, true), IpAddr::from([2, 2, 2, 2]));
        h.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
        assert_eq!(client_ip(&h, &ext, true), IpAddr::from([9, 9, 9, 9]));
    }
}
