//! Who calls: the authenticated [`Principal`] (its account, role, credential and scopes), the
//! scope names, and [`ServiceState`], the state services' routers run on.
//!
//! Authentication itself (API key cache, JWT verification, per-credential rate limits) lives in
//! `nsl-api`; services only extract a [`Principal`] and check scopes:
//!
//! ```text
//! service router: Router<S> where ServiceState: FromRef<S>   (nsl-api mounts it as Router<AppState>)
//!   handler(State<ServiceState>, p: Principal)
//!     Principal: FromRequestParts<S> -> ServiceState.auth: dyn Authenticate (nsl-api's AppState)
//! ```

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use nsl_store::{AccountId, ApiKeyId, Role, Store, TokenFamilyId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;

/// Scope: read resources (GET).
pub const SCOPE_READ: &str = "read";
/// Scope: create and change resources of the services.
pub const SCOPE_WRITE: &str = "write";
/// Scope: manage API keys (create, rotate, revoke).
pub const SCOPE_KEYS: &str = "keys";
/// Scope: operator endpoints (audit log); only keys of admin accounts may carry it.
pub const SCOPE_ADMIN: &str = "admin";
/// Scope: grant secrets to functions and set the contracts that may run them from chain
/// (`secrets` / `onchain_callers` of a function version). Not in [`DEFAULT_SCOPES`]: a leaked
/// everyday key must not be able to read secrets through a function or leave a chain backdoor
/// that outlives it. Sessions (wallet logins) hold it.
pub const SCOPE_GRANT: &str = "grant";
/// Every scope, in display order.
pub const ALL_SCOPES: &[&str] = &[
    SCOPE_READ,
    SCOPE_WRITE,
    SCOPE_GRANT,
    SCOPE_KEYS,
    SCOPE_ADMIN,
];
/// Scopes of a new key when none are asked for.
pub const DEFAULT_SCOPES: &[&str] = &[SCOPE_READ, SCOPE_WRITE];

/// Header for API keys (alternative to `Authorization: Bearer`).
pub const API_KEY_HEADER: &str = "x-api-key";

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum AuthMethod {
    /// A JWT access token from a wallet login.
    Session {
        /// Refresh-token family of the login.
        #[schema(value_type = String, format = Uuid)]
        family_id: TokenFamilyId,
    },
    /// An API key.
    ApiKey {
        /// Key id.
        #[schema(value_type = String, format = Uuid)]
        key_id: ApiKeyId,
        /// Public prefix of the key.
        prefix: String,
        /// Scopes granted to the key.
        scopes: Vec<String>,
        /// When the key expires (Unix ms), if it does: keys it creates or rotates cannot outlive it.
        #[serde(skip)]
        expires_at: Option<i64>,
    },
}

/// An authenticated caller. Extracting it from a request authenticates the request and applies the
/// per-credential rate limit.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account acting.
    pub account_id: AccountId,
    /// Its role.
    pub role: Role,
    /// How it authenticated.
    pub method: AuthMethod,
    /// Client IP (for audit entries).
    pub ip: IpAddr,
}

impl Principal {
    /// Whether the caller holds `scope` (sessions hold every scope their role allows).
    pub fn has_scope(&self, scope: &str) -> bool {
        match &self.method {
            AuthMethod::Session { .. } => scope != SCOPE_ADMIN || self.role == Role::Admin,
            AuthMethod::ApiKey { scopes, .. } => scopes.iter().any(|s| s == scope),
        }
    }

    /// 403 unless the caller holds `scope`.
    pub fn require_scope(&self, scope: &str) -> Result<(), ApiError> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this credential lacks the {scope:?} scope"
            )))
        }
    }

    /// 403 unless the caller is an admin (and, with an API key, holds the `admin` scope).
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.role != Role::Admin {
            return Err(ApiError::Forbidden("admin role required".into()));
        }
        self.require_scope(SCOPE_ADMIN)
    }

    /// The audit actor string (the account id).
    pub fn actor(&self) -> String {
        self.account_id.to_string()
    }
}

/// Authenticates a request (implemented by `nsl-api`'s `AppState`: API key or JWT, then the
/// per-credential rate limit). Called at most once per request: the result is cached in the
/// request's extensions.
#[async_trait]
pub trait Authenticate: Send + Sync {
    /// The caller of the request, or why it is refused (401, 403, 429).
    async fn authenticate(&self, parts: &mut Parts) -> Result<Principal, ApiError>;
}

/// The state services' routers run on: the store and the node's authenticator. Cheap to clone.
#[derive(Clone)]
pub struct ServiceState {
    store: Store,
    auth: Arc<dyn Authenticate>,
}

impl ServiceState {
    /// State over `store`, authenticating with `auth`.
    pub fn new(store: Store, auth: Arc<dyn Authenticate>) -> Self {
        Self { store, auth }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

impl std::fmt::Debug for ServiceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceState").finish_non_exhaustive()
    }
}

/// Extracting a `Principal` authenticates the request (once: the result is kept in the request's
/// extensions) on any router state that yields a [`ServiceState`].
impl<S> FromRequestParts<S> for Principal
where
    S: Send + Sync,
    ServiceState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let principal = ServiceState::from_ref(state)
            .auth
            .authenticate(parts)
            .await?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}
