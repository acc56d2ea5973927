//! SQL implementations of the store traits: one SQL text for both backends (`$N` placeholders,
//! `RETURNING`, integer milliseconds, text UUIDs, BLOB/BYTEA hashes).

use async_trait::async_trait;
use nsl_primitives::AccountId;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::CanonicalFields;
use crate::{
    Account, AccountStore, ApiKey, ApiKeyId, ApiKeyStore, AuditEntry, AuditFilter, AuditPage,
    AuditProblem, AuditStore, AuditVerification, AuthStore, Challenge, GENESIS_HASH, NewApiKey,
    NewAuditEntry, NewChallenge, NewRefreshToken, RefreshToken, RefreshTokenId, Role,
    RotateOutcome, Store, StoreError, StoreResult, TokenFamilyId, UnixMillis, entry_hash, head_mac,
    keyed_entry_hash, now_ms,
};

/// Rows read per round trip by [`AuditStore::verify_audit`].
const VERIFY_BATCH: i64 = 1000;

/// Map a foreign-key violation to `NotFound(what)`, anything else as usual.
pub(crate) fn fk_not_found(e: sqlx::Error, what: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_foreign_key_violation()
    {
        return StoreError::NotFound(what.to_string());
    }
    StoreError::from(e)
}

fn parse_account_id(s: &str) -> StoreResult<AccountId> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("account id {s:?} is not a UUID")))
}

const ACCOUNT_COLS: &str = "id, name, role, created_at, disabled_at";

fn api_key_from_row(r: &AnyRow) -> StoreResult<ApiKey> {
    let scopes: String = r.try_get("scopes")?;
    Ok(ApiKey {
        id: r.try_get::<String, _>("id")?.parse()?,
        account_id: parse_account_id(&r.try_get::<String, _>("account_id")?)?,
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        key_hash: r.try_get("key_hash")?,
        scopes: serde_json::from_str(&scopes)
            .map_err(|e| StoreError::Corrupt(format!("api key scopes: {e}")))?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

const API_KEY_COLS: &str = "id, account_id, name, prefix, key_hash, scopes, created_at, \
                            expires_at, last_used_at, revoked_at";

fn refresh_from_row(r: &AnyRow) -> StoreResult<RefreshToken> {
    let replaced_by: Option<String> = r.try_get("replaced_by")?;
    Ok(RefreshToken {
        id: r.try_get::<String, _>("id")?.parse()?,
        family_id: r.try_get::<String, _>("family_id")?.parse()?,
        account_id: parse_account_id(&r.try_get::<String, _>("account_id")?)?,
        token_hash: r.try_get("token_hash")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
        revoked_at: r.try_get("revoked_at")?,
        replaced_by: replaced_by.map(|s| s.parse()).transpose()?,
    })
}

const REFRESH_COLS: &str = "id, family_id, account_id, token_hash, created_at, expires_at, \
                            used_at, revoked_at, replaced_by";

const AUDIT_COLS: &str = "seq, ts, actor, action, target, ip, detail, prev_hash, entry_hash";

/// An audit row as stored (detail as text, hashes as raw bytes).
#[derive(sqlx::FromRow)]
struct AuditRow {
    seq: i64,
    ts: i64,
    actor: String,
    action: String,
    target: Option<String>,
    ip: Option<String>,
    detail: String,
    prev_hash: Vec<u8>,
    entry_hash: Vec<u8>,
}

impl AuditRow {
    fn from_row(r: &AnyRow) -> StoreResult<Self> {
        Ok(<AuditRow as sqlx::FromRow<AnyRow>>::from_row(r)?)
    }

    fn fields(&self) -> CanonicalFields<'_> {
        CanonicalFields {
            seq: self.seq,
            ts: self.ts,
            actor: &self.actor,
            action: &self.action,
            target: self.target.as_deref(),
            ip: self.ip.as_deref(),
            detail: &self.detail,
        }
    }

    fn into_entry(self) -> StoreResult<AuditEntry> {
        let hash = |v: Vec<u8>, what: &str| -> StoreResult<[u8; 32]> {
            v.try_into().map_err(|_| {
                StoreError::Corrupt(format!("audit entry {}: {what} is not 32 bytes", self.seq))
            })
        };
        let prev_hash = hash(self.prev_hash.clone(), "prev_hash")?;
        let entry_hash = hash(self.entry_hash.clone(), "entry_hash")?;
        // A tampered, unparsable detail is still shown (as a string) rather than hiding the row.
        let detail = serde_json::from_str(&self.detail)
            .unwrap_or_else(|_| serde_json::Value::String(self.detail.clone()));
        Ok(AuditEntry {
            seq: self.seq,
            ts: self.ts,
            actor: self.actor,
            action: self.action,
            target: self.target,
            ip: self.ip,
            detail,
            prev_hash,
            entry_hash,
        })
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[async_trait]
impl AccountStore for Store {
    async fn create_account(&self, name: &str, role: Role) -> StoreResult<Account> {
        let account = Account {
            id: AccountId::new_random(),
            name: name.to_string(),
            role,
            created_at: now_ms(),
            disabled_at: None,
        };
        sqlx::query("INSERT INTO accounts (id, name, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(account.id.to_string())
            .bind(&account.name)
            .bind(role.as_str())
            .bind(account.created_at)
            .execute(&self.pool)
            .await?;
        Ok(account)
    }

    async fn create_account_with_wallet(
        &self,
        name: &str,
        role: Role,
        address: &str,
    ) -> StoreResult<Account> {
        let account = Account {
            id: AccountId::new_random(),
            name: name.to_string(),
            role,
            created_at: now_ms(),
            disabled_at: None,
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO accounts (id, name, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(account.id.to_string())
            .bind(&account.name)
            .bind(role.as_str())
            .bind(account.created_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO account_wallets (address, account_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(address)
        .bind(account.id.to_string())
        .bind(account.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(account)
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        let row = sqlx::query_as(&format!(
            "SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    async fn list_accounts(&self, limit: u32, offset: u64) -> StoreResult<Vec<Account>> {
        let rows = sqlx::query_as(&format!(
            "SELECT {ACCOUNT_COLS} FROM accounts ORDER BY created_at, id LIMIT $1 OFFSET $2"
        ))
        .bind(i64::from(limit))
        .bind(to_i64(offset))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn set_account_role(&self, id: AccountId, role: Role) -> StoreResult<()> {
        let res = sqlx::query("UPDATE accounts SET role = $1 WHERE id = $2")
            .bind(role.as_str())
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("account {id}")));
        }
        Ok(())
    }

    async fn set_account_disabled(&self, id: AccountId, at: Option<UnixMillis>) -> StoreResult<()> {
        let res = sqlx::query("UPDATE accounts SET disabled_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("account {id}")));
        }
        Ok(())
    }

    async fn count_admins(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE role = 'admin'")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn link_wallet(&self, address: &str, account: AccountId) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO account_wallets (address, account_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(address)
        .bind(account.to_string())
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| fk_not_found(e, &format!("account {account}")))?;
        Ok(())
    }

    async fn account_by_wallet(&self, address: &str) -> StoreResult<Option<Account>> {
        let row = sqlx::query_as(
            "SELECT a.id, a.name, a.role, a.created_at, a.disabled_at FROM accounts a \
             JOIN account_wallets w ON w.account_id = a.id WHERE w.address = $1",
        )
        .bind(address)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    async fn wallets_of(&self, account: AccountId) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT address FROM account_wallets WHERE account_id = $1 ORDER BY created_at, address",
        )
        .bind(account.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("address").map_err(StoreError::from))
            .collect()
    }
}

#[async_trait]
impl ApiKeyStore for Store {
    async fn insert_api_key(&self, key: &NewApiKey) -> StoreResult<ApiKey> {
        let stored = ApiKey {
            id: ApiKeyId::new_random(),
            account_id: key.account_id,
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            key_hash: key.key_hash.clone(),
            scopes: key.scopes.clone(),
            created_at: now_ms(),
            expires_at: key.expires_at,
            last_used_at: None,
            revoked_at: None,
        };
        let scopes = serde_json::to_string(&stored.scopes)
            .map_err(|e| StoreError::InvalidArgument(format!("scopes: {e}")))?;
        sqlx::query(
            "INSERT INTO api_keys (id, account_id, name, prefix, key_hash, scopes, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(stored.id.to_string())
        .bind(stored.account_id.to_string())
        .bind(&stored.name)
        .bind(&stored.prefix)
        .bind(stored.key_hash.clone())
        .bind(scopes)
        .bind(stored.created_at)
        .bind(stored.expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| fk_not_found(e, &format!("account {}", key.account_id)))?;
        Ok(stored)
    }

    async fn api_key_by_prefix(&self, prefix: &str) -> StoreResult<Option<ApiKey>> {
        let row = sqlx::query(&format!(
            "SELECT {API_KEY_COLS} FROM api_keys WHERE prefix = $1"
        ))
        .bind(prefix)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    async fn api_key(&self, id: ApiKeyId) -> StoreResult<Option<ApiKey>> {
        let row = sqlx::query(&format!(
            "SELECT {API_KEY_COLS} FROM api_keys WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    async fn list_api_keys(&self, account: AccountId) -> StoreResult<Vec<ApiKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {API_KEY_COLS} FROM api_keys WHERE account_id = $1 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(account.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        owner: Option<AccountId>,
        now: UnixMillis,
    ) -> StoreResult<bool> {
        let res = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
             AND ($3 IS NULL OR account_id = $3)",
        )
        .bind(now)
        .bind(id.to_string())
        .bind(owner.map(|o| o.to_string()))
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn touch_api_key(&self, id: ApiKeyId, now: UnixMillis) -> StoreResult<()> {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 \
             AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(now)
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl AuthStore for Store {
    async fn create_challenge(&self, c: &NewChallenge) -> StoreResult<Challenge> {
        let stored = Challenge {
            id: c.id.clone(),
            address: c.address.clone(),
            message: c.message.clone(),
            created_at: now_ms(),
            expires_at: c.expires_at,
        };
        sqlx::query(
            "INSERT INTO login_challenges (id, address, message, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&stored.id)
        .bind(&stored.address)
        .bind(&stored.message)
        .bind(stored.created_at)
        .bind(stored.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(stored)
    }

    async fn take_challenge(&self, id: &str, now: UnixMillis) -> StoreResult<Option<Challenge>> {
        let row: Option<Challenge> = sqlx::query_as(
            "DELETE FROM login_challenges WHERE id = $1 \
             RETURNING id, address, message, created_at, expires_at",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(c) = row else { return Ok(None) };
        Ok((c.expires_at > now).then_some(c))
    }

    async fn purge_expired_auth(&self, now: UnixMillis) -> StoreResult<u64> {
        let a = sqlx::query("DELETE FROM login_challenges WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let b = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(a + b)
    }

    async fn insert_refresh_token(&self, t: &NewRefreshToken) -> StoreResult<RefreshToken> {
        insert_refresh(&self.pool, t, now_ms()).await
    }

    async fn refresh_token_by_hash(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshToken>> {
        let row = sqlx::query(&format!(
            "SELECT {REFRESH_COLS} FROM refresh_tokens WHERE token_hash = $1"
        ))
        .bind(token_hash.to_vec())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(refresh_from_row).transpose()
    }

    async fn mark_refresh_token_used(
        &self,
        id: RefreshTokenId,
        now: UnixMillis,
    ) -> StoreResult<bool> {
        let res =
            sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                .bind(now)
                .bind(id.to_string())
                .execute(&self.pool)
                .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn rotate_refresh_token(
        &self,
        old: RefreshTokenId,
        new: &NewRefreshToken,
        now: UnixMillis,
    ) -> StoreResult<RotateOutcome> {
        let mut tx = self.pool.begin().await?;
        // The conditional update is the first statement: it takes the write lock (SQLite) or the
        // row lock (PostgreSQL), so a concurrent rotation of the same token waits and then sees
        // `used_at` set.
        let res = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1, replaced_by = $2 WHERE id = $3 \
             AND family_id = $4 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(new.id.to_string())
        .bind(old.to_string())
        .bind(new.family_id.to_string())
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 1 {
            let stored = insert_refresh(&mut *tx, new, now).await?;
            tx.commit().await?;
            return Ok(RotateOutcome::Rotated(stored));
        }
        let row = sqlx::query(&format!(
            "SELECT {REFRESH_COLS} FROM refresh_tokens WHERE id = $1"
        ))
        .bind(old.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        tx.rollback().await?;
        let Some(row) = row else {
            return Ok(RotateOutcome::NotFound);
        };
        let current = refresh_from_row(&row)?;
        if current.used_at.is_some() {
            return Ok(RotateOutcome::AlreadyUsed {
                family_id: current.family_id,
                account_id: current.account_id,
            });
        }
        if current.revoked_at.is_some() {
            return Ok(RotateOutcome::Revoked);
        }
        if current.expires_at <= now {
            return Ok(RotateOutcome::Expired);
        }
        Err(StoreError::InvalidArgument(format!(
            "rotation must keep the token family ({} != {})",
            new.family_id, current.family_id
        )))
    }

    async fn revoke_refresh_family(
        &self,
        family: TokenFamilyId,
        now: UnixMillis,
    ) -> StoreResult<u64> {
        let res = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(family.to_string())
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected())
    }

    async fn revoke_refresh_tokens_of_account(
        &self,
        account: AccountId,
        now: UnixMillis,
    ) -> StoreResult<u64> {
        let res = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(account.to_string())
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected())
    }
}

async fn insert_refresh<'e, E>(
    executor: E,
    t: &NewRefreshToken,
    now: UnixMillis,
) -> StoreResult<RefreshToken>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO refresh_tokens (id, family_id, account_id, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(t.id.to_string())
    .bind(t.family_id.to_string())
    .bind(t.account_id.to_string())
    .bind(t.token_hash.clone())
    .bind(now)
    .bind(t.expires_at)
    .execute(executor)
    .await
    .map_err(|e| fk_not_found(e, &format!("account {}", t.account_id)))?;
    Ok(RefreshToken {
        id: t.id,
        family_id: t.family_id,
        account_id: t.account_id,
        token_hash: t.token_hash.clone(),
        created_at: now,
        expires_at: t.expires_at,
        used_at: None,
        revoked_at: None,
        replaced_by: None,
    })
}

#[async_trait]
impl AuditStore for Store {
    async fn append_audit(&self, e: &NewAuditEntry) -> StoreResult<AuditEntry> {
        let detail = serde_json::to_string(&e.detail)
            .map_err(|err| StoreError::InvalidArgument(format!("audit detail: {err}")))?;
        let mut tx = self.pool.begin().await?;
        // Lock the chain head first (write lock on SQLite, row lock on PostgreSQL): appends from
        // every connection and every node are serialized here. RETURNING gives the new seq and the
        // previous entry's hash (head_hash is not changed by this statement).
        let head = sqlx::query(
            "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, head_hash, keyed",
        )
        .fetch_one(&mut *tx)
        .await?;
        let keyed: i64 = head.try_get("keyed")?;
        let key = self.chain_key(keyed != 0)?;
        let seq: i64 = head.try_get("seq")?;
        let prev: Vec<u8> = head.try_get("head_hash")?;
        let prev: [u8; 32] = prev
            .try_into()
            .map_err(|_| StoreError::Corrupt("audit_head.head_hash is not 32 bytes".into()))?;
        let row = AuditRow {
            seq,
            ts: e.ts,
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            ip: e.ip.clone(),
            detail,
            prev_hash: prev.to_vec(),
            entry_hash: Vec::new(),
        };
        let hash = match key {
            Some(k) => keyed_entry_hash(k, &prev, &row.fields()),
            None => entry_hash(&prev, &row.fields()),
        };
        sqlx::query(&format!(
            "INSERT INTO audit_log ({AUDIT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(seq)
        .bind(row.ts)
        .bind(&row.actor)
        .bind(&row.action)
        .bind(row.target.clone())
        .bind(row.ip.clone())
        .bind(&row.detail)
        .bind(prev.to_vec())
        .bind(hash.to_vec())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE audit_head SET head_hash = $1, head_mac = $2 WHERE id = 1")
            .bind(hash.to_vec())
            .bind(key.map(|k| head_mac(k, seq, &hash).to_vec()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        AuditRow {
            entry_hash: hash.to_vec(),
            ..row
        }
        .into_entry()
    }

    async fn list_audit(&self, f: &AuditFilter) -> StoreResult<AuditPage> {
        let limit = match f.limit {
            0 => 50,
            n => n.min(1000),
        };
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLS} FROM audit_log WHERE ($1 IS NULL OR actor = $1) \
             AND ($2 IS NULL OR action = $2) AND ($3 IS NULL OR target = $3) \
             AND ($4 IS NULL OR ts >= $4) AND ($5 IS NULL OR ts < $5) \
             AND ($6 IS NULL OR seq < $6) ORDER BY seq DESC LIMIT $7"
        ))
        .bind(f.actor.clone())
        .bind(f.action.clone())
        .bind(f.target.clone())
        .bind(f.since)
        .bind(f.until)
        .bind(f.before_seq)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut entries = rows
            .iter()
            .map(|r| AuditRow::from_row(r).and_then(AuditRow::into_entry))
            .collect::<StoreResult<Vec<_>>>()?;
        let more = entries.len() > limit as usize;
        entries.truncate(limit as usize);
        let next_before_seq = if more {
            entries.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(AuditPage {
            entries,
            next_before_seq,
        })
    }

    async fn verify_audit(&self) -> StoreResult<AuditVerification> {
        // Read the head first: entries appended while we walk are beyond it and not checked.
        let head =
            sqlx::query("SELECT seq, head_hash, keyed, head_mac FROM audit_head WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::Corrupt("audit_head row is missing".into()))?;
        let head_seq: i64 = head.try_get("seq")?;
        let head_hash: Vec<u8> = head.try_get("head_hash")?;
        let keyed: i64 = head.try_get("keyed")?;
        let stored_mac: Option<Vec<u8>> = head.try_get("head_mac")?;
        if self.audit_key.is_some() && keyed == 0 {
            return Ok(AuditVerification {
                entries: 0,
                problem: Some(AuditProblem::NotKeyed),
            });
        }
        let key = self.chain_key(keyed != 0)?;
        if let Some(k) = key
            && stored_mac.as_deref() != Some(&head_mac(k, head_seq, &head_hash)[..])
        {
            return Ok(AuditVerification {
                entries: 0,
                problem: Some(AuditProblem::HeadNotAuthentic),
            });
        }
        let mut walk = ChainWalk::new(key);
        loop {
            let rows = sqlx::query(&format!(
                "SELECT {AUDIT_COLS} FROM audit_log WHERE seq >= $1 AND seq <= $2 \
                 ORDER BY seq LIMIT $3"
            ))
            .bind(walk.expected_seq)
            .bind(head_seq)
            .bind(VERIFY_BATCH)
            .fetch_all(&self.pool)
            .await?;
            let batch_len = rows.len();
            for r in &rows {
                if let Some(problem) = walk.check(&AuditRow::from_row(r)?) {
                    return Ok(walk.failed(problem));
                }
            }
            if (batch_len as i64) < VERIFY_BATCH {
                break;
            }
        }
        Ok(walk.finish(head_seq, &head_hash))
    }
}

/// Walks a chain in seq order, checking each row's hash and link.
struct ChainWalk<'k> {
    key: Option<&'k crate::AuditKey>,
    checked: u64,
    expected_seq: i64,
    prev: Vec<u8>,
}

impl<'k> ChainWalk<'k> {
    fn new(key: Option<&'k crate::AuditKey>) -> Self {
        Self {
            key,
            checked: 0,
            expected_seq: 1,
            prev: GENESIS_HASH.to_vec(),
        }
    }

    fn hash(&self, prev: &[u8; 32], row: &AuditRow) -> [u8; 32] {
        match self.key {
            Some(k) => keyed_entry_hash(k, prev, &row.fields()),
            None => entry_hash(prev, &row.fields()),
        }
    }

    /// The problem with the next row, if any; otherwise the row is accepted.
    fn check(&mut self, row: &AuditRow) -> Option<AuditProblem> {
        if row.seq != self.expected_seq {
            return Some(AuditProblem::Missing {
                seq: self.expected_seq,
                next_present: Some(row.seq),
            });
        }
        let own_prev: Option<[u8; 32]> = row.prev_hash.clone().try_into().ok();
        let recomputed = own_prev.map(|p| self.hash(&p, row));
        if recomputed.map(|h| h.to_vec()) != Some(row.entry_hash.clone()) {
            return Some(AuditProblem::Modified { seq: row.seq });
        }
        if row.prev_hash != self.prev {
            return Some(AuditProblem::BrokenLink { seq: row.seq });
        }
        self.prev = row.entry_hash.clone();
        self.checked += 1;
        self.expected_seq += 1;
        None
    }

    fn failed(&self, problem: AuditProblem) -> AuditVerification {
        AuditVerification {
            entries: self.checked,
            problem: Some(problem),
        }
    }

    /// After the last row: rows missing at the end, or a head that does not match.
    fn finish(&self, head_seq: i64, head_hash: &[u8]) -> AuditVerification {
        let last_seq = self.expected_seq - 1;
        if last_seq < head_seq {
            return self.failed(AuditProblem::Missing {
                seq: self.expected_seq,
                next_present: None,
            });
        }
        if self.prev != head_hash {
            return self.failed(AuditProblem::HeadMismatch { head_seq, last_seq });
        }
        AuditVerification {
            entries: self.checked,
            problem: None,
        }
    }
}

impl Store {
    /// The key to hash a chain whose head says `keyed` with; an error when this store and the
    /// chain disagree (a keyed chain needs the key; a store with a key writes only keyed chains).
    fn chain_key(&self, keyed: bool) -> StoreResult<Option<&crate::AuditKey>> {
        match (&self.audit_key, keyed) {
            (Some(k), true) => Ok(Some(k)),
            (None, false) => Ok(None),
            (None, true) => Err(StoreError::InvalidArgument(
                "the audit chain is keyed; this process has no audit key (open the store with \
                 the node's vault)"
                    .into(),
            )),
            (Some(_), false) => Err(StoreError::Corrupt(
                "the audit chain is not keyed although this node has an audit key (was it \
                 rewritten without the key? run `nsl audit verify`)"
                    .into(),
            )),
        }
    }

    /// Whether the audit chain is keyed (`audit_head.keyed`).
    pub async fn audit_chain_keyed(&self) -> StoreResult<bool> {
        let keyed: i64 = sqlx::query("SELECT keyed FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?
            .try_get("keyed")?;
        Ok(keyed != 0)
    }

    /// Key the audit chain with this store's key, once: checks every row under plain SHA-256
    /// and, if the chain is intact, rewrites every row's hashes as HMAC under the key, sets the
    /// head MAC and marks the chain keyed, in one transaction (appends wait on the head row).
    /// A chain already keyed is left alone (`entries` = 0). If the plain chain is broken nothing
    /// changes and the problem is returned.
    pub async fn key_audit_chain(&self) -> StoreResult<AuditVerification> {
        let key = self.audit_key.as_ref().ok_or_else(|| {
            StoreError::InvalidArgument("key_audit_chain needs a store with an audit key".into())
        })?;
        let mut tx = self.pool.begin().await?;
        let head = sqlx::query(
            "UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, head_hash, keyed",
        )
        .fetch_one(&mut *tx)
        .await?;
        let head_seq: i64 = head.try_get("seq")?;
        let head_hash: Vec<u8> = head.try_get("head_hash")?;
        if head.try_get::<i64, _>("keyed")? != 0 {
            tx.commit().await?;
            return Ok(AuditVerification {
                entries: 0,
                problem: None,
            });
        }
        let mut plain = ChainWalk::new(None);
        let mut keyed_prev = GENESIS_HASH;
        loop {
            let rows = sqlx::query(&format!(
                "SELECT {AUDIT_COLS} FROM audit_log WHERE seq >= $1 AND seq <= $2 \
                 ORDER BY seq LIMIT $3"
            ))
            .bind(plain.expected_seq)
            .bind(head_seq)
            .bind(VERIFY_BATCH)
            .fetch_all(&mut *tx)
            .await?;
            let batch_len = rows.len();
            for r in &rows {
                let row = AuditRow::from_row(r)?;
                if let Some(problem) = plain.check(&row) {
                    return Ok(plain.failed(problem));
                }
                let hash = keyed_entry_hash(key, &keyed_prev, &row.fields());
                sqlx::query("UPDATE audit_log SET prev_hash = $1, entry_hash = $2 WHERE seq = $3")
                    .bind(keyed_prev.to_vec())
                    .bind(hash.to_vec())
                    .bind(row.seq)
                    .execute(&mut *tx)
                    .await?;
                keyed_prev = hash;
            }
            if (batch_len as i64) < VERIFY_BATCH {
                break;
            }
        }
        let done = plain.finish(head_seq, &head_hash);
        if done.problem.is_some() {
            return Ok(done);
        }
        sqlx::query("UPDATE audit_head SET head_hash = $1, keyed = 1, head_mac = $2 WHERE id = 1")
            .bind(keyed_prev.to_vec())
            .bind(head_mac(key, head_seq, &keyed_prev).to_vec())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done)
    }
}
