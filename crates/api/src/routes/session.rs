//! Wallet login and sessions: `/v1/auth/challenge`, `/v1/auth/login`, `/v1/auth/refresh`,
//! `/v1/auth/logout`.
//!
//! ```text
//! challenge {address} --> nonce + message (stored, single use, expires)
//!       message: SIWE-shaped (EIP-4361), bound to [auth] login_domain, login_uri, network_magic
//! wallet signs message (signMessage envelope, or raw P-256 over the message)
//! login {nonce, public_key, signature, salt?, message?} --> take challenge (else `challenge_invalid`)
//!       --> message fields = this deployment and this challenge? (else `login_message_invalid`)
//!       --> key maps to address? --> signature verifies?
//!       --> account of the address (created on first login only with [auth] open_signup,
//!           else 403 `signup_closed`) --> access JWT + refresh token (new family)
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
use crate::error::{ApiError, ErrorBody, ErrorCode, Json};
use crate::keys;
use crate::state::AppState;

/// Largest accepted salt (wallets send 32 hex characters).
const MAX_SALT_LEN: usize = 64;
/// Largest accepted login message.
const MAX_MESSAGE_LEN: usize = 2048;
/// The statement line of the login message.
pub const LOGIN_STATEMENT: &str = "Sign in to the Neo Service Layer.";
/// The version of the login message format.
pub const LOGIN_VERSION: &str = "1";
/// Clock skew tolerated on the message's `Issued At`, in milliseconds.
const ISSUED_AT_SKEW_MS: i64 = 60_000;

/// The fields of a wallet login message (EIP-4361 shape with the Neo network magic in place of
/// the chain id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginMessage {
    /// RFC 3986 authority of the deployment (`[auth] login_domain`).
    pub domain: String,
    /// The Neo N3 address signing in.
    pub address: String,
    /// `[auth] login_uri`.
    pub uri: String,
    /// Always [`LOGIN_VERSION`].
    pub version: String,
    /// Network magic (`[auth] network_magic`).
    pub network: u32,
    /// The challenge nonce.
    pub nonce: String,
    /// RFC 3339.
    pub issued_at: String,
    /// RFC 3339.
    pub expiration_time: String,
}

impl LoginMessage {
    /// The exact text a wallet signs.
    pub fn render(&self) -> String {
        format!(
            "{domain} wants you to sign in with your Neo N3 account:\n{address}\n\n{LOGIN_STATEMENT}\n\nURI: {uri}\nVersion: {version}\nNetwork: {network}\nNonce: {nonce}\nIssued At: {issued}\nExpiration Time: {expires}",
            domain = self.domain,
            address = self.address,
            uri = self.uri,
            version = self.version,
            network = self.network,
            nonce = self.nonce,
            issued = self.issued_at,
            expires = self.expiration_time,
        )
    }

    /// Parse a message of exactly the rendered shape (`None` otherwise).
    pub fn parse(text: &str) -> Option<Self> {
        let mut lines = text.split('\n');
        let domain = lines
            .next()?
            .strip_suffix(" wants you to sign in with your Neo N3 account:")?
            .to_owned();
        let address = lines.next()?.to_owned();
        if !lines.next()?.is_empty()
            || lines.next()? != LOGIN_STATEMENT
            || !lines.next()?.is_empty()
        {
            return None;
        }
        let mut field = |name: &str| -> Option<String> {
            lines
                .next()?
                .strip_prefix(name)?
                .strip_prefix(": ")
                .map(str::to_owned)
        };
        let uri = field("URI")?;
        let version = field("Version")?;
        let network = field("Network")?;
        let nonce = field("Nonce")?;
        let issued_at = field("Issued At")?;
        let expiration_time = field("Expiration Time")?;
        if lines.next().is_some() || network.starts_with('+') {
            return None;
        }
        Some(Self {
            domain,
            address,
            uri,
            version,
            network: network.parse().ok()?,
            nonce,
            issued_at,
            expiration_time,
        })
    }
}

fn parse_time_ms(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Check a signed login message against this deployment and the taken challenge; `Err` names the
/// first field at fault.
fn check_message(
    state: &AppState,
    text: &str,
    ch: &nsl_store::Challenge,
    now: i64,
) -> Result<(), String> {
    let m =
        LoginMessage::parse(text).ok_or("the message does not have the login message format")?;
    let s = state.settings();
    if m.domain != s.login_domain {
        return Err(format!("domain {:?} is not this deployment's", m.domain));
    }
    if m.uri != s.login_uri {
        return Err(format!("URI {:?} is not this deployment's", m.uri));
    }
    if m.version != LOGIN_VERSION {
        return Err(format!("version {:?} is not supported", m.version));
    }
    if m.network != s.network_magic {
        return Err(format!(
            "network {} is not this deployment's ({})",
            m.network, s.network_magic
        ));
    }
    if m.address != ch.address {
        return Err("the address is not the challenged one".into());
    }
    if m.nonce != ch.id {
        return Err("the nonce is not the challenge's".into());
    }
    let issued = parse_time_ms(&m.issued_at).ok_or("Issued At is not an RFC 3339 time")?;
    let expires =
        parse_time_ms(&m.expiration_time).ok_or("Expiration Time is not an RFC 3339 time")?;
    if issued > now.saturating_add(ISSUED_AT_SKEW_MS) {
        return Err("Issued At is in the future".into());
    }
    if expires <= now {
        return Err("the message has expired".into());
    }
    if expires > ch.expires_at || issued > expires {
        return Err("Expiration Time is later than the challenge's".into());
    }
    Ok(())
}

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
    let settings = state.settings();
    let message = LoginMessage {
        domain: settings.login_domain.clone(),
        address: address.to_owned(),
        uri: settings.login_uri.clone(),
        version: LOGIN_VERSION.to_owned(),
        network: settings.network_magic,
        nonce: nonce.clone(),
        issued_at: rfc3339(now),
        expiration_time: rfc3339(expires_at),
    }
    .render();
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
    /// The message the wallet signed, if the client built it itself (see docs/auth.md for the
    /// format). Absent: the challenge's `message`. Either way every field is checked against this
    /// deployment and the challenge.
    #[serde(default)]
    message: Option<String>,
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
    (status = 401, description = "`challenge_invalid`: unknown, used or expired challenge; `login_message_invalid`: message for another domain, URI, network, version, address or nonce, or expired; `unauthorized`: key does not match the address, bad signature", body = ErrorBody),
    (status = 403, description = "`signup_closed`: no account for this wallet and open sign-up is off", body = ErrorBody),
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
    if req
        .message
        .as_deref()
        .is_some_and(|m| m.len() > MAX_MESSAGE_LEN)
    {
        return Err(ApiError::validation(format!(
            "message longer than {MAX_MESSAGE_LEN} bytes"
        )));
    }
    let now = now_ms();
    let Some(ch) = state.store().take_challenge(req.nonce.trim(), now).await? else {
        state
            .audit_best_effort(failed(None, &ip, "unknown or expired challenge"))
            .await;
        return Err(ApiError::Coded(
            ErrorCode::ChallengeInvalid,
            "unknown, used or expired challenge; ask for a new one".into(),
        ));
    };
    let message = req.message.clone().unwrap_or_else(|| ch.message.clone());
    if let Err(why) = check_message(&state, &message, &ch, now) {
        state
            .audit_best_effort(failed(Some(&ch.address), &ip, "login message rejected"))
            .await;
        return Err(ApiError::Coded(
            ErrorCode::LoginMessageInvalid,
            format!("login message rejected: {why}"),
        ));
    }
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
        None if !state.settings().open_signup => {
            state
                .audit_best_effort(failed(Some(&ch.address), &ip, "sign-up closed"))
                .await;
            return Err(ApiError::Coded(
                ErrorCode::SignupClosed,
                "no account is linked to this wallet and this node does not create accounts on login; ask the operator for one".into(),
            ));
        }
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
    fn login_messages_round_trip_and_reject_other_shapes() {
        let m = LoginMessage {
            domain: "app.example.com".into(),
            address: "NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6i".into(),
            uri: "https://app.example.com".into(),
            version: "1".into(),
            network: 860_833_102,
            nonce: "5c1f0123456789abcdef0123456789ab".into(),
            issued_at: "2026-01-02T03:04:05.678Z".into(),
            expiration_time: "2026-01-02T03:09:05.678Z".into(),
        };
        let text = m.render();
        assert_eq!(
            text,
            "app.example.com wants you to sign in with your Neo N3 account:\nNPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6i\n\nSign in to the Neo Service Layer.\n\nURI: https://app.example.com\nVersion: 1\nNetwork: 860833102\nNonce: 5c1f0123456789abcdef0123456789ab\nIssued At: 2026-01-02T03:04:05.678Z\nExpiration Time: 2026-01-02T03:09:05.678Z"
        );
        assert_eq!(LoginMessage::parse(&text), Some(m));
        assert!(LoginMessage::parse(&format!("{text}\nExtra: 1")).is_none());
        assert!(LoginMessage::parse(&text.replace("Network: ", "Chain ID: ")).is_none());
        assert!(LoginMessage::parse(&text.replace("860833102", "x")).is_none());
        assert!(LoginMessage::parse("").is_none());
    }

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
