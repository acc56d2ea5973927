//! `/v1/randomness`: the node's VRF key, served randomness by id, and randomness for an account.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, FromRef};
use axum::http::StatusCode;
use axum::routing::{get, post};
use nsl_api_types::auth::{Principal, SCOPE_READ, SCOPE_WRITE};
use nsl_api_types::error::{ErrorBody, Json, Path};
use nsl_api_types::{ApiError, ServiceState};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::error::RandomnessError;
use crate::service::{Actor, RandomnessService, Served};

/// The `/v1/randomness` routes over `service`; pass them to `nsl_api::router_with`.
pub fn router<S>(service: Arc<RandomnessService>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ServiceState: FromRef<S>,
{
    Router::new()
        .route("/v1/randomness", post(request))
        .route("/v1/randomness/key", get(key))
        .route("/v1/randomness/{id}", get(read))
        .layer(Extension(service))
}

/// OpenAPI description of the `/v1/randomness` routes.
#[derive(OpenApi)]
#[openapi(
    paths(key, read, request),
    components(schemas(KeyView, RandomnessRequest, RandomnessView)),
    tags((name = "randomness", description = "Verifiable random numbers (ECVRF-P256-SHA256-TAI)")),
)]
pub struct RandomnessApiDoc;

/// The node's VRF public key.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyView {
    /// Compressed SEC1 public key, hex (33 bytes): verify proofs with it.
    public_key: String,
    /// The key's status in the gateway: `registered` (the gateway's `vrfKey()` is this key),
    /// `other_key`, `none` (no key registered), `no_gateway` (none configured), `unavailable`
    /// (the chain could not be read).
    gateway: String,
    /// The suite of the proofs.
    suite: String,
}

/// Body of `POST /v1/randomness`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RandomnessRequest {
    /// The caller's seed, hex, at most 64 bytes (may be empty).
    #[serde(default)]
    seed: String,
    /// Words derived from the output, 1..=16 (at most `[randomness] max_words`). Default 1.
    #[serde(default = "one")]
    words: u16,
}

fn one() -> u16 {
    1
}

/// A served randomness: verify with `nsl_vrf::verify(key, alpha, proof) == beta`; word i is
/// SHA-256(beta || i as 2 bytes big-endian).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RandomnessView {
    /// Gateway request id (decimal) or API request UUID.
    id: String,
    /// `chain` (a gateway `vrf` request) or `api`.
    source: String,
    /// The seed, hex.
    seed: String,
    /// The account's sequence number (`api` only): 1, 2, 3, ... per account, no gaps; part of
    /// alpha = SHA-256("nsl-offchain" || account id || sequence as u64 big-endian || seed).
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence: Option<i64>,
    /// The VRF input, hex (32 bytes).
    alpha: String,
    /// The VRF output, hex (32 bytes).
    beta: String,
    /// The ECVRF proof, hex (81 bytes).
    proof: String,
    /// The words derived from beta, hex (32 bytes each).
    words: Vec<String>,
    /// The requester's script hash (`chain` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    requester: Option<String>,
    /// The requesting transaction (`chain` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    tx_hash: Option<String>,
    /// The block that included the request; its hash is part of alpha (`chain` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    block_index: Option<i64>,
    /// When the node computed it (RFC 3339).
    created_at: String,
}

impl From<Served> for RandomnessView {
    fn from(s: Served) -> Self {
        let r = s.record;
        Self {
            id: r.id,
            source: r.kind.as_str().into(),
            seed: hex::encode(&r.seed),
            sequence: r.sequence,
            alpha: hex::encode(&r.alpha),
            beta: hex::encode(&r.beta),
            proof: hex::encode(&r.proof),
            words: s.words.iter().map(hex::encode).collect(),
            requester: r.requester,
            tx_hash: r.tx_hash,
            block_index: r.block_index,
            created_at: nsl_api_types::rfc3339(r.created_at),
        }
    }
}

/// The node's VRF public key and whether the gateway has it registered.
#[utoipa::path(get, path = "/v1/randomness/key", tag = "randomness",
    responses((status = 200, body = KeyView),
        (status = 503, description = "the vault cannot be read", body = ErrorBody)))]
pub(crate) async fn key(
    Extension(svc): Extension<Arc<RandomnessService>>,
) -> Result<Json<KeyView>, ApiError> {
    let k = svc.key().await?;
    Ok(Json(KeyView {
        public_key: hex::encode(k.public_key),
        gateway: k.gateway.as_str().into(),
        suite: "ECVRF-P256-SHA256-TAI".into(),
    }))
}

/// A served randomness: a gateway request's (anyone authenticated) or one of the caller's API
/// requests.
#[utoipa::path(get, path = "/v1/randomness/{id}", tag = "randomness", security(("bearer" = [])),
    params(("id" = String, Path, description = "gateway request id (decimal) or API request UUID")),
    responses((status = 200, body = RandomnessView),
        (status = 400, description = "`bad_request`: neither a request id nor a UUID", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "`not_found`: unknown, not answered yet, or another account's", body = ErrorBody)))]
pub(crate) async fn read(
    Extension(svc): Extension<Arc<RandomnessService>>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<RandomnessView>, ApiError> {
    p.require_scope(SCOPE_READ)?;
    Ok(Json(svc.get(p.account_id, &id).await?.into()))
}

/// Randomness for the caller: alpha = SHA-256("nsl-offchain" || account id || sequence (u64 BE,
/// the account's next number, returned) || seed), proved by the vault's VRF key, recorded and audited (`randomness.request`).
#[utoipa::path(post, path = "/v1/randomness", tag = "randomness", request_body = RandomnessRequest,
    security(("bearer" = [])),
    responses((status = 201, body = RandomnessView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "missing `write` scope", body = ErrorBody),
        (status = 422, description = "`validation_failed`: seed not hex or over 64 bytes, words out of range", body = ErrorBody)))]
pub(crate) async fn request(
    Extension(svc): Extension<Arc<RandomnessService>>,
    p: Principal,
    Json(req): Json<RandomnessRequest>,
) -> Result<(StatusCode, Json<RandomnessView>), ApiError> {
    p.require_scope(SCOPE_WRITE)?;
    if req.seed.len() > 2 * crate::vrf::MAX_SEED {
        return Err(
            RandomnessError::Invalid(crate::vrf::PayloadError::SeedTooLong(req.seed.len() / 2))
                .into(),
        );
    }
    let seed = hex::decode(req.seed.trim_start_matches("0x"))
        .map_err(|e| RandomnessError::SeedNotHex(e.to_string()))?;
    let actor = Actor {
        name: p.actor(),
        ip: Some(p.ip.to_string()),
    };
    let served = svc.request(p.account_id, &seed, req.words, &actor).await?;
    tracing::info!(account_id = %p.account_id, id = %served.record.id, words = req.words,
        "randomness served");
    Ok((StatusCode::CREATED, Json(served.into())))
}
