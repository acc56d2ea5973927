//! Test harness: the API over a real store on SQLite (temp dir) or PostgreSQL (a fresh database per
//! test on `NSL_TEST_PG_URL`, default `postgres://root@127.0.0.1:5432/postgres`; unreachable = fail),
//! both from the shared `nsl_store::test_utils::TestDb`.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use nsl_api::AppState;
use nsl_config::{Config, Secret};
use nsl_store::test_utils::TestDb;
use nsl_store::{Account, AccountStore as _, Role, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

pub(crate) use nsl_store::Backend;

pub(crate) const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// Generates `sqlite` and `postgres` tests running `$body(backend)`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::Backend::Postgres).await
            }
        }
    };
}

pub(crate) struct TestApp {
    pub(crate) app: Router,
    pub(crate) store: Store,
    pub(crate) state: AppState,
    _db: TestDb,
}

/// A config for tests: given backend, known JWT secret, generous rate limits unless `tune` changes them.
/// The returned `TestDb` owns the database (and the data dir): keep it alive for the test.
pub(crate) async fn config(backend: Backend, tune: impl FnOnce(&mut Config)) -> (Config, TestDb) {
    let db = TestDb::new(backend, &[]).await;
    let mut cfg = db.config();
    cfg.auth.jwt_secret = Some(Secret::new(JWT_SECRET));
    cfg.rate_limit.per_ip = nsl_config::Bucket {
        rate_per_sec: 10_000.0,
        burst: 10_000,
    };
    cfg.rate_limit.per_api_key = nsl_config::Bucket {
        rate_per_sec: 10_000.0,
        burst: 10_000,
    };
    cfg.rate_limit.per_account = nsl_config::Bucket {
        rate_per_sec: 10_000.0,
        burst: 10_000,
    };
    // Most tests log in with fresh wallets; the closed default is tested on its own.
    cfg.auth.open_signup = true;
    cfg.rate_limit.groups = nsl_config::RouteGroups {
        auth: Default::default(),
        read: Default::default(),
        write: Default::default(),
    };
    tune(&mut cfg);
    (cfg, db)
}

pub(crate) async fn app_with(
    backend: Backend,
    tune: impl FnOnce(&mut Config),
    extra: Router<AppState>,
) -> TestApp {
    let (cfg, db) = config(backend, tune).await;
    let store = db.store.clone();
    let state = AppState::from_config(store.clone(), &cfg).expect("state");
    let app = nsl_api::router_with(state.clone(), extra);
    TestApp {
        app,
        store,
        state,
        _db: db,
    }
}

pub(crate) async fn app(backend: Backend) -> TestApp {
    app_with(backend, |_| {}, Router::new()).await
}

pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
    pub(crate) text: String,
}

impl Resp {
    /// The error code of an error body (panics with the body if absent).
    pub(crate) fn code(&self) -> &str {
        self.body
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no error code in {}", self.text))
    }

    /// Assert the one error format: code, message, request_id equal to the header.
    pub(crate) fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(self.code(), code, "body: {}", self.text);
        let obj = self.body.as_object().expect("object body");
        assert_eq!(
            obj.len(),
            3,
            "exactly code, message, request_id: {}",
            self.text
        );
        assert!(
            obj.get("message")
                .and_then(Value::as_str)
                .is_some_and(|m| !m.is_empty())
        );
        let rid = obj
            .get("request_id")
            .and_then(Value::as_str)
            .expect("request_id");
        assert_eq!(
            Some(rid),
            self.headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
        );
        assert_eq!(
            self.headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/json")
        );
    }

    pub(crate) fn str(&self, field: &str) -> String {
        self.body
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no {field} in {}", self.text))
            .to_owned()
    }
}

pub(crate) const CLIENT: [u8; 4] = [192, 0, 2, 10];

/// Build a request from a client IP.
pub(crate) fn request(
    method: Method,
    path: &str,
    body: Body,
    headers: &[(&str, &str)],
    ip: [u8; 4],
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let mut req = b.body(body).expect("request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    req
}

pub(crate) async fn send(app: &Router, req: Request<Body>) -> Resp {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
        text,
    }
}

/// JSON call with an optional bearer credential.
pub(crate) async fn call(
    app: &Router,
    method: Method,
    path: &str,
    body: Option<Value>,
    bearer: Option<&str>,
) -> Resp {
    let auth = bearer.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let body = match body {
        Some(v) => {
            headers.push(("content-type", "application/json"));
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    send(app, request(method, path, body, &headers, CLIENT)).await
}

pub(crate) struct Session {
    pub(crate) access: String,
    pub(crate) refresh: String,
    pub(crate) account_id: String,
    pub(crate) address: String,
}

/// Full wallet login with the signMessage envelope (salted).
pub(crate) async fn wallet_login(app: &Router, key: &neo::PrivateKey) -> Session {
    let address = key.address();
    let ch = call(
        app,
        Method::POST,
        "/v1/auth/challenge",
        Some(json!({ "address": address })),
        None,
    )
    .await;
    assert_eq!(ch.status, StatusCode::OK, "{}", ch.text);
    let salt = "00112233445566778899aabbccddeeff";
    let sig = neo::sign_message(key, salt, &ch.str("message"));
    let body = json!({
        "nonce": ch.str("nonce"),
        "public_key": key.public_key().to_hex(),
        "signature": hex::encode(sig),
        "salt": salt,
    });
    let r = call(app, Method::POST, "/v1/auth/login", Some(body), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    Session {
        access: r.str("access_token"),
        refresh: r.str("refresh_token"),
        account_id: r.str("account_id"),
        address,
    }
}

/// An admin account with an API key holding every scope.
pub(crate) async fn admin_key(t: &TestApp) -> (Account, String) {
    let acct = t
        .store
        .create_account("ops", Role::Admin)
        .await
        .expect("admin");
    let scopes = vec!["read".into(), "write".into(), "keys".into(), "admin".into()];
    let actor = nsl_api::apikeys::Actor {
        name: "test".into(),
        ip: None,
    };
    let k = nsl_api::apikeys::create_key(&t.store, &acct, "ops", scopes, None, &actor)
        .await
        .expect("key");
    (acct, k.secret)
}

/// Create an API key over the API with a session token.
pub(crate) async fn create_key(app: &Router, bearer: &str, body: Value) -> Resp {
    call(app, Method::POST, "/v1/apikeys", Some(body), Some(bearer)).await
}
