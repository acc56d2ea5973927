//! The HTTP API through `nsl_api::router_with`, authenticated with real API keys.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use nsl_api::AppState;
use nsl_api::apikeys::{Actor, create_key};
use nsl_functions::NoFunctionSecrets;
use nsl_store::{AccountStore, Role};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::cases::service;
use crate::harness::TestDb;

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
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
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 10], 40000))));
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn key_for(db: &TestDb, name: &str) -> String {
    key_with(db, name, &["read", "write"]).await
}

/// A new account `name` and an API key of it with `scopes`.
async fn key_with(db: &TestDb, name: &str, scopes: &[&str]) -> String {
    let account = db
        .store
        .create_account(name, Role::User)
        .await
        .expect("account");
    another_key(db, &account, scopes).await
}

async fn another_key(db: &TestDb, account: &nsl_store::Account, scopes: &[&str]) -> String {
    let actor = Actor {
        name: account.id.to_string(),
        ip: None,
    };
    create_key(
        &db.store,
        account,
        "test",
        scopes.iter().map(|s| (*s).to_owned()).collect(),
        None,
        &actor,
    )
    .await
    .expect("key")
    .secret
}

pub(crate) async fn http_api_end_to_end_with_two_accounts(db: &TestDb) {
    let mut cfg = db.config();
    cfg.auth.jwt_secret = Some(nsl_config::Secret::new(
        "functions-test-jwt-secret-0123456789abcdef".to_string(),
    ));
    let state = AppState::from_config(db.store.clone(), &cfg).expect("state");
    let svc = service(db, Arc::new(NoFunctionSecrets));
    let app = nsl_api::router_with(state, nsl_functions::router(svc));
    let alice = key_for(db, "alice").await;
    let bob = key_for(db, "bob").await;

    let (s, f) = call(&app, Method::POST, "/v1/functions", &alice, Some(json!({
        "name": "hello",
        "source": "export default async (args) => { console.info('hi', args.who); return 'hello ' + args.who; }",
        "limits": {"timeout_ms": 2000},
    }))).await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    assert_eq!(f["version"], 1);
    assert_eq!(f["limits"]["timeout_ms"], 2000);
    let id = f["id"].as_str().expect("id").to_string();

    let (s, e) = call(
        &app,
        Method::POST,
        &format!("/v1/functions/{id}/execute"),
        &alice,
        Some(json!({"args": {"who": "neo"}, "mode": "sync"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["status"], "succeeded");
    assert_eq!(e["result"], "hello neo");
    assert_eq!(e["logs"][0]["message"], "hi neo");
    let exec_id = e["id"].as_str().expect("id").to_string();

    let (s, q) = call(
        &app,
        Method::POST,
        &format!("/v1/functions/{id}/execute"),
        &alice,
        Some(json!({"args": {"who": "async"}, "mode": "async"})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{q}");
    assert_eq!(q["status"], "queued");
    let async_id = q["id"].as_str().expect("id").to_string();
    let mut status = Value::Null;
    for _ in 0..300 {
        let (s, e) = call(
            &app,
            Method::GET,
            &format!("/v1/executions/{async_id}"),
            &alice,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{e}");
        status = e["status"].clone();
        if status == "succeeded" || status == "failed" {
            assert_eq!(e["result"], "hello async");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "succeeded");

    let (s, u) = call(
        &app,
        Method::PUT,
        &format!("/v1/functions/{id}"),
        &alice,
        Some(json!({"source": "export default () => 2;"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["version"], 2);

    let (s, l) = call(
        &app,
        Method::GET,
        &format!("/v1/functions/{id}/executions"),
        &alice,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(l["items"].as_array().map(Vec::len), Some(2));
    let (s, l) = call(&app, Method::GET, "/v1/functions", &alice, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(l["items"][0]["id"], id.as_str());

    // Bob sees none of it: 404 everywhere, an empty list.
    for (method, path, body) in [
        (Method::GET, format!("/v1/functions/{id}"), None),
        (
            Method::PUT,
            format!("/v1/functions/{id}"),
            Some(json!({"source": "export default () => 0;"})),
        ),
        (
            Method::POST,
            format!("/v1/functions/{id}/execute"),
            Some(json!({"args": {}})),
        ),
        (Method::GET, format!("/v1/functions/{id}/executions"), None),
        (Method::GET, format!("/v1/executions/{exec_id}"), None),
        (Method::GET, "/v1/executions/not-a-uuid".to_string(), None),
    ] {
        let (s, b) = call(&app, method.clone(), &path, &bob, body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}: {b}");
        assert_eq!(b["code"], "not_found");
    }
    let (s, l) = call(&app, Method::GET, "/v1/functions", &bob, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(l["items"], json!([]));

    // Bad source or limits: 422 validation_failed, the reason first in the message.
    let (s, b) = call(
        &app,
        Method::POST,
        "/v1/functions",
        &alice,
        Some(json!({"name": "x", "source": ""})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["code"], "validation_failed");
    assert!(
        b["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("empty_source"),
        "{b}"
    );
    let (s, b) = call(
        &app,
        Method::PUT,
        &format!("/v1/functions/{id}"),
        &alice,
        Some(json!({"source": "export default () => 1;", "limits": {"timeout_ms": 0}})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("invalid_limits"),
        "{b}"
    );
    let (s, b) = call(
        &app,
        Method::POST,
        "/v1/functions",
        &alice,
        Some(json!({"name": "x", "source": "export default () => 1;", "limits": {"cpu": 1}})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    // Without credentials: 401.
    let (s, _) = call(&app, Method::GET, "/v1/functions", "nsl_bogus_key", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

pub(crate) async fn http_onchain_callers_chain_executions_and_openapi(db: &TestDb) {
    let mut cfg = db.config();
    cfg.auth.jwt_secret = Some(nsl_config::Secret::new(
        "functions-test-jwt-secret-0123456789abcdef".to_string(),
    ));
    let state = AppState::from_config(db.store.clone(), &cfg).expect("state");
    let svc = service(db, Arc::new(NoFunctionSecrets));
    let app = nsl_api::router_with_openapi(
        state,
        nsl_functions::router(svc.clone()),
        <nsl_functions::FunctionsApiDoc as utoipa::OpenApi>::openapi(),
    );
    let alice = key_with(db, "alice", &["read", "write", "grant"]).await;
    let consumer =
        neo::UInt160::from_hex_be("0x00112233445566778899aabbccddeeff00112233").expect("hash");

    let (s, f) = call(
        &app,
        Method::POST,
        "/v1/functions",
        &alice,
        Some(json!({
            "name": "double",
            "source": "export default (args) => ({ doubled: args.n * 2 });",
            "onchain_callers": [consumer.to_address()],
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    assert_eq!(
        f["onchain_callers"],
        json!(["0x00112233445566778899aabbccddeeff00112233"])
    );
    let id = f["id"].as_str().expect("id").to_string();
    let (s, b) = call(
        &app,
        Method::PUT,
        &format!("/v1/functions/{id}"),
        &alice,
        Some(json!({"source": "export default () => 1;", "onchain_callers": ["0x1234"]})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["code"], "validation_failed");
    assert!(
        b["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("invalid_onchain_caller"),
        "{b}"
    );

    // One API run, one chain run: both in GET /v1/executions, newest first.
    let (s, _) = call(
        &app,
        Method::POST,
        &format!("/v1/functions/{id}/execute"),
        &alice,
        Some(json!({"args": {"n": 1}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let answer = svc
        .answer_chain_request(
            json!({"function": id, "args": {"n": 21}})
                .to_string()
                .as_bytes(),
            &consumer.to_string(),
            nsl_functions::ChainTrigger {
                request_id: 12,
                tx_hash: "0xabc".into(),
                requester: String::new(),
            },
        )
        .await;
    assert_eq!(answer.result, br#"{"doubled":42}"#);
    let (s, l) = call(&app, Method::GET, "/v1/executions", &alice, None).await;
    assert_eq!(s, StatusCode::OK, "{l}");
    let items = l["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{l}");
    assert_eq!(items[0]["trigger"], "chain");
    assert_eq!(items[0]["result"], json!({"doubled": 42}));
    assert_eq!(
        items[0]["chain"],
        json!({"request_id": 12, "tx_hash": "0xabc", "requester": consumer.to_string()})
    );
    assert_eq!(items[1]["trigger"], "api");
    assert_eq!(items[1]["chain"], Value::Null);
    let (s, l) = call(
        &app,
        Method::GET,
        "/v1/executions?trigger=chain",
        &alice,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(l["items"].as_array().map(Vec::len), Some(1));
    let (s, b) = call(
        &app,
        Method::GET,
        "/v1/executions?trigger=cron",
        &alice,
        None,
    )
    .await;
    assert_eq!(
        (s, b["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("bad_request"))
    );
    let bob = key_for(db, "bob").await;
    let (s, l) = call(&app, Method::GET, "/v1/executions", &bob, None).await;
    assert_eq!((s, l["items"].clone()), (StatusCode::OK, json!([])));

    // The served OpenAPI document describes every functions route with its operations.
    let (s, doc) = call(&app, Method::GET, "/openapi.json", &alice, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = &doc["paths"];
    for (path, methods) in [
        ("/v1/functions", &["get", "post"][..]),
        ("/v1/functions/{id}", &["get", "put"]),
        ("/v1/functions/{id}/execute", &["post"]),
        ("/v1/functions/{id}/executions", &["get"]),
        ("/v1/executions", &["get"]),
        ("/v1/executions/{id}", &["get"]),
    ] {
        for m in methods {
            let op = &paths[path][m];
            assert!(op.is_object(), "{m} {path} missing from /openapi.json");
            assert_eq!(op["tags"], json!(["functions"]), "{m} {path}");
            assert!(op["responses"]["401"].is_object(), "{m} {path}: 401");
        }
    }
    assert!(paths["/v1/functions"]["post"]["responses"]["422"].is_object());
    assert!(paths["/v1/functions/{id}/execute"]["post"]["responses"]["503"].is_object());
    let schemas = &doc["components"]["schemas"];
    for s in [
        "CreateRequest",
        "FunctionView",
        "ExecutionView",
        "ExecuteRequest",
    ] {
        assert!(schemas[s].is_object(), "schema {s}");
    }
    assert!(
        schemas["CreateRequest"]["properties"]["onchain_callers"].is_object(),
        "{}",
        schemas["CreateRequest"]
    );
    assert!(schemas["ExecutionView"]["properties"]["trigger"].is_object());
    // The platform's own routes are still there.
    assert!(paths["/v1/apikeys"].is_object());
}

/// Issue #9 item 1: a default `read,write` key can neither grant secrets to a function nor set
/// its `onchain_callers` (403 `forbidden`); a key with the `grant` scope can, and every change of
/// either list is in the audit log with the account and the credential.
pub(crate) async fn http_grants_need_the_grant_scope_and_are_audited(db: &TestDb) {
    use nsl_store::{AuditFilter, AuditStore};
    let cfg = db.config();
    let state = AppState::from_config(db.store.clone(), &cfg).expect("state");
    let svc = service(db, Arc::new(NoFunctionSecrets));
    let app = nsl_api::router_with(state, nsl_functions::router(svc));
    let account = db
        .store
        .create_account("alice", Role::User)
        .await
        .expect("account");
    let everyday = another_key(db, &account, &["read", "write"]).await;
    let granter = another_key(db, &account, &["read", "write", "grant"]).await;
    let caller = "0x00112233445566778899aabbccddeeff00112233";
    let src = "export default () => secrets.get('DB_PASSWORD');";

    for body in [
        json!({"name": "f", "source": src, "secrets": ["DB_PASSWORD"]}),
        json!({"name": "f", "source": src, "onchain_callers": [caller]}),
    ] {
        let (s, b) = call(&app, Method::POST, "/v1/functions", &everyday, Some(body)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(b["code"], "forbidden");
        assert!(b["message"].as_str().unwrap_or("").contains("grant"), "{b}");
    }
    // Without grants the everyday key still creates and updates functions.
    let (s, f) = call(
        &app,
        Method::POST,
        "/v1/functions",
        &everyday,
        Some(json!({"name": "f", "source": "export default () => 1;"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    let id = f["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/functions/{id}");
    for body in [
        json!({"source": src, "secrets": ["DB_PASSWORD"]}),
        json!({"source": src, "onchain_callers": [caller]}),
    ] {
        let (s, b) = call(&app, Method::PUT, &path, &everyday, Some(body)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    }
    let audit = |action: &'static str| {
        let store = db.store.clone();
        async move {
            store
                .list_audit(&AuditFilter {
                    action: Some(action.into()),
                    ..AuditFilter::default()
                })
                .await
                .expect("audit")
                .entries
        }
    };
    assert!(audit("function.secrets_grant").await.is_empty());

    // The grant key grants; both changes are audited.
    let (s, f) = call(
        &app,
        Method::PUT,
        &path,
        &granter,
        Some(json!({"source": src, "secrets": ["DB_PASSWORD"], "onchain_callers": [caller]})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{f}");
    let grants = audit("function.secrets_grant").await;
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0].actor, account.id.to_string());
    assert_eq!(
        grants[0].target.as_deref(),
        Some(format!("function:{id}").as_str())
    );
    assert_eq!(grants[0].detail["secrets"], json!(["DB_PASSWORD"]));
    assert_eq!(grants[0].detail["version"], 2);
    assert!(
        grants[0].detail["credential"]
            .as_str()
            .unwrap_or("")
            .starts_with("api_key:"),
        "{:?}",
        grants[0].detail
    );
    let callers = audit("function.onchain_callers").await;
    assert_eq!(callers.len(), 1, "{callers:?}");
    assert_eq!(callers[0].detail["onchain_callers"], json!([caller]));

    // The everyday key cannot replace the source of a version holding grants either (the new
    // source would read the granted secrets), but it can drop the grants (audited too).
    let (s, b) = call(
        &app,
        Method::PUT,
        &path,
        &everyday,
        Some(
            json!({"source": "export default () => secrets.get('DB_PASSWORD') + '!';",
                    "secrets": ["DB_PASSWORD"], "onchain_callers": [caller]}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let (s, f) = call(
        &app,
        Method::PUT,
        &path,
        &everyday,
        Some(json!({"source": "export default () => 2;"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{f}");
    assert_eq!(audit("function.secrets_grant").await.len(), 2);
    assert_eq!(audit("function.onchain_callers").await.len(), 2);
}

fn quota_app(db: &TestDb, config: nsl_functions::FunctionsConfig) -> Router {
    let cfg = db.config();
    let state = AppState::from_config(db.store.clone(), &cfg).expect("state");
    let svc = crate::cases::service_with(db, Arc::new(NoFunctionSecrets), config);
    nsl_api::router_with(state, nsl_functions::router(svc))
}

fn message(b: &Value) -> &str {
    b["message"].as_str().unwrap_or("")
}

/// Issue #9 item 3: functions, versions and stored source bytes per account answer `403
/// quota_exceeded`; API executions per minute `429 execution_quota_exceeded`; old executions are
/// pruned to the retention count. Each account has its own quota.
pub(crate) async fn http_function_quotas_are_per_account(db: &TestDb) {
    let app = quota_app(
        db,
        nsl_functions::FunctionsConfig {
            max_functions_per_account: 2,
            max_versions_per_function: 2,
            max_source_bytes_per_account: 300,
            max_executions_per_minute: 3,
            execution_retention_count: 2,
            ..nsl_functions::FunctionsConfig::default()
        },
    );
    let alice = key_for(db, "alice").await;
    let bob = key_for(db, "bob").await;
    let src = "export default () => 1;";
    let create = |name: &str| json!({"name": name, "source": src});
    let mut ids = Vec::new();
    for name in ["f1", "f2"] {
        let (s, f) = call(
            &app,
            Method::POST,
            "/v1/functions",
            &alice,
            Some(create(name)),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{f}");
        ids.push(f["id"].as_str().expect("id").to_owned());
    }
    let (s, b) = call(
        &app,
        Method::POST,
        "/v1/functions",
        &alice,
        Some(create("f3")),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(b["code"], "quota_exceeded");
    assert!(message(&b).starts_with("functions:"), "{b}");
    let (s, b) = call(
        &app,
        Method::POST,
        "/v1/functions",
        &bob,
        Some(create("f3")),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "bob has his own quota: {b}");

    // Versions per function.
    let f1 = format!("/v1/functions/{}", ids[0]);
    let (s, b) = call(&app, Method::PUT, &f1, &alice, Some(json!({"source": src}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = call(&app, Method::PUT, &f1, &alice, Some(json!({"source": src}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert!(message(&b).starts_with("versions:"), "{b}");

    // Stored bytes: 3 versions of 23 bytes are stored; 280 more would pass 300.
    let f2 = format!("/v1/functions/{}", ids[1]);
    let big = format!("export default () => '{}';", "x".repeat(250));
    let (s, b) = call(&app, Method::PUT, &f2, &alice, Some(json!({"source": big}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert!(message(&b).starts_with("stored_bytes:"), "{b}");

    // Executions per minute, then retention (2 kept of 3).
    let exec = format!("{f1}/execute");
    for _ in 0..3 {
        let (s, e) = call(&app, Method::POST, &exec, &alice, Some(json!({}))).await;
        assert_eq!(s, StatusCode::OK, "{e}");
        assert_eq!(e["status"], "succeeded");
    }
    let (s, b) = call(&app, Method::POST, &exec, &alice, Some(json!({}))).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
    assert_eq!(b["code"], "execution_quota_exceeded");
    assert!(message(&b).starts_with("executions_per_minute:"), "{b}");
    let (s, list) = call(&app, Method::GET, &format!("{f1}/executions"), &alice, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2), "{list}");
}

/// Issue #9 item 3: one account's flood cannot starve another. With a pool of 2 and a share of
/// 1 per account, alice's queue of slow executions holds one slot; bob's execution starts at
/// once instead of after one of alice's finished. Alice's executions beyond her pending cap are
/// refused with 429.
pub(crate) async fn http_one_account_cannot_starve_another(db: &TestDb) {
    let app = quota_app(
        db,
        nsl_functions::FunctionsConfig {
            max_concurrent: 2,
            max_concurrent_per_account: 1,
            max_pending_per_account: 3,
            ..nsl_functions::FunctionsConfig::default()
        },
    );
    let alice = key_for(db, "alice").await;
    let bob = key_for(db, "bob").await;
    let (s, spin) = call(
        &app,
        Method::POST,
        "/v1/functions",
        &alice,
        Some(
            json!({"name": "spin", "source": "export default () => { for (;;) {} };",
                    "limits": {"timeout_ms": 3000}}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{spin}");
    let spin = format!("/v1/functions/{}", spin["id"].as_str().expect("id"));
    for _ in 0..3 {
        let (s, e) = call(
            &app,
            Method::POST,
            &format!("{spin}/execute"),
            &alice,
            Some(json!({"mode": "async"})),
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{e}");
    }
    // A fourth is over alice's pending cap (her three take at least 3 s each, one at a time).
    let (s, b) = call(
        &app,
        Method::POST,
        &format!("{spin}/execute"),
        &alice,
        Some(json!({"mode": "async"})),
    )
    .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
    assert!(message(&b).starts_with("pending_executions:"), "{b}");

    let (s, quick) = call(
        &app,
        Method::POST,
        "/v1/functions",
        &bob,
        Some(json!({"name": "quick", "source": "export default () => 'bob';"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{quick}");
    let quick = format!(
        "/v1/functions/{}/execute",
        quick["id"].as_str().expect("id")
    );
    let (s, bob_run) = call(&app, Method::POST, &quick, &bob, Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{bob_run}");
    assert_eq!(bob_run["status"], "succeeded");
    let bob_started = bob_run["started_at"].as_str().expect("started").to_owned();

    // Wait for alice's first execution to end, then compare recorded times.
    let mut first_finished = None;
    for _ in 0..200 {
        let (_, list) = call(
            &app,
            Method::GET,
            &format!("{spin}/executions"),
            &alice,
            None,
        )
        .await;
        first_finished = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["finished_at"].as_str().map(str::to_owned))
            .min();
        if first_finished.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first_finished = first_finished.expect("one of alice's executions finished");
    assert!(
        bob_started < first_finished,
        "bob started at {bob_started}, after alice's first execution finished at {first_finished}"
    );
}
