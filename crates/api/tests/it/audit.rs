//! Audit log: admin only; entries for every security event; the chain verifies after the flows.

use axum::http::{Method, StatusCode};
use nsl_store::AuditStore as _;
use serde_json::json;

use crate::both_backends;
use crate::common::{Backend, admin_key, app, call, create_key, wallet_login};

async fn audit_covers_the_flows_and_verifies(b: Backend) {
    let t = app(b).await;
    let (_admin, admin) = admin_key(&t).await;
    let key = neo::PrivateKey::generate();
    let s = wallet_login(&t.app, &key).await;

    // Users may not read the audit log, with a session or a key.
    call(&t.app, Method::GET, "/v1/audit", None, Some(&s.access))
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    let user_key = create_key(&t.app, &s.access, json!({"name": "k"})).await;
    call(
        &t.app,
        Method::GET,
        "/v1/audit",
        None,
        Some(&user_key.str("key")),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "forbidden");

    // Flows: failed login, key revoke, refresh replay, logout.
    let ch = call(
        &t.app,
        Method::POST,
        "/v1/auth/challenge",
        Some(json!({"address": key.address()})),
        None,
    )
    .await;
    let bad = json!({"nonce": ch.str("nonce"), "public_key": key.public_key().to_hex(), "signature": "00".repeat(64)});
    assert_eq!(
        call(&t.app, Method::POST, "/v1/auth/login", Some(bad), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let r = call(
        &t.app,
        Method::DELETE,
        &format!("/v1/apikeys/{}", user_key.str("id")),
        None,
        Some(&s.access),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = call(
        &t.app,
        Method::POST,
        "/v1/auth/refresh",
        Some(json!({"refresh_token": s.refresh})),
        None,
    )
    .await;
    let next = r.str("refresh_token");
    call(
        &t.app,
        Method::POST,
        "/v1/auth/refresh",
        Some(json!({"refresh_token": s.refresh})),
        None,
    )
    .await;
    let s2 = wallet_login(&t.app, &key).await;
    call(
        &t.app,
        Method::POST,
        "/v1/auth/logout",
        Some(json!({"refresh_token": s2.refresh})),
        None,
    )
    .await;

    let page = call(
        &t.app,
        Method::GET,
        "/v1/audit?limit=100",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let entries = page.body["entries"].as_array().expect("entries").clone();
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "auth.login",
        "auth.login_failed",
        "apikey.create",
        "apikey.revoke",
        "auth.token_replay",
        "auth.logout",
    ] {
        assert!(actions.contains(&a), "missing {a} in {actions:?}");
    }
    // Newest first, chained.
    let seqs: Vec<i64> = entries.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    assert_eq!(entries[0]["prev_hash"], entries[1]["entry_hash"]);
    // No secret in the log.
    for secret in [&s.access, &s.refresh, &next, &user_key.str("key"), &admin] {
        assert!(!page.text.contains(secret.as_str()), "secret in audit log");
    }
    // Filter by action.
    let f = call(
        &t.app,
        Method::GET,
        "/v1/audit?action=auth.logout",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(f.body["entries"].as_array().map(Vec::len), Some(1));
    call(&t.app, Method::GET, "/v1/audit?limit=0", None, Some(&admin))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    call(&t.app, Method::GET, "/v1/audit?bogus=1", None, Some(&admin))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");

    // The chain verifies, through the API and the store.
    let v = call(&t.app, Method::GET, "/v1/audit/verify", None, Some(&admin)).await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    assert_eq!(v.body["ok"], true, "{}", v.text);
    assert!(v.body["entries"].as_u64().is_some_and(|n| n >= 8));
    assert!(t.store.verify_audit().await.expect("verify").is_ok());
}
both_backends!(audit_covers_the_flows_and_verifies);
