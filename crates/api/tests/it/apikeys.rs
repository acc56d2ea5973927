//! API keys: shown once, hashed, scopes, expiry, rotation, revocation, tenant isolation.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use nsl_store::{ApiKeyStore as _, now_ms};
use serde_json::json;

use crate::both_backends;
use crate::common::{Backend, CLIENT, app, call, create_key, request, send, wallet_login};

async fn keys_are_shown_once_and_stored_hashed(b: Backend) {
    let t = app(b).await;
    let s = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    let r = create_key(&t.app, &s.access, json!({"name": "ci"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let key = r.str("key");
    let id = r.str("id");
    assert!(key.starts_with(&format!("nsl_{}_", r.str("prefix"))));
    assert_eq!(r.body["scopes"], json!(["read", "write"]));
    assert_eq!(r.str("status"), "active");

    // Listing and reading never return the key.
    let list = call(&t.app, Method::GET, "/v1/apikeys", None, Some(&s.access)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));
    assert!(!list.text.contains(&key[17..]), "secret part listed");
    let one = call(
        &t.app,
        Method::GET,
        &format!("/v1/apikeys/{id}"),
        None,
        Some(&s.access),
    )
    .await;
    assert_eq!(one.status, StatusCode::OK);
    assert!(one.body.get("key").is_none());

    // The store holds SHA-256 of the key, not the key.
    let stored = t
        .store
        .api_key_by_prefix(&r.str("prefix"))
        .await
        .expect("db")
        .expect("row");
    assert_eq!(stored.key_hash, nsl_api::keys::hash_key(&key).to_vec());

    // The key authenticates, as Bearer and as X-API-Key.
    let me = call(&t.app, Method::GET, "/v1/me", None, Some(&key)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.str("account_id"), s.account_id);
    assert_eq!(me.body["auth"]["method"], "api_key");
    let r2 = send(
        &t.app,
        request(
            Method::GET,
            "/v1/me",
            Body::empty(),
            &[("x-api-key", &key)],
            CLIENT,
        ),
    )
    .await;
    assert_eq!(r2.status, StatusCode::OK);

    // A wrong secret with a valid prefix, a truncated key, garbage: 401.
    let mut wrong = key.clone();
    let last = wrong.pop().expect("char");
    wrong.push(if last == '0' { '1' } else { '0' });
    for bad in [wrong.as_str(), &key[..key.len() - 1], "nsl_garbage"] {
        call(&t.app, Method::GET, "/v1/me", None, Some(bad))
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
}
both_backends!(keys_are_shown_once_and_stored_hashed);

async fn revocation_is_immediate_and_rotation_overlaps(b: Backend) {
    let t = app(b).await;
    let s = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    let k1 = create_key(
        &t.app,
        &s.access,
        json!({"name": "svc", "scopes": ["read"]}),
    )
    .await;
    let (id1, key1) = (k1.str("id"), k1.str("key"));
    // Warm the cache.
    assert_eq!(
        call(&t.app, Method::GET, "/v1/me", None, Some(&key1))
            .await
            .status,
        StatusCode::OK
    );

    // Rotate: a new key with the same name and scopes; both work until the old one is revoked.
    let k2 = call(
        &t.app,
        Method::POST,
        &format!("/v1/apikeys/{id1}/rotate"),
        None,
        Some(&s.access),
    )
    .await;
    assert_eq!(k2.status, StatusCode::CREATED, "{}", k2.text);
    assert_eq!(k2.str("name"), "svc");
    assert_eq!(k2.body["scopes"], json!(["read"]));
    let key2 = k2.str("key");
    assert_ne!(key2, key1);
    assert_eq!(
        call(&t.app, Method::GET, "/v1/me", None, Some(&key1))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        call(&t.app, Method::GET, "/v1/me", None, Some(&key2))
            .await
            .status,
        StatusCode::OK
    );

    let r = call(
        &t.app,
        Method::DELETE,
        &format!("/v1/apikeys/{id1}"),
        None,
        Some(&s.access),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    // Cached a moment ago, refused now.
    let r = call(&t.app, Method::GET, "/v1/me", None, Some(&key1)).await;
    r.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(
        call(&t.app, Method::GET, "/v1/me", None, Some(&key2))
            .await
            .status,
        StatusCode::OK
    );
    // Idempotent.
    let r = call(
        &t.app,
        Method::DELETE,
        &format!("/v1/apikeys/{id1}"),
        None,
        Some(&s.access),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let one = call(
        &t.app,
        Method::GET,
        &format!("/v1/apikeys/{id1}"),
        None,
        Some(&s.access),
    )
    .await;
    assert_eq!(one.str("status"), "revoked");
    // A revoked key cannot be rotated.
    let r = call(
        &t.app,
        Method::POST,
        &format!("/v1/apikeys/{id1}/rotate"),
        None,
        Some(&s.access),
    )
    .await;
    r.assert_error(StatusCode::CONFLICT, "conflict");

    // last_used_at was recorded (asynchronously) for the used key.
    let mut used = None;
    for _ in 0..50 {
        used = t
            .store
            .api_key(k2.str("id").parse().expect("id"))
            .await
            .expect("db")
            .and_then(|k| k.last_used_at);
        if used.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        used.is_some_and(|u| u <= now_ms()),
        "last_used_at not recorded"
    );
}
both_backends!(revocation_is_immediate_and_rotation_overlaps);

async fn other_accounts_get_404(b: Backend) {
    let t = app(b).await;
    let alice = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    let bob = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    let k = create_key(&t.app, &alice.access, json!({"name": "alice-key"})).await;
    let id = k.str("id");
    let bob_key = create_key(
        &t.app,
        &bob.access,
        json!({"name": "bob", "scopes": ["read", "keys"]}),
    )
    .await
    .str("key");

    for cred in [bob.access.as_str(), bob_key.as_str()] {
        let r = call(
            &t.app,
            Method::GET,
            &format!("/v1/apikeys/{id}"),
            None,
            Some(cred),
        )
        .await;
        r.assert_error(StatusCode::NOT_FOUND, "not_found");
        assert!(!r.text.contains("alice-key"));
        call(
            &t.app,
            Method::DELETE,
            &format!("/v1/apikeys/{id}"),
            None,
            Some(cred),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        call(
            &t.app,
            Method::POST,
            &format!("/v1/apikeys/{id}/rotate"),
            None,
            Some(cred),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        let list = call(&t.app, Method::GET, "/v1/apikeys", None, Some(cred)).await;
        assert!(!list.text.contains(&id), "bob lists alice's key");
    }
    // Unknown and malformed ids look the same.
    call(
        &t.app,
        Method::GET,
        "/v1/apikeys/00000000-0000-4000-8000-000000000000",
        None,
        Some(&bob.access),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "not_found");
    call(
        &t.app,
        Method::GET,
        "/v1/apikeys/not-a-uuid",
        None,
        Some(&bob.access),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "not_found");
    // Alice's key still works.
    assert_eq!(
        call(&t.app, Method::GET, "/v1/me", None, Some(&k.str("key")))
            .await
            .status,
        StatusCode::OK
    );
}
both_backends!(other_accounts_get_404);

async fn scopes_and_expiry_are_enforced(b: Backend) {
    let t = app(b).await;
    let s = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    let read_only = create_key(&t.app, &s.access, json!({"name": "ro", "scopes": ["read"]}))
        .await
        .str("key");
    // A read-only key cannot manage keys.
    create_key(&t.app, &read_only, json!({"name": "x"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    // A key-managing key cannot mint scopes it lacks.
    let manager = create_key(
        &t.app,
        &s.access,
        json!({"name": "mgr", "scopes": ["read", "keys"]}),
    )
    .await
    .str("key");
    create_key(&t.app, &manager, json!({"name": "x", "scopes": ["write"]}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(
        create_key(&t.app, &manager, json!({"name": "x", "scopes": ["read"]}))
            .await
            .status,
        StatusCode::CREATED
    );
    // Users cannot hold admin; unknown scopes and bad lifetimes are validation errors.
    create_key(&t.app, &s.access, json!({"name": "x", "scopes": ["admin"]}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    create_key(&t.app, &s.access, json!({"name": "x", "scopes": ["root"]}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    create_key(
        &t.app,
        &s.access,
        json!({"name": "x", "expires_in_secs": 5}),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    create_key(&t.app, &s.access, json!({"name": ""}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    create_key(&t.app, &s.access, json!({"name": "x", "colour": "red"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // An expired key is refused (expiry set in the store directly: the API's minimum is 60 s).
    let acct = nsl_store::AccountStore::account(&t.store, s.account_id.parse().expect("id"))
        .await
        .expect("db")
        .expect("acct");
    let actor = nsl_api::apikeys::Actor {
        name: "test".into(),
        ip: None,
    };
    let soon = now_ms() + 300;
    let k = nsl_api::apikeys::create_key(
        &t.store,
        &acct,
        "short",
        vec!["read".into()],
        Some(soon),
        &actor,
    )
    .await
    .expect("key");
    assert_eq!(
        call(&t.app, Method::GET, "/v1/me", None, Some(&k.secret))
            .await
            .status,
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    call(&t.app, Method::GET, "/v1/me", None, Some(&k.secret))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
}
both_backends!(scopes_and_expiry_are_enforced);

/// A key created or rotated with an expiring API key cannot outlive that key: no later expiry and
/// no "never expires" (sessions are not limited this way).
async fn expiring_key_cannot_mint_a_longer_lived_key(b: Backend) {
    let t = app(b).await;
    let s = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    let r = create_key(
        &t.app,
        &s.access,
        json!({"name": "short", "scopes": ["read", "keys"], "expires_in_secs": 3600}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let short = r.str("key");
    // No expiry, or a later one: refused.
    create_key(
        &t.app,
        &short,
        json!({"name": "forever", "scopes": ["read"]}),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "forbidden");
    create_key(
        &t.app,
        &short,
        json!({"name": "longer", "scopes": ["read"], "expires_in_secs": 7200}),
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "forbidden");
    // Shorter: fine.
    let r = create_key(
        &t.app,
        &short,
        json!({"name": "shorter", "scopes": ["read"], "expires_in_secs": 600}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // Rotating a key without expiry would mint a non-expiring successor: refused.
    let forever = create_key(
        &t.app,
        &s.access,
        json!({"name": "forever", "scopes": ["read"]}),
    )
    .await;
    assert_eq!(forever.status, StatusCode::CREATED, "{}", forever.text);
    let path = format!("/v1/apikeys/{}/rotate", forever.str("id"));
    call(&t.app, Method::POST, &path, None, Some(&short))
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    // The session may rotate it (no ceiling), and the short key may rotate itself.
    let r = call(&t.app, Method::POST, &path, None, Some(&s.access)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let me = call(&t.app, Method::GET, "/v1/me", None, Some(&short)).await;
    let own_id = me.body["auth"]["key_id"]
        .as_str()
        .expect("key id")
        .to_owned();
    let r = call(
        &t.app,
        Method::POST,
        &format!("/v1/apikeys/{own_id}/rotate"),
        None,
        Some(&short),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}
both_backends!(expiring_key_cannot_mint_a_longer_lived_key);
