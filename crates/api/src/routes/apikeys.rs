//! `/v1/apikeys`: the caller's API keys. Keys of other accounts are invisible (404).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use nsl_store::{AccountStore as _, ApiKey, ApiKeyId, ApiKeyStore as _, now_ms};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rfc3339;
use crate::apikeys::{self as svc, Actor, CreatedKey};
use crate::auth::{AuthMethod, DEFAULT_SCOPES, Principal, SCOPE_KEYS, SCOPE_READ};
use crate::error::{ApiError, ErrorBody, Json, Path};
use crate::state::AppState;

/// Longest accepted key lifetime (10 years).
const MAX_EXPIRES_IN_SECS: u64 = 10 * 365 * 24 * 3600;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/apikeys", post(create).get(list))
        .route("/v1/apikeys/{id}", get(read).delete(revoke))
        .route("/v1/apikeys/{id}/rotate", post(rotate))
}

/// Create a key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateKeyRequest {
    /// Label, 1 to 100 characters.
    name: String,
    /// Scopes: `read`, `write`, `keys`, `admin` (admin accounts only). Default `["read", "write"]`.
    #[serde(default)]
    scopes: Option<Vec<String>>,
    /// Lifetime in seconds (60 s to 10 years); absent: no expiry.
    #[serde(default)]
    expires_in_secs: Option<u64>,
}

/// An API key as listed (never the key itself).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyView {
    /// Key id.
    #[schema(value_type = String, format = Uuid)]
    id: ApiKeyId,
    /// Label.
    name: String,
    /// Public prefix (the key reads `nsl_<prefix>_...`).
    prefix: String,
    /// Scopes.
    scopes: Vec<String>,
    /// `active`, `revoked` or `expired`.
    status: &'static str,
    /// Creation time (RFC 3339).
    created_at: String,
    /// Expiry (RFC 3339), if any.
    expires_at: Option<String>,
    /// Last use (RFC 3339, updated at most once a minute).
    last_used_at: Option<String>,
    /// Revocation time (RFC 3339).
    revoked_at: Option<String>,
}

impl From<&ApiKey> for KeyView {
    fn from(k: &ApiKey) -> Self {
        let now = now_ms();
        let status = if k.revoked_at.is_some() {
            "revoked"
        } else if k.is_active(now) {
            "active"
        } else {
            "expired"
        };
        Self {
            id: k.id,
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            scopes: k.scopes.clone(),
            status,
            created_at: rfc3339(k.created_at),
            expires_at: k.expires_at.map(rfc3339),
            last_used_at: k.last_used_at.map(rfc3339),
            revoked_at: k.revoked_at.map(rfc3339),
        }
    }
}

/// A new key: `key` is shown this once and cannot be retrieved again.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedKeyView {
    /// The full key. Store it now; only its hash is kept.
    key: String,
    /// The key's metadata.
    #[serde(flatten)]
    meta: KeyView,
}

impl From<CreatedKey> for CreatedKeyView {
    fn from(c: CreatedKey) -> Self {
        Self {
            meta: KeyView::from(&c.key),
            key: c.secret,
        }
    }
}

/// Keys of the caller.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyList {
    /// Newest first, revoked ones included.
    items: Vec<KeyView>,
}

fn actor(p: &Principal) -> Actor {
    Actor {
        name: p.actor(),
        ip: Some(p.ip.to_string()),
    }
}

/// Scopes an API key caller may grant: its own (sessions: no ceiling beyond the role).
fn ceiling(p: &Principal) -> Option<&[String]> {
    match &p.method {
        AuthMethod::ApiKey { scopes, .. } => Some(scopes.as_slice()),
        AuthMethod::Session { .. } => None,
    }
}

/// The expiry ceiling of keys made by this caller: an API key cannot create or rotate into a key
/// that outlives it (sessions: none).
fn expiry_ceiling(p: &Principal) -> Option<i64> {
    match &p.method {
        AuthMethod::ApiKey { expires_at, .. } => *expires_at,
        AuthMethod::Session { .. } => None,
    }
}

/// 403 when `expires_at` (None: never) is later than the caller's own expiry.
fn check_expiry_ceiling(p: &Principal, expires_at: Option<i64>) -> Result<(), ApiError> {
    let Some(ceiling) = expiry_ceiling(p) else {
        return Ok(());
    };
    if expires_at.is_none_or(|e| e > ceiling) {
        return Err(ApiError::Forbidden(format!(
            "this API key expires at {}; a key it creates or rotates must expire no later (give expires_in_secs)",
            rfc3339(ceiling)
        )));
    }
    Ok(())
}

fn parse_id(s: &str) -> Result<ApiKeyId, ApiError> {
    s.parse()
        .map_err(|_| ApiError::not_found("no such API key"))
}

/// The caller's key `id`, or 404 (also for other accounts' keys).
async fn own_key(state: &AppState, p: &Principal, id: &str) -> Result<ApiKey, ApiError> {
    let id = parse_id(id)?;
    state
        .store()
        .api_key(id)
        .await?
        .filter(|k| k.account_id == p.account_id)
        .ok_or_else(|| ApiError::not_found("no such API key"))
}

async fn account_of(state: &AppState, p: &Principal) -> Result<nsl_store::Account, ApiError> {
    state
        .store()
        .account(p.account_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("account not found"))
}

/// Create an API key.
#[utoipa::path(post, path = "/v1/apikeys", tag = "apikeys", request_body = CreateKeyRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = CreatedKeyView),
        (status = 401, body = ErrorBody), (status = 403, description = "missing `keys` scope, scope escalation, or an expiry later than the calling key's", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
pub(crate) async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(req): Json<CreateKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKeyView>), ApiError> {
    p.require_scope(SCOPE_KEYS)?;
    let account = account_of(&state, &p).await?;
    let requested = req
        .scopes
        .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect());
    let scopes = svc::validate_scopes(&requested, account.role, ceiling(&p))?;
    let expires_at = match req.expires_in_secs {
        None => None,
        Some(s) if (60..=MAX_EXPIRES_IN_SECS).contains(&s) => {
            Some(now_ms().saturating_add(i64::try_from(s * 1000).unwrap_or(i64::MAX / 2)))
        }
        Some(_) => {
            return Err(ApiError::validation(
                "expires_in_secs must be between 60 and 315360000",
            ));
        }
    };
    check_expiry_ceiling(&p, expires_at)?;
    let created = svc::create_key(
        state.store(),
        &account,
        &req.name,
        scopes,
        expires_at,
        &actor(&p),
    )
    .await?;
    tracing::info!(account_id = %account.id, key_id = %created.key.id, prefix = %created.key.prefix, "API key created");
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// List the caller's API keys.
#[utoipa::path(get, path = "/v1/apikeys", tag = "apikeys", security(("bearer" = [])),
    responses((status = 200, body = KeyList), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<KeyList>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    let keys = state.store().list_api_keys(p.account_id).await?;
    Ok(Json(KeyList {
        items: keys.iter().map(KeyView::from).collect(),
    }))
}

/// One of the caller's API keys.
#[utoipa::path(get, path = "/v1/apikeys/{id}", tag = "apikeys", security(("bearer" = [])),
    params(("id" = String, Path, description = "key id")),
    responses((status = 200, body = KeyView), (status = 404, description = "no such key of this account", body = ErrorBody)))]
pub(crate) async fn read(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    let key = own_key(&state, &p, &id).await?;
    Ok(Json(KeyView::from(&key)))
}

/// Revoke one of the caller's API keys (idempotent). It stops working at once on this node and
/// within seconds on others.
#[utoipa::path(delete, path = "/v1/apikeys/{id}", tag = "apikeys", security(("bearer" = [])),
    params(("id" = String, Path, description = "key id")),
    responses((status = 204, description = "revoked"), (status = 404, description = "no such key of this account", body = ErrorBody)))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require_scope(SCOPE_KEYS)?;
    let id = parse_id(&id)?;
    let key = svc::revoke_key(state.store(), id, Some(p.account_id), &actor(&p)).await?;
    state.inner().keys.invalidate(&key.prefix);
    tracing::info!(account_id = %p.account_id, key_id = %key.id, prefix = %key.prefix, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate: create a successor with the same name, scopes and expiry. The old key keeps working until
/// you revoke it, so clients can switch over first.
#[utoipa::path(post, path = "/v1/apikeys/{id}/rotate", tag = "apikeys", security(("bearer" = [])),
    params(("id" = String, Path, description = "key id")),
    responses((status = 201, body = CreatedKeyView), (status = 403, description = "scope escalation, or the successor would outlive the calling key", body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "key revoked or expired", body = ErrorBody)))]
pub(crate) async fn rotate(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<CreatedKeyView>), ApiError> {
    p.require_scope(SCOPE_KEYS)?;
    let old = own_key(&state, &p, &id).await?;
    let account = account_of(&state, &p).await?;
    // The successor gets the old key's scopes: they must still be grantable by this caller.
    svc::validate_scopes(&old.scopes, account.role, ceiling(&p))?;
    // The successor gets the old key's expiry: it must not outlive the caller's key either.
    check_expiry_ceiling(&p, old.expires_at)?;
    let created = svc::rotate_key(state.store(), &account, &old, &actor(&p)).await?;
    tracing::info!(account_id = %account.id, old_key_id = %old.id, key_id = %created.key.id, "API key rotated");
    Ok((StatusCode::CREATED, Json(created.into())))
}
