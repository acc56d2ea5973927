//! Authentication of requests: the [`Principal`] extractor, scopes, and the caches that keep hot
//! API key checks off the database.
//!
//! ```text
//! Authorization: Bearer nsl_<prefix>_<secret>  or  X-API-Key: nsl_...   --> API key
//!     prefix --> KeyCache (fresh < ttl?) --miss--> store.api_key_by_prefix + account --> cache
//!     SHA-256(key) == stored hash (constant time), active, account enabled
//! Authorization: Bearer <JWT>                                              --> session
//!     HS256 only, signature, exp, iss, aud --> claims (account id, role, refresh family)
//! then: per-credential rate limit bucket of the route group (429 + Retry-After)
//! ```
//!
//! Invariants: a revoked key is refused at once on the node that revoked it (its cache entry is
//! dropped) and within [`crate::state::DEFAULT_KEY_CACHE_TTL`] on other nodes; failed key checks
//! are never cached (no negative cache an attacker could fill); `last_used_at` is written at most
//! once a minute per key, off the request path.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use nsl_store::{
    Account, AccountId, AccountStore as _, ApiKey, ApiKeyStore as _, Role, TokenFamilyId,
};
use parking_lot::RwLock;

use crate::error::ApiError;
use crate::jwt::JwtError;
use crate::keys;
use crate::middleware::client_ip;
use crate::ratelimit::{RouteGroup, Subject, retry_after_secs};
use crate::state::AppState;

pub use nsl_api_types::auth::{
    ALL_SCOPES, API_KEY_HEADER, AuthMethod, DEFAULT_SCOPES, Principal, SCOPE_ADMIN, SCOPE_GRANT,
    SCOPE_KEYS, SCOPE_READ, SCOPE_WRITE,
};

/// How often `last_used_at` is written for one key at most.
const TOUCH_INTERVAL_MS: i64 = 60_000;
/// Bound on cached keys / accounts.
const CACHE_MAX_ENTRIES: usize = 10_000;

/// The credential presented, before verification. Never logged.
enum Credential<'a> {
    ApiKey(&'a str),
    Jwt(&'a str),
}

fn credential(headers: &HeaderMap) -> Result<Credential<'_>, ApiError> {
    if let Some(v) = headers.get(API_KEY_HEADER) {
        let key = v
            .to_str()
            .map_err(|_| ApiError::unauthorized("malformed API key header"))?;
        return Ok(Credential::ApiKey(key.trim()));
    }
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "missing credentials: send Authorization: Bearer <token or API key>",
        ));
    };
    let v = v
        .to_str()
        .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    let (scheme, token) = v
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized(
            "unsupported Authorization scheme (use Bearer)",
        ));
    }
    let token = token.trim();
    if token.starts_with(keys::KEY_PREFIX_TAG) {
        Ok(Credential::ApiKey(token))
    } else {
        Ok(Credential::Jwt(token))
    }
}

/// Extracting a [`Principal`] (the blanket extractor of `nsl-api-types`, for the API's own
/// routes and for services' routes alike) authenticates here.
#[async_trait::async_trait]
impl nsl_api_types::Authenticate for AppState {
    async fn authenticate(&self, parts: &mut Parts) -> Result<Principal, ApiError> {
        let state = self;
        let ip = client_ip(
            &parts.headers,
            &parts.extensions,
            &state.settings().forwarded,
        );
        let principal = match credential(&parts.headers)? {
            Credential::ApiKey(key) => authenticate_key(state, key, ip).await?,
            Credential::Jwt(token) => authenticate_jwt(state, token, ip)?,
        };
        let group = parts
            .extensions
            .get::<RouteGroup>()
            .copied()
            .unwrap_or(RouteGroup::Read);
        let subject = match &principal.method {
            AuthMethod::ApiKey { key_id, .. } => Subject::Key(format!("key:{key_id}")),
            AuthMethod::Session { family_id } => Subject::Key(format!("session:{family_id}")),
        };
        // The credential's own bucket, then the account's, shared by all its keys and sessions.
        let limiter = &state.inner().limiter;
        let account = Subject::Account(principal.account_id.to_string());
        if let Err(wait) = limiter
            .check(group, subject)
            .and_then(|()| limiter.check(group, account))
        {
            return Err(ApiError::RateLimited {
                retry_after_secs: retry_after_secs(wait),
            });
        }
        Ok(principal)
    }
}

impl axum::extract::FromRef<AppState> for nsl_api_types::ServiceState {
    fn from_ref(state: &AppState) -> Self {
        state.service_state()
    }
}

/// The client IP of a request (see [`crate::middleware::client_ip`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(
            &parts.headers,
            &parts.extensions,
            &state.settings().forwarded,
        )))
    }
}

fn authenticate_jwt(state: &AppState, token: &str, ip: IpAddr) -> Result<Principal, ApiError> {
    let claims = state.inner().jwt.validate(token).map_err(|e| match e {
        JwtError::Expired => ApiError::unauthorized("access token expired; refresh it"),
        _ => ApiError::unauthorized("invalid access token"),
    })?;
    let account_id: AccountId = claims
        .sub
        .parse()
        .map_err(|_| ApiError::unauthorized("invalid access token"))?;
    let role: Role = claims
        .role
        .parse()
        .map_err(|_| ApiError::unauthorized("invalid access token"))?;
    let family_id: TokenFamilyId = claims
        .sid
        .parse()
        .map_err(|_| ApiError::unauthorized("invalid access token"))?;
    Ok(Principal {
        account_id,
        role,
        method: AuthMethod::Session { family_id },
        ip,
    })
}

async fn authenticate_key(state: &AppState, key: &str, ip: IpAddr) -> Result<Principal, ApiError> {
    const BAD: &str = "invalid API key";
    let prefix = keys::parse_prefix(key).ok_or_else(|| ApiError::unauthorized(BAD))?;
    let presented = keys::hash_key(key);
    let cache = &state.inner().keys;
    let entry = match cache.get(prefix) {
        Some(e) => e,
        None => {
            let Some(stored) = state.store().api_key_by_prefix(prefix).await? else {
                return Err(ApiError::unauthorized(BAD));
            };
            // Compare before touching the account so a wrong secret costs one query only.
            if !keys::hashes_equal(&stored.key_hash, &presented) {
                return Err(ApiError::unauthorized(BAD));
            }
            let Some(account) = state.store().account(stored.account_id).await? else {
                return Err(ApiError::unauthorized(BAD));
            };
            cache.insert(stored, account)
        }
    };
    if !keys::hashes_equal(&entry.key.key_hash, &presented) {
        return Err(ApiError::unauthorized(BAD));
    }
    let now = nsl_store::now_ms();
    if !entry.key.is_active(now) {
        return Err(ApiError::unauthorized("API key revoked or expired"));
    }
    if entry.account.disabled_at.is_some() {
        return Err(ApiError::unauthorized("account disabled"));
    }
    entry.touch_if_due(state, now);
    Ok(Principal {
        account_id: entry.account.id,
        role: entry.account.role,
        method: AuthMethod::ApiKey {
            key_id: entry.key.id,
            prefix: entry.key.prefix.clone(),
            scopes: entry.key.scopes.clone(),
            expires_at: entry.key.expires_at,
        },
        ip,
    })
}

/// A validated key with its account, as cached.
#[derive(Debug)]
pub(crate) struct CachedKey {
    pub(crate) key: ApiKey,
    pub(crate) account: Account,
    loaded: Instant,
    last_touch_ms: AtomicI64,
}

impl CachedKey {
    fn touch_if_due(&self, state: &AppState, now: i64) {
        let last = self.last_touch_ms.load(Ordering::Relaxed);
        if now - last < TOUCH_INTERVAL_MS {
            return;
        }
        if self
            .last_touch_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let store = state.store().clone();
        let id = self.key.id;
        tokio::spawn(async move {
            if let Err(e) = store.touch_api_key(id, now).await {
                tracing::warn!(key_id = %id, error = %e, "could not record API key use");
            }
        });
    }
}

/// Validated API keys by prefix, each fresh for `ttl`.
#[derive(Debug)]
pub(crate) struct KeyCache {
    map: RwLock<HashMap<String, Arc<CachedKey>>>,
    ttl: Duration,
}

impl KeyCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            ttl,
        }
    }

    fn get(&self, prefix: &str) -> Option<Arc<CachedKey>> {
        let map = self.map.read();
        map.get(prefix)
            .filter(|e| e.loaded.elapsed() < self.ttl)
            .cloned()
    }

    fn insert(&self, key: ApiKey, account: Account) -> Arc<CachedKey> {
        let last = key.last_used_at.unwrap_or(0);
        let entry = Arc::new(CachedKey {
            key,
            account,
            loaded: Instant::now(),
            last_touch_ms: AtomicI64::new(last),
        });
        if self.ttl.is_zero() {
            return entry;
        }
        let mut map = self.map.write();
        if map.len() >= CACHE_MAX_ENTRIES {
            let ttl = self.ttl;
            map.retain(|_, e| e.loaded.elapsed() < ttl);
        }
        if map.len() < CACHE_MAX_ENTRIES {
            map.insert(entry.key.prefix.clone(), entry.clone());
        }
        entry
    }

    /// Forget a key (after revocation on this node).
    pub(crate) fn invalidate(&self, prefix: &str) {
        self.map.write().remove(prefix);
    }
}

/// Snapshot of an account for `GET /v1/me`.
#[derive(Debug, Clone)]
pub(crate) struct AccountSnapshot {
    pub(crate) account: Account,
    pub(crate) wallets: Vec<String>,
    /// `account.created_at` as RFC 3339, formatted once.
    pub(crate) created_at: String,
}

/// Account snapshots by id, each fresh for `ttl` (serves `GET /v1/me` without the database).
#[derive(Debug)]
pub(crate) struct AccountCache {
    map: RwLock<HashMap<AccountId, (Instant, Arc<AccountSnapshot>)>>,
    ttl: Duration,
}

impl AccountCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            ttl,
        }
    }

    /// The snapshot of `id`, from memory when fresh, else from the store.
    pub(crate) async fn get(
        &self,
        state: &AppState,
        id: AccountId,
    ) -> Result<Option<Arc<AccountSnapshot>>, ApiError> {
        if let Some((at, snap)) = self.map.read().get(&id)
            && at.elapsed() < self.ttl
        {
            return Ok(Some(snap.clone()));
        }
        let Some(account) = state.store().account(id).await? else {
            return Ok(None);
        };
        let wallets = state.store().wallets_of(id).await?;
        let created_at = crate::routes::rfc3339(account.created_at);
        let snap = Arc::new(AccountSnapshot {
            account,
            wallets,
            created_at,
        });
        if !self.ttl.is_zero() {
            let mut map = self.map.write();
            if map.len() >= CACHE_MAX_ENTRIES {
                let ttl = self.ttl;
                map.retain(|_, (at, _)| at.elapsed() < ttl);
            }
            if map.len() < CACHE_MAX_ENTRIES {
                map.insert(id, (Instant::now(), snap.clone()));
            }
        }
        Ok(Some(snap))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn credentials_are_recognised() {
        let k = keys::generate();
        let mut h = HeaderMap::new();
        assert!(credential(&h).is_err());
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {}", k.full)).unwrap(),
        );
        assert!(matches!(credential(&h), Ok(Credential::ApiKey(_))));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer eyJhbGciOi.x.y"),
        );
        assert!(matches!(credential(&h), Ok(Credential::Jwt(_))));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjpwYXNz"),
        );
        assert!(credential(&h).is_err());
        h.insert(API_KEY_HEADER, HeaderValue::from_str(&k.full).unwrap());
        assert!(matches!(credential(&h), Ok(Credential::ApiKey(_))));
    }

    fn principal(role: Role, method: AuthMethod) -> Principal {
        Principal {
            account_id: AccountId::new_random(),
            role,
            method,
            ip: IpAddr::from([127, 0, 0, 1]),
        }
    }

    #[test]
    fn scopes_and_roles() {
        let session = AuthMethod::Session {
            family_id: TokenFamilyId::new_random(),
        };
        let user = principal(Role::User, session.clone());
        assert!(user.has_scope(SCOPE_KEYS));
        assert!(user.require_admin().is_err());
        let admin = principal(Role::Admin, session);
        assert!(admin.require_admin().is_ok());
        let key = |scopes: &[&str]| AuthMethod::ApiKey {
            key_id: nsl_store::ApiKeyId::new_random(),
            prefix: "p".into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_at: None,
        };
        let admin_read_key = principal(Role::Admin, key(&[SCOPE_READ]));
        assert!(
            admin_read_key.require_admin().is_err(),
            "admin account, key without admin scope"
        );
        assert!(admin_read_key.require_scope(SCOPE_WRITE).is_err());
        let admin_key = principal(Role::Admin, key(&[SCOPE_ADMIN]));
        assert!(admin_key.require_admin().is_ok());
        let user_with_admin_scope = principal(Role::User, key(&[SCOPE_ADMIN]));
        assert!(user_with_admin_scope.require_admin().is_err());
    }
}
