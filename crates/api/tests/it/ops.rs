//! /health, /ready, /metrics, /openapi.json, /docs.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::both_backends;
use crate::common::{Backend, app, call};

async fn ops_endpoints(b: Backend) {
    let t = app(b).await;
    let r = call(&t.app, Method::GET, "/health", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.str("status"), "ok");
    assert!(r.headers.contains_key("x-request-id"));

    let r = call(&t.app, Method::GET, "/ready", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.str("status"), "ready");
    assert!(r.body.get("warnings").is_none(), "{}", r.text);
    // A service's warning is listed, and the node stays ready (200).
    t.state
        .ready_warnings()
        .set("oracle", "node account GAS 1.5 is below 5".into());
    let r = call(&t.app, Method::GET, "/ready", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["warnings"],
        serde_json::json!(["oracle: node account GAS 1.5 is below 5"])
    );
    t.state.ready_warnings().clear("oracle");
    let r = call(&t.app, Method::GET, "/ready", None, None).await;
    assert!(r.body.get("warnings").is_none(), "{}", r.text);

    let r = call(&t.app, Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("nsl_http_requests_total"), "{}", r.text);
    assert!(r.text.contains(r#"route="/health""#), "{}", r.text);
    assert!(
        r.text.contains("nsl_http_request_duration_seconds_bucket"),
        "histogram: {}",
        r.text
    );

    let r = call(&t.app, Method::GET, "/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["openapi"], "3.1.0");
    let paths = r.body["paths"].as_object().expect("paths");
    for p in [
        "/v1/auth/login",
        "/v1/auth/refresh",
        "/v1/apikeys",
        "/v1/apikeys/{id}",
        "/v1/me",
        "/v1/audit",
        "/ready",
    ] {
        assert!(paths.contains_key(p), "missing {p}");
    }
    assert!(r.body["components"]["schemas"]["ErrorBody"].is_object());
    assert!(r.body["components"]["securitySchemes"]["bearer"].is_object());

    let r = call(&t.app, Method::GET, "/docs", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("/openapi.json"));
    assert!(
        !r.text.contains("http://") && !r.text.contains("https://"),
        "docs page must not load anything external"
    );
    assert_eq!(r.body, Value::Null);
}
both_backends!(ops_endpoints);

async fn ready_fails_when_the_database_is_gone(b: Backend) {
    let t = app(b).await;
    t.store.close().await;
    let r = call(&t.app, Method::GET, "/ready", None, None).await;
    r.assert_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    let r = call(&t.app, Method::GET, "/health", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "alive even without the database");
}
both_backends!(ready_fails_when_the_database_is_gone);

/// A supervised service that is not running turns `/ready` 503 with a body naming it (state,
/// since, error class, failures), in its own documented shape; running again, 200 lists it.
async fn ready_names_services_that_are_down(b: Backend) {
    use nsl_service_api::ErrorClass;
    let t = app(b).await;
    let oracle = t.state.health().register("oracle");
    let other = t.state.health().register("feeds");
    other.running();
    // Registered, not yet running: not ready.
    let r = call(&t.app, Method::GET, "/ready", None, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(
        r.body["services"]["oracle"]["state"], "starting",
        "{}",
        r.text
    );
    oracle.running();
    oracle.failed(ErrorClass::Store);
    let r = call(&t.app, Method::GET, "/ready", None, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert!(r.headers.contains_key("x-request-id"));
    let keys: Vec<&str> = r
        .body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["database", "services", "status", "version"],
        "{}",
        r.text
    );
    assert_eq!(r.str("status"), "unavailable");
    assert_eq!(r.str("database"), "ok");
    let o = &r.body["services"]["oracle"];
    assert_eq!(
        (o["state"].as_str(), o["error"].as_str()),
        (Some("restarting"), Some("store")),
        "{}",
        r.text
    );
    assert_eq!(o["failures"], 1);
    assert!(
        o["since"].as_str().is_some_and(|s| s.ends_with('Z')),
        "{}",
        r.text
    );
    assert_eq!(r.body["services"]["feeds"]["state"], "running");
    assert!(r.body["services"]["feeds"].get("error").is_none());
    // Back up: 200, both listed as running, the error cleared.
    oracle.running();
    let r = call(&t.app, Method::GET, "/ready", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.str("status"), "ready");
    assert_eq!(r.body["services"]["oracle"]["state"], "running");
    assert!(
        r.body["services"]["oracle"].get("error").is_none(),
        "{}",
        r.text
    );
    // Down with the database gone too: still the services' shape, database unavailable, and no
    // driver text.
    oracle.failed(ErrorClass::Store);
    t.store.close().await;
    let r = call(&t.app, Method::GET, "/ready", None, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(r.str("database"), "unavailable");
    for leak in ["pool", "closed", "sqlx", "postgres", "sqlite"] {
        assert!(
            !r.text.to_lowercase().contains(leak),
            "{leak:?} in {}",
            r.text
        );
    }
}
both_backends!(ready_names_services_that_are_down);

/// A route of another component, documented with utoipa.
#[utoipa::path(get, path = "/v1/extra/ping", tag = "extra", responses((status = 200, body = String)))]
async fn extra_ping() -> &'static str {
    "pong"
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(extra_ping))]
struct ExtraDoc;

#[tokio::test]
async fn extra_routes_and_their_docs_are_merged() {
    use utoipa::OpenApi as _;
    let (cfg, _guard) = crate::common::config(Backend::Sqlite, |_| {}).await;
    let store = nsl_store::Store::open(&cfg, &[]).await.expect("store");
    let state = nsl_api::AppState::from_config(store, &cfg).expect("state");
    let extra = axum::Router::new().route("/v1/extra/ping", axum::routing::get(extra_ping));
    let app = nsl_api::router_with_openapi(state, extra, ExtraDoc::openapi());
    let r = call(&app, Method::GET, "/v1/extra/ping", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.contains_key("x-request-id"));
    let doc = call(&app, Method::GET, "/openapi.json", None, None).await;
    let paths = doc.body["paths"].as_object().expect("paths");
    assert!(
        paths.contains_key("/v1/extra/ping") && paths.contains_key("/v1/apikeys"),
        "{}",
        doc.text
    );
}

/// With the database gone, `/ready` and a route that needs the store answer 503 `unavailable`
/// with a generic message: no driver error text (pool state, host, database or user names).
async fn database_errors_stay_out_of_bodies(b: Backend) {
    let t = app(b).await;
    t.store.close().await;
    let r = call(&t.app, Method::GET, "/ready", None, None).await;
    r.assert_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    let r2 = call(
        &t.app,
        Method::POST,
        "/v1/auth/challenge",
        Some(serde_json::json!({"address": "NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6i"})),
        None,
    )
    .await;
    r2.assert_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    for r in [&r, &r2] {
        let msg = r.str("message").to_lowercase();
        for leak in [
            "pool",
            "closed",
            "database:",
            "sqlx",
            "postgres",
            "sqlite",
            "connection",
        ] {
            assert!(!msg.contains(leak), "{leak:?} in {}", r.text);
        }
    }
}
both_backends!(database_errors_stay_out_of_bodies);
