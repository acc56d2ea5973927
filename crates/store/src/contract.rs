//! Contracts an account registers as its own (table `account_contracts`, migration 0005).
//!
//! Services record on-chain requests with the requesting contract's script hash; an account's
//! "requesters" are these contracts plus the script hashes of its wallet addresses (the API
//! computes that set, see `nsl_api::requesters`). Registering proves nothing and needs no proof:
//! it only unlocks views of public chain data, so several accounts may register one contract.

use async_trait::async_trait;
use nsl_primitives::AccountId;

use crate::{Store, StoreError, StoreResult, UnixMillis};

/// A contract registered by an account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountContract {
    /// The registering account.
    #[sqlx(try_from = "String")]
    pub account_id: AccountId,
    /// `0x` + 40 lowercase hex digits, big-endian (the form Neo tools display and services
    /// store as the requester).
    pub script_hash: String,
    /// Free label (may be empty).
    pub label: String,
    /// Registration time.
    pub created_at: UnixMillis,
}

/// Whether `s` is a script hash in the stored form: `0x` + 40 lowercase hex digits.
pub fn is_canonical_script_hash(s: &str) -> bool {
    s.strip_prefix("0x").is_some_and(|h| {
        h.len() == 40
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Contracts registered by accounts.
#[async_trait]
pub trait ContractStore: Send + Sync {
    /// Register `script_hash` (canonical form, see [`is_canonical_script_hash`], else
    /// [`StoreError::InvalidArgument`]) for `account`. [`StoreError::Conflict`] if this account
    /// registered it already; [`StoreError::NotFound`] if the account does not exist.
    async fn add_contract(
        &self,
        account: AccountId,
        script_hash: &str,
        label: &str,
        now: UnixMillis,
    ) -> StoreResult<AccountContract>;

    /// The account's contracts, oldest first.
    async fn contracts_of(&self, account: AccountId) -> StoreResult<Vec<AccountContract>>;

    /// One registration of the account.
    async fn contract_of(
        &self,
        account: AccountId,
        script_hash: &str,
    ) -> StoreResult<Option<AccountContract>>;

    /// Remove a registration of the account; false if it had none for `script_hash`.
    async fn remove_contract(&self, account: AccountId, script_hash: &str) -> StoreResult<bool>;
}

const CONTRACT_COLS: &str = "account_id, script_hash, label, created_at";

#[async_trait]
impl ContractStore for Store {
    async fn add_contract(
        &self,
        account: AccountId,
        script_hash: &str,
        label: &str,
        now: UnixMillis,
    ) -> StoreResult<AccountContract> {
        if !is_canonical_script_hash(script_hash) {
            return Err(StoreError::InvalidArgument(format!(
                "script hash {script_hash:?} is not 0x + 40 lowercase hex digits"
            )));
        }
        let row = sqlx::query_as(&format!(
            "INSERT INTO account_contracts ({CONTRACT_COLS}) VALUES ($1, $2, $3, $4) \
             RETURNING {CONTRACT_COLS}"
        ))
        .bind(account.to_string())
        .bind(script_hash)
        .bind(label)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| crate::sql::fk_not_found(e, "account"))?;
        Ok(row)
    }

    async fn contracts_of(&self, account: AccountId) -> StoreResult<Vec<AccountContract>> {
        let rows = sqlx::query_as(&format!(
            "SELECT {CONTRACT_COLS} FROM account_contracts WHERE account_id = $1 \
             ORDER BY created_at, script_hash"
        ))
        .bind(account.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn contract_of(
        &self,
        account: AccountId,
        script_hash: &str,
    ) -> StoreResult<Option<AccountContract>> {
        let row = sqlx::query_as(&format!(
            "SELECT {CONTRACT_COLS} FROM account_contracts \
             WHERE account_id = $1 AND script_hash = $2"
        ))
        .bind(account.to_string())
        .bind(script_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    async fn remove_contract(&self, account: AccountId, script_hash: &str) -> StoreResult<bool> {
        let done =
            sqlx::query("DELETE FROM account_contracts WHERE account_id = $1 AND script_hash = $2")
                .bind(account.to_string())
                .bind(script_hash)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::is_canonical_script_hash;

    #[test]
    fn canonical_script_hashes() {
        assert!(is_canonical_script_hash(
            "0xfe924b7cfe89ddd271abaf7210a80a7e11178758"
        ));
        for bad in [
            "fe924b7cfe89ddd271abaf7210a80a7e11178758",
            "0xFE924B7CFE89DDD271ABAF7210A80A7E11178758",
            "0xfe924b7cfe89ddd271abaf7210a80a7e1117875",
            "0xfe924b7cfe89ddd271abaf7210a80a7e117875800",
            "0xge924b7cfe89ddd271abaf7210a80a7e11178758",
            "",
        ] {
            assert!(!is_canonical_script_hash(bad), "{bad}");
        }
    }
}
