//! Storage traits and their sqlx implementations for SQLite and PostgreSQL.
//!
//! # API for other crates
//!
//! - Open: [`Store::open`]`(&nsl_config::Config, services)` connects (SQLite file
//!   `<data_dir>/nsl.db` by default, or `database.url`) and applies the platform's embedded
//!   migrations ([`PLATFORM_MIGRATIONS`]) and the [`MigrationSet`]s of the services, composed into
//!   one sequence by version ([`compose`]; the node lists every set). [`Store`] is cheap to clone
//!   (a pool handle); share one per process.
//! - Capabilities, one trait each, all implemented by [`Store`] (object safe, `#[async_trait]`):
//!   [`AccountStore`] (accounts with [`Role`], wallet address -> account),
//!   [`ApiKeyStore`] (prefix + hash + scopes + expiry; lookup by prefix, list, revoke, touch),
//!   [`AuthStore`] (single-use login challenges; refresh tokens with families, atomic rotation with
//!   reuse detection), [`AuditStore`] (hash-chained append-only log, list, verify),
//!   [`ContractStore`] (contracts an account registers as its own: with its wallets' script
//!   hashes, the requesters whose on-chain requests the account may see).
//!   [`PlatformStore`] bundles them for `Arc<dyn PlatformStore>`.
//! - Errors: [`StoreError`]; [`StoreError::Conflict`] is a unique-constraint violation (HTTP 409),
//!   [`StoreError::NotFound`] a missing row a write needed (HTTP 404).
//! - Time: every timestamp is [`UnixMillis`] (`i64` ms since the epoch) on both backends;
//!   [`now_ms`] gives the current one. Operations whose outcome depends on time take `now`.
//! - Ids: [`nsl_primitives::AccountId`], [`ApiKeyId`], [`RefreshTokenId`], [`TokenFamilyId`]
//!   (UUIDs stored as text).
//!
//! # Flow
//!
//! ```text
//! Config --Store::open(sets)--> AnyPool (sqlite | postgres) --compose sets, migrate--> ready
//!   API / CLI --trait calls--> one SQL text for both backends ($N placeholders), transactions where
//!   several rows change together
//! ```
//!
//! # Invariants
//!
//! - SQLite runs with WAL, foreign keys on and a busy timeout; PostgreSQL with its defaults.
//! - Multi-row writes are transactions whose first statement is a write (takes SQLite's write lock
//!   up front, row locks on PostgreSQL), so concurrent writers queue instead of failing late.
//! - A refresh token is used at most once: `UPDATE ... WHERE used_at IS NULL` and rows affected.
//! - The audit chain has no gaps and no forks: appends are serialized on the `audit_head` row.
//! - Secrets are never stored: API keys and refresh tokens only as hashes.

mod account;
mod api_key;
mod audit;
mod auth;
mod contract;
mod error;
mod migrations;
mod sql;
mod store;
#[cfg(feature = "test-utils")]
pub mod test_utils;
mod types;

pub use account::{Account, AccountStore, Role};
pub use api_key::{ApiKey, ApiKeyStore, NewApiKey};
pub use audit::{
    AuditEntry, AuditFilter, AuditKey, AuditPage, AuditProblem, AuditStore, AuditVerification,
    CanonicalFields, GENESIS_HASH, NewAuditEntry, entry_hash, head_mac, keyed_entry_hash,
};
pub use auth::{AuthStore, Challenge, NewChallenge, NewRefreshToken, RefreshToken, RotateOutcome};
pub use contract::{AccountContract, ContractStore, is_canonical_script_hash};
pub use error::{StoreError, StoreResult};
pub use migrations::{MigrationSet, PLATFORM_MIGRATIONS, compose};
pub use nsl_primitives::AccountId;
pub use store::{Backend, MigrationReport, Store};
pub use types::{ApiKeyId, RefreshTokenId, TokenFamilyId, UnixMillis, now_ms};

/// Every platform capability in one trait, for `Arc<dyn PlatformStore>`.
pub trait PlatformStore:
    AccountStore + ApiKeyStore + AuthStore + AuditStore + ContractStore
{
}

impl<T: AccountStore + ApiKeyStore + AuthStore + AuditStore + ContractStore> PlatformStore for T {}
