//! API keys: only a prefix (for lookup) and a hash of the key are stored.

use std::fmt;

use async_trait::async_trait;
use nsl_primitives::AccountId;
use serde::{Deserialize, Serialize};

use crate::{ApiKeyId, StoreResult, UnixMillis};

/// A key to insert. The caller generates the key, its `prefix` (unique, shown to users, used for
/// lookup) and `key_hash` (e.g. SHA-256 of the whole key); the key itself is never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// Owner.
    pub account_id: AccountId,
    /// Human label.
    pub name: String,
    /// Unique lookup prefix.
    pub prefix: String,
    /// Hash of the full key.
    pub key_hash: Vec<u8>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Expiry, if any.
    pub expires_at: Option<UnixMillis>,
}

/// A stored API key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Id.
    pub id: ApiKeyId,
    /// Owner.
    pub account_id: AccountId,
    /// Human label.
    pub name: String,
    /// Unique lookup prefix.
    pub prefix: String,
    /// Hash of the full key (compare in constant time).
    #[serde(skip_serializing)]
    pub key_hash: Vec<u8>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Creation time.
    pub created_at: UnixMillis,
    /// Expiry, if any.
    pub expires_at: Option<UnixMillis>,
    /// Last successful use.
    pub last_used_at: Option<UnixMillis>,
    /// Revocation time; revoked keys must be refused.
    pub revoked_at: Option<UnixMillis>,
}

impl ApiKey {
    /// Whether the key may be used at `now` (not revoked, not expired).
    pub fn is_active(&self, now: UnixMillis) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

impl fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewApiKey")
            .field("account_id", &self.account_id)
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .field("key_hash", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .field("key_hash", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("last_used_at", &self.last_used_at)
            .field("revoked_at", &self.revoked_at)
            .finish()
    }
}

/// API key storage.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Insert a key. [`crate::StoreError::Conflict`] if the prefix exists;
    /// [`crate::StoreError::NotFound`] if the account does not.
    async fn insert_api_key(&self, key: &NewApiKey) -> StoreResult<ApiKey>;

    /// The key with this prefix (revoked and expired ones included: check [`ApiKey::is_active`]).
    async fn api_key_by_prefix(&self, prefix: &str) -> StoreResult<Option<ApiKey>>;

    /// One key by id.
    async fn api_key(&self, id: ApiKeyId) -> StoreResult<Option<ApiKey>>;

    /// Keys of an account, newest first, revoked ones included.
    async fn list_api_keys(&self, account: AccountId) -> StoreResult<Vec<ApiKey>>;

    /// Revoke a key. With `owner`, only a key of that account is revoked (tenant isolation).
    /// Returns false if no such (unrevoked) key exists.
    async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        owner: Option<AccountId>,
        now: UnixMillis,
    ) -> StoreResult<bool>;

    /// Record a successful use.
    async fn touch_api_key(&self, id: ApiKeyId, now: UnixMillis) -> StoreResult<()>;
}
