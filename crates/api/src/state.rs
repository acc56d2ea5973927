//! Shared state of the API: store, token keys, rate limiter, caches, settings.

use std::sync::Arc;
use std::time::Duration;

use nsl_store::{NewAuditEntry, Store};

use crate::auth::{AccountCache, KeyCache};
use crate::error::ApiError;
use crate::jwt::{JwtError, JwtKeys};
use crate::metrics::Metrics;
use crate::ratelimit::{RateLimitPolicy, RateLimiter};

/// How long a validated API key (and an account snapshot) is served from memory before it is read
/// from the store again. A key revoked through this node is dropped from the cache at once; a key
/// revoked through another node (or the CLI) stops working here within this time.
pub const DEFAULT_KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// Settings of the API, derived from the node configuration.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// Per-request deadline.
    pub request_timeout: Duration,
    /// How the client IP is taken from `X-Forwarded-For` (see [`crate::middleware::client_ip`]).
    pub forwarded: crate::middleware::ForwardedFor,
    /// Refresh token lifetime.
    pub refresh_ttl: Duration,
    /// Wallet login challenge lifetime.
    pub challenge_ttl: Duration,
    /// Lifetime of cached API keys and account snapshots.
    pub key_cache_ttl: Duration,
    /// Rate limits.
    pub rate_limit: RateLimitPolicy,
    /// Domain the wallet login message is bound to ("<domain> wants you to sign in ...").
    pub login_domain: String,
    /// URI the wallet login message is bound to.
    pub login_uri: String,
    /// Network magic written into (and checked in) the wallet login message.
    pub network_magic: u32,
    /// Whether a wallet login of an unknown address creates an account.
    pub open_signup: bool,
    /// Listener limits (used by [`crate::serve`]).
    pub listener: crate::server::ListenerLimits,
}

impl ApiSettings {
    /// Settings from `[api]`, `[auth]` and `[rate_limit]`.
    pub fn from_config(cfg: &nsl_config::Config) -> Self {
        Self {
            body_limit_bytes: usize::try_from(cfg.api.body_limit_bytes).unwrap_or(usize::MAX),
            request_timeout: Duration::from_millis(cfg.api.request_timeout_ms),
            forwarded: crate::middleware::ForwardedFor::from_config(&cfg.api),
            refresh_ttl: Duration::from_secs(cfg.auth.refresh_ttl_secs),
            challenge_ttl: Duration::from_secs(cfg.auth.challenge_ttl_secs),
            key_cache_ttl: DEFAULT_KEY_CACHE_TTL,
            rate_limit: RateLimitPolicy::from_config(&cfg.rate_limit),
            login_domain: cfg.login_domain(),
            login_uri: cfg.login_uri(),
            network_magic: cfg.auth.network_magic,
            open_signup: cfg.auth.open_signup,
            listener: crate::server::ListenerLimits::from_config(&cfg.api),
        }
    }
}

/// Errors building the API state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The JWT key is unusable.
    #[error(transparent)]
    Jwt(#[from] JwtError),
    /// Reading the configuration (JWT secret) failed.
    #[error(transparent)]
    Config(#[from] nsl_config::ConfigError),
}

/// Everything handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) jwt: JwtKeys,
    pub(crate) limiter: RateLimiter,
    pub(crate) metrics: Metrics,
    pub(crate) keys: KeyCache,
    pub(crate) accounts: AccountCache,
    pub(crate) settings: ApiSettings,
    pub(crate) warnings: ReadyWarnings,
    pub(crate) health: nsl_service_api::HealthBoard,
}

pub use nsl_service_api::ReadyWarnings;

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over an opened (migrated) store, with explicit JWT keys and settings.
    pub fn new(store: Store, jwt: JwtKeys, settings: ApiSettings) -> Self {
        let inner = Inner {
            store,
            jwt,
            limiter: RateLimiter::new(settings.rate_limit.clone()),
            metrics: Metrics::install(),
            keys: KeyCache::new(settings.key_cache_ttl),
            accounts: AccountCache::new(settings.key_cache_ttl),
            settings,
            warnings: ReadyWarnings::default(),
            health: nsl_service_api::HealthBoard::new(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// State from the node configuration: reads (or creates) the JWT secret as `[auth]` says.
    pub fn from_config(store: Store, cfg: &nsl_config::Config) -> Result<Self, StateError> {
        let secret = cfg.jwt_secret()?;
        let jwt = JwtKeys::new(
            secret.expose().as_bytes(),
            Duration::from_secs(cfg.auth.access_ttl_secs),
        )?;
        Ok(Self::new(store, jwt, ApiSettings::from_config(cfg)))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The metrics registry handle.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The settings in force.
    pub fn settings(&self) -> &ApiSettings {
        &self.inner.settings
    }

    /// Warnings `/ready` lists (services hold a clone and set or clear theirs).
    pub fn ready_warnings(&self) -> &ReadyWarnings {
        &self.inner.warnings
    }

    /// The health of the node's supervised services: `/ready` answers 503 naming every one that
    /// is not running.
    pub fn health(&self) -> &nsl_service_api::HealthBoard {
        &self.inner.health
    }

    /// The state services' routers run on: the store, authenticating through this state.
    pub fn service_state(&self) -> nsl_api_types::ServiceState {
        nsl_api_types::ServiceState::new(self.store().clone(), Arc::new(self.clone()))
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Append an audit entry; a failure is an error of the request (fail closed).
    pub(crate) async fn audit(&self, entry: NewAuditEntry) -> Result<(), ApiError> {
        use nsl_store::AuditStore as _;
        self.inner
            .store
            .append_audit(&entry)
            .await
            .map(|_| ())
            .map_err(|e| {
                tracing::error!(error = %e, action = %entry.action, "audit append failed");
                ApiError::Unavailable("the audit log is not writable".into())
            })
    }

    /// Append an audit entry whose failure must not change the response (failed logins).
    pub(crate) async fn audit_best_effort(&self, entry: NewAuditEntry) {
        let _ = self.audit(entry).await;
    }
}
