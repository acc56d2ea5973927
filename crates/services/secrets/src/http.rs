//! `/v1/secrets`: the caller's secrets over HTTP. Values go in, never out; another account's
//! secret is a 404.

use std::fmt;
use std::sync::Arc;

use crate::SecretMeta;
use axum::Router;
use axum::extract::Extension;
use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::routing::get;
use nsl_api_types::auth::{Principal, SCOPE_READ, SCOPE_WRITE};
use nsl_api_types::error::{ErrorBody, Json, Path};
use nsl_api_types::{ApiError, ServiceState};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::service::{Actor, SecretInfo, SecretsService};

/// The `/v1/secrets` routes and the admin route `POST /v1/admin/secrets/rotate-master` over
/// `service`; pass it to `nsl_api::router_with`.
pub fn router<S>(service: Arc<SecretsService>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ServiceState: FromRef<S>,
{
    Router::new()
        .route("/v1/secrets", get(list))
        .route(
            "/v1/secrets/{name}",
            get(read).put(put_secret).delete(delete),
        )
        .route(
            "/v1/admin/secrets/rotate-master",
            axum::routing::post(crate::admin::rotate_master),
        )
        .layer(Extension(service))
}

/// OpenAPI description of the `/v1/secrets` routes (merge it into the node's document with
/// `utoipa::openapi::OpenApi::merge`).
#[derive(OpenApi)]
#[openapi(
    paths(put_secret, list, read, delete, crate::admin::rotate_master),
    components(schemas(PutSecretRequest, SecretWritten, SecretView, SecretList,
        crate::service::RotationReport)),
    tags((name = "secrets", description = "Per-account encrypted secrets for functions")),
)]
pub struct SecretsApiDoc;

/// Body of `PUT /v1/secrets/{name}`. `Debug` never shows the value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSecretRequest {
    /// The secret value (UTF-8 text, at most 65536 bytes). Never returned by any endpoint.
    value: String,
}

impl fmt::Debug for PutSecretRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutSecretRequest")
            .field("value", &"<redacted>")
            .finish()
    }
}

/// The version a write created.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretWritten {
    /// Secret name.
    name: String,
    /// Version just written (1 for a new secret).
    version: u64,
    /// Creation time of this version (RFC 3339).
    created_at: String,
}

impl From<SecretInfo> for SecretWritten {
    fn from(i: SecretInfo) -> Self {
        Self {
            name: i.name,
            version: i.version,
            created_at: rfc3339(i.created_at),
        }
    }
}

/// A secret's metadata (never its value).
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretView {
    /// Secret name.
    name: String,
    /// Newest version (the one functions read).
    version: u64,
    /// Versions kept (the newest 5).
    versions: u64,
    /// Creation time of the oldest kept version (RFC 3339).
    created_at: String,
    /// Creation time of the newest version (RFC 3339).
    updated_at: String,
}

impl From<&SecretMeta> for SecretView {
    fn from(m: &SecretMeta) -> Self {
        Self {
            name: m.name.clone(),
            version: m.latest_version,
            versions: m.versions,
            created_at: rfc3339(m.created_at),
            updated_at: rfc3339(m.updated_at),
        }
    }
}

/// The caller's secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretList {
    /// Sorted by name.
    items: Vec<SecretView>,
}

fn actor(p: &Principal) -> Actor {
    Actor {
        name: p.actor(),
        ip: Some(p.ip.to_string()),
    }
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds (`2026-01-02T03:04:05.678Z`).
fn rfc3339(ms: i64) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Create or update a secret: each write is a new version (201 for the first, 200 after).
#[utoipa::path(put, path = "/v1/secrets/{name}", tag = "secrets", request_body = PutSecretRequest,
    security(("bearer" = [])),
    params(("name" = String, Path, description = "1-128 characters from A-Z a-z 0-9 _ - ., first a letter or _")),
    responses(
        (status = 201, description = "created (version 1)", body = SecretWritten),
        (status = 200, description = "new version of an existing secret", body = SecretWritten),
        (status = 401, body = ErrorBody), (status = 403, description = "missing `write` scope", body = ErrorBody),
        (status = 422, description = "bad name or value too large", body = ErrorBody),
    ))]
pub(crate) async fn put_secret(
    Extension(svc): Extension<Arc<SecretsService>>,
    p: Principal,
    Path(name): Path<String>,
    Json(req): Json<PutSecretRequest>,
) -> Result<(StatusCode, Json<SecretWritten>), ApiError> {
    p.require_scope(SCOPE_WRITE)?;
    let info = svc
        .put(p.account_id, &name, req.value.as_bytes(), &actor(&p))
        .await?;
    tracing::info!(account_id = %p.account_id, name = %info.name, version = info.version, "secret written");
    let status = if info.version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(info.into())))
}

/// List the caller's secrets (names and versions, never values).
#[utoipa::path(get, path = "/v1/secrets", tag = "secrets", security(("bearer" = [])),
    responses((status = 200, body = SecretList), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(
    Extension(svc): Extension<Arc<SecretsService>>,
    p: Principal,
) -> Result<Json<SecretList>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    let items = svc.list(p.account_id).await?;
    Ok(Json(SecretList {
        items: items.iter().map(SecretView::from).collect(),
    }))
}

/// One of the caller's secrets: metadata only.
#[utoipa::path(get, path = "/v1/secrets/{name}", tag = "secrets", security(("bearer" = [])),
    params(("name" = String, Path, description = "secret name")),
    responses((status = 200, body = SecretView), (status = 404, description = "no such secret of this account", body = ErrorBody)))]
pub(crate) async fn read(
    Extension(svc): Extension<Arc<SecretsService>>,
    p: Principal,
    Path(name): Path<String>,
) -> Result<Json<SecretView>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    let meta = svc.meta(p.account_id, &name).await?;
    Ok(Json(SecretView::from(&meta)))
}

/// Delete a secret with all its versions.
#[utoipa::path(delete, path = "/v1/secrets/{name}", tag = "secrets", security(("bearer" = [])),
    params(("name" = String, Path, description = "secret name")),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such secret of this account", body = ErrorBody)))]
pub(crate) async fn delete(
    Extension(svc): Extension<Arc<SecretsService>>,
    p: Principal,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require_scope(SCOPE_WRITE)?;
    svc.delete(p.account_id, &name, &actor(&p)).await?;
    tracing::info!(account_id = %p.account_id, name = %name, "secret deleted");
    Ok(StatusCode::NO_CONTENT)
}
