//! Operational endpoints: liveness, readiness, metrics, the OpenAPI document and its docs page.
//! Not versioned, not rate limited, no authentication (put `/metrics` behind the network boundary).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Json};
use crate::state::AppState;

/// How long `/ready` waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

const DOCS_HTML: &str = include_str!("../docs.html");

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/docs", get(docs))
}

/// One supervised service on `/ready`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ServiceStatus {
    /// `starting`, `running`, `restarting` or `stopped`.
    state: &'static str,
    /// When it entered that state (RFC 3339, UTC).
    since: String,
    /// Class of the failure that ended its last run (`store`, `chain`, `config`, `panic`,
    /// `internal`), until it runs again. Never the error's text.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    /// Failed runs since the node started.
    failures: u32,
}

/// `/ready` when a supervised service is not running (HTTP 503).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Unready {
    /// Always `unavailable`.
    status: &'static str,
    /// Node version.
    version: &'static str,
    /// `ok`, or `unavailable` when the database does not answer either.
    database: &'static str,
    /// Every supervised service by name (running ones too).
    services: BTreeMap<&'static str, ServiceStatus>,
}

/// Liveness / readiness answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Status {
    /// `ok` (alive) or `ready`.
    status: &'static str,
    /// Node version.
    version: &'static str,
    /// `/ready` only: conditions an operator should look at that do not stop the node from
    /// serving (e.g. `oracle: node account GAS ... below ...`). Absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    /// `/ready` only: the node's supervised services (all `running` here). Absent without any.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    services: BTreeMap<&'static str, ServiceStatus>,
}

/// The process is alive.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, body = Status)))]
pub(crate) async fn health() -> Json<Status> {
    Json(Status {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        warnings: Vec::new(),
        services: BTreeMap::new(),
    })
}

/// The node can serve requests: the database answers and every supervised service runs.
#[utoipa::path(get, path = "/ready", tag = "ops", responses(
    (status = 200, body = Status),
    (status = 503, description = "a supervised service is not running (`Unready`, naming it), \
        or the database does not answer (`ErrorBody`, code `unavailable`)", body = Unready),
))]
pub(crate) async fn ready(State(state): State<AppState>) -> Result<Response, ApiError> {
    let ping = sqlx::query("SELECT 1").execute(state.store().pool());
    let db = match tokio::time::timeout(READY_TIMEOUT, ping).await {
        Ok(Ok(_)) => Ok(()),
        // The driver's text (host names, database names, users) goes to the log only.
        Ok(Err(e)) => Err(ApiError::Database(e.to_string())),
        Err(_) => Err(ApiError::Database("did not answer within 2 s".into())),
    };
    let health = state.health().snapshot();
    let services: BTreeMap<&'static str, ServiceStatus> = health
        .iter()
        .map(|(name, h)| {
            let since = i64::try_from(h.since_ms).unwrap_or(i64::MAX);
            let status = ServiceStatus {
                state: h.state.as_str(),
                since: crate::routes::rfc3339(since),
                error: h.error.map(|c| c.as_str()),
                failures: h.failures,
            };
            (*name, status)
        })
        .collect();
    if !health.values().all(|h| h.is_up()) {
        if let Err(e) = &db {
            tracing::warn!(error = %e, "database unavailable");
        }
        let body = Unready {
            status: "unavailable",
            version: env!("CARGO_PKG_VERSION"),
            database: if db.is_ok() { "ok" } else { "unavailable" },
            services,
        };
        let mut res = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
        res.extensions_mut().insert(crate::middleware::OwnErrorBody);
        return Ok(res);
    }
    db?;
    Ok(Json(Status {
        status: "ready",
        version: env!("CARGO_PKG_VERSION"),
        warnings: state.ready_warnings().list(),
        services,
    })
    .into_response())
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics().render();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, content_type = "application/json", body = Object)))]
pub(crate) async fn openapi(doc: Option<axum::Extension<crate::openapi::ServedDoc>>) -> Response {
    let json: std::sync::Arc<str> = match doc {
        Some(axum::Extension(d)) => d.0,
        None => std::sync::Arc::from(crate::openapi::json()),
    };
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json.to_string(),
    )
        .into_response()
}

/// A self-contained HTML page rendering the OpenAPI document (no external scripts).
#[utoipa::path(get, path = "/docs", tag = "ops", responses((status = 200, content_type = "text/html", body = String)))]
pub(crate) async fn docs() -> Html<&'static str> {
    Html(DOCS_HTML)
}
