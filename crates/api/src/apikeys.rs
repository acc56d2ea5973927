//! API key management shared by the HTTP API (`/v1/apikeys`) and the operator CLI (`nsl apikey`).
//!
//! Rotation is "create new, revoke old later": [`rotate_key`] creates a key with the same name,
//! scopes and expiry as the old one and leaves the old one working until it is revoked, so clients
//! can switch over without downtime.

use nsl_store::{
    Account, AccountId, ApiKey, ApiKeyId, ApiKeyStore as _, AuditStore as _, NewApiKey,
    NewAuditEntry, Role, Store, StoreError, UnixMillis, now_ms,
};
use serde_json::json;

use crate::auth::{ALL_SCOPES, SCOPE_ADMIN};
use crate::error::ApiError;
use crate::keys;

/// Longest key name.
pub const MAX_NAME_LEN: usize = 100;
/// Most active keys one account may hold.
pub const MAX_ACTIVE_KEYS: usize = 100;

/// Who is acting, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Account id, or `cli` for the operator's shell.
    pub name: String,
    /// Client IP over the API.
    pub ip: Option<String>,
}

/// A key just created: the only moment the full key exists outside the client. `Debug` redacts it.
pub struct CreatedKey {
    /// The stored key (hash only).
    pub key: ApiKey,
    /// The full key, to show once.
    pub secret: String,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("key", &self.key)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Check a key name.
pub fn validate_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control)
    {
        return Err(ApiError::validation(format!(
            "name must be 1 to {MAX_NAME_LEN} characters without control characters"
        )));
    }
    Ok(name.to_owned())
}

/// Check requested scopes: known, deduplicated, non-empty; `admin` only for admin accounts;
/// with `ceiling`, no scope beyond it (an API key cannot mint a stronger key).
pub fn validate_scopes(
    requested: &[String],
    role: Role,
    ceiling: Option<&[String]>,
) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for s in requested {
        let s = s.trim();
        if !ALL_SCOPES.contains(&s) {
            return Err(ApiError::validation(format!(
                "unknown scope {s:?} (known: {})",
                ALL_SCOPES.join(", ")
            )));
        }
        if s == SCOPE_ADMIN && role != Role::Admin {
            return Err(ApiError::Forbidden(
                "only admin accounts may hold the admin scope".into(),
            ));
        }
        if let Some(c) = ceiling
            && !c.iter().any(|x| x == s)
        {
            return Err(ApiError::Forbidden(format!(
                "cannot grant scope {s:?} that this credential lacks"
            )));
        }
        if !out.iter().any(|x| x == s) {
            out.push(s.to_owned());
        }
    }
    if out.is_empty() {
        return Err(ApiError::validation("at least one scope is required"));
    }
    // Stable order: as in ALL_SCOPES.
    out.sort_by_key(|s| ALL_SCOPES.iter().position(|x| x == s));
    Ok(out)
}

/// Create a key for `account`. `scopes` must come from [`validate_scopes`].
pub async fn create_key(
    store: &Store,
    account: &Account,
    name: &str,
    scopes: Vec<String>,
    expires_at: Option<UnixMillis>,
    actor: &Actor,
) -> Result<CreatedKey, ApiError> {
    let name = validate_name(name)?;
    if account.disabled_at.is_some() {
        return Err(ApiError::Forbidden("the account is disabled".into()));
    }
    let now = now_ms();
    if expires_at.is_some_and(|e| e <= now) {
        return Err(ApiError::validation("expiry must be in the future"));
    }
    let active = store
        .list_api_keys(account.id)
        .await?
        .iter()
        .filter(|k| k.is_active(now))
        .count();
    if active >= MAX_ACTIVE_KEYS {
        return Err(ApiError::Conflict(format!(
            "the account already has {MAX_ACTIVE_KEYS} active keys; revoke some"
        )));
    }
    // A prefix collision (48 random bits) is astronomically rare; retry once anyway.
    let mut attempt = 0;
    let (stored, secret) = loop {
        let k = keys::generate();
        let new = NewApiKey {
            account_id: account.id,
            name: name.clone(),
            prefix: k.prefix.clone(),
            key_hash: k.hash.to_vec(),
            scopes: scopes.clone(),
            expires_at,
        };
        match store.insert_api_key(&new).await {
            Ok(stored) => break (stored, k.full),
            Err(StoreError::Conflict { .. }) if attempt == 0 => attempt += 1,
            Err(e) => return Err(e.into()),
        }
    };
    audit(
        store,
        actor,
        "apikey.create",
        &stored,
        json!({ "name": stored.name, "prefix": stored.prefix, "scopes": stored.scopes }),
    )
    .await?;
    Ok(CreatedKey {
        key: stored,
        secret,
    })
}

/// Create the successor of `old` (same account, name, scopes, expiry); `old` keeps working until
/// revoked.
pub async fn rotate_key(
    store: &Store,
    account: &Account,
    old: &ApiKey,
    actor: &Actor,
) -> Result<CreatedKey, ApiError> {
    if !old.is_active(now_ms()) {
        return Err(ApiError::Conflict(
            "the key is revoked or expired; create a new one".into(),
        ));
    }
    let created = create_key(
        store,
        account,
        &old.name,
        old.scopes.clone(),
        old.expires_at,
        actor,
    )
    .await?;
    audit(
        store,
        actor,
        "apikey.rotate",
        old,
        json!({ "replacement": created.key.id.to_string() }),
    )
    .await?;
    Ok(created)
}

/// Revoke a key. With `owner`, only that account's key (else 404). Revoking a revoked key is a
/// no-op that succeeds. Returns the key as it was found.
pub async fn revoke_key(
    store: &Store,
    id: ApiKeyId,
    owner: Option<AccountId>,
    actor: &Actor,
) -> Result<ApiKey, ApiError> {
    let found = store
        .api_key(id)
        .await?
        .filter(|k| owner.is_none_or(|o| o == k.account_id));
    let Some(key) = found else {
        return Err(ApiError::not_found("no such API key"));
    };
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    store.revoke_api_key(id, owner, now_ms()).await?;
    audit(
        store,
        actor,
        "apikey.revoke",
        &key,
        json!({ "prefix": key.prefix }),
    )
    .await?;
    Ok(key)
}

async fn audit(
    store: &Store,
    actor: &Actor,
    action: &str,
    key: &ApiKey,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let mut detail = detail;
    if let Some(obj) = detail.as_object_mut() {
        obj.insert("account_id".into(), json!(key.account_id.to_string()));
    }
    let entry = NewAuditEntry {
        ts: now_ms(),
        actor: actor.name.clone(),
        action: action.to_owned(),
        target: Some(key.id.to_string()),
        ip: actor.ip.clone(),
        detail,
    };
    store.append_audit(&entry).await.map(|_| ()).map_err(|e| {
        tracing::error!(error = %e, action, "audit append failed");
        ApiError::Unavailable("the audit log is not writable".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn scopes_are_checked() {
        assert_eq!(
            validate_scopes(&v(&["write", "read", "read"]), Role::User, None).unwrap(),
            v(&["read", "write"])
        );
        assert!(matches!(
            validate_scopes(&v(&["root"]), Role::User, None),
            Err(ApiError::Validation(_))
        ));
        assert!(matches!(
            validate_scopes(&v(&[]), Role::User, None),
            Err(ApiError::Validation(_))
        ));
        assert!(matches!(
            validate_scopes(&v(&["admin"]), Role::User, None),
            Err(ApiError::Forbidden(_))
        ));
        assert!(validate_scopes(&v(&["admin"]), Role::Admin, None).is_ok());
        let ceiling = v(&["read", "keys"]);
        assert!(validate_scopes(&v(&["read"]), Role::User, Some(&ceiling)).is_ok());
        assert!(matches!(
            validate_scopes(&v(&["write"]), Role::User, Some(&ceiling)),
            Err(ApiError::Forbidden(_))
        ));
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(validate_name("  ci deploy ").unwrap(), "ci deploy");
        assert!(validate_name("").is_err());
        assert!(validate_name("a\nb").is_err());
        assert!(validate_name(&"x".repeat(101)).is_err());
    }
}
