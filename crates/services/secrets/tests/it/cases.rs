//! Service-level cases, written once and run on both backends (see `both_backends!`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use nsl_enclave::{MasterKeyState, Vault as _, VaultError};
use nsl_secrets::{Actor, SecretStore as _, SecretsError, VERSIONS_KEPT};
use nsl_store::{AccountId, AccountStore as _, AuditFilter, AuditStore as _, Role};

use crate::harness::TestEnv;

const VALUE: &[u8] = b"s3cr3t-VALUE-must-never-leak-7f3a";
const VALUE_TEXT: &str = "s3cr3t-VALUE-must-never-leak-7f3a";

async fn account(env: &TestEnv, name: &str) -> AccountId {
    env.store
        .create_account(name, Role::User)
        .await
        .expect("account")
        .id
}

fn actor(a: AccountId) -> Actor {
    Actor {
        name: a.to_string(),
        ip: Some("192.0.2.1".into()),
    }
}

/// Every audit entry as one JSON text.
async fn audit_text(env: &TestEnv) -> (Vec<nsl_store::AuditEntry>, String) {
    let page = env
        .store
        .list_audit(&AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("audit");
    let text = serde_json::to_string(&page.entries).expect("json");
    (page.entries, text)
}

pub(crate) async fn round_trip_versions_and_audit(env: &TestEnv) {
    let svc = &env.service;
    let a = account(env, "alice").await;
    let first = svc.put(a, "DB_PASSWORD", VALUE, &actor(a)).await.unwrap();
    assert_eq!((first.name.as_str(), first.version), ("DB_PASSWORD", 1));
    let got = svc
        .get_for_execution(a, "DB_PASSWORD", "fn-1")
        .await
        .unwrap();
    assert_eq!(got.expose_secret(), VALUE);

    let second = svc.put(a, "DB_PASSWORD", b"v2", &actor(a)).await.unwrap();
    assert_eq!(second.version, 2);
    let got = svc
        .get_for_execution(a, "DB_PASSWORD", "fn-1")
        .await
        .unwrap();
    assert_eq!(
        got.expose_secret(),
        b"v2",
        "reads return the newest version"
    );
    // Empty values are allowed; binary values too.
    svc.put(a, "EMPTY", b"", &actor(a)).await.unwrap();
    assert!(
        svc.get_for_execution(a, "EMPTY", "f")
            .await
            .unwrap()
            .is_empty()
    );
    svc.put(a, "bin", &[0, 255, 10, 0], &actor(a))
        .await
        .unwrap();
    assert_eq!(
        svc.get_for_execution(a, "bin", "f")
            .await
            .unwrap()
            .expose_secret(),
        &[0, 255, 10, 0]
    );

    // Only the newest VERSIONS_KEPT versions are kept; numbering continues.
    for i in 3..=8u8 {
        svc.put(a, "DB_PASSWORD", &[i], &actor(a)).await.unwrap();
    }
    let meta = svc.meta(a, "DB_PASSWORD").await.unwrap();
    assert_eq!(meta.latest_version, 8);
    assert_eq!(meta.versions, u64::from(VERSIONS_KEPT));
    assert_eq!(
        svc.get_for_execution(a, "DB_PASSWORD", "f")
            .await
            .unwrap()
            .expose_secret(),
        &[8]
    );

    let names: Vec<_> = svc
        .list(a)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["DB_PASSWORD", "EMPTY", "bin"]);

    // Audit: writes and reads with account, name, version, function id.
    let (entries, _) = audit_text(env).await;
    let reads: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "secret.read")
        .collect();
    assert_eq!(reads.len(), 5);
    let first_read = reads.last().unwrap(); // newest first
    assert_eq!(first_read.detail["name"], "DB_PASSWORD");
    assert_eq!(first_read.detail["version"], 1);
    assert_eq!(first_read.detail["function_id"], "fn-1");
    assert_eq!(first_read.detail["account_id"], a.to_string());
    assert_eq!(first_read.target.as_deref(), Some("secret:DB_PASSWORD"));
    let writes = entries
        .iter()
        .filter(|e| e.action == "secret.write")
        .count();
    assert_eq!(writes, 10);

    // Delete removes every version; reads then fail with NotFound.
    svc.delete(a, "DB_PASSWORD", &actor(a)).await.unwrap();
    assert!(matches!(
        svc.get_for_execution(a, "DB_PASSWORD", "f").await,
        Err(SecretsError::NotFound)
    ));
    assert!(matches!(
        svc.delete(a, "DB_PASSWORD", &actor(a)).await,
        Err(SecretsError::NotFound)
    ));
    let (entries, _) = audit_text(env).await;
    let del = entries
        .iter()
        .find(|e| e.action == "secret.delete")
        .expect("delete audited");
    assert_eq!(del.detail["versions"], u64::from(VERSIONS_KEPT));
    let verify = env.store.verify_audit().await.unwrap();
    assert!(verify.is_ok(), "{verify:?}");
}

pub(crate) async fn values_never_leak_through_debug_errors_or_audit(env: &TestEnv) {
    let svc = &env.service;
    let a = account(env, "alice").await;
    svc.put(a, "API_TOKEN", VALUE, &actor(a)).await.unwrap();
    let got = svc.get_for_execution(a, "API_TOKEN", "fn").await.unwrap();
    assert!(!format!("{got:?}").contains(VALUE_TEXT));
    let row = env
        .store
        .latest_secret(a, "API_TOKEN")
        .await
        .unwrap()
        .unwrap();
    assert!(!format!("{row:?}").contains(VALUE_TEXT));
    assert!(
        !row.ciphertext.windows(VALUE.len()).any(|w| w == VALUE),
        "stored in clear"
    );
    let meta = svc.meta(a, "API_TOKEN").await.unwrap();
    assert!(!format!("{meta:?} {:?}", svc.list(a).await.unwrap()).contains(VALUE_TEXT));
    assert!(!format!("{svc:?}").contains(VALUE_TEXT));

    // Errors carry no value: too large, bad name.
    let mut big = VALUE.repeat(nsl_secrets::MAX_VALUE_LEN / VALUE.len() + 1);
    big.truncate(nsl_secrets::MAX_VALUE_LEN + 1);
    let err = svc.put(a, "BIG", &big, &actor(a)).await.unwrap_err();
    assert!(matches!(err, SecretsError::ValueTooLarge { .. }), "{err}");
    assert!(!format!("{err} {err:?}").contains(VALUE_TEXT));
    let err = svc.put(a, "bad name!", VALUE, &actor(a)).await.unwrap_err();
    assert!(matches!(err, SecretsError::InvalidName));
    assert!(!format!("{err} {err:?}").contains(VALUE_TEXT));
    assert!(
        svc.meta(a, "BIG").await.is_err(),
        "refused writes store nothing"
    );

    let (entries, text) = audit_text(env).await;
    assert!(entries.len() >= 2);
    assert!(!text.contains(VALUE_TEXT), "audit: {text}");
    assert!(!text.contains(&hex::encode(VALUE)));
}

pub(crate) async fn accounts_are_isolated(env: &TestEnv) {
    let svc = &env.service;
    let a = account(env, "alice").await;
    let b = account(env, "bob").await;
    svc.put(a, "SHARED_NAME", b"alice's", &actor(a))
        .await
        .unwrap();
    assert!(matches!(
        svc.get_for_execution(b, "SHARED_NAME", "f").await,
        Err(SecretsError::NotFound)
    ));
    assert!(matches!(
        svc.meta(b, "SHARED_NAME").await,
        Err(SecretsError::NotFound)
    ));
    assert!(svc.list(b).await.unwrap().is_empty());
    assert!(matches!(
        svc.delete(b, "SHARED_NAME", &actor(b)).await,
        Err(SecretsError::NotFound)
    ));
    // Bob's own secret of the same name is separate, with its own versions.
    let own = svc
        .put(b, "SHARED_NAME", b"bob's", &actor(b))
        .await
        .unwrap();
    assert_eq!(own.version, 1);
    assert_eq!(
        svc.get_for_execution(a, "SHARED_NAME", "f")
            .await
            .unwrap()
            .expose_secret(),
        b"alice's"
    );
    assert_eq!(
        svc.get_for_execution(b, "SHARED_NAME", "f")
            .await
            .unwrap()
            .expose_secret(),
        b"bob's"
    );
    // An account that does not exist cannot hold secrets.
    let ghost = AccountId::new_random();
    assert!(matches!(
        svc.put(ghost, "X", b"v", &actor(ghost)).await,
        Err(SecretsError::NotFound)
    ));
}

pub(crate) async fn moved_ciphertext_does_not_decrypt(env: &TestEnv) {
    let svc = &env.service;
    let a = account(env, "alice").await;
    let b = account(env, "bob").await;
    svc.put(a, "TOKEN", VALUE, &actor(a)).await.unwrap();
    let row = env.store.latest_secret(a, "TOKEN").await.unwrap().unwrap();

    // The same row under another account, another name, another version.
    let mut to_b = row.clone();
    to_b.account_id = b;
    let mut renamed = row.clone();
    renamed.name = "OTHER".into();
    let mut renumbered = row.clone();
    renumbered.version = 2;
    for (moved, owner, name) in [
        (to_b, b, "TOKEN"),
        (renamed, a, "OTHER"),
        (renumbered, a, "TOKEN"),
    ] {
        env.store.insert_secret_version(&moved, 0).await.unwrap();
        let err = svc.get_for_execution(owner, name, "f").await.unwrap_err();
        assert!(
            matches!(err, SecretsError::Vault(VaultError::SecretOpenFailed)),
            "{err:?}"
        );
        assert!(!format!("{err} {err:?}").contains(VALUE_TEXT));
    }
}

pub(crate) async fn rotation_under_concurrent_reads_and_writes(env: &TestEnv) {
    let svc = Arc::clone(&env.service);
    let accounts = [account(env, "alice").await, account(env, "bob").await];
    const N: usize = 60;
    for i in 0..N {
        let a = accounts[i % 2];
        svc.put(
            a,
            &format!("S{i}"),
            format!("value-{i}-0").as_bytes(),
            &actor(a),
        )
        .await
        .unwrap();
    }
    let before = env.vault.current_master_key_version().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for t in 0..4usize {
        let (svc, stop) = (Arc::clone(&svc), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let mut ops = 0u64;
            let mut i = t;
            while !stop.load(Ordering::Relaxed) || ops < 20 {
                let a = accounts[i % 2];
                let v = svc
                    .get_for_execution(a, &format!("S{}", i % N), "reader")
                    .await
                    .map_err(|e| format!("read S{}: {e}", i % N))?;
                let text = String::from_utf8_lossy(v.expose_secret()).into_owned();
                if !text.starts_with(&format!("value-{}-", i % N)) {
                    return Err(format!("S{} read {text:?}", i % N));
                }
                i += 7;
                ops += 1;
            }
            Ok::<u64, String>(ops)
        }));
    }
    for t in 0..2usize {
        let (svc, stop) = (Arc::clone(&svc), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let mut ops = 0u64;
            let mut i = t;
            while !stop.load(Ordering::Relaxed) || ops < 10 {
                let a = accounts[i % N % 2];
                let k = i % N;
                svc.put(
                    a,
                    &format!("S{k}"),
                    format!("value-{k}-{ops}").as_bytes(),
                    &actor(a),
                )
                .await
                .map_err(|e| format!("write S{k}: {e}"))?;
                i += 5;
                ops += 1;
            }
            Ok::<u64, String>(ops)
        }));
    }
    let first = svc.rotate_master().await.expect("rotation 1");
    let second = svc.rotate_master().await.expect("rotation 2");
    stop.store(true, Ordering::Relaxed);
    let mut total_ops = 0;
    for t in tasks {
        total_ops += t.await.expect("task").expect("no failure during rotation");
    }
    assert!(total_ops >= 100);

    assert_eq!(first.previous_version, before);
    assert_eq!(first.new_version, before + 1);
    assert_eq!(second.new_version, before + 2);
    // Concurrent writes may prune some old versions before they are re-wrapped, so the count
    // varies; what matters is checked below (nothing left under an old version, all readable).
    assert!(first.rewrapped > 0 && first.batches > 0, "{first:?}");
    assert_eq!(first.retired, vec![before]);
    assert_eq!(second.retired, vec![before + 1]);
    let versions = env.vault.master_key_versions().unwrap();
    for v in &versions {
        let expect = if v.version == before + 2 {
            MasterKeyState::Current
        } else {
            MasterKeyState::Retired
        };
        assert_eq!(v.state, expect, "{versions:?}");
    }
    assert_eq!(
        env.store
            .secret_key_version_counts()
            .await
            .unwrap()
            .iter()
            .map(|(v, _)| *v)
            .collect::<Vec<_>>(),
        vec![before + 2]
    );
    for i in 0..N {
        let v = svc
            .get_for_execution(accounts[i % 2], &format!("S{i}"), "after")
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(v.expose_secret()).starts_with(&format!("value-{i}-")));
    }
    // Without concurrent traffic every stored version is re-wrapped exactly once.
    let stored: u64 = env
        .store
        .secret_key_version_counts()
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    let third = svc.rotate_master().await.unwrap();
    assert_eq!(third.rewrapped, stored);
    assert_eq!(third.retired, vec![before + 2]);
    // Ask for the rotation entries by action: the concurrent traffic above writes more than one
    // page (1000) of read/write entries, so an unfiltered newest-first page may miss the first one.
    let rotations = env
        .store
        .list_audit(&AuditFilter {
            action: Some("secret.rotate_master".into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("audit")
        .entries;
    assert!(rotations.iter().all(|e| e.action == "secret.rotate_master"));
    assert_eq!(rotations.len(), 3);
    assert_eq!(rotations[0].detail["new_version"], before + 3);
    let _ = env.backend();
}

pub(crate) use crate::http::{
    http_accounts_are_isolated, http_round_trip_without_values, http_secret_quotas_are_per_account,
};
