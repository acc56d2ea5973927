//! `nsl-api`: the node's HTTP API (axum): wallet login, JWT sessions with refresh-token rotation, API
//! keys, rate limits, audit log, one error format, metrics and an OpenAPI 3.1 document.
//!
//! ```text
//! TCP --> finalize (request id, span, metrics, error rendering)
//!      --> timeout --> catch panic --> body limit
//!      --> /health /ready /metrics /openapi.json /docs          (ops, unversioned)
//!      --> /v1/...  --> rate limit per IP (group auth|read|write)
//!                   --> Principal (API key via cache | JWT) --> rate limit per credential
//!                   --> handler --> nsl-store traits (accounts, keys, auth, audit)
//! ```
//!
//! Invariants:
//! - Every response carries `x-request-id`; every error body is
//!   `{"code","message","request_id"}` with a stable snake_case code ([`error::ErrorCode`]).
//! - Secrets (API keys, refresh tokens) are stored only as SHA-256 hashes and never logged; the
//!   full key is returned once, at creation.
//! - Resources belong to one account; another account's id yields 404, never the data.
//! - Security-relevant events are appended to the hash-chained audit log: `auth.login`,
//!   `auth.login_failed`, `auth.token_replay`, `auth.logout`, `apikey.create`, `apikey.rotate`,
//!   `apikey.revoke`, `contract.register`, `contract.delete`.
//! - An account sees the chain requests of its requesters only ([`requesters::requesters_of`]:
//!   its wallets' script hashes and the contracts it registered under `/v1/contracts`).
//!
//! Other crates add metrics with the `metrics` facade macros (see [`metrics`]) and get them on
//! `/metrics`; they mount routes by merging a `Router<AppState>` into [`router`]'s input (see
//! [`router_with`]).

pub mod apikeys;
pub mod auth;
pub use nsl_api_types::error;
pub mod jwt;
pub mod keys;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod ratelimit;
pub use nsl_api_types::requesters;
mod routes;
pub use routes::session::{LOGIN_STATEMENT, LOGIN_VERSION, LoginMessage};
pub mod server;
pub mod state;
pub mod telemetry;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower_http::catch_panic::CatchPanicLayer;

pub use error::{ApiError, ErrorCode};
pub use nsl_api_types::{Authenticate, Principal, ServiceState};
pub use routes::rfc3339;
pub use server::{ServeError, serve};
pub use state::{ApiSettings, AppState, ReadyWarnings};

/// The API router over `state`.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The API router with extra routes (e.g. a service's own `/v1/...` endpoints) merged in; they get
/// the same middleware, error format, rate limits and metrics.
///
/// Services' routers are generic over the state (`Router<S>` where
/// `nsl_api_types::ServiceState: FromRef<S>`), so they mount here as `Router<AppState>`.
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    build(state, extra, None)
}

/// As [`router_with`], and `extra_doc` (the extra routes' OpenAPI paths and schemas, e.g. from a
/// `#[derive(utoipa::OpenApi)]` of the service) is merged into `/openapi.json`.
pub fn router_with_openapi(
    state: AppState,
    extra: Router<AppState>,
    extra_doc: utoipa::openapi::OpenApi,
) -> Router {
    build(state, extra, Some(extra_doc))
}

fn build(
    state: AppState,
    extra: Router<AppState>,
    extra_doc: Option<utoipa::openapi::OpenApi>,
) -> Router {
    let settings = state.settings().clone();
    let doc: std::sync::Arc<str> = match extra_doc {
        Some(d) => std::sync::Arc::from(
            openapi::document(Some(d))
                .to_json()
                .unwrap_or_else(|_| "{}".to_owned()),
        ),
        None => std::sync::Arc::from(openapi::json()),
    };
    let v1 = Router::new()
        .merge(routes::session::router())
        .merge(routes::me::router())
        .merge(routes::apikeys::router())
        .merge(routes::audit::router())
        .merge(routes::contracts::router())
        .merge(extra)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::rate_limit,
        ));
    Router::new()
        .merge(routes::ops::router())
        .merge(v1)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(settings.body_limit_bytes))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            settings.body_limit_bytes,
        ))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn_with_state(
            settings.request_timeout,
            middleware::timeout,
        ))
        .layer(axum::middleware::from_fn(middleware::finalize))
        .layer(axum::Extension(openapi::ServedDoc(doc)))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}
