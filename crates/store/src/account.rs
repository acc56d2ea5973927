//! Accounts (tenants) and the wallet addresses that log in to them.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use nsl_primitives::AccountId;
use serde::{Deserialize, Serialize};

use crate::{StoreError, StoreResult, UnixMillis};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A tenant: manages its own keys and requests.
    User,
    /// An operator: may manage every account.
    Admin,
}

impl Role {
    /// Stored text form (`user`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Role::User),
            "admin" => Ok(Role::Admin),
            other => Err(StoreError::Corrupt(format!(
                "unknown role {other:?} (user or admin)"
            ))),
        }
    }
}

/// The stored text form (rows decode it with `#[sqlx(try_from = "String")]`).
impl TryFrom<String> for Role {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// An account (tenant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Account {
    /// Id.
    #[sqlx(try_from = "String")]
    pub id: AccountId,
    /// Display name (not unique).
    pub name: String,
    /// Role.
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// Creation time.
    pub created_at: UnixMillis,
    /// When the account was disabled; disabled accounts must not authenticate.
    pub disabled_at: Option<UnixMillis>,
}

/// Accounts and their wallet logins.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Create an account with a fresh id.
    async fn create_account(&self, name: &str, role: Role) -> StoreResult<Account>;

    /// Create an account and link a wallet address to it, atomically (first wallet login).
    /// [`StoreError::Conflict`] if the address is already linked.
    async fn create_account_with_wallet(
        &self,
        name: &str,
        role: Role,
        address: &str,
    ) -> StoreResult<Account>;

    /// One account.
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;

    /// Accounts ordered by creation time, `limit` at most, skipping `offset`.
    async fn list_accounts(&self, limit: u32, offset: u64) -> StoreResult<Vec<Account>>;

    /// Change the role. [`StoreError::NotFound`] if the account does not exist.
    async fn set_account_role(&self, id: AccountId, role: Role) -> StoreResult<()>;

    /// Disable (`Some(now)`) or re-enable (`None`). [`StoreError::NotFound`] if absent.
    async fn set_account_disabled(&self, id: AccountId, at: Option<UnixMillis>) -> StoreResult<()>;

    /// Number of admin accounts (bootstrap checks).
    async fn count_admins(&self) -> StoreResult<u64>;

    /// Link a wallet address (Neo address text) to an account. [`StoreError::Conflict`] if the
    /// address is linked already (to any account); [`StoreError::NotFound`] if the account is absent.
    async fn link_wallet(&self, address: &str, account: AccountId) -> StoreResult<()>;

    /// The account a wallet address logs in to.
    async fn account_by_wallet(&self, address: &str) -> StoreResult<Option<Account>>;

    /// Addresses linked to an account, oldest first.
    async fn wallets_of(&self, account: AccountId) -> StoreResult<Vec<String>>;
}
