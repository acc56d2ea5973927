//! `GET /v1/audit`, `GET /v1/audit/verify`: the audit log, for admins.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use nsl_store::{AuditFilter, AuditStore as _};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::rfc3339;
use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody, Json, Query};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/audit", get(list))
        .route("/v1/audit/verify", get(verify))
}

/// Filters; every given one must match. Newest first.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// Exact actor (an account id, `cli`, `wallet:<address>`, `anonymous`).
    actor: Option<String>,
    /// Exact action, e.g. `auth.login`, `auth.login_failed`, `auth.token_replay`, `auth.logout`,
    /// `apikey.create`, `apikey.revoke`, `apikey.rotate`.
    action: Option<String>,
    /// Exact target.
    target: Option<String>,
    /// Only entries with `seq` below this (the `next_before_seq` of the previous page).
    before_seq: Option<i64>,
    /// Page size, 1 to 1000 (default 50).
    limit: Option<u32>,
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditEntryView {
    /// Position in the chain.
    seq: i64,
    /// Time (RFC 3339).
    ts: String,
    /// Who acted.
    actor: String,
    /// What was done.
    action: String,
    /// What it was done to.
    target: Option<String>,
    /// Client IP.
    ip: Option<String>,
    /// Detail.
    #[schema(value_type = Object)]
    detail: serde_json::Value,
    /// Hash of the previous entry (hex).
    prev_hash: String,
    /// Hash of this entry (hex).
    entry_hash: String,
}

/// A page of entries.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditPageView {
    /// Entries, newest first.
    entries: Vec<AuditEntryView>,
    /// Pass as `before_seq` for the next (older) page; absent at the end.
    next_before_seq: Option<i64>,
}

/// Result of walking the chain.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VerifyView {
    /// Whether the chain is intact.
    ok: bool,
    /// Entries checked.
    entries: u64,
    /// The first problem found, in words.
    problem: Option<String>,
}

/// Audit log entries (admin only).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditPageView), (status = 403, description = "not an admin", body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPageView>, ApiError> {
    p.require_admin()?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 1000".into(),
        ));
    }
    let filter = AuditFilter {
        actor: q.actor,
        action: q.action,
        target: q.target,
        since: None,
        until: None,
        before_seq: q.before_seq,
        limit,
    };
    let page = state.store().list_audit(&filter).await?;
    let entries = page
        .entries
        .into_iter()
        .map(|e| AuditEntryView {
            seq: e.seq,
            ts: rfc3339(e.ts),
            actor: e.actor,
            action: e.action,
            target: e.target,
            ip: e.ip,
            detail: e.detail,
            prev_hash: hex::encode(e.prev_hash),
            entry_hash: hex::encode(e.entry_hash),
        })
        .collect();
    Ok(Json(AuditPageView {
        entries,
        next_before_seq: page.next_before_seq,
    }))
}

/// Walk the hash chain and report the first modified, deleted or relinked entry (admin only).
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = VerifyView), (status = 403, description = "not an admin", body = ErrorBody)))]
pub(crate) async fn verify(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<VerifyView>, ApiError> {
    p.require_admin()?;
    let v = state.store().verify_audit().await?;
    Ok(Json(VerifyView {
        ok: v.is_ok(),
        entries: v.entries,
        problem: v.problem.map(|p| p.to_string()),
    }))
}
