//! Wallet login, JWT attacks, refresh rotation and replay, logout.

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use nsl_store::{AuditFilter, AuditStore as _};
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::{Backend, JWT_SECRET, app, app_with, call, wallet_login};

async fn challenge(app: &axum::Router, address: &str) -> (String, String) {
    let r = call(
        app,
        Method::POST,
        "/v1/auth/challenge",
        Some(json!({ "address": address })),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.str("message").contains(address));
    assert!(r.str("message").contains(&r.str("nonce")));
    (r.str("nonce"), r.str("message"))
}

async fn login(app: &axum::Router, body: Value) -> crate::common::Resp {
    call(app, Method::POST, "/v1/auth/login", Some(body), None).await
}

async fn wallet_login_creates_then_reuses_the_account(b: Backend) {
    let t = app(b).await;
    let key = neo::PrivateKey::generate();
    let s1 = wallet_login(&t.app, &key).await;
    let me = call(&t.app, Method::GET, "/v1/me", None, Some(&s1.access)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.str("account_id"), s1.account_id);
    assert_eq!(me.str("role"), "user");
    assert_eq!(me.body["wallets"], json!([s1.address]));
    assert_eq!(me.body["auth"]["method"], "session");
    // Second login of the same wallet: same account.
    let s2 = wallet_login(&t.app, &key).await;
    assert_eq!(s2.account_id, s1.account_id);
    // Another wallet: another account.
    let s3 = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    assert_ne!(s3.account_id, s1.account_id);
}
both_backends!(wallet_login_creates_then_reuses_the_account);

async fn unsalted_and_raw_signatures_log_in(b: Backend) {
    let t = app(b).await;
    let key = neo::PrivateKey::generate();
    let (nonce, message) = challenge(&t.app, &key.address()).await;
    let sig = neo::sign_message(&key, "", &message);
    let r = login(&t.app, json!({"nonce": nonce, "public_key": key.public_key().to_hex(), "signature": hex::encode(sig)})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (nonce, message) = challenge(&t.app, &key.address()).await;
    let raw = key.sign(message.as_bytes());
    let r = login(&t.app, json!({"nonce": nonce, "public_key": key.public_key().to_hex(), "signature": hex::encode(raw)})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}
both_backends!(unsalted_and_raw_signatures_log_in);

async fn bad_logins_are_refused_and_audited(b: Backend) {
    let t = app(b).await;
    let key = neo::PrivateKey::generate();
    let other = neo::PrivateKey::generate();
    let salt = "00112233445566778899aabbccddeeff";

    // Wrong signature (signed by another key, presented with the right public key).
    let (nonce, message) = challenge(&t.app, &key.address()).await;
    let sig = neo::sign_message(&other, salt, &message);
    let r = login(&t.app, json!({"nonce": nonce, "public_key": key.public_key().to_hex(), "signature": hex::encode(sig), "salt": salt})).await;
    r.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");

    // Signature over a different message.
    let (nonce, _) = challenge(&t.app, &key.address()).await;
    let sig = neo::sign_message(&key, salt, "something else");
    let r = login(&t.app, json!({"nonce": nonce, "public_key": key.public_key().to_hex(), "signature": hex::encode(sig), "salt": salt})).await;
    r.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");

    // Wrong address: a valid signature by another wallet for a challenge issued to `key`'s address.
    let (nonce, message) = challenge(&t.app, &key.address()).await;
    let sig = neo::sign_message(&other, salt, &message);
    let r = login(&t.app, json!({"nonce": nonce.clone(), "public_key": other.public_key().to_hex(), "signature": hex::encode(sig), "salt": salt})).await;
    r.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    // The challenge is single use even after a failure.
    let sig = neo::sign_message(&key, salt, &message);
    let r = login(&t.app, json!({"nonce": nonce, "public_key": key.public_key().to_hex(), "signature": hex::encode(sig), "salt": salt})).await;
    r.assert_error(StatusCode::UNAUTHORIZED, "challenge_invalid");

    // Replayed challenge after a successful login.
    let (nonce, message) = challenge(&t.app, &key.address()).await;
    let sig = hex::encode(neo::sign_message(&key, salt, &message));
    let body = json!({"nonce": nonce, "public_key": key.public_key().to_hex(), "signature": sig, "salt": salt});
    assert_eq!(login(&t.app, body.clone()).await.status, StatusCode::OK);
    login(&t.app, body)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "challenge_invalid");

    // Malformed inputs.
    let (nonce, _) = challenge(&t.app, &key.address()).await;
    let r = login(
        &t.app,
        json!({"nonce": nonce, "public_key": "02zz", "signature": "00"}),
    )
    .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    let failed = t
        .store
        .list_audit(&AuditFilter {
            action: Some("auth.login_failed".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(failed.entries.len(), 5, "{:?}", failed.entries);
    let reasons: Vec<String> = failed
        .entries
        .iter()
        .map(|e| e.detail["reason"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(reasons.iter().any(|r| r == "bad signature"));
    assert!(
        reasons
            .iter()
            .any(|r| r == "public key does not match the address")
    );
    assert!(reasons.iter().any(|r| r == "unknown or expired challenge"));
}
both_backends!(bad_logins_are_refused_and_audited);

fn forge(claims: &Value, secret: &[u8], alg: Algorithm) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret))
        .expect("encode")
}

async fn jwt_attacks_are_refused(b: Backend) {
    let t = app(b).await;
    let s = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    let ok = call(&t.app, Method::GET, "/v1/me", None, Some(&s.access)).await;
    assert_eq!(ok.status, StatusCode::OK);
    let parts: Vec<&str> = s.access.split('.').collect();
    let claims: Value =
        serde_json::from_slice(&B64.decode(parts[1]).expect("b64")).expect("claims");

    // alg: none, with and without an empty signature.
    let none = B64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    for t2 in [
        format!("{none}.{}.", parts[1]),
        format!("{none}.{}", parts[1]),
    ] {
        call(&t.app, Method::GET, "/v1/me", None, Some(&t2))
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    // Wrong key.
    let wrong = forge(
        &claims,
        b"another-secret-another-secret-0123456",
        Algorithm::HS256,
    );
    call(&t.app, Method::GET, "/v1/me", None, Some(&wrong))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    // Right key, other HMAC algorithm.
    let hs512 = forge(&claims, JWT_SECRET.as_bytes(), Algorithm::HS512);
    call(&t.app, Method::GET, "/v1/me", None, Some(&hs512))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    // Expired (signed with the right key).
    let mut expired = claims.clone();
    expired["iat"] = json!(1_600_000_000);
    expired["exp"] = json!(1_600_000_900);
    let expired = forge(&expired, JWT_SECRET.as_bytes(), Algorithm::HS256);
    let r = call(&t.app, Method::GET, "/v1/me", None, Some(&expired)).await;
    r.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(r.str("message").contains("expired"));
    // Tampered payload (role escalation), original signature.
    let mut admin = claims.clone();
    admin["role"] = json!("admin");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(admin.to_string()),
        parts[2]
    );
    call(&t.app, Method::GET, "/v1/me", None, Some(&tampered))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    call(&t.app, Method::GET, "/v1/audit", None, Some(&tampered))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    // Wrong audience, right key.
    let mut aud = claims.clone();
    aud["aud"] = json!("other-service");
    let aud = forge(&aud, JWT_SECRET.as_bytes(), Algorithm::HS256);
    call(&t.app, Method::GET, "/v1/me", None, Some(&aud))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
}
both_backends!(jwt_attacks_are_refused);

async fn refresh_rotates_and_replay_revokes_the_family(b: Backend) {
    let t = app(b).await;
    let s = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    let refresh = |tok: &str| {
        let app = t.app.clone();
        let body = json!({ "refresh_token": tok });
        async move { call(&app, Method::POST, "/v1/auth/refresh", Some(body), None).await }
    };
    let r1 = refresh(&s.refresh).await;
    assert_eq!(r1.status, StatusCode::OK, "{}", r1.text);
    let (a1, rt1) = (r1.str("access_token"), r1.str("refresh_token"));
    assert_ne!(rt1, s.refresh);
    assert_eq!(
        call(&t.app, Method::GET, "/v1/me", None, Some(&a1))
            .await
            .status,
        StatusCode::OK
    );
    let r2 = refresh(&rt1).await;
    assert_eq!(r2.status, StatusCode::OK);
    let rt2 = r2.str("refresh_token");

    // Replay of the first (used) token: refused, and the whole family dies.
    let replay = refresh(&s.refresh).await;
    replay.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(replay.str("message").contains("reuse"), "{}", replay.text);
    refresh(&rt2)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");

    let audit = t
        .store
        .list_audit(&AuditFilter {
            action: Some("auth.token_replay".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(audit.entries.len(), 1);
    assert_eq!(audit.entries[0].actor, s.account_id);

    // A new login is a new family, unaffected.
    let key2 = neo::PrivateKey::generate();
    let s2 = wallet_login(&t.app, &key2).await;
    assert_eq!(refresh(&s2.refresh).await.status, StatusCode::OK);
    // Garbage tokens.
    refresh("nslr_00")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    refresh(&format!("nslr_{}", "0".repeat(64)))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
}
both_backends!(refresh_rotates_and_replay_revokes_the_family);

async fn logout_revokes_the_family(b: Backend) {
    let t = app(b).await;
    let s = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    let r = call(
        &t.app,
        Method::POST,
        "/v1/auth/refresh",
        Some(json!({"refresh_token": s.refresh})),
        None,
    )
    .await;
    let rt = r.str("refresh_token");
    let r = call(
        &t.app,
        Method::POST,
        "/v1/auth/logout",
        Some(json!({"refresh_token": rt})),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    call(
        &t.app,
        Method::POST,
        "/v1/auth/refresh",
        Some(json!({"refresh_token": rt})),
        None,
    )
    .await
    .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let audit = t
        .store
        .list_audit(&AuditFilter {
            action: Some("auth.logout".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(audit.entries.len(), 1);
    call(
        &t.app,
        Method::POST,
        "/v1/auth/logout",
        Some(json!({"refresh_token": "nope"})),
        None,
    )
    .await
    .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
}
both_backends!(logout_revokes_the_family);

const SALT: &str = "00112233445566778899aabbccddeeff";

fn signed_login(key: &neo::PrivateKey, nonce: &str, message: &str, send_message: bool) -> Value {
    let sig = hex::encode(neo::sign_message(key, SALT, message));
    let mut body = json!({"nonce": nonce, "public_key": key.public_key().to_hex(), "signature": sig, "salt": SALT});
    if send_message {
        body["message"] = json!(message);
    }
    body
}

/// The login message is bound to the deployment (EIP-4361 shape): domain and URI from config,
/// network magic, version, nonce, times. A message signed for another domain, URI or network, an
/// expired one, or a reused nonce is refused with a stable code.
async fn login_message_is_bound_to_the_deployment(b: Backend) {
    let t = app_with(
        b,
        |c| {
            c.auth.login_domain = "app.example.com".into();
            c.auth.login_uri = "https://app.example.com/login".into();
            c.auth.network_magic = 5_195_086;
        },
        axum::Router::new(),
    )
    .await;
    let key = neo::PrivateKey::generate();
    let (nonce, message) = challenge(&t.app, &key.address()).await;
    let m = nsl_api::LoginMessage::parse(&message).expect("the documented format");
    assert_eq!(m.domain, "app.example.com");
    assert_eq!(m.uri, "https://app.example.com/login");
    assert_eq!(m.network, 5_195_086);
    assert_eq!(m.version, "1");
    assert_eq!(m.nonce, nonce);
    assert_eq!(m.address, key.address());
    // A client that builds the message itself from the documented format logs in.
    assert_eq!(m.render(), message);
    let r = login(&t.app, signed_login(&key, &nonce, &m.render(), true)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Each of these is signed correctly by the right key, but for something else.
    type Change = Box<dyn Fn(&mut nsl_api::LoginMessage)>;
    let cases: Vec<(&str, Change)> = vec![
        (
            "another domain",
            Box::new(|m| m.domain = "evil.example".into()),
        ),
        (
            "another URI",
            Box::new(|m| m.uri = "https://evil.example/login".into()),
        ),
        ("another network", Box::new(|m| m.network = 860_833_102)),
        ("another version", Box::new(|m| m.version = "2".into())),
        ("another nonce", Box::new(|m| m.nonce = "00".repeat(16))),
        (
            "expired",
            Box::new(|m| {
                m.issued_at = "2020-01-01T00:00:00.000Z".into();
                m.expiration_time = "2020-01-01T00:05:00.000Z".into();
            }),
        ),
        (
            "valid past the challenge",
            Box::new(|m| m.expiration_time = "2999-01-01T00:00:00.000Z".into()),
        ),
    ];
    for (what, change) in cases {
        let (nonce, message) = challenge(&t.app, &key.address()).await;
        let mut m = nsl_api::LoginMessage::parse(&message).expect("format");
        change(&mut m);
        let r = login(&t.app, signed_login(&key, &nonce, &m.render(), true)).await;
        assert_eq!(r.code(), "login_message_invalid", "{what}: {}", r.text);
        r.assert_error(StatusCode::UNAUTHORIZED, "login_message_invalid");
    }
    // A message that is not in the format at all.
    let (nonce, _) = challenge(&t.app, &key.address()).await;
    login(&t.app, signed_login(&key, &nonce, "please sign in", true))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "login_message_invalid");
    // A reused nonce.
    let (nonce, message) = challenge(&t.app, &key.address()).await;
    let body = signed_login(&key, &nonce, &message, false);
    assert_eq!(login(&t.app, body.clone()).await.status, StatusCode::OK);
    login(&t.app, body)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "challenge_invalid");
}
both_backends!(login_message_is_bound_to_the_deployment);

/// With open sign-up off (the `nsl serve` default) an unknown wallet gets 403 `signup_closed`
/// and no account is created; a wallet the operator linked to an account still logs in.
async fn closed_signup_refuses_unknown_wallets(b: Backend) {
    let t = app_with(b, |c| c.auth.open_signup = false, axum::Router::new()).await;
    assert!(
        !nsl_config::Config::default().auth.open_signup,
        "closed by default"
    );
    let stranger = neo::PrivateKey::generate();
    let (nonce, message) = challenge(&t.app, &stranger.address()).await;
    login(&t.app, signed_login(&stranger, &nonce, &message, false))
        .await
        .assert_error(StatusCode::FORBIDDEN, "signup_closed");
    use nsl_store::AccountStore as _;
    assert!(
        t.store
            .account_by_wallet(&stranger.address())
            .await
            .expect("lookup")
            .is_none()
    );
    let member = neo::PrivateKey::generate();
    let acct = t
        .store
        .create_account_with_wallet("member", nsl_store::Role::User, &member.address())
        .await
        .expect("account");
    let s = wallet_login(&t.app, &member).await;
    assert_eq!(s.account_id, acct.id.to_string());
}
both_backends!(closed_signup_refuses_unknown_wallets);

/// An expired challenge is refused with `challenge_invalid` even with a valid signature.
async fn expired_challenge_is_refused(b: Backend) {
    let t = app_with(b, |c| c.auth.challenge_ttl_secs = 1, axum::Router::new()).await;
    let key = neo::PrivateKey::generate();
    let (nonce, message) = challenge(&t.app, &key.address()).await;
    // Outlive the one-second challenge (a wait, not a timing assertion).
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    login(&t.app, signed_login(&key, &nonce, &message, false))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "challenge_invalid");
}
both_backends!(expired_challenge_is_refused);
