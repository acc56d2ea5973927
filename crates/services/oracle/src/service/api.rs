//! HTTP API of the oracle service, merged into the node's API with
//! `nsl_api::router_with_openapi(state, router(), OracleApiDoc::openapi())`:
//!
//! - `GET /v1/oracle/requests?state=&requester=&service=&limit=&offset=`: a page of request rows, newest
//!   first, with `limit`, `offset` and `next_offset`.
//! - `GET /v1/oracle/requests/{id}`: one row with its state history, response transaction hash,
//!   validUntilBlock, broadcast attempts, blocks-to-answer and elapsed time.
//!
//! Who sees what: a row belongs to an account when its `requester` is one of the account's
//! requesters (`nsl_api::requesters::requesters_of`: its wallets' script hashes and the contracts
//! it registered under `/v1/contracts`). Callers see their rows only; a row of someone else is
//! 404 exactly like a missing id. Operators (role `admin` with the `admin` scope) see every row.
//! Both routes need the `read` scope.

use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::get;
use nsl_api_types::auth::{Principal, SCOPE_ADMIN, SCOPE_READ};
use nsl_api_types::error::{ErrorBody, Json, Path, Query};
use nsl_api_types::requesters::{parse_script_hash, requesters_of};
use nsl_api_types::{ApiError, ServiceState, rfc3339};
use nsl_store::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::store::{
    HistoryEntry, OracleStore as _, OutboxRow, RequestFilter, RequestRow, RequestState,
};
use crate::code::{ResponseCode, code_name};

/// Default page size.
const DEFAULT_LIMIT: i64 = 50;
/// Largest page size.
const MAX_LIMIT: i64 = 500;

/// The routes, for `nsl_api::router_with` / `router_with_openapi`.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ServiceState: FromRef<S>,
{
    Router::new()
        .route("/v1/oracle/requests", get(list))
        .route("/v1/oracle/requests/{id}", get(one))
}

/// OpenAPI description of the `/v1/oracle/requests` routes (merge it into the node's document).
#[derive(OpenApi)]
#[openapi(
    paths(list, one),
    components(schemas(RequestView, RequestPage, RequestDetailView, HistoryView, OutboxView)),
    tags((name = "oracle", description = "Oracle requests of the caller's contracts and wallets \
        (all of them for operators)")),
)]
pub struct OracleApiDoc;

/// Query of `GET /v1/oracle/requests`. Unknown keys are refused (400 `bad_request`).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only rows in this state: `seen`, `fetched`, `outbox`, `sent`, `confirmed`, `failed`,
    /// `expired`.
    pub state: Option<String>,
    /// Only rows of this requester (`0x` + 40 hex digits or a Neo N3 address). For callers other
    /// than operators it narrows their own rows (a requester not theirs gives an empty page).
    pub requester: Option<String>,
    /// Only rows of this gateway service type (`oracle`, `function`; native requests are
    /// `oracle`).
    pub service: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<i64>,
    /// Rows to skip, 0 or more (default 0): the `next_offset` of the previous page.
    pub offset: Option<i64>,
}

/// One oracle request.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestView {
    /// Row id (UUID): the `{id}` of `GET /v1/oracle/requests/{id}`.
    pub id: String,
    /// `neo:<network magic>`.
    pub chain: String,
    /// `gateway` (the NSL gateway's `ServiceRequest`) or `native` (Neo's OracleContract).
    #[schema(example = "gateway")]
    pub kind: String,
    /// The gateway service type (`oracle` for native requests).
    pub service: String,
    /// Requesting transaction (`0x` hex).
    pub tx_hash: String,
    /// Notification index in that transaction.
    pub notification_index: i64,
    /// Block holding the request.
    pub block_index: i64,
    /// The gateway's or the OracleContract's request id.
    pub request_id: i64,
    /// Script hash of the requester (`0x` + 40 lowercase hex digits): the contract that called
    /// the gateway or the OracleContract, or the sender of a direct gateway call.
    pub requester: String,
    /// URL fetched.
    pub url: String,
    /// JSONPath filter.
    pub filter: Option<String>,
    /// Why the request is invalid (answered with `Error` without fetching), if it is.
    pub invalid: Option<String>,
    /// `seen`, `fetched`, `outbox`, `sent`, `confirmed`, `failed` or `expired`.
    #[schema(example = "confirmed")]
    pub state: String,
    /// Neo oracle response code (0 = Success), once answered.
    pub code: Option<i64>,
    /// The code's name (`success`, `not_found`, `timeout`, ...), once answered.
    pub code_name: Option<String>,
    /// Hash of the (last) response transaction.
    pub response_tx_hash: Option<String>,
    /// Block holding the response, once confirmed.
    pub confirmed_block: Option<i64>,
    /// Claims of the request by a worker that never finished it (crash, hang); past
    /// `oracle.max_attempts` the request is answered with `Error`.
    pub attempts: i64,
    /// When the node saw the request (RFC 3339).
    pub created_at: String,
    /// Last state change (RFC 3339).
    pub updated_at: String,
}

impl From<&RequestRow> for RequestView {
    fn from(r: &RequestRow) -> Self {
        let code_name = r
            .code
            .and_then(|c| u8::try_from(c).ok())
            .and_then(|b| ResponseCode::from_u8(b).ok())
            .map(|c| code_name(c).to_owned());
        Self {
            id: r.id.clone(),
            chain: r.chain.clone(),
            kind: r.kind.as_str().to_owned(),
            service: r.service.clone(),
            tx_hash: r.tx_hash.clone(),
            notification_index: r.notification_index,
            block_index: r.block_index,
            request_id: r.request_id,
            requester: r.requester.clone(),
            url: r.url.clone(),
            filter: r.filter.clone(),
            invalid: r.invalid.clone(),
            state: r.state.as_str().to_owned(),
            code: r.code,
            code_name,
            response_tx_hash: r.response_tx_hash.clone(),
            confirmed_block: r.confirmed_block,
            attempts: r.attempts,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

/// A page of requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestPage {
    /// Newest first.
    pub requests: Vec<RequestView>,
    /// The page size used.
    pub limit: i64,
    /// The offset used.
    pub offset: i64,
    /// Pass as `offset` for the next page; absent on the last page.
    pub next_offset: Option<i64>,
}

/// One state change.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    /// The state entered.
    pub state: String,
    /// When (RFC 3339).
    pub at: String,
    /// Detail: response code and size, transaction hash and validUntilBlock, block, or why it
    /// failed.
    pub detail: Option<String>,
}

impl From<&HistoryEntry> for HistoryView {
    fn from(h: &HistoryEntry) -> Self {
        Self {
            state: h.state.clone(),
            at: rfc3339(h.at),
            detail: h.detail.clone(),
        }
    }
}

/// The signed response transaction (stored before it is broadcast).
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    /// Transaction hash (`0x` hex).
    pub tx_hash: String,
    /// Last block that may include it.
    pub valid_until_block: i64,
    /// Broadcast attempts so far.
    pub attempts: i64,
}

impl From<&OutboxRow> for OutboxView {
    fn from(o: &OutboxRow) -> Self {
        Self {
            tx_hash: o.tx_hash.clone(),
            valid_until_block: o.valid_until_block,
            attempts: o.attempts,
        }
    }
}

/// One request with its history and timings.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestDetailView {
    /// The row.
    #[serde(flatten)]
    pub request: RequestView,
    /// State changes, oldest first.
    pub history: Vec<HistoryView>,
    /// The current response transaction, once signed.
    pub outbox: Option<OutboxView>,
    /// Blocks between the request and its confirmed response.
    pub blocks_to_answer: Option<i64>,
    /// Milliseconds between the row's creation and its last change.
    pub elapsed_ms: i64,
}

/// Operators (role `admin` holding the `admin` scope) see every row.
fn sees_all(p: &Principal) -> bool {
    p.role == Role::Admin && p.has_scope(SCOPE_ADMIN)
}

/// List oracle requests, newest first. Callers get the rows of their requesters (their wallets'
/// script hashes and registered contracts; none registered: an empty page); operators get every
/// row.
#[utoipa::path(get, path = "/v1/oracle/requests", tag = "oracle", params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = RequestPage),
        (status = 400, description = "`bad_request`: unknown state, limit outside 1..500, negative offset, malformed requester or service, unknown query key", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "missing `read` scope", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<ServiceState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<RequestPage>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    let st = match q.state.as_deref() {
        None => None,
        Some(s) => Some(RequestState::parse(s).ok_or_else(|| {
            let known: Vec<&str> = RequestState::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::BadRequest(format!("unknown state {s:?} (known: {})", known.join(", ")))
        })?),
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::BadRequest("offset must not be negative".into()));
    }
    let requester = q
        .requester
        .as_deref()
        .map(parse_script_hash)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("requester: {e}")))?;
    let requesters = if sees_all(&p) {
        requester.map(|r| vec![r])
    } else {
        let mine = requesters_of(state.store(), p.account_id).await?;
        Some(match requester {
            Some(r) => mine.into_iter().filter(|m| *m == r).collect(),
            None => mine,
        })
    };
    if let Some(service) = &q.service
        && (service.is_empty() || service.len() > 32)
    {
        return Err(ApiError::BadRequest(
            "service must be a gateway service type (1 to 32 bytes)".into(),
        ));
    }
    // One row more than the page: whether another page follows.
    let mut rows = state
        .store()
        .list_requests(&RequestFilter {
            state: st,
            requesters,
            service: q.service.clone(),
            limit: limit + 1,
            offset,
        })
        .await?;
    let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(Json(RequestPage {
        requests: rows.iter().map(RequestView::from).collect(),
        limit,
        offset,
        next_offset: full.then(|| offset.saturating_add(limit)),
    }))
}

/// One oracle request with its state history, response transaction, validUntilBlock, broadcast
/// attempts and timings. A request of another account's requesters is 404, like a missing id.
#[utoipa::path(get, path = "/v1/oracle/requests/{id}", tag = "oracle",
    params(("id" = String, Path, description = "request row id (the `id` of a listed row)")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = RequestDetailView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "missing `read` scope", body = ErrorBody),
        (status = 404, description = "`not_found`: no such request of the caller's requesters", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
pub async fn one(
    State(state): State<ServiceState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<RequestDetailView>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    // The same error for "missing" and "not yours", so ids cannot be probed.
    let not_found = || ApiError::not_found("no such oracle request");
    let detail = state.store().request(&id).await?.ok_or_else(not_found)?;
    let r = &detail.request;
    if !sees_all(&p) {
        let mine = requesters_of(state.store(), p.account_id).await?;
        if !mine.contains(&r.requester) {
            return Err(not_found());
        }
    }
    Ok(Json(RequestDetailView {
        request: RequestView::from(r),
        history: detail.history.iter().map(HistoryView::from).collect(),
        outbox: detail.outbox.as_ref().map(OutboxView::from),
        blocks_to_answer: r.confirmed_block.map(|b| b - r.block_index),
        elapsed_ms: r.updated_at - r.created_at,
    }))
}

#[cfg(test)]
mod tests;
