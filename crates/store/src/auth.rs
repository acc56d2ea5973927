//! Wallet login challenges and refresh tokens (rotation with reuse detection).

use std::fmt;

use async_trait::async_trait;
use nsl_primitives::AccountId;
use serde::{Deserialize, Serialize};

use crate::{RefreshTokenId, StoreResult, TokenFamilyId, UnixMillis};

/// A login challenge to store: the caller generates `id` (a random nonce) and the message the
/// wallet signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChallenge {
    /// Random nonce; primary key.
    pub id: String,
    /// The wallet address the challenge was issued to.
    pub address: String,
    /// The exact message to sign.
    pub message: String,
    /// Expiry.
    pub expires_at: UnixMillis,
}

/// A stored challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Challenge {
    /// Nonce.
    pub id: String,
    /// Wallet address.
    pub address: String,
    /// Message to sign.
    pub message: String,
    /// Creation time.
    pub created_at: UnixMillis,
    /// Expiry.
    pub expires_at: UnixMillis,
}

/// A refresh token to store; only its hash is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    /// Id (the caller may embed it in the token).
    pub id: RefreshTokenId,
    /// Family: a fresh one at login, the parent's on rotation.
    pub family_id: TokenFamilyId,
    /// Owner.
    pub account_id: AccountId,
    /// Hash of the token.
    pub token_hash: Vec<u8>,
    /// Expiry.
    pub expires_at: UnixMillis,
}

/// A stored refresh token.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// Id.
    pub id: RefreshTokenId,
    /// Family.
    pub family_id: TokenFamilyId,
    /// Owner.
    pub account_id: AccountId,
    /// Hash of the token.
    pub token_hash: Vec<u8>,
    /// Creation time.
    pub created_at: UnixMillis,
    /// Expiry.
    pub expires_at: UnixMillis,
    /// When it was exchanged for a new token (single use).
    pub used_at: Option<UnixMillis>,
    /// When it was revoked (logout, reuse detected, account disabled).
    pub revoked_at: Option<UnixMillis>,
    /// The token it was rotated into.
    pub replaced_by: Option<RefreshTokenId>,
}

impl fmt::Debug for NewRefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewRefreshToken")
            .field("id", &self.id)
            .field("family_id", &self.family_id)
            .field("account_id", &self.account_id)
            .field("token_hash", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshToken")
            .field("id", &self.id)
            .field("family_id", &self.family_id)
            .field("account_id", &self.account_id)
            .field("token_hash", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .field("revoked_at", &self.revoked_at)
            .field("replaced_by", &self.replaced_by)
            .finish()
    }
}

/// Outcome of [`AuthStore::rotate_refresh_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The old token is now used and this new one (same family) was stored, in one transaction.
    Rotated(RefreshToken),
    /// The old token had been used already: a replay or a lost race. The caller should revoke the
    /// family ([`AuthStore::revoke_refresh_family`]). Nothing was written.
    AlreadyUsed {
        /// Family of the reused token.
        family_id: TokenFamilyId,
        /// Owner of the reused token.
        account_id: AccountId,
    },
    /// The old token was revoked. Nothing was written.
    Revoked,
    /// The old token expired. Nothing was written.
    Expired,
    /// No such token. Nothing was written.
    NotFound,
}

/// Login challenges and refresh tokens.
#[async_trait]
pub trait AuthStore: Send + Sync {
    /// Store a challenge. [`crate::StoreError::Conflict`] if the id exists.
    async fn create_challenge(&self, challenge: &NewChallenge) -> StoreResult<Challenge>;

    /// Take a challenge exactly once: it is deleted by this call, and returned only if it existed
    /// and had not expired at `now`. Of concurrent callers at most one gets `Some`.
    async fn take_challenge(&self, id: &str, now: UnixMillis) -> StoreResult<Option<Challenge>>;

    /// Delete expired challenges and refresh tokens expired before `now`; returns rows deleted.
    async fn purge_expired_auth(&self, now: UnixMillis) -> StoreResult<u64>;

    /// Store a refresh token. [`crate::StoreError::Conflict`] if the id or hash exists.
    async fn insert_refresh_token(&self, token: &NewRefreshToken) -> StoreResult<RefreshToken>;

    /// Look a token up by its hash (any state).
    async fn refresh_token_by_hash(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshToken>>;

    /// Mark a token used if it is unused; true if this call marked it (false: already used or
    /// absent). Conditional update: of concurrent callers exactly one gets true.
    async fn mark_refresh_token_used(
        &self,
        id: RefreshTokenId,
        now: UnixMillis,
    ) -> StoreResult<bool>;

    /// Rotate: mark `old` used and insert `new` (which must carry the same family) in one
    /// transaction. Of concurrent rotations of the same token exactly one gets
    /// [`RotateOutcome::Rotated`]; the others get [`RotateOutcome::AlreadyUsed`].
    async fn rotate_refresh_token(
        &self,
        old: RefreshTokenId,
        new: &NewRefreshToken,
        now: UnixMillis,
    ) -> StoreResult<RotateOutcome>;

    /// Revoke every unrevoked token of a family; returns how many.
    async fn revoke_refresh_family(
        &self,
        family: TokenFamilyId,
        now: UnixMillis,
    ) -> StoreResult<u64>;

    /// Revoke every unrevoked token of an account (logout everywhere, account disabled).
    async fn revoke_refresh_tokens_of_account(
        &self,
        account: AccountId,
        now: UnixMillis,
    ) -> StoreResult<u64>;
}
