//! `/v1/contracts`: contracts the caller registers as its own, so that services show it the
//! requests those contracts make on chain (see [`crate::requesters`]). Registration needs no
//! proof of ownership: it only unlocks views of public chain data.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use nsl_store::{AccountContract, ContractStore as _, NewAuditEntry, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::rfc3339;
use crate::auth::{Principal, SCOPE_READ, SCOPE_WRITE};
use crate::error::{ApiError, ErrorBody, Json, Path};
use crate::requesters::{parse_script_hash, script_hash_address};
use crate::state::AppState;

/// Most contracts one account may register.
const MAX_CONTRACTS: usize = 100;
/// Longest label, in characters.
const MAX_LABEL_LEN: usize = 100;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/contracts", post(register).get(list))
        .route("/v1/contracts/{script_hash}", delete(remove))
}

/// Register a contract.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterContractRequest {
    /// The contract's script hash, `0x` + 40 hex digits (big-endian, as Neo tools show it), or
    /// its Neo N3 address (`N...`).
    #[schema(example = "0x4f1ac7c2a34ad1bbb0cd7a8f1e2b17bd4f0c2dc3")]
    script_hash: String,
    /// Free label, at most 100 characters (default empty).
    #[serde(default)]
    label: String,
}

/// A registered contract.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ContractView {
    /// `0x` + 40 lowercase hex digits, big-endian: the form services report as `requester`.
    script_hash: String,
    /// The same hash as a Neo N3 address.
    address: String,
    /// Label.
    label: String,
    /// Registration time (RFC 3339).
    created_at: String,
}

impl From<&AccountContract> for ContractView {
    fn from(c: &AccountContract) -> Self {
        Self {
            address: script_hash_address(&c.script_hash).unwrap_or_default(),
            script_hash: c.script_hash.clone(),
            label: c.label.clone(),
            created_at: rfc3339(c.created_at),
        }
    }
}

/// Contracts of the caller.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ContractList {
    /// Oldest first.
    items: Vec<ContractView>,
}

fn validate_label(label: &str) -> Result<String, ApiError> {
    let label = label.trim();
    if label.chars().count() > MAX_LABEL_LEN || label.chars().any(char::is_control) {
        return Err(ApiError::validation(format!(
            "label must be at most {MAX_LABEL_LEN} characters without control characters"
        )));
    }
    Ok(label.to_owned())
}

async fn audit(
    state: &AppState,
    p: &Principal,
    action: &str,
    script_hash: &str,
    label: &str,
) -> Result<(), ApiError> {
    state
        .audit(NewAuditEntry {
            ts: now_ms(),
            actor: p.actor(),
            action: action.to_owned(),
            target: Some(script_hash.to_owned()),
            ip: Some(p.ip.to_string()),
            detail: json!({ "account_id": p.account_id.to_string(), "label": label }),
        })
        .await
}

/// Register a contract as the caller's: its requests (oracle requests whose `requester` is this
/// script hash) become visible to the caller. No proof of ownership is asked for: the requests
/// are public chain data. Several accounts may register the same contract.
#[utoipa::path(post, path = "/v1/contracts", tag = "contracts", request_body = RegisterContractRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = ContractView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "missing `write` scope", body = ErrorBody),
        (status = 409, description = "`conflict`: already registered by this account, or 100 contracts registered", body = ErrorBody),
        (status = 422, description = "`validation_failed`: malformed script hash or label", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
pub(crate) async fn register(
    State(state): State<AppState>,
    p: Principal,
    Json(req): Json<RegisterContractRequest>,
) -> Result<(StatusCode, Json<ContractView>), ApiError> {
    p.require_scope(SCOPE_WRITE)?;
    let script_hash = parse_script_hash(&req.script_hash)
        .map_err(|e| ApiError::validation(format!("script_hash: {e}")))?;
    let label = validate_label(&req.label)?;
    let store = state.store();
    if store
        .contract_of(p.account_id, &script_hash)
        .await?
        .is_some()
    {
        return Err(ApiError::Conflict(format!(
            "contract {script_hash} is already registered by this account"
        )));
    }
    if store.contracts_of(p.account_id).await?.len() >= MAX_CONTRACTS {
        return Err(ApiError::Conflict(format!(
            "the account already has {MAX_CONTRACTS} contracts; delete some"
        )));
    }
    let added = match store
        .add_contract(p.account_id, &script_hash, &label, now_ms())
        .await
    {
        Ok(c) => c,
        // A concurrent registration of the same hash won.
        Err(e) if e.is_conflict() => {
            return Err(ApiError::Conflict(format!(
                "contract {script_hash} is already registered by this account"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    audit(&state, &p, "contract.register", &script_hash, &label).await?;
    tracing::info!(account_id = %p.account_id, %script_hash, "contract registered");
    Ok((StatusCode::CREATED, Json(ContractView::from(&added))))
}

/// The caller's registered contracts. (Its wallets' script hashes count as its requesters too,
/// without being listed here.)
#[utoipa::path(get, path = "/v1/contracts", tag = "contracts", security(("bearer" = [])),
    responses(
        (status = 200, body = ContractList),
        (status = 401, body = ErrorBody),
        (status = 403, description = "missing `read` scope", body = ErrorBody),
    ))]
pub(crate) async fn list(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<ContractList>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    let items = state.store().contracts_of(p.account_id).await?;
    Ok(Json(ContractList {
        items: items.iter().map(ContractView::from).collect(),
    }))
}

/// Remove one of the caller's registrations; the contract's requests are hidden from the caller
/// again (unless it is also one of the caller's wallets).
#[utoipa::path(delete, path = "/v1/contracts/{script_hash}", tag = "contracts", security(("bearer" = [])),
    params(("script_hash" = String, Path, description = "`0x` + 40 hex digits or a Neo N3 address")),
    responses(
        (status = 204, description = "removed"),
        (status = 403, description = "missing `write` scope", body = ErrorBody),
        (status = 404, description = "`not_found`: not registered by this account (also for a malformed hash)", body = ErrorBody),
    ))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    p: Principal,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require_scope(SCOPE_WRITE)?;
    let not_found = || ApiError::not_found("no such contract registered by this account");
    let script_hash = parse_script_hash(&raw).map_err(|_| not_found())?;
    let store = state.store();
    let Some(existing) = store.contract_of(p.account_id, &script_hash).await? else {
        return Err(not_found());
    };
    if !store.remove_contract(p.account_id, &script_hash).await? {
        return Err(not_found());
    }
    audit(&state, &p, "contract.delete", &script_hash, &existing.label).await?;
    tracing::info!(account_id = %p.account_id, %script_hash, "contract deleted");
    Ok(StatusCode::NO_CONTENT)
}
