//! `GET /v1/me`: who the caller is.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{AuthMethod, Principal, SCOPE_READ};
use crate::error::{ApiError, ErrorBody, Json};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/me", get(me))
}

/// The caller's account and credential.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MeResponse {
    /// Account id.
    #[schema(value_type = String, format = Uuid)]
    account_id: nsl_store::AccountId,
    /// Display name.
    name: String,
    /// `user` or `admin`.
    #[schema(value_type = String, example = "user")]
    role: nsl_store::Role,
    /// Account creation time (RFC 3339).
    created_at: String,
    /// Wallet addresses that log in to this account.
    wallets: Vec<String>,
    /// How this request authenticated.
    auth: AuthMethod,
}

/// The authenticated caller. Served from a short-lived in-memory snapshot of the account (see
/// `docs/auth.md`), so hot reads do not touch the database.
#[utoipa::path(get, path = "/v1/me", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn me(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<MeResponse>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    let snap = state
        .inner()
        .accounts
        .get(&state, p.account_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("account not found"))?;
    Ok(Json(MeResponse {
        account_id: snap.account.id,
        name: snap.account.name.clone(),
        role: snap.account.role,
        created_at: snap.created_at.clone(),
        wallets: snap.wallets.clone(),
        auth: p.method,
    }))
}
