//! HTTP cases: `/v1/secrets` mounted with `nsl_api::router_with`, authenticated with real API keys.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use nsl_api::AppState;
use nsl_api::apikeys::{Actor, create_key};
use nsl_store::{Account, AccountStore as _, AuditFilter, AuditStore as _, Role};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::harness::TestEnv;

const VALUE: &str = "http-s3cr3t-never-echoed-91bd";

fn app(env: &TestEnv) -> Router {
    let mut cfg = nsl_config::Config::default();
    cfg.auth.jwt_secret = Some(nsl_config::Secret::new(
        "test-secret-test-secret-test-secret-0123",
    ));
    let generous = nsl_config::Bucket {
        rate_per_sec: 10_000.0,
        burst: 10_000,
    };
    cfg.rate_limit.per_ip = generous;
    cfg.rate_limit.per_api_key = generous;
    cfg.rate_limit.per_account = generous;
    let state = AppState::from_config(env.store.clone(), &cfg).expect("state");
    nsl_api::router_with(state, nsl_secrets::router(Arc::clone(&env.service)))
}

async fn user(env: &TestEnv, name: &str) -> (Account, String) {
    let account = env.store.create_account(name, Role::User).await.unwrap();
    let key = create_key(
        &env.store,
        &account,
        "test",
        vec!["read".into(), "write".into()],
        None,
        &Actor {
            name: "test".into(),
            ip: None,
        },
    )
    .await
    .expect("api key");
    (account, key.secret)
}

struct Resp {
    status: StatusCode,
    body: Value,
    text: String,
}

async fn call(app: &Router, method: Method, path: &str, body: Option<Value>, key: &str) -> Resp {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("x-api-key", key);
    let body = match body {
        Some(v) => {
            b = b.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let mut req = b.body(body).expect("request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))));
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Resp {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        text,
    }
}

pub(crate) async fn http_round_trip_without_values(env: &TestEnv) {
    let app = app(env);
    let (alice, key) = user(env, "alice").await;
    let mut seen = String::new();

    let r = call(
        &app,
        Method::PUT,
        "/v1/secrets/API_TOKEN",
        Some(json!({ "value": VALUE })),
        &key,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["name"], "API_TOKEN");
    assert_eq!(r.body["version"], 1);
    assert!(
        r.body["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert!(r.body.get("value").is_none());
    seen += &r.text;

    let r = call(
        &app,
        Method::PUT,
        "/v1/secrets/API_TOKEN",
        Some(json!({ "value": "v2" })),
        &key,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["version"], 2);

    let r = call(&app, Method::GET, "/v1/secrets", None, &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["items"][0]["name"], "API_TOKEN");
    assert_eq!(r.body["items"][0]["version"], 2);
    assert_eq!(r.body["items"].as_array().map(Vec::len), Some(1));
    seen += &r.text;

    let r = call(&app, Method::GET, "/v1/secrets/API_TOKEN", None, &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["versions"], 2);
    seen += &r.text;

    // The value really is stored: a function execution reads it (v2 is the newest).
    let v = env
        .service
        .get_for_execution(alice.id, "API_TOKEN", "fn")
        .await
        .unwrap();
    assert_eq!(v.expose_secret(), b"v2");

    // Errors: bad name, too large (the value is not echoed), unknown fields, missing scope.
    let r = call(
        &app,
        Method::PUT,
        "/v1/secrets/bad%20name",
        Some(json!({ "value": VALUE })),
        &key,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["code"], "validation_failed");
    seen += &r.text;
    let big = VALUE.repeat(nsl_secrets::MAX_VALUE_LEN / VALUE.len() + 1);
    let r = call(
        &app,
        Method::PUT,
        "/v1/secrets/BIG",
        Some(json!({ "value": big })),
        &key,
    )
    .await;
    assert!(
        r.status == StatusCode::UNPROCESSABLE_ENTITY || r.status == StatusCode::PAYLOAD_TOO_LARGE,
        "{} {}",
        r.status,
        r.text
    );
    seen += &r.text;
    let r = call(
        &app,
        Method::PUT,
        "/v1/secrets/X",
        Some(json!({ "value": VALUE, "extra": 1 })),
        &key,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    seen += &r.text;
    assert!(!seen.contains(VALUE), "a response echoed the value: {seen}");

    let r = call(&app, Method::DELETE, "/v1/secrets/API_TOKEN", None, &key).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = call(&app, Method::GET, "/v1/secrets/API_TOKEN", None, &key).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    let page = env
        .store
        .list_audit(&AuditFilter {
            actor: Some(alice.id.to_string()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<_> = page.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "secret.delete",
            "secret.read",
            "secret.write",
            "secret.write"
        ]
    );
    assert_eq!(page.entries[0].ip.as_deref(), Some("192.0.2.7"));
    assert!(
        !serde_json::to_string(&page.entries)
            .unwrap()
            .contains(VALUE)
    );
}

pub(crate) async fn http_accounts_are_isolated(env: &TestEnv) {
    let app = app(env);
    let (_alice, alice_key) = user(env, "alice").await;
    let (_bob, bob_key) = user(env, "bob").await;
    let r = call(
        &app,
        Method::PUT,
        "/v1/secrets/MINE",
        Some(json!({ "value": VALUE })),
        &alice_key,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let r = call(&app, Method::GET, "/v1/secrets/MINE", None, &bob_key).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.body["code"], "not_found");
    let r = call(&app, Method::DELETE, "/v1/secrets/MINE", None, &bob_key).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = call(&app, Method::GET, "/v1/secrets", None, &bob_key).await;
    assert_eq!(r.body["items"], json!([]), "{}", r.text);
    // Alice's secret survived Bob's delete attempt.
    let r = call(&app, Method::GET, "/v1/secrets/MINE", None, &alice_key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // No credentials: 401.
    let r = call(&app, Method::GET, "/v1/secrets", None, "nsl_bogus_key").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
}

/// Issue #9 item 3: per-account secret quotas (`[secrets]`) answer `403 quota_exceeded`; other
/// accounts are not affected, and a new version of an existing name is not a new secret.
pub(crate) async fn http_secret_quotas_are_per_account(env: &TestEnv) {
    let service = Arc::new(
        nsl_secrets::SecretsService::new(env.store.clone(), env.vault.clone()).with_quotas(
            nsl_config::SecretsConfig {
                max_secrets_per_account: 2,
                max_bytes_per_account: 200,
            },
        ),
    );
    let mut cfg = nsl_config::Config::default();
    cfg.auth.jwt_secret = Some(nsl_config::Secret::new(
        "test-secret-test-secret-test-secret-0123",
    ));
    let state = AppState::from_config(env.store.clone(), &cfg).expect("state");
    let app = nsl_api::router_with(state, nsl_secrets::router(service));
    let (_, alice) = user(env, "alice").await;
    let (_, bob) = user(env, "bob").await;
    let put = |name: &str, value: &str| (format!("/v1/secrets/{name}"), json!({ "value": value }));
    for name in ["A", "B"] {
        let (path, body) = put(name, "x");
        let r = call(&app, Method::PUT, &path, Some(body), &alice).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let (path, body) = put("C", "x");
    let r = call(&app, Method::PUT, &path, Some(body), &alice).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.body["code"], "quota_exceeded");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("secrets:"),
        "{}",
        r.text
    );
    // A new version of an existing name is fine; bob has his own quota.
    let (path, body) = put("A", "y");
    let r = call(&app, Method::PUT, &path, Some(body), &alice).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (path, body) = put("C", "x");
    let r = call(&app, Method::PUT, &path, Some(body), &bob).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // Stored bytes: a value that would pass 200 bytes is refused, without echoing it.
    let big = "v".repeat(150);
    let (path, body) = put("A", &big);
    let r = call(&app, Method::PUT, &path, Some(body), &alice).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("stored_bytes:"),
        "{}",
        r.text
    );
    assert!(!r.text.contains(&big));
}
