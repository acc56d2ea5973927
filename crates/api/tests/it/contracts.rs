//! `/v1/contracts`: registering the contracts whose on-chain requests an account may see.

use axum::http::{Method, StatusCode};
use nsl_store::AccountStore as _;
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::{Backend, admin_key, app, call, create_key, wallet_login};

const FEED: &str = "0x4f1ac7c2a34ad1bbb0cd7a8f1e2b17bd4f0c2dc3";
const OTHER: &str = "0x00000000000000000000000000000000000000aa";

fn hashes(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["script_hash"].as_str().expect("script_hash").to_owned())
        .collect()
}

async fn register_list_and_delete(b: Backend) {
    let t = app(b).await;
    let alice = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    let tok = Some(alice.access.as_str());

    let r = call(&t.app, Method::GET, "/v1/contracts", None, tok).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(hashes(&r.body).is_empty());

    // Upper-case hex is accepted and stored in the canonical lower-case form.
    let body =
        json!({ "script_hash": FEED.to_uppercase().replace("0X", "0x"), "label": " price feed " });
    let r = call(&t.app, Method::POST, "/v1/contracts", Some(body), tok).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.str("script_hash"), FEED);
    assert_eq!(r.str("label"), "price feed");
    let address = r.str("address");
    assert!(address.starts_with('N'), "{address}");
    assert!(r.str("created_at").ends_with('Z'));

    // The same contract again, also given as its address: 409.
    for again in [FEED.to_owned(), address.clone()] {
        let r = call(
            &t.app,
            Method::POST,
            "/v1/contracts",
            Some(json!({ "script_hash": again })),
            tok,
        )
        .await;
        r.assert_error(StatusCode::CONFLICT, "conflict");
    }

    // A second one given as an address, without a label.
    let other_address = neo::UInt160::from_hex_be(OTHER).unwrap().to_address();
    let r = call(
        &t.app,
        Method::POST,
        "/v1/contracts",
        Some(json!({ "script_hash": other_address })),
        tok,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.str("script_hash"), OTHER);
    assert_eq!(r.str("label"), "");

    let r = call(&t.app, Method::GET, "/v1/contracts", None, tok).await;
    assert_eq!(hashes(&r.body), [FEED, OTHER], "oldest first");

    // Delete by address form; then it is gone and a second delete is 404.
    let r = call(
        &t.app,
        Method::DELETE,
        &format!("/v1/contracts/{address}"),
        None,
        tok,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = call(&t.app, Method::GET, "/v1/contracts", None, tok).await;
    assert_eq!(hashes(&r.body), [OTHER]);
    let r = call(
        &t.app,
        Method::DELETE,
        &format!("/v1/contracts/{FEED}"),
        None,
        tok,
    )
    .await;
    r.assert_error(StatusCode::NOT_FOUND, "not_found");
    // A malformed hash in the path is 404 like any unknown id.
    let r = call(&t.app, Method::DELETE, "/v1/contracts/nonsense", None, tok).await;
    r.assert_error(StatusCode::NOT_FOUND, "not_found");

    // Registration and deletion are in the audit log, with the account and the hash.
    let (_, admin) = admin_key(&t).await;
    let r = call(
        &t.app,
        Method::GET,
        "/v1/audit?action=contract.register",
        None,
        Some(&admin),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let entries = r.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{}", r.text);
    let targets: Vec<&str> = entries
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert!(
        targets.contains(&FEED) && targets.contains(&OTHER),
        "{targets:?}"
    );
    assert!(
        entries
            .iter()
            .all(|e| e["actor"] == alice.account_id.as_str()
                && e["detail"]["account_id"] == alice.account_id.as_str())
    );
    let r = call(
        &t.app,
        Method::GET,
        "/v1/audit?action=contract.delete",
        None,
        Some(&admin),
    )
    .await;
    let entries = r.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{}", r.text);
    assert_eq!(entries[0]["target"], FEED);
    assert_eq!(entries[0]["detail"]["label"], "price feed");
}
both_backends!(register_list_and_delete);

async fn contracts_are_per_account(b: Backend) {
    let t = app(b).await;
    let alice = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    let bob = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    let register = |tok: String| {
        let app = t.app.clone();
        async move {
            call(
                &app,
                Method::POST,
                "/v1/contracts",
                Some(json!({ "script_hash": FEED, "label": "x" })),
                Some(&tok),
            )
            .await
        }
    };
    // Both may register the same contract: registration claims no ownership.
    assert_eq!(
        register(alice.access.clone()).await.status,
        StatusCode::CREATED
    );
    let r = call(
        &t.app,
        Method::GET,
        "/v1/contracts",
        None,
        Some(&bob.access),
    )
    .await;
    assert!(hashes(&r.body).is_empty(), "bob sees none of alice's");
    // Bob cannot delete alice's registration.
    let r = call(
        &t.app,
        Method::DELETE,
        &format!("/v1/contracts/{FEED}"),
        None,
        Some(&bob.access),
    )
    .await;
    r.assert_error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        register(bob.access.clone()).await.status,
        StatusCode::CREATED
    );
    // Bob deleting his own leaves alice's.
    let r = call(
        &t.app,
        Method::DELETE,
        &format!("/v1/contracts/{FEED}"),
        None,
        Some(&bob.access),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = call(
        &t.app,
        Method::GET,
        "/v1/contracts",
        None,
        Some(&alice.access),
    )
    .await;
    assert_eq!(hashes(&r.body), [FEED]);
}
both_backends!(contracts_are_per_account);

async fn bad_registrations_and_scopes(b: Backend) {
    let t = app(b).await;
    let s = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    let tok = Some(s.access.as_str());
    for bad in [
        json!({ "script_hash": "4f1ac7c2a34ad1bbb0cd7a8f1e2b17bd4f0c2dc3" }),
        json!({ "script_hash": "0x4f1ac7c2a34ad1bbb0cd7a8f1e2b17bd4f0c2d" }),
        json!({ "script_hash": "0xzz1ac7c2a34ad1bbb0cd7a8f1e2b17bd4f0c2dc3" }),
        json!({ "script_hash": "NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6j" }),
        json!({ "script_hash": FEED, "label": "a\nb" }),
        json!({ "script_hash": FEED, "label": "x".repeat(101) }),
        json!({ "script_hash": FEED, "owner": "me" }),
        json!({}),
    ] {
        let r = call(
            &t.app,
            Method::POST,
            "/v1/contracts",
            Some(bad.clone()),
            tok,
        )
        .await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    let r = call(&t.app, Method::GET, "/v1/contracts", None, tok).await;
    assert!(hashes(&r.body).is_empty(), "nothing stored: {}", r.text);

    // Scopes: reading needs `read`, registering and deleting need `write`.
    let r = create_key(
        &t.app,
        &s.access,
        json!({ "name": "ro", "scopes": ["read"] }),
    )
    .await;
    let read_only = r.str("key");
    let r = create_key(
        &t.app,
        &s.access,
        json!({ "name": "wo", "scopes": ["write"] }),
    )
    .await;
    let write_only = r.str("key");
    let reg = json!({ "script_hash": FEED });
    let r = call(
        &t.app,
        Method::POST,
        "/v1/contracts",
        Some(reg.clone()),
        Some(&read_only),
    )
    .await;
    r.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let r = call(
        &t.app,
        Method::POST,
        "/v1/contracts",
        Some(reg),
        Some(&write_only),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = call(
        &t.app,
        Method::GET,
        "/v1/contracts",
        None,
        Some(&write_only),
    )
    .await;
    r.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let r = call(&t.app, Method::GET, "/v1/contracts", None, Some(&read_only)).await;
    assert_eq!(hashes(&r.body), [FEED]);
    let path = format!("/v1/contracts/{FEED}");
    let r = call(&t.app, Method::DELETE, &path, None, Some(&read_only)).await;
    r.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let r = call(&t.app, Method::GET, "/v1/contracts", None, None).await;
    r.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
}
both_backends!(bad_registrations_and_scopes);

async fn requesters_are_wallets_and_contracts(b: Backend) {
    let t = app(b).await;
    let key = neo::PrivateKey::generate();
    let s = wallet_login(&t.app, &key).await;
    let account = s.account_id.parse().unwrap();
    let wallet_hash = neo::UInt160::from_address(&s.address).unwrap().to_string();
    let got = nsl_api::requesters::requesters_of(&t.store, account)
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![wallet_hash.clone()],
        "a wallet login is a requester"
    );
    call(
        &t.app,
        Method::POST,
        "/v1/contracts",
        Some(json!({ "script_hash": FEED })),
        Some(&s.access),
    )
    .await;
    // A contract equal to the wallet's hash is not listed twice.
    call(
        &t.app,
        Method::POST,
        "/v1/contracts",
        Some(json!({ "script_hash": s.address })),
        Some(&s.access),
    )
    .await;
    let got = nsl_api::requesters::requesters_of(&t.store, account)
        .await
        .unwrap();
    let mut want = vec![wallet_hash, FEED.to_owned()];
    want.sort();
    assert_eq!(got, want);
    // An account with neither has no requesters.
    let bare = t
        .store
        .create_account("bare", nsl_store::Role::User)
        .await
        .unwrap();
    assert!(
        nsl_api::requesters::requesters_of(&t.store, bare.id)
            .await
            .unwrap()
            .is_empty()
    );
}
both_backends!(requesters_are_wallets_and_contracts);

#[tokio::test]
async fn openapi_documents_the_contract_routes() {
    let t = app(Backend::Sqlite).await;
    let r = call(&t.app, Method::GET, "/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let paths = &r.body["paths"];
    let coll = &paths["/v1/contracts"];
    assert!(
        coll["post"].is_object() && coll["get"].is_object(),
        "{coll}"
    );
    let post = &coll["post"];
    for status in ["201", "409", "422"] {
        assert!(
            post["responses"][status].is_object(),
            "POST {status}: {post}"
        );
    }
    let one = &paths["/v1/contracts/{script_hash}"];
    assert!(one["delete"]["responses"]["204"].is_object(), "{one}");
    assert!(one["delete"]["responses"]["404"].is_object(), "{one}");
    let schemas = &r.body["components"]["schemas"];
    assert!(
        schemas["RegisterContractRequest"]["properties"]["script_hash"].is_object(),
        "{schemas}"
    );
    assert!(schemas["ContractView"].is_object());
    assert!(schemas["ContractList"].is_object());
}
