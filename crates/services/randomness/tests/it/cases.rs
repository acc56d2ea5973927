//! The cases, each run on both backends (see `main.rs`).

use axum::http::{Method, StatusCode};
use neo::UInt160;
use nsl_randomness::{RandomnessGatewayHandler, vrf};
use nsl_service_api::{GatewayCall, GatewayHandler as _, ResponseCode};
use nsl_store::{AuditFilter, AuditStore as _};
use serde_json::json;

use crate::harness::{TestEnv, call};

fn hex32(v: &serde_json::Value) -> [u8; 32] {
    let bytes = hex::decode(v.as_str().expect("hex string")).expect("hex");
    bytes.try_into().expect("32 bytes")
}

pub(crate) async fn api_randomness_verifies_and_is_recorded_and_audited(env: &TestEnv) {
    let app = env.app(&env.service);
    let (alice, key) = env.user("alice", &["read", "write"]).await;
    let r = call(
        &app,
        Method::POST,
        "/v1/randomness",
        Some(json!({"seed": "00ff10", "words": 3}).to_string()),
        Some(&key),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().expect("id").to_string();
    assert_eq!(r.body["source"], "api");
    assert_eq!(r.body["seed"], "00ff10");
    // alpha is fixed by the account, its sequence number (the first: 1) and the seed.
    assert_eq!(r.body["sequence"], 1);
    let alpha = hex32(&r.body["alpha"]);
    assert_eq!(
        alpha,
        vrf::offchain_alpha(&alice.id.to_string(), 1, &[0x00, 0xff, 0x10])
    );
    // Anyone with the public key verifies the proof and gets beta.
    let proof = nsl_vrf::Proof::from_bytes(
        &hex::decode(r.body["proof"].as_str().unwrap()).expect("proof hex"),
    )
    .expect("proof");
    let beta = nsl_vrf::verify(&env.public_key(), &alpha, &proof).expect("proof verifies");
    assert_eq!(beta, hex32(&r.body["beta"]));
    let words: Vec<[u8; 32]> = r.body["words"]
        .as_array()
        .expect("words")
        .iter()
        .map(hex32)
        .collect();
    assert_eq!(words, nsl_vrf::words(&beta, 3));
    assert_eq!(words, vrf::words(&beta, 3), "same derivation as nsl_vrf");
    // A tampered alpha does not verify.
    let mut other = alpha;
    other[0] ^= 1;
    assert!(nsl_vrf::verify(&env.public_key(), &other, &proof).is_err());

    // Recorded: the same answer by id.
    let g = call(
        &app,
        Method::GET,
        &format!("/v1/randomness/{id}"),
        None,
        Some(&key),
    )
    .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    for field in [
        "alpha", "beta", "proof", "words", "seed", "source", "sequence",
    ] {
        assert_eq!(g.body[field], r.body[field], "{field}");
    }
    // A second request with the same seed is the next sequence number: another alpha and beta.
    let r2 = call(
        &app,
        Method::POST,
        "/v1/randomness",
        Some(json!({"seed": "00ff10", "words": 3}).to_string()),
        Some(&key),
    )
    .await;
    assert_eq!(r2.status, StatusCode::CREATED, "{}", r2.text);
    assert_eq!(r2.body["sequence"], 2);
    assert_ne!(r2.body["alpha"], r.body["alpha"]);
    assert_ne!(r2.body["beta"], r.body["beta"]);

    // Audited: one entry per request, with alpha and beta, by alice.
    let page = env
        .store
        .list_audit(&AuditFilter {
            action: Some("randomness.request".into()),
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    assert_eq!(page.entries.len(), 2, "{:?}", page.entries);
    let e = page
        .entries
        .iter()
        .find(|e| e.target.as_deref() == Some(&format!("randomness:{id}")))
        .expect("entry of the first request");
    assert_eq!(e.actor, alice.id.to_string());
    assert_eq!(e.detail["alpha"], r.body["alpha"]);
    assert_eq!(e.detail["sequence"], 1);
    assert_eq!(e.detail["words"], 3);
}

pub(crate) async fn api_refuses_bad_input_with_stable_codes(env: &TestEnv) {
    let app = env.app(&env.service);
    let (_alice, key) = env.user("alice", &["read", "write"]).await;
    let (_bob, bob_key) = env.user("bob", &["read", "write"]).await;
    let (_reader, read_only) = env.user("reader", &["read"]).await;
    let post = |body: String, k: Option<String>| {
        let app = app.clone();
        async move {
            call(
                &app,
                Method::POST,
                "/v1/randomness",
                Some(body),
                k.as_deref(),
            )
            .await
        }
    };
    let k = || Some(key.clone());
    let long_seed = "ab".repeat(65);
    let cases = [
        (
            json!({"seed": "zz", "words": 1}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"seed": "abc", "words": 1}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"seed": long_seed, "words": 1}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"seed": "", "words": 0}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"seed": "", "words": 17}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        // Above this node's max_words (8).
        (
            json!({"seed": "", "words": 9}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"seed": "", "words": -1}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"seed": "", "count": 1}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "{not json".to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
    ];
    for (body, status, code) in cases {
        let r = post(body.clone(), k()).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (status, Some(code)),
            "{body}: {}",
            r.text
        );
    }
    // Nothing was recorded or audited for refused requests.
    let page = env
        .store
        .list_audit(&AuditFilter {
            action: Some("randomness.request".into()),
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    assert!(page.entries.is_empty());
    // 64 bytes of seed and max_words are accepted.
    let r = post(
        json!({"seed": "ab".repeat(64), "words": 8}).to_string(),
        k(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    // Credentials and scopes.
    let r = post(json!({"seed": ""}).to_string(), None).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let r = post(json!({"seed": ""}).to_string(), Some(read_only.clone())).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );

    let get = |path: String, k: String| {
        let app = app.clone();
        async move { call(&app, Method::GET, &path, None, Some(&k)).await }
    };
    for bad in ["abc", "0", "-3", "1.5", "99999999999999999999", "0x10"] {
        let r = get(format!("/v1/randomness/{bad}"), key.clone()).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_request")),
            "{bad}: {}",
            r.text
        );
    }
    for unknown in [
        "12345".to_string(),
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301".to_string(),
    ] {
        let r = get(format!("/v1/randomness/{unknown}"), key.clone()).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{unknown}"
        );
    }
    // Another account's API randomness is not found; its owner (read scope) sees it.
    let r = get(format!("/v1/randomness/{id}"), bob_key).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let r = get(format!("/v1/randomness/{}", id.to_uppercase()), key.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

pub(crate) async fn key_route_shows_the_key_and_its_gateway_status(env: &TestEnv) {
    let pk = env.public_key().to_compressed();
    let app = env.app(&env.service);
    // Public: no credentials needed to learn the key proofs verify with.
    let r = call(&app, Method::GET, "/v1/randomness/key", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["public_key"], hex::encode(pk));
    assert_eq!(r.body["suite"], "ECVRF-P256-SHA256-TAI");
    assert_eq!(r.body["gateway"], "none");
    *env.gateway.key.lock().unwrap() = Some([2u8; 33]);
    let r = call(&app, Method::GET, "/v1/randomness/key", None, None).await;
    assert_eq!(r.body["gateway"], "other_key");
    *env.gateway.key.lock().unwrap() = Some(pk);
    let r = call(&app, Method::GET, "/v1/randomness/key", None, None).await;
    assert_eq!(r.body["gateway"], "registered");
    let offline = env.app(&env.offline);
    let r = call(&offline, Method::GET, "/v1/randomness/key", None, None).await;
    assert_eq!(r.body["gateway"], "no_gateway");
}

pub(crate) async fn gateway_answers_verify_and_are_readable_by_id(env: &TestEnv) {
    let node = neo::PrivateKey::from_bytes(&[0x11; 32]).expect("node key");
    let handler = RandomnessGatewayHandler::new(env.service.clone(), node.clone());
    let requester = UInt160::from_bytes_le([7u8; 20]);
    let call_of = |id: u64, payload: Vec<u8>| GatewayCall {
        request_id: id,
        requester,
        payload,
        tx_hash: format!("0x{}", "ab".repeat(32)),
        block_index: 42,
    };
    let answer = handler.answer(&call_of(77, b"\x02dice".to_vec())).await;
    assert_eq!(answer.code, ResponseCode::Success, "{answer:?}");
    assert_eq!(answer.result.len(), 177);
    let (beta, rest) = answer.result.split_at(32);
    let (proof, signature) = rest.split_at(81);
    // alpha as the gateway computes it, from the stub chain's hash of block 42.
    let mut block_hash = [0u8; 32];
    block_hash[..4].copy_from_slice(&42u32.to_le_bytes());
    block_hash[31] = 0xbb;
    let alpha = vrf::chain_alpha(77, &requester.to_bytes_le(), b"dice", &block_hash);
    let proof = nsl_vrf::Proof::from_bytes(proof).expect("proof");
    assert_eq!(
        nsl_vrf::verify(&env.public_key(), &alpha, &proof).expect("verifies"),
        beta
    );
    // The node key signed id || alpha || beta (what the gateway checks with verifyWithECDsa).
    let beta: [u8; 32] = beta.try_into().unwrap();
    assert!(
        node.public_key()
            .verify(&vrf::signed_message(77, &alpha, &beta), signature)
    );
    assert!(
        !node
            .public_key()
            .verify(&vrf::signed_message(78, &alpha, &beta), signature)
    );
    // Answering again (a restart) gives the same bytes: one output per request.
    let again = handler.answer(&call_of(77, b"\x02dice".to_vec())).await;
    assert_eq!(again.result[..113], answer.result[..113]);

    // Any authenticated account reads it by the gateway's request id.
    let app = env.app(&env.service);
    let (_carol, key) = env.user("carol", &["read"]).await;
    let r = call(&app, Method::GET, "/v1/randomness/77", None, Some(&key)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["source"], "chain");
    assert_eq!(r.body["alpha"], hex::encode(alpha));
    assert_eq!(r.body["beta"], hex::encode(beta));
    assert_eq!(r.body["proof"], hex::encode(proof.to_bytes()));
    assert_eq!(r.body["block_index"], 42);
    assert_eq!(r.body["requester"], requester.to_string());
    assert_eq!(r.body["tx_hash"], format!("0x{}", "ab".repeat(32)));
    let words: Vec<String> = nsl_vrf::words(&beta, 2).iter().map(hex::encode).collect();
    assert_eq!(r.body["words"], json!(words));

    // A payload the gateway would have refused is answered Error (which the gateway refuses in
    // turn: the request stays pending, nothing is recorded).
    let bad = handler.answer(&call_of(78, b"\x11too-many".to_vec())).await;
    assert_eq!(bad.code, ResponseCode::Error);
    let r = call(&app, Method::GET, "/v1/randomness/78", None, Some(&key)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Without a gateway, no answer either.
    let offline = RandomnessGatewayHandler::new(env.offline.clone(), node);
    assert_eq!(
        offline.answer(&call_of(79, b"\x01".to_vec())).await.code,
        ResponseCode::Error
    );
}

/// The sequence numbers of `account`'s API requests: 1, 2, 3, ... per account, distinct under
/// concurrency, alpha recomputable by the client from the response, GET returns the number.
pub(crate) async fn api_sequence_numbers_fix_alpha_per_account_without_gaps(env: &TestEnv) {
    let app = env.app(&env.service);
    let (alice, alice_key) = env.user("alice", &["read", "write"]).await;
    let (bob, bob_key) = env.user("bob", &["read", "write"]).await;
    let post = |key: String, seed: &'static str| {
        let app = app.clone();
        async move {
            let r = call(
                &app,
                Method::POST,
                "/v1/randomness",
                Some(json!({"seed": seed}).to_string()),
                Some(&key),
            )
            .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            r.body
        }
    };
    // What a client checks: alpha from its account id, the returned sequence and its seed;
    // the proof verifies under the published key.
    let check = |account: String, body: &serde_json::Value, seed: &[u8]| {
        let sequence = body["sequence"].as_u64().expect("sequence");
        let alpha = hex32(&body["alpha"]);
        assert_eq!(alpha, vrf::offchain_alpha(&account, sequence, seed));
        let proof = nsl_vrf::Proof::from_bytes(
            &hex::decode(body["proof"].as_str().unwrap()).expect("proof hex"),
        )
        .expect("proof");
        let beta = nsl_vrf::verify(&env.public_key(), &alpha, &proof).expect("verifies");
        assert_eq!(beta, hex32(&body["beta"]));
        sequence
    };
    let a = alice.id.to_string();
    let b = bob.id.to_string();

    let mut alice_seqs = Vec::new();
    let mut alice_first = serde_json::Value::Null;
    for _ in 0..3 {
        let body = post(alice_key.clone(), "0a").await;
        alice_seqs.push(check(a.clone(), &body, &[0x0a]));
        if alice_first.is_null() {
            alice_first = body;
        }
    }
    assert_eq!(alice_seqs, [1, 2, 3]);
    // Independent per account: bob starts at 1.
    let body = post(bob_key.clone(), "0a").await;
    assert_eq!(check(b.clone(), &body, &[0x0a]), 1);
    // Same seed and number, another account: another alpha.
    assert_ne!(body["alpha"], alice_first["alpha"]);

    // Concurrent requests of one account get distinct numbers, with no gap: 4..=11.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        tasks.spawn(post(alice_key.clone(), "0b"));
    }
    let bodies = tasks.join_all().await;
    let mut seqs: Vec<u64> = bodies
        .iter()
        .map(|b| check(a.clone(), b, &[0x0b]))
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (4..=11).collect::<Vec<u64>>());

    // GET returns the number and the same alpha; bob does not see alice's request.
    let last = &bodies[0];
    let id = last["id"].as_str().expect("id");
    let g = call(
        &app,
        Method::GET,
        &format!("/v1/randomness/{id}"),
        None,
        Some(&alice_key),
    )
    .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    assert_eq!(g.body["sequence"], last["sequence"]);
    assert_eq!(g.body["alpha"], last["alpha"]);
    let other = call(
        &app,
        Method::GET,
        &format!("/v1/randomness/{id}"),
        None,
        Some(&bob_key),
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);

    // The store refuses a second record under a number already taken.
    let mut dup = nsl_randomness::store::get(&env.store, id)
        .await
        .expect("get")
        .expect("record");
    dup.id = uuid::Uuid::new_v4().to_string();
    assert!(
        !nsl_randomness::store::insert_sequenced(&env.store, &dup)
            .await
            .expect("insert"),
        "sequence {:?} taken twice",
        dup.sequence
    );
}
