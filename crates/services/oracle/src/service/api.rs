//! HTTP API of the oracle service, merged into the node's API with `nsl_api::router_with`:
//!
//! - `GET /v1/oracle/requests?state=&limit=&offset=`: a page of request rows, newest first.
//! - `GET /v1/oracle/requests/{id}`: one row with its state history, response transaction hash,
//!   validUntilBlock, broadcast attempts and blocks-to-answer.
//!
//! Admin only for now (role `admin` and scope `admin`): mapping a requesting contract to the
//! account that owns it is not recorded anywhere yet.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use nsl_api::auth::Principal;
use nsl_api::error::{Json, Query};
use nsl_api::{ApiError, AppState};
use serde::{Deserialize, Serialize};

use super::store::{OracleStore as _, RequestDetail, RequestFilter, RequestRow, RequestState};

/// The routes, for `nsl_api::router_with`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/oracle/requests", get(list))
        .route("/v1/oracle/requests/{id}", get(one))
}

/// Query of `GET /v1/oracle/requests`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only rows in this state (`seen`, `fetched`, `outbox`, `sent`, `confirmed`, `failed`,
    /// `expired`).
    pub state: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<i64>,
    /// Rows to skip.
    pub offset: Option<i64>,
}

/// A page of rows.
#[derive(Debug, Serialize)]
pub struct ListResponse {
    /// The rows, newest first.
    pub requests: Vec<RequestRow>,
}

/// One row with details.
#[derive(Debug, Serialize)]
pub struct DetailResponse {
    /// Row, history, outbox entry.
    #[serde(flatten)]
    pub detail: RequestDetail,
    /// Blocks between the request and its confirmed response.
    pub blocks_to_answer: Option<i64>,
    /// Milliseconds between the row's creation and its last change.
    pub elapsed_ms: i64,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<ListResponse>, ApiError> {
    principal.require_admin()?;
    let st = match q.state.as_deref() {
        None => None,
        Some(s) => Some(
            RequestState::parse(s)
                .ok_or_else(|| ApiError::Validation(format!("unknown state {s:?}")))?,
        ),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Validation(
            "limit must be between 1 and 500".into(),
        ));
    }
    let requests = state
        .store()
        .list_requests(&RequestFilter {
            state: st,
            requesters: None,
            limit,
            offset: q.offset.unwrap_or(0).max(0),
        })
        .await?;
    Ok(Json(ListResponse { requests }))
}

async fn one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<DetailResponse>, ApiError> {
    principal.require_admin()?;
    let detail = state
        .store()
        .request(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("oracle request {id} not found")))?;
    let r = &detail.request;
    Ok(Json(DetailResponse {
        blocks_to_answer: r.confirmed_block.map(|b| b - r.block_index),
        elapsed_ms: r.updated_at - r.created_at,
        detail,
    }))
}
