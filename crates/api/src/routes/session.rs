//! Wallet login and sessions: `/v1/auth/challenge`, `/v1/auth/login`, `/v1/auth/refresh`,
//! `/v1/auth/logout`.
//!
//! ```text
//! challenge {address} --> nonce + message (stored, single use, expires)
//! wallet signs message (signMessage envelope, or raw P-256 over the message)
//! login {nonce, public_key, signature, salt?} --> take challenge --> key maps to address?
//!       --> signature verifies? --> account of the address (created on first login)
//!       --> access JWT + refresh token (new family)
//! refresh {refresh_token} --> rotate (old marked used, new stored, same family) --> new pair
//!       reuse of a used token --> whole family revoked + audit `auth.token_replay` --> 401
//! logout {refresh_token} --> family revoked
//! ```

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use nsl_store::{
    AccountStore as _, AuthStore as _, NewAuditEntry, NewChallenge, NewRefreshToken,
    RefreshTokenId, Role, RotateOutcome, StoreError, TokenFamilyId, now_ms,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::rfc3339;
use crate::auth::ClientIp;
use crate::error::{ApiError, ErrorBody, Json};
use crate::keys;
use crate::state::AppState;

/// Largest accepted salt (wallets send 32 hex characters).
const MAX_SALT_LEN: usize = 64;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/challenge", post(challenge))
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
}

/// Ask for a login challenge.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChallengeRequest {
    /// Neo N3 address that will sign (e.g. `NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6i`).
    address: String,
}

/// A login challenge: sign `message` with the wallet.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChallengeResponse {
    /// Single-use nonce; send it back to `/v1/auth/login`.
    nonce: String,
    /// The exact text to sign.
    message: String,
    /// When the challenge expires (RFC 3339).
    expires_at: String,
}

/// Create a wallet login challenge.
#[utoipa::path(post, path = "/v1/auth/challenge", tag = "auth", request_body = ChallengeRequest, responses(
    (status = 200, body = ChallengeResponse),
    (status = 422, description = "not a Neo N3 address", body = ErrorBody),
    (status = 429, description = "rate limited", body = ErrorBody),
))]
pub(crate) async fn challenge(
    State(state): State<AppState>,
    Json(req): Json<ChallengeRequest>,
) -> Result<Json<ChallengeResponse>, ApiError> {
    let address = req.address.trim();
    if neo::address_to_script_hash(address).is_err() {
        return Err(ApiError::validation(
            "address is not a valid Neo N3 address",
        ));
    }
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let nonce = hex::encode(raw);
    let now = now_ms();
    let ttl_ms = i64::try_from(state.settings().challenge_ttl.as_millis()).unwrap_or(i64::MAX / 2);
    let expires_at = now.saturating_add(ttl_ms);
    let message = format!(
        "{domain} wants you to sign in with your Neo N3 account:\n{address}\n\nNonce: {nonce}\nIssued At: {issued}\nExpiration Time: {expires}",
        domain = state.settings().login_domain,
        issued = rfc3339(now),
        expires = rfc3339(expires_at),
    );
    let stored = state
        .store()
        .create_challenge(&NewChallenge {
            id: nonce,
            address: address.to_owned(),
            message,
            expires_at,
        })
        .await?;
    Ok(Json(ChallengeResponse {
        nonce: stored.id,
        message: stored.message,
        expires_at: rfc3339(stored.expires_at),
    }))
}

/// Log in with a signed challenge.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    /// The challenge nonce.
    nonce: String,
    /// The wallet's public key, hex (33-byte compressed or 65-byte uncompressed).
    public_key: String,
    /// The signature, 64 bytes `r || s`, hex.
    signature: String,
    /// The salt the wallet returned with the signature (signMessage). Absent or empty: the
    /// "without salt" envelope, or a raw P-256 signature over the message.
    #[serde(default)]
    salt: Option<String>,
}

/// Tokens of a session.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenResponse {
    /// JWT access token; send as `Authorization: Bearer <token>`.
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    /// Opaque refresh token (single use; `/v1/auth/refresh` returns a new one).
    refresh_token: String,
    /// Seconds until the refresh token expires.
    refresh_expires_in: u64,
    /// The account logged in to.
    #[schema(value_type = String, format = Uuid)]
    account_id: nsl_store::AccountId,
    /// Its role.
    #[schema(value_type = String, example = "user")]
    role: Role,
}

fn failed(address: Option<&str>, ip: &ClientIp, reason: &str) -> NewAuditEntry {
    NewAuditEntry {
        ts: now_ms(),
        actor: address
            .map(|a| format!("wallet:{a}"))
            .unwrap_or_else(|| "anonymous".into()),
        action: "auth.login_failed".into(),
        target: address.map(str::to_owned),
        ip: Some(ip.0.to_string()),
        detail: json!({ "reason": reason }),
    }
}

/// Verify the wallet signature: the signMessage envelope (with the given salt, or without salt),
/// or a raw P-256 ECDSA signature over SHA-256 of the message.
fn signature_valid(pk: &neo::PublicKey, message: &str, salt: Option<&str>, sig: &[u8]) -> bool {
    match salt {
        Some(salt) if !salt.is_empty() => neo::verify_signed_message(pk, salt, message, sig),
        _ => neo::verify_signed_message(pk, "", message, sig) || pk.verify(message.as_bytes(), sig),
    }
}

/// Exchange a signed challenge for tokens (creates a user account on the first login of an address).
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = TokenResponse),
    (status = 401, description = "unknown or expired challenge, key does not match the address, bad signature", body = ErrorBody),
    (status = 422, description = "malformed public key, signature or salt", body = ErrorBody),
    (status = 429, description = "rate limited", body = ErrorBody),
))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    Json(req): Json<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    if req.salt.as_deref().is_some_and(|s| s.len() > MAX_SALT_LEN) {
        return Err(ApiError::validation(format!(
            "salt longer than {MAX_SALT_LEN} characters"
        )));
    }
    let pk = neo::PublicKey::from_hex(req.public_key.trim())
        .map_err(|_| ApiError::validation("public_key is not a hex-encoded P-256 public key"))?;
    let sig = hex::decode(req.signature.trim())
        .ok()
        .filter(|s| s.len() == 64)
        .ok_or_else(|| ApiError::validation("signature must be 64 bytes (r || s) in hex"))?;
    let now = now_ms();
    let Some(ch) = state.store().take_challenge(req.nonce.trim(), now).await? else {
        state
            .audit_best_effort(failed(None, &ip, "unknown or expired challenge"))
            .await;
        return Err(ApiError::unauthorized(
            "unknown, used or expired challenge; ask for a new one",
        ));
    };
    if pk.address() != ch.address {
        state
            .audit_best_effort(failed(
                Some(&ch.address),
                &ip,
                "public key does not match the address",
            ))
            .await;
        return Err(ApiError::unauthorized(
            "the public key does not belong to the challenged address",
        ));
    }
    let message = ch.message.clone();
    let salt = req.salt.clone();
    let ok =
        tokio::task::spawn_blocking(move || signature_valid(&pk, &message, salt.as_deref(), &sig))
            .await
            .map_err(ApiError::internal)?;
    if !ok {
        state
            .audit_best_effort(failed(Some(&ch.address), &ip, "bad signature"))
            .await;
        return Err(ApiError::unauthorized("the signature does not verify"));
    }
    let account = match state.store().account_by_wallet(&ch.address).await? {
        Some(a) => a,
        None => match state
            .store()
            .create_account_with_wallet(&ch.address, Role::User, &ch.address)
            .await
        {
            Ok(a) => a,
            // Another login of the same address won the race: use its account.
            Err(StoreError::Conflict { .. }) => state
                .store()
                .account_by_wallet(&ch.address)
                .await?
                .ok_or_else(|| ApiError::internal("wallet link vanished"))?,
            Err(e) => return Err(e.into()),
        },
    };
    if account.disabled_at.is_some() {
        state
            .audit_best_effort(failed(Some(&ch.address), &ip, "account disabled"))
            .await;
        return Err(ApiError::unauthorized("account disabled"));
    }
    let family = TokenFamilyId::new_random();
    let tokens = issue(&state, account.id, account.role, family, None).await?;
    state
        .audit(NewAuditEntry {
            ts: now,
            actor: account.id.to_string(),
            action: "auth.login".into(),
            target: Some(ch.address.clone()),
            ip: Some(ip.0.to_string()),
            detail: json!({ "method": "wallet", "family_id": family.to_string() }),
        })
        .await?;
    tracing::info!(account_id = %account.id, "wallet login");
    Ok(Json(tokens))
}

/// Store a new refresh token (fresh, or rotating `old`) and sign an access token.
async fn issue(
    state: &AppState,
    account_id: nsl_store::AccountId,
    role: Role,
    family: TokenFamilyId,
    old: Option<RefreshTokenId>,
) -> Result<TokenResponse, ApiError> {
    let now = now_ms();
    let refresh_ttl = state.settings().refresh_ttl;
    let (refresh_token, hash) = keys::refresh::generate();
    let new = NewRefreshToken {
        id: RefreshTokenId::new_random(),
        family_id: family,
        account_id,
        token_hash: hash.to_vec(),
        expires_at: now
            .saturating_add(i64::try_from(refresh_ttl.as_millis()).unwrap_or(i64::MAX / 2)),
    };
    match old {
        None => {
            state.store().insert_refresh_token(&new).await?;
        }
        Some(old) => match state.store().rotate_refresh_token(old, &new, now).await? {
            RotateOutcome::Rotated(_) => {}
            RotateOutcome::AlreadyUsed {
                family_id,
                account_id,
            } => {
                return Err(replay(state, family_id, account_id).await);
            }
            RotateOutcome::Revoked | RotateOutcome::Expired | RotateOutcome::NotFound => {
                return Err(ApiError::unauthorized(
                    "refresh token revoked or expired; log in again",
                ));
            }
        },
    }
    let jwt = &state.inner().jwt;
    let (access_token, _) = jwt
        .issue(
            &account_id.to_string(),
            role.as_str(),
            &family.to_string(),
            now / 1000,
        )
        .map_err(ApiError::internal)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: jwt.ttl().as_secs(),
        refresh_token,
        refresh_expires_in: refresh_ttl.as_secs(),
        account_id,
        role,
    })
}

/// A used refresh token came back: revoke its whole family and audit it.
async fn replay(
    state: &AppState,
    family: TokenFamilyId,
    account: nsl_store::AccountId,
) -> ApiError {
    let now = now_ms();
    let revoked = match state.store().revoke_refresh_family(family, now).await {
        Ok(n) => n,
        Err(e) => return e.into(),
    };
    tracing::warn!(account_id = %account, family_id = %family, "refresh token reuse: family revoked");
    let entry = NewAuditEntry {
        ts: now,
        actor: account.to_string(),
        action: "auth.token_replay".into(),
        target: Some(family.to_string()),
        ip: None,
        detail: json!({ "revoked_tokens": revoked }),
    };
    if let Err(e) = state.audit(entry).await {
        return e;
    }
    ApiError::unauthorized("refresh token reuse detected; the session was revoked, log in again")
}

/// A refresh token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    refresh_token: String,
}

/// Exchange a refresh token for a new token pair. Each refresh token works once; presenting a used
/// one revokes the whole session (replay detection).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, body = TokenResponse),
    (status = 401, description = "unknown, expired, revoked or reused refresh token", body = ErrorBody),
))]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    const BAD: &str = "invalid refresh token";
    let token = req.refresh_token.trim();
    if !keys::refresh::well_formed(token) {
        return Err(ApiError::unauthorized(BAD));
    }
    let Some(old) = state
        .store()
        .refresh_token_by_hash(&keys::hash_key(token))
        .await?
    else {
        return Err(ApiError::unauthorized(BAD));
    };
    if old.used_at.is_some() && old.revoked_at.is_none() {
        return Err(replay(&state, old.family_id, old.account_id).await);
    }
    let account = state
        .store()
        .account(old.account_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized(BAD))?;
    if account.disabled_at.is_some() {
        return Err(ApiError::unauthorized("account disabled"));
    }
    let tokens = issue(
        &state,
        account.id,
        account.role,
        old.family_id,
        Some(old.id),
    )
    .await?;
    Ok(Json(tokens))
}

/// End a session: revokes the refresh token's whole family. Access tokens already issued stay valid
/// until they expire (at most `[auth] access_ttl_secs`).
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body = RefreshRequest, responses(
    (status = 204, description = "session revoked"),
    (status = 401, description = "unknown refresh token", body = ErrorBody),
))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    ip: ClientIp,
    Json(req): Json<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    let token = req.refresh_token.trim();
    let found = if keys::refresh::well_formed(token) {
        state
            .store()
            .refresh_token_by_hash(&keys::hash_key(token))
            .await?
    } else {
        None
    };
    let Some(rt) = found else {
        return Err(ApiError::unauthorized("invalid refresh token"));
    };
    let now = now_ms();
    let revoked = state
        .store()
        .revoke_refresh_family(rt.family_id, now)
        .await?;
    state
        .audit(NewAuditEntry {
            ts: now,
            actor: rt.account_id.to_string(),
            action: "auth.logout".into(),
            target: Some(rt.family_id.to_string()),
            ip: Some(ip.0.to_string()),
            detail: json!({ "revoked_tokens": revoked }),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_signature_forms_verify_and_nothing_else() {
        let k = neo::PrivateKey::generate();
        let pk = k.public_key();
        let msg = "Neo Service Layer wants you to sign in";
        let salt = "0123456789abcdef0123456789abcdef";
        let enveloped = neo::sign_message(&k, salt, msg);
        assert!(signature_valid(&pk, msg, Some(salt), &enveloped));
        assert!(
            !signature_valid(&pk, msg, None, &enveloped),
            "salted envelope needs the salt"
        );
        let unsalted = neo::sign_message(&k, "", msg);
        assert!(signature_valid(&pk, msg, None, &unsalted));
        assert!(signature_valid(&pk, msg, Some(""), &unsalted));
        let raw = k.sign(msg.as_bytes());
        assert!(signature_valid(&pk, msg, None, &raw));
        assert!(!signature_valid(&pk, "another message", None, &raw));
        let other = neo::PrivateKey::generate().public_key();
        assert!(!signature_valid(&other, msg, None, &raw));
    }
}
