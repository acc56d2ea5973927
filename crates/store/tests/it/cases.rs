//! The test cases, written once and run on both backends (see `both_backends!`).

use std::collections::HashSet;

use nsl_store::*;
use serde_json::json;

use crate::harness::TestDb;

fn hash(n: u8) -> Vec<u8> {
    vec![n; 32]
}

/// The highest migration number shipped for `backend` (files are `NNNN_name.sql`).
fn newest_migration(backend: nsl_store::Backend) -> i64 {
    let dir = match backend {
        nsl_store::Backend::Sqlite => "sqlite",
        nsl_store::Backend::Postgres => "postgres",
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dir);
    std::fs::read_dir(&path)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.split('_').next()?.parse::<i64>().ok()
        })
        .max()
        .unwrap()
}

pub(crate) async fn migrations_are_idempotent(db: &TestDb) {
    // The harness migrated once already.
    let again = db.store.migrate(&[]).await.unwrap();
    assert!(again.applied.is_empty(), "{again:?}");
    assert_eq!(again.current_version, newest_migration(db.store.backend()));
    let third = db.second_store().await.migrate(&[]).await.unwrap();
    assert!(third.applied.is_empty());
    // The schema works after re-running.
    db.store
        .create_account("after-migrate", Role::User)
        .await
        .unwrap();
}

pub(crate) async fn accounts_roles_and_wallets(db: &TestDb) {
    let s = &db.store;
    assert_eq!(s.count_admins().await.unwrap(), 0);
    let admin = s.create_account("ops", Role::Admin).await.unwrap();
    let user = s.create_account("dapp", Role::User).await.unwrap();
    assert_eq!(s.count_admins().await.unwrap(), 1);
    assert_eq!(s.account(admin.id).await.unwrap().as_ref(), Some(&admin));
    assert_eq!(s.account(AccountId::new_random()).await.unwrap(), None);
    assert_eq!(s.list_accounts(10, 0).await.unwrap().len(), 2);
    assert_eq!(s.list_accounts(10, 1).await.unwrap().len(), 1);

    s.set_account_role(user.id, Role::Admin).await.unwrap();
    assert_eq!(s.account(user.id).await.unwrap().unwrap().role, Role::Admin);
    let missing = s
        .set_account_role(AccountId::new_random(), Role::User)
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound(_)), "{missing:?}");
    s.set_account_disabled(user.id, Some(5)).await.unwrap();
    assert_eq!(
        s.account(user.id).await.unwrap().unwrap().disabled_at,
        Some(5)
    );

    let addr = "NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6i";
    s.link_wallet(addr, user.id).await.unwrap();
    assert_eq!(
        s.account_by_wallet(addr).await.unwrap().unwrap().id,
        user.id
    );
    assert_eq!(s.wallets_of(user.id).await.unwrap(), vec![addr.to_string()]);
    let dup = s.link_wallet(addr, admin.id).await.unwrap_err();
    assert!(dup.is_conflict(), "{dup:?}");
    let orphan = s
        .link_wallet("Nother", AccountId::new_random())
        .await
        .unwrap_err();
    assert!(matches!(orphan, StoreError::NotFound(_)), "{orphan:?}");
    assert_eq!(s.account_by_wallet("Nunknown").await.unwrap(), None);
}

pub(crate) async fn account_with_wallet_is_atomic(db: &TestDb) {
    let s = &db.store;
    let a = s
        .create_account_with_wallet("w", Role::User, "Naddr1")
        .await
        .unwrap();
    assert_eq!(
        s.account_by_wallet("Naddr1").await.unwrap().unwrap().id,
        a.id
    );
    let err = s
        .create_account_with_wallet("w2", Role::User, "Naddr1")
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    // The failed call left no account behind.
    assert_eq!(s.list_accounts(100, 0).await.unwrap().len(), 1);
}

fn new_key(account: AccountId, prefix: &str) -> NewApiKey {
    NewApiKey {
        account_id: account,
        name: format!("key {prefix}"),
        prefix: prefix.into(),
        key_hash: hash(7),
        scopes: vec!["oracle:read".into(), "oracle:write".into()],
        expires_at: None,
    }
}

pub(crate) async fn api_keys_lifecycle(db: &TestDb) {
    let s = &db.store;
    let a = s.create_account("a", Role::User).await.unwrap();
    let b = s.create_account("b", Role::User).await.unwrap();
    let k1 = s.insert_api_key(&new_key(a.id, "nsl_aaaa")).await.unwrap();
    let mut later = new_key(a.id, "nsl_bbbb");
    later.expires_at = Some(1_000);
    let k2 = s.insert_api_key(&later).await.unwrap();

    let found = s.api_key_by_prefix("nsl_aaaa").await.unwrap().unwrap();
    assert_eq!(found, k1);
    assert_eq!(found.scopes, vec!["oracle:read", "oracle:write"]);
    assert_eq!(found.key_hash, hash(7));
    assert_eq!(
        s.api_key(k2.id).await.unwrap().unwrap().expires_at,
        Some(1_000)
    );
    assert!(s.api_key_by_prefix("nsl_zzzz").await.unwrap().is_none());

    let dup = s
        .insert_api_key(&new_key(b.id, "nsl_aaaa"))
        .await
        .unwrap_err();
    assert!(dup.is_conflict(), "{dup:?}");
    let orphan = s
        .insert_api_key(&new_key(AccountId::new_random(), "nsl_cccc"))
        .await
        .unwrap_err();
    assert!(matches!(orphan, StoreError::NotFound(_)), "{orphan:?}");

    let listed = s.list_api_keys(a.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|k| k.id).collect::<HashSet<_>>(),
        HashSet::from([k1.id, k2.id])
    );
    assert!(s.list_api_keys(b.id).await.unwrap().is_empty());

    assert!(k1.is_active(2_000));
    assert!(k2.is_active(999) && !k2.is_active(1_000));

    // Another tenant cannot revoke it; the owner can, once.
    assert!(!s.revoke_api_key(k1.id, Some(b.id), 50).await.unwrap());
    assert!(s.revoke_api_key(k1.id, Some(a.id), 50).await.unwrap());
    assert!(!s.revoke_api_key(k1.id, None, 60).await.unwrap());
    let revoked = s.api_key(k1.id).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(50));
    assert!(!revoked.is_active(51));
    // An admin (owner None) can revoke any key.
    assert!(s.revoke_api_key(k2.id, None, 70).await.unwrap());

    s.touch_api_key(k1.id, 100).await.unwrap();
    s.touch_api_key(k1.id, 90).await.unwrap();
    assert_eq!(
        s.api_key(k1.id).await.unwrap().unwrap().last_used_at,
        Some(100)
    );
    // Debug output never shows the hash.
    assert!(!format!("{revoked:?}").contains("7, 7"));
}

fn challenge(id: &str, expires_at: UnixMillis) -> NewChallenge {
    NewChallenge {
        id: id.into(),
        address: "Naddr".into(),
        message: format!("Sign in to NSL: {id}"),
        expires_at,
    }
}

pub(crate) async fn challenges_are_single_use(db: &TestDb) {
    let s = &db.store;
    let now = now_ms();
    let c = s
        .create_challenge(&challenge("n1", now + 60_000))
        .await
        .unwrap();
    let dup = s
        .create_challenge(&challenge("n1", now + 60_000))
        .await
        .unwrap_err();
    assert!(dup.is_conflict(), "{dup:?}");
    assert_eq!(s.take_challenge("n1", now).await.unwrap(), Some(c));
    assert_eq!(
        s.take_challenge("n1", now).await.unwrap(),
        None,
        "second take must fail"
    );
    assert_eq!(s.take_challenge("never", now).await.unwrap(), None);

    // Expired: refused, and gone.
    s.create_challenge(&challenge("n2", now + 10))
        .await
        .unwrap();
    assert_eq!(s.take_challenge("n2", now + 10).await.unwrap(), None);
    s.create_challenge(&challenge("n2", now + 10))
        .await
        .unwrap();

    // Purge removes expired challenges only.
    s.create_challenge(&challenge("n3", now + 60_000))
        .await
        .unwrap();
    assert_eq!(s.purge_expired_auth(now + 20).await.unwrap(), 1);
    assert!(s.take_challenge("n3", now).await.unwrap().is_some());
}

pub(crate) async fn concurrent_challenge_take_has_one_winner(db: &TestDb) {
    let now = now_ms();
    db.store
        .create_challenge(&challenge("race", now + 60_000))
        .await
        .unwrap();
    let takes = (0..8).map(|_| {
        let s = db.store.clone();
        tokio::spawn(async move { s.take_challenge("race", now).await })
    });
    let results = futures::future::join_all(takes).await;
    let winners = results
        .into_iter()
        .filter(|r| matches!(r, Ok(Ok(Some(_)))))
        .count();
    assert_eq!(winners, 1);
}

fn refresh(account: AccountId, family: TokenFamilyId, h: u8, expires_at: i64) -> NewRefreshToken {
    NewRefreshToken {
        id: RefreshTokenId::new_random(),
        family_id: family,
        account_id: account,
        token_hash: hash(h),
        expires_at,
    }
}

pub(crate) async fn refresh_token_rotation_and_revocation(db: &TestDb) {
    let s = &db.store;
    let a = s.create_account("a", Role::User).await.unwrap();
    let now = now_ms();
    let exp = now + 3_600_000;
    let fam = TokenFamilyId::new_random();
    let t1 = s
        .insert_refresh_token(&refresh(a.id, fam, 1, exp))
        .await
        .unwrap();
    assert_eq!(
        s.refresh_token_by_hash(&hash(1)).await.unwrap().unwrap().id,
        t1.id
    );
    assert!(s.refresh_token_by_hash(&hash(99)).await.unwrap().is_none());
    let dup = s
        .insert_refresh_token(&refresh(a.id, fam, 1, exp))
        .await
        .unwrap_err();
    assert!(dup.is_conflict(), "{dup:?}");

    // Rotation: old used and linked, new stored.
    let t2_new = refresh(a.id, fam, 2, exp);
    let RotateOutcome::Rotated(t2) = s.rotate_refresh_token(t1.id, &t2_new, now).await.unwrap()
    else {
        panic!("first rotation must succeed")
    };
    assert_eq!(t2.family_id, fam);
    let old = s.refresh_token_by_hash(&hash(1)).await.unwrap().unwrap();
    assert_eq!(old.used_at, Some(now));
    assert_eq!(old.replaced_by, Some(t2.id));

    // Replay of the used token: detected, nothing written.
    let replay = s
        .rotate_refresh_token(t1.id, &refresh(a.id, fam, 3, exp), now)
        .await
        .unwrap();
    assert_eq!(
        replay,
        RotateOutcome::AlreadyUsed {
            family_id: fam,
            account_id: a.id
        }
    );
    assert!(s.refresh_token_by_hash(&hash(3)).await.unwrap().is_none());

    // Wrong family for the new token is a caller error.
    let bad = s
        .rotate_refresh_token(
            t2.id,
            &refresh(a.id, TokenFamilyId::new_random(), 4, exp),
            now,
        )
        .await;
    assert!(
        matches!(bad, Err(StoreError::InvalidArgument(_))),
        "{bad:?}"
    );

    // Revoking the family stops the live token.
    assert_eq!(s.revoke_refresh_family(fam, now).await.unwrap(), 2);
    let r = s
        .rotate_refresh_token(t2.id, &refresh(a.id, fam, 5, exp), now)
        .await
        .unwrap();
    assert_eq!(r, RotateOutcome::Revoked);

    // Expired and unknown tokens.
    let fam2 = TokenFamilyId::new_random();
    let t6 = s
        .insert_refresh_token(&refresh(a.id, fam2, 6, now + 10))
        .await
        .unwrap();
    let r = s
        .rotate_refresh_token(t6.id, &refresh(a.id, fam2, 7, exp), now + 10)
        .await
        .unwrap();
    assert_eq!(r, RotateOutcome::Expired);
    let r = s
        .rotate_refresh_token(
            RefreshTokenId::new_random(),
            &refresh(a.id, fam2, 8, exp),
            now,
        )
        .await
        .unwrap();
    assert_eq!(r, RotateOutcome::NotFound);

    // mark used: once.
    assert!(s.mark_refresh_token_used(t6.id, now).await.unwrap());
    assert!(!s.mark_refresh_token_used(t6.id, now).await.unwrap());

    // Revoke everything of an account.
    let fam3 = TokenFamilyId::new_random();
    s.insert_refresh_token(&refresh(a.id, fam3, 9, exp))
        .await
        .unwrap();
    assert_eq!(
        s.revoke_refresh_tokens_of_account(a.id, now).await.unwrap(),
        2
    );
    assert!(
        s.refresh_token_by_hash(&hash(9))
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );

    // Purge drops expired tokens.
    assert_eq!(s.purge_expired_auth(now + 20).await.unwrap(), 1);
    assert!(s.refresh_token_by_hash(&hash(6)).await.unwrap().is_none());
}

pub(crate) async fn concurrent_refresh_rotation_has_one_winner(db: &TestDb) {
    let s = &db.store;
    let a = s.create_account("a", Role::User).await.unwrap();
    let now = now_ms();
    let exp = now + 3_600_000;
    let fam = TokenFamilyId::new_random();
    let t1 = s
        .insert_refresh_token(&refresh(a.id, fam, 1, exp))
        .await
        .unwrap();
    let store2 = db.second_store().await;
    let tasks = (0..8u8).map(|i| {
        let s = if i.is_multiple_of(2) {
            db.store.clone()
        } else {
            store2.clone()
        };
        let new = refresh(a.id, fam, 10 + i, exp);
        tokio::spawn(async move { s.rotate_refresh_token(t1.id, &new, now).await })
    });
    let results: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("rotate must not error"))
        .collect();
    let rotated: Vec<_> = results
        .iter()
        .filter(|r| matches!(r, RotateOutcome::Rotated(_)))
        .collect();
    let reused = results
        .iter()
        .filter(|r| matches!(r, RotateOutcome::AlreadyUsed { .. }))
        .count();
    assert_eq!(rotated.len(), 1, "{results:?}");
    assert_eq!(reused, 7, "{results:?}");
    // Exactly one child exists and the parent points at it.
    let mut children = 0;
    for i in 0..8u8 {
        if s.refresh_token_by_hash(&hash(10 + i))
            .await
            .unwrap()
            .is_some()
        {
            children += 1;
        }
    }
    assert_eq!(children, 1);
    let RotateOutcome::Rotated(child) = rotated[0] else {
        unreachable!()
    };
    assert_eq!(
        s.refresh_token_by_hash(&hash(1))
            .await
            .unwrap()
            .unwrap()
            .replaced_by,
        Some(child.id)
    );
}

fn entry(i: usize, actor: &str) -> NewAuditEntry {
    NewAuditEntry {
        ts: 1_700_000_000_000 + i as i64,
        actor: actor.into(),
        action: if i.is_multiple_of(2) {
            "apikey.create".into()
        } else {
            "apikey.revoke".into()
        },
        target: Some(format!("key-{i}")),
        ip: i.is_multiple_of(3).then(|| "10.0.0.1".to_string()),
        detail: json!({ "n": i, "name": "k" }),
    }
}

async fn append_n(s: &Store, n: usize) -> Vec<AuditEntry> {
    let mut out = Vec::new();
    for i in 1..=n {
        out.push(
            s.append_audit(&entry(i, if i <= 3 { "alice" } else { "bob" }))
                .await
                .unwrap(),
        );
    }
    out
}

pub(crate) async fn audit_append_list_and_verify(db: &TestDb) {
    let s = &db.store;
    let empty = s.verify_audit().await.unwrap();
    assert!(empty.is_ok() && empty.entries == 0);
    let entries = append_n(s, 7).await;
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=7).collect::<Vec<_>>()
    );
    assert_eq!(entries[0].prev_hash, GENESIS_HASH);
    for w in entries.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].entry_hash);
    }
    let v = s.verify_audit().await.unwrap();
    assert_eq!(
        v,
        AuditVerification {
            entries: 7,
            problem: None
        }
    );

    // Paging, newest first.
    let p1 = s
        .list_audit(&AuditFilter {
            limit: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        p1.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![7, 6, 5]
    );
    assert_eq!(p1.entries[0], entries[6]);
    let p2 = s
        .list_audit(&AuditFilter {
            limit: 3,
            before_seq: p1.next_before_seq,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        p2.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![4, 3, 2]
    );
    let p3 = s
        .list_audit(&AuditFilter {
            limit: 3,
            before_seq: p2.next_before_seq,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        p3.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(p3.next_before_seq, None);

    // Filters.
    let alice = s
        .list_audit(&AuditFilter {
            actor: Some("alice".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(alice.entries.len(), 3);
    let revokes = s
        .list_audit(&AuditFilter {
            actor: Some("bob".into()),
            action: Some("apikey.revoke".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        revokes.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![7, 5]
    );
    let window = s
        .list_audit(&AuditFilter {
            since: Some(1_700_000_000_002),
            until: Some(1_700_000_000_004),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        window.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![3, 2]
    );
    let target = s
        .list_audit(&AuditFilter {
            target: Some("key-4".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(target.entries.len(), 1);
    assert_eq!(target.entries[0].detail, json!({ "n": 4, "name": "k" }));
}

pub(crate) async fn audit_detects_modified_row(db: &TestDb) {
    let s = &db.store;
    let entries = append_n(s, 5).await;
    sqlx::query("UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 3")
        .execute(s.pool())
        .await
        .unwrap();
    let v = s.verify_audit().await.unwrap();
    assert_eq!(v.problem, Some(AuditProblem::Modified { seq: 3 }));
    assert_eq!(v.entries, 2);

    // Also a changed detail or timestamp.
    let db2 = db.second_store().await;
    sqlx::query("UPDATE audit_log SET action = $1 WHERE seq = 3")
        .bind(&entries[2].action)
        .execute(db2.pool())
        .await
        .unwrap();
    assert!(
        db2.verify_audit().await.unwrap().is_ok(),
        "restoring the field restores the chain"
    );
    sqlx::query("UPDATE audit_log SET ts = ts + 1 WHERE seq = 5")
        .execute(s.pool())
        .await
        .unwrap();
    assert_eq!(
        s.verify_audit().await.unwrap().problem,
        Some(AuditProblem::Modified { seq: 5 })
    );
}

pub(crate) async fn audit_detects_deleted_rows(db: &TestDb) {
    let s = &db.store;
    append_n(s, 6).await;
    sqlx::query("DELETE FROM audit_log WHERE seq = 6")
        .execute(s.pool())
        .await
        .unwrap();
    let v = s.verify_audit().await.unwrap();
    assert_eq!(
        v.problem,
        Some(AuditProblem::Missing {
            seq: 6,
            next_present: None
        })
    );
    assert_eq!(v.entries, 5);
    sqlx::query("DELETE FROM audit_log WHERE seq IN (3, 4)")
        .execute(s.pool())
        .await
        .unwrap();
    let v = s.verify_audit().await.unwrap();
    assert_eq!(
        v.problem,
        Some(AuditProblem::Missing {
            seq: 3,
            next_present: Some(5)
        })
    );
    assert_eq!(v.problem.unwrap().to_string(), "entries 3..4 were deleted");
}

pub(crate) async fn audit_detects_rewritten_hash(db: &TestDb) {
    let s = &db.store;
    let entries = append_n(s, 4).await;
    // Rewrite entry 2 completely, with a self-consistent hash: the link from 3 breaks.
    let forged = entry_hash(
        &entries[0].entry_hash,
        &CanonicalFields {
            seq: 2,
            ts: entries[1].ts,
            actor: "mallory",
            action: &entries[1].action,
            target: entries[1].target.as_deref(),
            ip: entries[1].ip.as_deref(),
            detail: &serde_json::to_string(&entries[1].detail).unwrap(),
        },
    );
    sqlx::query("UPDATE audit_log SET actor = 'mallory', entry_hash = $1 WHERE seq = 2")
        .bind(forged.to_vec())
        .execute(s.pool())
        .await
        .unwrap();
    let v = s.verify_audit().await.unwrap();
    assert_eq!(v.problem, Some(AuditProblem::BrokenLink { seq: 3 }));
}

pub(crate) async fn audit_concurrent_appends_from_two_pools_keep_one_chain(db: &TestDb) {
    let other = db.second_store().await;
    let tasks = (0..8).map(|t| {
        let s = if t % 2 == 0 {
            db.store.clone()
        } else {
            other.clone()
        };
        tokio::spawn(async move {
            for i in 0..15 {
                s.append_audit(&entry(t * 100 + i, &format!("writer-{t}")))
                    .await?;
            }
            Ok::<_, StoreError>(())
        })
    });
    for r in futures::future::join_all(tasks).await {
        r.expect("task").expect("append");
    }
    let v = db.store.verify_audit().await.unwrap();
    assert_eq!(
        v,
        AuditVerification {
            entries: 120,
            problem: None
        }
    );
}

const HASH_A: &str = "0x1111111111111111111111111111111111111111";
const HASH_B: &str = "0xabcdefabcdefabcdefabcdefabcdefabcdefabcd";

pub(crate) async fn contracts_register_list_and_remove(db: &TestDb) {
    let s = &db.store;
    let a = s.create_account("a", Role::User).await.unwrap();
    let b = s.create_account("b", Role::User).await.unwrap();
    assert!(s.contracts_of(a.id).await.unwrap().is_empty());

    let first = s.add_contract(a.id, HASH_B, "feed", 10).await.unwrap();
    assert_eq!(
        first,
        AccountContract {
            account_id: a.id,
            script_hash: HASH_B.into(),
            label: "feed".into(),
            created_at: 10,
        }
    );
    s.add_contract(a.id, HASH_A, "", 20).await.unwrap();
    // Oldest first, whatever the hash order.
    let mine = s.contracts_of(a.id).await.unwrap();
    let hashes: Vec<&str> = mine.iter().map(|c| c.script_hash.as_str()).collect();
    assert_eq!(hashes, [HASH_B, HASH_A]);
    assert_eq!(
        s.contract_of(a.id, HASH_A).await.unwrap().unwrap().label,
        ""
    );

    // Twice by one account: conflict; by another account: fine, and separate.
    let dup = s.add_contract(a.id, HASH_A, "again", 30).await.unwrap_err();
    assert!(dup.is_conflict(), "{dup:?}");
    s.add_contract(b.id, HASH_A, "mine too", 40).await.unwrap();
    assert_eq!(s.contracts_of(b.id).await.unwrap().len(), 1);
    assert_eq!(s.contract_of(b.id, HASH_B).await.unwrap(), None);

    // Only the canonical form is stored, so it always matches the services' requester text.
    for bad in [
        "0xABCDEFABCDEFABCDEFABCDEFABCDEFABCDEFABCD",
        "abcdefabcdefabcdefabcdefabcdefabcdefabcd",
        "0x1234",
    ] {
        let e = s.add_contract(a.id, bad, "", 50).await.unwrap_err();
        assert!(matches!(e, StoreError::InvalidArgument(_)), "{bad}: {e:?}");
    }
    let orphan = s
        .add_contract(AccountId::new_random(), HASH_A, "", 50)
        .await
        .unwrap_err();
    assert!(matches!(orphan, StoreError::NotFound(_)), "{orphan:?}");

    // Removing is per account.
    assert!(s.remove_contract(a.id, HASH_A).await.unwrap());
    assert!(!s.remove_contract(a.id, HASH_A).await.unwrap());
    assert_eq!(s.contracts_of(a.id).await.unwrap().len(), 1);
    assert_eq!(
        s.contract_of(b.id, HASH_A).await.unwrap().unwrap().label,
        "mine too"
    );
}

pub(crate) async fn contracts_go_with_their_account(db: &TestDb) {
    let s = &db.store;
    let a = s.create_account("a", Role::User).await.unwrap();
    s.add_contract(a.id, HASH_A, "x", 1).await.unwrap();
    // Accounts are not deleted through the API; the foreign key still cascades.
    sqlx::query("DELETE FROM accounts WHERE id = $1")
        .bind(a.id.to_string())
        .execute(s.pool())
        .await
        .unwrap();
    assert!(s.contracts_of(a.id).await.unwrap().is_empty());
}

/// Issue #9 item 5: keying re-hashes an existing plain chain once; afterwards the chain is HMAC
/// under the key, a row rewritten with recomputed plain SHA-256 hashes (all a database writer can
/// compute) fails, the head cannot be moved back, and a store without the key cannot append.
pub(crate) async fn audit_keyed_chain_resists_recomputation_without_the_key(db: &TestDb) {
    let plain = db.store.clone();
    let before = append_n(&plain, 3).await;
    let key = nsl_store::AuditKey::from_bytes([7u8; 32]);
    let keyed = db.store.clone().with_audit_key(key.clone());
    // A keyed store refuses to extend a chain that is not keyed yet.
    assert!(keyed.append_audit(&entry(9, "x")).await.is_err());
    assert!(!keyed.audit_chain_keyed().await.unwrap());
    let v = keyed.key_audit_chain().await.unwrap();
    assert_eq!((v.entries, v.problem), (3, None));
    assert!(keyed.audit_chain_keyed().await.unwrap());
    // Keying twice is a no-op.
    assert_eq!(keyed.key_audit_chain().await.unwrap().entries, 0);
    let after = append_n(&keyed, 2).await;
    assert_eq!(after[0].seq, 4);
    let v = keyed.verify_audit().await.unwrap();
    assert_eq!((v.entries, v.problem), (5, None));
    // Row 1 kept its fields but not its hash.
    assert_ne!(before[0].entry_hash, after[0].prev_hash);
    // Without the key: no append, no verification.
    assert!(plain.append_audit(&entry(10, "x")).await.is_err());
    assert!(plain.verify_audit().await.is_err());

    // Edit row 2 and recompute every hash with plain SHA-256, head included.
    let rows = keyed
        .list_audit(&AuditFilter {
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .entries;
    let mut prev = GENESIS_HASH;
    for e in rows.iter().rev() {
        let actor = if e.seq == 2 { "mallory" } else { &e.actor };
        let hash = entry_hash(
            &prev,
            &CanonicalFields {
                seq: e.seq,
                ts: e.ts,
                actor,
                action: &e.action,
                target: e.target.as_deref(),
                ip: e.ip.as_deref(),
                detail: &serde_json::to_string(&e.detail).unwrap(),
            },
        );
        sqlx::query(
            "UPDATE audit_log SET actor = $1, prev_hash = $2, entry_hash = $3 WHERE seq = $4",
        )
        .bind(actor)
        .bind(prev.to_vec())
        .bind(hash.to_vec())
        .bind(e.seq)
        .execute(keyed.pool())
        .await
        .unwrap();
        prev = hash;
    }
    sqlx::query("UPDATE audit_head SET head_hash = $1 WHERE id = 1")
        .bind(prev.to_vec())
        .execute(keyed.pool())
        .await
        .unwrap();
    let v = keyed.verify_audit().await.unwrap();
    assert_eq!(v.problem, Some(AuditProblem::HeadNotAuthentic));
    // Even with the old head MAC put back, row 1 no longer verifies under the key.
    sqlx::query("UPDATE audit_head SET head_mac = $1 WHERE id = 1")
        .bind(nsl_store::head_mac(&key, 5, &prev).to_vec())
        .execute(keyed.pool())
        .await
        .unwrap();
    let v = keyed.verify_audit().await.unwrap();
    assert_eq!(v.problem, Some(AuditProblem::Modified { seq: 1 }));
    // Marking the chain unkeyed (the pre-0010 format) is reported as such.
    sqlx::query("UPDATE audit_head SET keyed = 0, head_mac = NULL WHERE id = 1")
        .execute(keyed.pool())
        .await
        .unwrap();
    let v = keyed.verify_audit().await.unwrap();
    assert_eq!(v.problem, Some(AuditProblem::NotKeyed));
}

/// Cutting rows off the end of a keyed chain and moving the head back is detected by the head's
/// MAC.
pub(crate) async fn audit_keyed_head_detects_truncation(db: &TestDb) {
    let keyed = db
        .store
        .clone()
        .with_audit_key(nsl_store::AuditKey::from_bytes([9u8; 32]));
    keyed.key_audit_chain().await.unwrap();
    let entries = append_n(&keyed, 4).await;
    sqlx::query("DELETE FROM audit_log WHERE seq = 4")
        .execute(keyed.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_head SET seq = 3, head_hash = $1 WHERE id = 1")
        .bind(entries[2].entry_hash.to_vec())
        .execute(keyed.pool())
        .await
        .unwrap();
    let v = keyed.verify_audit().await.unwrap();
    assert_eq!(v.problem, Some(AuditProblem::HeadNotAuthentic));
}

pub(crate) async fn a_malformed_stored_value_is_reported_as_corrupt(db: &TestDb) {
    // Rows decode through `FromRow` with `try_from` conversions; a value written behind the
    // store's back that does not convert is `Corrupt`, naming the column.
    sqlx::query(
        "INSERT INTO accounts (id, name, role, created_at) VALUES ('not-a-uuid', 'x', 'user', 1)",
    )
    .execute(db.store.pool())
    .await
    .unwrap();
    let err = db.store.list_accounts(10, 0).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m == "column id: a stored value its type refuses"),
        "{err:?}"
    );
}
