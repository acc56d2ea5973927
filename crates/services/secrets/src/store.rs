//! Secret versions at rest for the secrets service (`nsl-secrets`): envelope-encrypted rows, never
//! a value in clear. Table `secret_versions` (migration 0002), primary key
//! `(account_id, name, version)`, index on `key_version` for master key rotation.

use std::fmt;

use async_trait::async_trait;
use nsl_primitives::AccountId;
use sqlx::Row;

use nsl_store::{Store, StoreError, StoreResult, UnixMillis};

/// One stored secret version: the output of the vault's `seal_secret` plus its coordinates.
/// `Debug` prints lengths, never key material or ciphertext.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SecretVersion {
    /// Owner.
    #[sqlx(try_from = "String")]
    pub account_id: AccountId,
    /// Secret name (validated by the service).
    pub name: String,
    /// Version number, from 1, one more per write of the same name.
    #[sqlx(try_from = "i64")]
    pub version: u64,
    /// Master key version that wrapped `wrapped_dek`.
    #[sqlx(try_from = "i64")]
    pub key_version: u32,
    /// The data key, wrapped by the vault.
    pub wrapped_dek: Vec<u8>,
    /// AES-GCM nonce of `ciphertext`.
    pub nonce: Vec<u8>,
    /// Encrypted value with its tag.
    pub ciphertext: Vec<u8>,
    /// Creation time of this version.
    pub created_at: UnixMillis,
}

impl fmt::Debug for SecretVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretVersion")
            .field("account_id", &self.account_id)
            .field("name", &self.name)
            .field("version", &self.version)
            .field("key_version", &self.key_version)
            .field("wrapped_dek_len", &self.wrapped_dek.len())
            .field("ciphertext_len", &self.ciphertext.len())
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// What may be shown about a secret: never its value.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SecretMeta {
    /// Secret name.
    pub name: String,
    /// Newest version.
    #[sqlx(try_from = "i64")]
    pub latest_version: u64,
    /// Versions kept.
    #[sqlx(try_from = "i64")]
    pub versions: u64,
    /// Creation time of the oldest kept version.
    pub created_at: UnixMillis,
    /// Creation time of the newest version.
    pub updated_at: UnixMillis,
}

/// Storage of envelope-encrypted secret versions.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Quota figures of `account`: how many secret names it has and the ciphertext bytes of all
    /// their stored versions.
    async fn secret_usage(&self, account: AccountId) -> StoreResult<(u64, u64)>;

    /// Newest version number of `(account, name)`, if the secret exists.
    async fn latest_secret_version(
        &self,
        account: AccountId,
        name: &str,
    ) -> StoreResult<Option<u64>>;

    /// Insert a new version and, in the same transaction, delete versions older than the newest
    /// `keep` (`keep = 0` keeps all). [`StoreError::Conflict`] if this version number exists (a
    /// concurrent writer won: read the latest version again and retry);
    /// [`StoreError::NotFound`] if the account does not exist.
    async fn insert_secret_version(&self, row: &SecretVersion, keep: u32) -> StoreResult<()>;

    /// The newest version of `(account, name)`.
    async fn latest_secret(
        &self,
        account: AccountId,
        name: &str,
    ) -> StoreResult<Option<SecretVersion>>;

    /// Metadata of every secret of `account`, sorted by name.
    async fn list_secrets(&self, account: AccountId) -> StoreResult<Vec<SecretMeta>>;

    /// Metadata of one secret.
    async fn secret_meta(&self, account: AccountId, name: &str) -> StoreResult<Option<SecretMeta>>;

    /// Delete every version of `(account, name)`; returns how many rows went.
    async fn delete_secret(&self, account: AccountId, name: &str) -> StoreResult<u64>;

    /// Up to `limit` versions whose data key is wrapped under a master key version other than
    /// `current` (all accounts), for re-wrapping after a rotation.
    async fn secrets_not_under_key_version(
        &self,
        current: u32,
        limit: u32,
    ) -> StoreResult<Vec<SecretVersion>>;

    /// Replace the wrapped data key of one version, only if it is still wrapped under
    /// `from_key_version` (compare and set). Returns false if the row is gone or already changed.
    async fn rewrap_secret_version(
        &self,
        account: AccountId,
        name: &str,
        version: u64,
        from_key_version: u32,
        to_key_version: u32,
        wrapped_dek: &[u8],
    ) -> StoreResult<bool>;

    /// How many versions each master key version wraps, sorted by key version.
    async fn secret_key_version_counts(&self) -> StoreResult<Vec<(u32, u64)>>;
}

const SECRET_COLS: &str =
    "account_id, name, version, key_version, wrapped_dek, nonce, ciphertext, created_at";

fn to_i64(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::InvalidArgument(format!("{v} exceeds i64")))
}

fn to_u64(v: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v} is negative")))
}

fn to_u32(v: i64, what: &str) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v} is out of range")))
}

const META_SELECT: &str = "SELECT name, MAX(version) AS latest_version, COUNT(*) AS versions, \
                           MIN(created_at) AS created_at, MAX(created_at) AS updated_at \
                           FROM secret_versions";

#[async_trait]
impl SecretStore for Store {
    async fn secret_usage(&self, account: AccountId) -> StoreResult<(u64, u64)> {
        let row = sqlx::query(
            "SELECT COUNT(DISTINCT name) AS names, \
             CAST(COALESCE(SUM(LENGTH(ciphertext)), 0) AS BIGINT) AS bytes \
             FROM secret_versions WHERE account_id = $1",
        )
        .bind(account.to_string())
        .fetch_one(self.pool())
        .await?;
        let names: i64 = row.try_get("names")?;
        let bytes: i64 = row.try_get("bytes")?;
        Ok((
            u64::try_from(names).unwrap_or(0),
            u64::try_from(bytes).unwrap_or(0),
        ))
    }

    async fn latest_secret_version(
        &self,
        account: AccountId,
        name: &str,
    ) -> StoreResult<Option<u64>> {
        let row = sqlx::query(
            "SELECT version FROM secret_versions WHERE account_id = $1 AND name = $2 \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(account.to_string())
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| to_u64(r.try_get("version")?, "secret version"))
            .transpose()
    }

    async fn insert_secret_version(&self, row: &SecretVersion, keep: u32) -> StoreResult<()> {
        let version = to_i64(row.version)?;
        let mut tx = self.pool().begin().await?;
        sqlx::query(&format!(
            "INSERT INTO secret_versions ({SECRET_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(row.account_id.to_string())
        .bind(&row.name)
        .bind(version)
        .bind(i64::from(row.key_version))
        .bind(row.wrapped_dek.clone())
        .bind(row.nonce.clone())
        .bind(row.ciphertext.clone())
        .bind(row.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if let sqlx::Error::Database(db) = &e
                && db.is_foreign_key_violation()
            {
                return StoreError::NotFound(format!("account {}", row.account_id));
            }
            StoreError::from(e)
        })?;
        if keep > 0 {
            sqlx::query(
                "DELETE FROM secret_versions WHERE account_id = $1 AND name = $2 AND version <= $3",
            )
            .bind(row.account_id.to_string())
            .bind(&row.name)
            .bind(version - i64::from(keep))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn latest_secret(
        &self,
        account: AccountId,
        name: &str,
    ) -> StoreResult<Option<SecretVersion>> {
        let row = sqlx::query_as(&format!(
            "SELECT {SECRET_COLS} FROM secret_versions WHERE account_id = $1 AND name = $2 \
             ORDER BY version DESC LIMIT 1"
        ))
        .bind(account.to_string())
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        Ok(row)
    }

    async fn list_secrets(&self, account: AccountId) -> StoreResult<Vec<SecretMeta>> {
        let rows = sqlx::query_as(&format!(
            "{META_SELECT} WHERE account_id = $1 GROUP BY name ORDER BY name"
        ))
        .bind(account.to_string())
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    async fn secret_meta(&self, account: AccountId, name: &str) -> StoreResult<Option<SecretMeta>> {
        let row = sqlx::query_as(&format!(
            "{META_SELECT} WHERE account_id = $1 AND name = $2 GROUP BY name"
        ))
        .bind(account.to_string())
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        Ok(row)
    }

    async fn delete_secret(&self, account: AccountId, name: &str) -> StoreResult<u64> {
        let res = sqlx::query("DELETE FROM secret_versions WHERE account_id = $1 AND name = $2")
            .bind(account.to_string())
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(res.rows_affected())
    }

    async fn secrets_not_under_key_version(
        &self,
        current: u32,
        limit: u32,
    ) -> StoreResult<Vec<SecretVersion>> {
        let rows = sqlx::query_as(&format!(
            "SELECT {SECRET_COLS} FROM secret_versions WHERE key_version <> $1 \
             ORDER BY key_version, account_id, name, version LIMIT $2"
        ))
        .bind(i64::from(current))
        .bind(i64::from(limit.max(1)))
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    async fn rewrap_secret_version(
        &self,
        account: AccountId,
        name: &str,
        version: u64,
        from_key_version: u32,
        to_key_version: u32,
        wrapped_dek: &[u8],
    ) -> StoreResult<bool> {
        let res = sqlx::query(
            "UPDATE secret_versions SET key_version = $1, wrapped_dek = $2 \
             WHERE account_id = $3 AND name = $4 AND version = $5 AND key_version = $6",
        )
        .bind(i64::from(to_key_version))
        .bind(wrapped_dek.to_vec())
        .bind(account.to_string())
        .bind(name)
        .bind(to_i64(version)?)
        .bind(i64::from(from_key_version))
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn secret_key_version_counts(&self) -> StoreResult<Vec<(u32, u64)>> {
        let rows = sqlx::query(
            "SELECT key_version, COUNT(*) AS n FROM secret_versions \
             GROUP BY key_version ORDER BY key_version",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    to_u32(r.try_get("key_version")?, "key version")?,
                    to_u64(r.try_get("n")?, "count")?,
                ))
            })
            .collect()
    }
}
