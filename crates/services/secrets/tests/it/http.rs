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
