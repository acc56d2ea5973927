//! The oracle routes merged into the node's API over a real store, on SQLite and PostgreSQL
//! (`nsl_store::test_utils::TestDb`; PostgreSQL unreachable = failure). Rows are seeded through
//! [`OracleStore::record_block`] as the follower writes them; contracts are registered through
//! `POST /v1/contracts` as a user would.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use nsl_api::AppState;
use nsl_store::test_utils::TestDb;
use nsl_store::{Account, AccountStore as _, Backend, Role, Store};
use serde_json::{Value, json};
use tower::ServiceExt;
use utoipa::OpenApi as _;

use super::super::store::{
    NewRequest, OracleStore, OutboxRow, OutboxWrite, RequestKind, RequestRow, RequestState,
};

const CHAIN: &str = "neo:860833102";
const CONTRACT_A: &str = "0x4f1ac7c2a34ad1bbb0cd7a8f1e2b17bd4f0c2dc3";
const CONTRACT_B: &str = "0x00000000000000000000000000000000000000bb";
/// 2026-01-01T00:00:00.000Z
const T0: i64 = 1_767_225_600_000;

macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(nsl_store::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(nsl_store::Backend::Postgres).await
            }
        }
    };
}

struct TestApp {
    app: Router,
    store: Store,
    _db: TestDb,
}

async fn setup(b: Backend) -> TestApp {
    let db = TestDb::new(b, &[&nsl_chain::MIGRATIONS]).await;
    let mut cfg = db.config();
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
    cfg.rate_limit.groups = nsl_config::RouteGroups {
        auth: Default::default(),
        read: Default::default(),
        write: Default::default(),
    };
    let store = db.store.clone();
    let state = AppState::from_config(store.clone(), &cfg).expect("state");
    let app = nsl_api::router_with_openapi(state, super::router(), super::OracleApiDoc::openapi());
    TestApp {
        app,
        store,
        _db: db,
    }
}

/// An API key of `account` with `scopes`.
async fn key(store: &Store, account: &Account, scopes: &[&str]) -> String {
    let actor = nsl_api::apikeys::Actor {
        name: "test".into(),
        ip: None,
    };
    let scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
    nsl_api::apikeys::create_key(store, account, "test", scopes, None, &actor)
        .await
        .expect("key")
        .secret
}

async fn user(store: &Store, name: &str) -> String {
    let a = store.create_account(name, Role::User).await.unwrap();
    key(store, &a, &["read", "write"]).await
}

struct Resp {
    status: StatusCode,
    body: Value,
    text: String,
}

impl Resp {
    fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.body["code"], code, "{}", self.text);
    }

    /// The `id`s of a page, in order.
    fn ids(&self) -> Vec<String> {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        self.body["requests"]
            .as_array()
            .unwrap_or_else(|| panic!("no requests in {}", self.text))
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

async fn call(app: &Router, method: Method, path: &str, body: Option<Value>, key: &str) -> Resp {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"));
    let body = match body {
        Some(v) => {
            b = b.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let mut req = b.body(body).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(std::net::SocketAddr::from((
            [192, 0, 2, 10],
            40000,
        ))));
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Resp {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        text,
    }
}

async fn get(app: &Router, path: &str, key: &str) -> Resp {
    call(app, Method::GET, path, None, key).await
}

fn new_request(n: i64, requester: &str) -> NewRequest {
    NewRequest {
        kind: if n % 2 == 0 {
            RequestKind::Gateway
        } else {
            RequestKind::Native
        },
        tx_hash: format!("0x{n:064x}"),
        notification_index: 0,
        block_index: n,
        request_id: n,
        requester: requester.to_owned(),
        url: format!("https://example.com/price/{n}"),
        filter: Some("$.price".into()),
        invalid: None,
        service: "oracle".into(),
        payload: None,
        gas_budget: (n % 2 == 0).then_some(20_000_000),
    }
}

/// Record block `n` holding one request of `requester`, seen at `T0 + n` seconds.
async fn seed(store: &Store, n: i64, requester: &str) -> RequestRow {
    let mut rows = store
        .record_block(
            CHAIN,
            "oracle",
            n + 1,
            &[new_request(n, requester)],
            None,
            T0 + n * 1000,
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    rows.remove(0)
}

async fn callers_see_only_their_requests(b: Backend) {
    let t = setup(b).await;
    let alice = user(&t.store, "alice").await;
    let bob = user(&t.store, "bob").await;
    let wallet = neo::PrivateKey::generate().address();
    let wallet_hash = neo::UInt160::from_address(&wallet).unwrap().to_string();
    let wally_account = t
        .store
        .create_account_with_wallet("wally", Role::User, &wallet)
        .await
        .unwrap();
    let wally = key(&t.store, &wally_account, &["read"]).await;
    let ops_account = t.store.create_account("ops", Role::Admin).await.unwrap();
    let ops = key(&t.store, &ops_account, &["read", "admin"]).await;
    let ops_read_only = key(&t.store, &ops_account, &["read"]).await;

    let a1 = seed(&t.store, 1, CONTRACT_A).await;
    let b2 = seed(&t.store, 2, CONTRACT_B).await;
    let w3 = seed(&t.store, 3, &wallet_hash).await;
    let a4 = seed(&t.store, 4, CONTRACT_A).await;
    let page = "/v1/oracle/requests";

    // Nothing registered: an empty page, not an error.
    let r = get(&t.app, page, &alice).await;
    assert!(r.ids().is_empty());
    assert_eq!(r.body["limit"], 50);
    assert_eq!(r.body["offset"], 0);
    assert!(r.body["next_offset"].is_null(), "{}", r.text);

    let reg = json!({ "script_hash": CONTRACT_A, "label": "feed" });
    let r = call(&t.app, Method::POST, "/v1/contracts", Some(reg), &alice).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // Alice: her contract's rows, newest first, with the row's fields.
    let r = get(&t.app, page, &alice).await;
    assert_eq!(r.ids(), [a4.id.clone(), a1.id.clone()]);
    let newest = &r.body["requests"][0];
    assert_eq!(newest["requester"], CONTRACT_A);
    assert_eq!(newest["kind"], "gateway");
    assert_eq!(newest["service"], "oracle");
    assert_eq!(newest["state"], "seen");
    assert_eq!(newest["url"], "https://example.com/price/4");
    assert_eq!(newest["block_index"], 4);
    assert_eq!(newest["created_at"], "2026-01-01T00:00:04.000Z");
    assert!(newest["code"].is_null() && newest["response_tx_hash"].is_null());
    let r = get(&t.app, &format!("{page}/{}", a1.id), &alice).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], a1.id.as_str());
    assert_eq!(r.body["kind"], "native");
    // `requester` narrows her rows; a requester that is not hers gives an empty page.
    let r = get(&t.app, &format!("{page}?requester={CONTRACT_B}"), &alice).await;
    assert!(r.ids().is_empty());
    let r = get(&t.app, &format!("{page}?requester={CONTRACT_A}"), &alice).await;
    assert_eq!(r.ids().len(), 2);

    // Bob sees none of them, and alice's row id is 404 with the body of a missing id.
    let r = get(&t.app, page, &bob).await;
    assert!(r.ids().is_empty());
    let theirs = get(&t.app, &format!("{page}/{}", a1.id), &bob).await;
    theirs.assert_error(StatusCode::NOT_FOUND, "not_found");
    let missing = get(&t.app, &format!("{page}/{}", uuid::Uuid::new_v4()), &bob).await;
    missing.assert_error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(theirs.body["message"], missing.body["message"]);
    let r = get(&t.app, &format!("{page}/{}", b2.id), &alice).await;
    r.assert_error(StatusCode::NOT_FOUND, "not_found");

    // Wally's wallet is a requester without any registration.
    let r = get(&t.app, page, &wally).await;
    assert_eq!(r.ids(), vec![w3.id.clone()]);
    let r = get(&t.app, &format!("{page}/{}", w3.id), &wally).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Operators see every row and may filter by requester (either form).
    let r = get(&t.app, page, &ops).await;
    assert_eq!(
        r.ids(),
        [a4.id.clone(), w3.id.clone(), b2.id.clone(), a1.id.clone()]
    );
    let b_address = neo::UInt160::from_hex_be(CONTRACT_B).unwrap().to_address();
    let r = get(&t.app, &format!("{page}?requester={b_address}"), &ops).await;
    assert_eq!(r.ids(), vec![b2.id.clone()]);
    let r = get(&t.app, &format!("{page}/{}", b2.id), &ops).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // An admin account's key without the `admin` scope is an ordinary caller.
    let r = get(&t.app, page, &ops_read_only).await;
    assert!(r.ids().is_empty());
    let r = get(&t.app, &format!("{page}/{}", b2.id), &ops_read_only).await;
    r.assert_error(StatusCode::NOT_FOUND, "not_found");

    // Deleting the registration hides the rows again.
    let r = call(
        &t.app,
        Method::DELETE,
        &format!("/v1/contracts/{CONTRACT_A}"),
        None,
        &alice,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = get(&t.app, page, &alice).await;
    assert!(r.ids().is_empty());
    let r = get(&t.app, &format!("{page}/{}", a1.id), &alice).await;
    r.assert_error(StatusCode::NOT_FOUND, "not_found");
}
both_backends!(callers_see_only_their_requests);

async fn pages_states_and_bad_queries(b: Backend) {
    let t = setup(b).await;
    let alice = user(&t.store, "alice").await;
    let reg = json!({ "script_hash": CONTRACT_A });
    let r = call(&t.app, Method::POST, "/v1/contracts", Some(reg), &alice).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mut rows = Vec::new();
    for n in 1..=5 {
        rows.push(seed(&t.store, n, CONTRACT_A).await);
    }
    seed(&t.store, 6, CONTRACT_B).await;
    t.store
        .mark_final(
            &rows[1].id,
            RequestState::Failed,
            "gas too low",
            T0 + 10_000,
        )
        .await
        .unwrap();
    let newest_first: Vec<String> = rows.iter().rev().map(|r| r.id.clone()).collect();
    let page = "/v1/oracle/requests";

    let r = get(&t.app, &format!("{page}?limit=2"), &alice).await;
    assert_eq!(r.ids(), newest_first[0..2]);
    assert_eq!(r.body["next_offset"], 2);
    let r = get(&t.app, &format!("{page}?limit=2&offset=2"), &alice).await;
    assert_eq!(r.ids(), newest_first[2..4]);
    assert_eq!(r.body["offset"], 2);
    assert_eq!(r.body["next_offset"], 4);
    let r = get(&t.app, &format!("{page}?limit=2&offset=4"), &alice).await;
    assert_eq!(r.ids(), newest_first[4..5]);
    assert!(r.body["next_offset"].is_null(), "last page: {}", r.text);
    // A full last page says so too: no empty page after it.
    let r = get(&t.app, &format!("{page}?limit=5"), &alice).await;
    assert_eq!(r.ids(), newest_first);
    assert!(
        r.body["next_offset"].is_null(),
        "full last page: {}",
        r.text
    );
    let r = get(&t.app, &format!("{page}?service=oracle"), &alice).await;
    assert_eq!(r.ids().len(), 5);
    let r = get(&t.app, &format!("{page}?service=function"), &alice).await;
    assert!(r.ids().is_empty(), "{}", r.text);

    let r = get(&t.app, &format!("{page}?state=failed"), &alice).await;
    assert_eq!(r.ids(), vec![rows[1].id.clone()]);
    assert_eq!(r.body["requests"][0]["state"], "failed");
    let r = get(&t.app, &format!("{page}?state=seen"), &alice).await;
    assert_eq!(r.ids().len(), 4);
    let r = get(&t.app, &format!("{page}?state=confirmed"), &alice).await;
    assert!(r.ids().is_empty());

    for bad in [
        "state=bogus",
        "state=",
        "limit=0",
        "limit=501",
        "limit=ten",
        "offset=-1",
        "requester=0x1234",
        "requester=4f1ac7c2a34ad1bbb0cd7a8f1e2b17bd4f0c2dc3",
        "page=2",
    ] {
        let r = get(&t.app, &format!("{page}?{bad}"), &alice).await;
        r.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    }

    // Scopes: `read` is needed; no credential is 401.
    let account = t.store.create_account("w", Role::User).await.unwrap();
    let write_only = key(&t.store, &account, &["write"]).await;
    get(&t.app, page, &write_only)
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    get(&t.app, &format!("{page}/{}", rows[0].id), &write_only)
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    get(&t.app, page, "nsl_000000000000_0000")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
}
both_backends!(pages_states_and_bad_queries);

async fn detail_has_history_response_and_timings(b: Backend) {
    let t = setup(b).await;
    let alice = user(&t.store, "alice").await;
    let reg = json!({ "script_hash": CONTRACT_A });
    call(&t.app, Method::POST, "/v1/contracts", Some(reg), &alice).await;
    let seen_at = T0 + 7000;
    let row = t
        .store
        .record_block(
            CHAIN,
            "oracle",
            8,
            &[new_request(7, CONTRACT_A)],
            Some(("worker-1", seen_at + 30_000)),
            seen_at,
        )
        .await
        .unwrap()
        .remove(0);
    let tx_hash = format!("0x{:064x}", 0xabcdu32);
    let outbox = OutboxRow {
        request: row.id.clone(),
        tx_hash: tx_hash.clone(),
        tx: vec![0; 8],
        valid_until_block: 5767,
        attempts: 0,
    };
    let write = OutboxWrite {
        outbox,
        code: 0,
        answer: Some(b"[42.17]".to_vec()),
    };
    assert_eq!(
        t.store
            .write_outboxes("worker-1", &[write], seen_at + 400)
            .await
            .unwrap(),
        [true]
    );
    t.store.mark_sent(&row.id, seen_at + 500).await.unwrap();
    assert!(
        t.store
            .mark_confirmed(&row.id, 9, seen_at + 15_500)
            .await
            .unwrap()
    );

    let r = get(&t.app, &format!("/v1/oracle/requests/{}", row.id), &alice).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let d = &r.body;
    assert_eq!(d["state"], "confirmed");
    assert_eq!(d["code"], 0);
    assert_eq!(d["code_name"], "success");
    assert_eq!(d["response_tx_hash"], tx_hash.as_str());
    assert_eq!(d["confirmed_block"], 9);
    assert_eq!(d["outbox"]["tx_hash"], tx_hash.as_str());
    assert_eq!(d["outbox"]["valid_until_block"], 5767);
    assert_eq!(d["outbox"]["attempts"], 1);
    assert_eq!(d["blocks_to_answer"], 2, "block 7 answered in block 9");
    assert_eq!(d["elapsed_ms"], 15_500);
    let history: Vec<(&str, &str)> = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["state"].as_str().unwrap(), h["at"].as_str().unwrap()))
        .collect();
    assert_eq!(
        history,
        [
            ("seen", "2026-01-01T00:00:07.000Z"),
            ("fetched", "2026-01-01T00:00:07.400Z"),
            ("outbox", "2026-01-01T00:00:07.400Z"),
            ("sent", "2026-01-01T00:00:07.500Z"),
            ("confirmed", "2026-01-01T00:00:22.500Z"),
        ]
    );
    // The result bytes and the signed transaction stay internal.
    assert!(d.get("result").is_none() && d["outbox"].get("tx").is_none());
}
both_backends!(detail_has_history_response_and_timings);

#[tokio::test]
async fn openapi_documents_the_oracle_routes() {
    let t = setup(Backend::Sqlite).await;
    let account = t.store.create_account("x", Role::User).await.unwrap();
    let k = key(&t.store, &account, &["read"]).await;
    // The document is public; the key only proves the route is not behind auth.
    let r = get(&t.app, "/openapi.json", &k).await;
    assert_eq!(r.status, StatusCode::OK);
    let paths = &r.body["paths"];
    let list = &paths["/v1/oracle/requests"]["get"];
    let params: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("no parameters: {list}"))
        .iter()
        .map(|p| {
            assert_eq!(p["in"], "query", "{p}");
            p["name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(params, ["state", "requester", "service", "limit", "offset"]);
    for status in ["200", "400", "403"] {
        assert!(
            list["responses"][status].is_object(),
            "list {status}: {list}"
        );
    }
    let one = &paths["/v1/oracle/requests/{id}"]["get"];
    for status in ["200", "404"] {
        assert!(one["responses"][status].is_object(), "one {status}: {one}");
    }
    let schemas = &r.body["components"]["schemas"];
    for s in [
        "RequestPage",
        "RequestView",
        "RequestDetailView",
        "HistoryView",
        "OutboxView",
    ] {
        assert!(schemas[s].is_object(), "schema {s} missing");
    }
    assert!(
        schemas["RequestPage"]["properties"]["next_offset"].is_object(),
        "{}",
        schemas["RequestPage"]
    );
    // The node's own routes, contracts included, are still there.
    assert!(paths["/v1/contracts"]["post"].is_object());
    assert!(paths["/v1/contracts/{script_hash}"]["delete"].is_object());
}
