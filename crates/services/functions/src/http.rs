//! `/v1/functions` and `/v1/executions`: the caller's functions and their executions. Rows of
//! other accounts are invisible (404). [`FunctionsApiDoc`] describes them (OpenAPI 3.1).

use crate::{ExecutionRecord, FunctionRecord};
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Router};
use nsl_api_types::ServiceState;
use nsl_api_types::auth::{Principal, SCOPE_GRANT, SCOPE_READ, SCOPE_WRITE};
use nsl_api_types::error::{ApiError, ErrorBody, Json, Path, Query};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::service::{ExecuteMode, FunctionInput, FunctionsService, LimitsInput};

/// The functions routes, to mount with `nsl_api::router_with(state, nsl_functions::router(svc))`.
pub fn router<S>(service: FunctionsService) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ServiceState: FromRef<S>,
{
    Router::new()
        .route("/v1/functions", post(create).get(list))
        .route("/v1/functions/{id}", get(read).put(update))
        .route("/v1/functions/{id}/execute", post(execute))
        .route("/v1/functions/{id}/executions", get(executions))
        .route("/v1/executions", get(all_executions))
        .route("/v1/executions/{id}", get(execution))
        .layer(Extension(service))
}

/// OpenAPI description of the `/v1/functions` and `/v1/executions` routes (merge it into the
/// node's document, e.g. through `nsl_api::router_with_openapi`).
#[derive(OpenApi)]
#[openapi(
    paths(create, list, read, update, execute, executions, all_executions, execution),
    components(schemas(
        CreateRequest, UpdateRequest, LimitsDoc, ExecuteRequest, FunctionView, LimitsView,
        FunctionList, ExecutionView, ErrorView, ChainView, LogView, ExecutionList
    )),
    tags((name = "functions", description = "The caller's JavaScript functions, their versions and executions (API- and chain-triggered)")),
)]
pub struct FunctionsApiDoc;

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

/// Body of `POST /v1/functions`: a name plus the first version.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    /// 1 to 100 printable characters, unique per account.
    name: String,
    /// ES module whose default export `main(args)` is called; 1 byte to 256 KiB.
    source: String,
    /// Resource limits; absent fields take the operator maxima, larger values are lowered to
    /// them.
    #[serde(default)]
    #[schema(value_type = Option<LimitsDoc>)]
    limits: LimitsInput,
    /// Hosts `fetch` may reach: `api.example.com` or `*.example.com` (at most 32).
    #[serde(default)]
    allowed_hosts: Vec<String>,
    /// Names of the account's secrets `secrets.get` may read (at most 32).
    #[serde(default)]
    secrets: Vec<String>,
    /// Requesters allowed to run the function from chain through the gateway: `0x` script
    /// hashes or `N...` addresses (at most 32). Empty or absent: not callable from chain.
    #[serde(default)]
    onchain_callers: Vec<String>,
}

/// Body of `PUT /v1/functions/{id}`: the new version (replaces every field of the previous one).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only: the handler parses `FunctionInput`
struct UpdateRequest {
    /// ES module source.
    source: String,
    /// Resource limits.
    limits: Option<LimitsDoc>,
    /// Hosts `fetch` may reach.
    allowed_hosts: Option<Vec<String>>,
    /// Secret names `secrets.get` may read.
    secrets: Option<Vec<String>>,
    /// Requesters allowed to run the version from chain (`0x` script hashes or `N...`
    /// addresses).
    onchain_callers: Option<Vec<String>>,
}

/// Requested limits (each optional).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only: the handlers parse `LimitsInput`
struct LimitsDoc {
    /// Wall-clock budget in milliseconds, at least 1 (default and maximum: 10000 unless the
    /// operator set `functions.max_timeout_ms`).
    timeout_ms: Option<u64>,
    /// QuickJS heap in bytes, at least 2097152 (default and maximum: 128 MiB unless the
    /// operator set `functions.max_memory_bytes`).
    memory_bytes: Option<u64>,
    /// Most `fetch` calls (default and maximum: 5 unless the operator set
    /// `functions.max_fetches`).
    max_fetches: Option<u32>,
}

/// The limits stored with a version (already lowered to the operator maxima).
#[derive(Debug, Serialize, ToSchema)]
struct LimitsView {
    /// Milliseconds.
    timeout_ms: u64,
    /// Bytes.
    memory_bytes: u64,
    /// `fetch` calls.
    max_fetches: u32,
}

/// A function with its current version.
#[derive(Debug, Serialize, ToSchema)]
struct FunctionView {
    /// Function id (UUID).
    id: String,
    /// Name.
    name: String,
    /// Current version (1 for a new function).
    version: i64,
    /// Source of the current version.
    source: String,
    /// Limits of the current version.
    limits: LimitsView,
    /// Hosts `fetch` may reach.
    allowed_hosts: Vec<String>,
    /// Secret names granted.
    secrets: Vec<String>,
    /// Requesters allowed from chain (`0x` + 40 lowercase hex, big-endian script hashes).
    onchain_callers: Vec<String>,
    /// RFC 3339.
    created_at: String,
    /// Time of the current version (RFC 3339).
    updated_at: String,
}

/// The caller's functions.
#[derive(Debug, Serialize, ToSchema)]
struct FunctionList {
    /// Oldest first.
    items: Vec<FunctionView>,
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
            onchain_callers: s.onchain_callers.clone(),
            created_at: rfc3339(f.created_at),
            updated_at: rfc3339(f.updated_at),
        }
    }
}

/// Why an execution failed.
#[derive(Debug, Serialize, ToSchema)]
struct ErrorView {
    /// `timeout`, `memory_limit`, `stack_overflow`, `script_error`, `result_too_large`,
    /// `host_error`, `internal` or `interrupted`.
    kind: String,
    /// Details (never secret values).
    message: Option<String>,
}

/// The gateway request of a chain-triggered execution.
#[derive(Debug, Serialize, ToSchema)]
struct ChainView {
    /// The gateway's request id.
    request_id: u64,
    /// The requesting transaction (`0x` hex).
    tx_hash: String,
    /// The requester (`0x` script hash).
    requester: String,
}

/// One captured console line (documentation of the `logs` items).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only: logs are stored as JSON
struct LogView {
    /// `log`, `info`, `warn` or `error`.
    level: String,
    /// Text; secret values read during the execution are `[REDACTED]`.
    message: String,
}

/// An execution.
#[derive(Debug, Serialize, ToSchema)]
struct ExecutionView {
    /// Execution id (UUID).
    id: String,
    /// Function run.
    function_id: String,
    /// Version run.
    version: i64,
    /// `queued`, `running`, `succeeded` or `failed`.
    #[schema(value_type = String)]
    status: &'static str,
    /// `api` (HTTP or Rust caller) or `chain` (a gateway request).
    #[schema(value_type = String)]
    trigger: &'static str,
    /// The gateway request, for trigger `chain`.
    chain: Option<ChainView>,
    /// Set when `failed`.
    error: Option<ErrorView>,
    /// The value `main` returned, when `succeeded`.
    #[schema(value_type = Option<Object>)]
    result: Option<Value>,
    /// Captured console output.
    #[schema(value_type = Vec<LogView>)]
    logs: Value,
    /// Wall-clock milliseconds, when finished.
    duration_ms: Option<i64>,
    /// Peak heap bytes, when finished.
    memory_bytes: Option<i64>,
    /// `fetch` calls made, when finished.
    fetch_count: Option<i64>,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    started_at: Option<String>,
    /// RFC 3339.
    finished_at: Option<String>,
}

/// Executions, newest first.
#[derive(Debug, Serialize, ToSchema)]
struct ExecutionList {
    /// At most `functions.list_limit` (default 100).
    items: Vec<ExecutionView>,
}

impl From<&ExecutionRecord> for ExecutionView {
    fn from(e: &ExecutionRecord) -> Self {
        Self {
            id: e.id.to_string(),
            function_id: e.function_id.to_string(),
            version: e.version,
            status: e.status.as_str(),
            trigger: e.trigger(),
            chain: e.chain.as_ref().map(|c| ChainView {
                request_id: c.request_id,
                tx_hash: c.tx_hash.clone(),
                requester: c.requester.clone(),
            }),
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

/// Create a function (version 1).
#[utoipa::path(post, path = "/v1/functions", tag = "functions", request_body = CreateRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "created", body = FunctionView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "`forbidden`: missing `write` scope, or `secrets` / `onchain_callers` without the `grant` scope", body = ErrorBody),
        (status = 409, description = "`conflict`: the account has a function of this name", body = ErrorBody),
        (status = 422, description = "`validation_failed`; the message starts with the reason: empty_source, source_too_large, invalid_limits, invalid_host, too_many_hosts, invalid_secret_name, too_many_secrets, invalid_onchain_caller, too_many_onchain_callers, invalid_name", body = ErrorBody),
    ))]
async fn create(
    State(state): State<ServiceState>,
    Extension(svc): Extension<FunctionsService>,
    p: Principal,
    Json(req): Json<CreateRequest>,
) -> Result<(StatusCode, Json<FunctionView>), ApiError> {
    p.require_scope(SCOPE_WRITE)?;
    require_grant(&p, &req.secrets, &req.onchain_callers)?;
    let input = FunctionInput {
        source: req.source,
        limits: req.limits,
        allowed_hosts: req.allowed_hosts,
        secrets: req.secrets,
        onchain_callers: req.onchain_callers,
    };
    let f = svc.create(p.account_id, &req.name, &input).await?;
    tracing::info!(account_id = %p.account_id, function_id = %f.id, "function created");
    audit_grants(&state, &p, None, &f).await?;
    Ok((StatusCode::CREATED, Json(FunctionView::from(&f))))
}

/// The caller's functions with their current versions.
#[utoipa::path(get, path = "/v1/functions", tag = "functions",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, body = FunctionList),
        (status = 401, body = ErrorBody),
        (status = 403, description = "missing `read` scope", body = ErrorBody),
    ))]
async fn list(
    Extension(svc): Extension<FunctionsService>,
    p: Principal,
) -> Result<Json<FunctionList>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    let fs = svc.list(p.account_id).await?;
    Ok(Json(FunctionList {
        items: fs.iter().map(FunctionView::from).collect(),
    }))
}

/// One of the caller's functions with its current version.
#[utoipa::path(get, path = "/v1/functions/{id}", tag = "functions",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "function id")),
    responses(
        (status = 200, body = FunctionView),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such function of this account", body = ErrorBody),
    ))]
async fn read(
    Extension(svc): Extension<FunctionsService>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<FunctionView>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    let f = svc.get(p.account_id, parse_id(&id, "function")?).await?;
    Ok(Json(FunctionView::from(&f)))
}

/// Store a new version of a function and make it current.
#[utoipa::path(put, path = "/v1/functions/{id}", tag = "functions", request_body = UpdateRequest,
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "function id")),
    responses(
        (status = 200, description = "the function with `version` + 1", body = FunctionView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "`forbidden`: missing `write` scope, or `secrets` / `onchain_callers` without the `grant` scope", body = ErrorBody),
        (status = 404, description = "no such function of this account", body = ErrorBody),
        (status = 422, description = "`validation_failed` (reasons as for create)", body = ErrorBody),
    ))]
async fn update(
    State(state): State<ServiceState>,
    Extension(svc): Extension<FunctionsService>,
    p: Principal,
    Path(id): Path<String>,
    Json(req): Json<FunctionInput>,
) -> Result<Json<FunctionView>, ApiError> {
    p.require_scope(SCOPE_WRITE)?;
    require_grant(&p, &req.secrets, &req.onchain_callers)?;
    let id = parse_id(&id, "function")?;
    let before = svc.get(p.account_id, id).await?;
    let f = svc.update(p.account_id, id, &req).await?;
    tracing::info!(account_id = %p.account_id, function_id = %f.id, version = f.current.version, "function updated");
    audit_grants(&state, &p, Some(&before), &f).await?;
    Ok(Json(FunctionView::from(&f)))
}

/// A version that grants secrets or names on-chain callers needs the `grant` scope (sessions
/// hold it; API keys only when created with it). Without it `403 forbidden`.
fn require_grant(p: &Principal, secrets: &[String], callers: &[String]) -> Result<(), ApiError> {
    if (secrets.is_empty() && callers.is_empty()) || p.has_scope(SCOPE_GRANT) {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "granting secrets to a function or setting onchain_callers needs the {SCOPE_GRANT:?} scope (or a wallet session)"
    )))
}

/// Audit entries for a stored version whose granted secrets (`function.secrets_grant`) or
/// on-chain callers (`function.onchain_callers`) differ from the previous version's (none for a
/// new function). Fail closed: the request answers 503 if the audit log is not writable.
async fn audit_grants(
    state: &ServiceState,
    p: &Principal,
    before: Option<&FunctionRecord>,
    f: &FunctionRecord,
) -> Result<(), ApiError> {
    use nsl_store::AuditStore as _;
    let empty = Vec::new();
    let (old_secrets, old_callers) = before.map_or((&empty, &empty), |b| {
        (&b.current.spec.secrets, &b.current.spec.onchain_callers)
    });
    let spec = &f.current.spec;
    let mut entries = Vec::new();
    if &spec.secrets != old_secrets {
        entries.push((
            "function.secrets_grant",
            serde_json::json!({"function_id": f.id.to_string(), "version": f.current.version,
                "secrets": spec.secrets, "previous": old_secrets}),
        ));
    }
    if &spec.onchain_callers != old_callers {
        entries.push((
            "function.onchain_callers",
            serde_json::json!({"function_id": f.id.to_string(), "version": f.current.version,
                "onchain_callers": spec.onchain_callers, "previous": old_callers}),
        ));
    }
    let credential = match &p.method {
        nsl_api_types::auth::AuthMethod::Session { .. } => "session".to_owned(),
        nsl_api_types::auth::AuthMethod::ApiKey { key_id, .. } => format!("api_key:{key_id}"),
    };
    for (action, mut detail) in entries {
        detail["credential"] = Value::String(credential.clone());
        let entry = nsl_store::NewAuditEntry {
            ts: nsl_store::now_ms(),
            actor: p.actor(),
            action: action.into(),
            target: Some(format!("function:{}", f.id)),
            ip: Some(p.ip.to_string()),
            detail,
        };
        state.store().append_audit(&entry).await.map_err(|e| {
            tracing::error!(error = %e, action, "audit append failed");
            ApiError::Unavailable("the audit log is not writable".into())
        })?;
    }
    Ok(())
}

/// Body of `POST /v1/functions/{id}/execute`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ExecuteRequest {
    /// Passed to `main` (default `null`); at most 64 KiB of JSON.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    args: Value,
    /// `sync` (default): wait for the end; `async`: answer `202` with the queued execution.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    mode: ExecuteMode,
}

/// Run the current version.
#[utoipa::path(post, path = "/v1/functions/{id}/execute", tag = "functions", request_body = ExecuteRequest,
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "function id")),
    responses(
        (status = 200, description = "sync: the finished execution (`succeeded` or `failed`)", body = ExecutionView),
        (status = 202, description = "async: the queued execution; poll `/v1/executions/{id}`", body = ExecutionView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "missing `write` scope", body = ErrorBody),
        (status = 404, description = "no such function of this account", body = ErrorBody),
        (status = 422, description = "`validation_failed`: args_too_large", body = ErrorBody),
        (status = 503, description = "`unavailable`: too many executions pending on this node", body = ErrorBody),
        (status = 504, description = "`timeout`: sync call exceeded the API request timeout (the execution still finishes)", body = ErrorBody),
    ))]
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

/// The latest executions of one function.
#[utoipa::path(get, path = "/v1/functions/{id}/executions", tag = "functions",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "function id")),
    responses(
        (status = 200, body = ExecutionList),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such function of this account", body = ErrorBody),
    ))]
async fn executions(
    Extension(svc): Extension<FunctionsService>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<ExecutionList>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    let es = svc
        .executions(p.account_id, parse_id(&id, "function")?)
        .await?;
    Ok(Json(ExecutionList {
        items: es.iter().map(ExecutionView::from).collect(),
    }))
}

/// Filter of `GET /v1/executions`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct ExecutionsQuery {
    /// Only executions with this trigger: `api` or `chain`.
    trigger: Option<String>,
}

/// The latest executions of all the caller's functions (API- and chain-triggered).
#[utoipa::path(get, path = "/v1/executions", tag = "functions",
    security(("bearer" = []), ("api_key" = [])),
    params(ExecutionsQuery),
    responses(
        (status = 200, body = ExecutionList),
        (status = 400, description = "`bad_request`: unknown query parameter or trigger", body = ErrorBody),
        (status = 401, body = ErrorBody),
    ))]
async fn all_executions(
    Extension(svc): Extension<FunctionsService>,
    p: Principal,
    Query(q): Query<ExecutionsQuery>,
) -> Result<Json<ExecutionList>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    if let Some(t) = q.trigger.as_deref()
        && !matches!(t, "api" | "chain")
    {
        return Err(ApiError::BadRequest(format!(
            "trigger {t:?}: use api or chain"
        )));
    }
    let es = svc
        .account_executions(p.account_id, q.trigger.as_deref())
        .await?;
    Ok(Json(ExecutionList {
        items: es.iter().map(ExecutionView::from).collect(),
    }))
}

/// One of the caller's executions.
#[utoipa::path(get, path = "/v1/executions/{id}", tag = "functions",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "execution id")),
    responses(
        (status = 200, body = ExecutionView),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such execution of this account", body = ErrorBody),
    ))]
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
