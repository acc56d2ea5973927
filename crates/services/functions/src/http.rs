//! `/v1/functions` and `/v1/executions`: the caller's functions and their executions. Rows of
//! other accounts are invisible (404).

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Router};
use nsl_api::AppState;
use nsl_api::auth::{Principal, SCOPE_READ, SCOPE_WRITE};
use nsl_api::error::{ApiError, Json, Path};
use nsl_store::{ExecutionRecord, FunctionRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::service::{ExecuteMode, FunctionInput, FunctionsService, LimitsInput};

/// The functions routes, to mount with `nsl_api::router_with(state, nsl_functions::router(svc))`.
pub fn router(service: FunctionsService) -> Router<AppState> {
    Router::new()
        .route("/v1/functions", post(create).get(list))
        .route("/v1/functions/{id}", get(read).put(update))
        .route("/v1/functions/{id}/execute", post(execute))
        .route("/v1/functions/{id}/executions", get(executions))
        .route("/v1/executions/{id}", get(execution))
        .layer(Extension(service))
}

/// Unix milliseconds as RFC 3339 UTC with millisecond precision, as the rest of the API.
fn rfc3339(ms: i64) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| ms.to_string())
}

fn parse_id(s: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    s.parse()
        .map_err(|_| ApiError::not_found(format!("no such {what}")))
}

/// Create request: a name plus the first version.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    name: String,
    source: String,
    #[serde(default)]
    limits: LimitsInput,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
}

#[derive(Debug, Serialize)]
struct LimitsView {
    timeout_ms: u64,
    memory_bytes: u64,
    max_fetches: u32,
}

#[derive(Debug, Serialize)]
struct FunctionView {
    id: String,
    name: String,
    version: i64,
    source: String,
    limits: LimitsView,
    allowed_hosts: Vec<String>,
    secrets: Vec<String>,
    created_at: String,
    updated_at: String,
}

impl From<&FunctionRecord> for FunctionView {
    fn from(f: &FunctionRecord) -> Self {
        let s = &f.current.spec;
        Self {
            id: f.id.to_string(),
            name: f.name.clone(),
            version: f.current.version,
            source: s.source.clone(),
            limits: LimitsView {
                timeout_ms: s.timeout_ms,
                memory_bytes: s.memory_bytes,
                max_fetches: s.max_fetches,
            },
            allowed_hosts: s.allowed_hosts.clone(),
            secrets: s.secrets.clone(),
            created_at: rfc3339(f.created_at),
            updated_at: rfc3339(f.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
struct ErrorView {
    kind: String,
    message: Option<String>,
}

#[derive(Debug, Serialize)]
struct ExecutionView {
    id: String,
    function_id: String,
    version: i64,
    status: &'static str,
    error: Option<ErrorView>,
    result: Option<Value>,
    logs: Value,
    duration_ms: Option<i64>,
    memory_bytes: Option<i64>,
    fetch_count: Option<i64>,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
}

impl From<&ExecutionRecord> for ExecutionView {
    fn from(e: &ExecutionRecord) -> Self {
        Self {
            id: e.id.to_string(),
            function_id: e.function_id.to_string(),
            version: e.version,
            status: e.status.as_str(),
            error: e.error_kind.as_ref().map(|k| ErrorView {
                kind: k.clone(),
                message: e.error_message.clone(),
            }),
            result: e.result.clone(),
            logs: e.logs.clone(),
            duration_ms: e.duration_ms,
            memory_bytes: e.memory_bytes,
            fetch_count: e.fetch_count,
            created_at: rfc3339(e.created_at),
            started_at: e.started_at.map(rfc3339),
            finished_at: e.finished_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize)]
struct List<T> {
    items: Vec<T>,
}

async fn create(
    Extension(svc): Extension<FunctionsService>,
    p: Principal,
    Json(req): Json<CreateRequest>,
) -> Result<(StatusCode, Json<FunctionView>), ApiError> {
    p.require_scope(SCOPE_WRITE)?;
    let input = FunctionInput {
        source: req.source,
        limits: req.limits,
        allowed_hosts: req.allowed_hosts,
        secrets: req.secrets,
    };
    let f = svc.create(p.account_id, &req.name, &input).await?;
    tracing::info!(account_id = %p.account_id, function_id = %f.id, "function created");
    Ok((StatusCode::CREATED, Json(FunctionView::from(&f))))
}

async fn list(
    Extension(svc): Extension<FunctionsService>,
    p: Principal,
) -> Result<Json<List<FunctionView>>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    let fs = svc.list(p.account_id).await?;
    Ok(Json(List {
        items: fs.iter().map(FunctionView::from).collect(),
    }))
}

async fn read(
    Extension(svc): Extension<FunctionsService>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<FunctionView>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    let f = svc.get(p.account_id, parse_id(&id, "function")?).await?;
    Ok(Json(FunctionView::from(&f)))
}

async fn update(
    Extension(svc): Extension<FunctionsService>,
    p: Principal,
    Path(id): Path<String>,
    Json(req): Json<FunctionInput>,
) -> Result<Json<FunctionView>, ApiError> {
    p.require_scope(SCOPE_WRITE)?;
    let f = svc
        .update(p.account_id, parse_id(&id, "function")?, &req)
        .await?;
    tracing::info!(account_id = %p.account_id, function_id = %f.id, version = f.current.version, "function updated");
    Ok(Json(FunctionView::from(&f)))
}

/// Execute request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecuteRequest {
    #[serde(default)]
    args: Value,
    #[serde(default)]
    mode: ExecuteMode,
}

async fn execute(
    Extension(svc): Extension<FunctionsService>,
    p: Principal,
    Path(id): Path<String>,
    Json(req): Json<ExecuteRequest>,
) -> Result<(StatusCode, Json<ExecutionView>), ApiError> {
    p.require_scope(SCOPE_WRITE)?;
    let e = svc
        .execute(p.account_id, parse_id(&id, "function")?, req.args, req.mode)
        .await?;
    let status = match req.mode {
        ExecuteMode::Sync => StatusCode::OK,
        ExecuteMode::Async => StatusCode::ACCEPTED,
    };
    Ok((status, Json(ExecutionView::from(&e))))
}

async fn executions(
    Extension(svc): Extension<FunctionsService>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<List<ExecutionView>>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    let es = svc
        .executions(p.account_id, parse_id(&id, "function")?)
        .await?;
    Ok(Json(List {
        items: es.iter().map(ExecutionView::from).collect(),
    }))
}

async fn execution(
    Extension(svc): Extension<FunctionsService>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<ExecutionView>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    let e = svc
        .execution(p.account_id, parse_id(&id, "execution")?)
        .await?;
    Ok(Json(ExecutionView::from(&e)))
}
