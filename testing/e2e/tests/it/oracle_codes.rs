//! End to end: every way a fetch can fail ends with the right Neo response code (and an empty
//! result) in the consumer's callback on chain, on both paths (the NSL gateway and Neo's native
//! OracleContract).
//!
//! One privnet for the whole file (nextest runs each test in its own process, so the cases share
//! one test): a key designated for the Oracle role, the gateway and both example consumers
//! deployed (`nsl_e2e::OracleChain`), the oracle service (`nsl_oracle::service`) running
//! in-process on a fresh SQLite store, with a development egress policy whose total fetch budget
//! is short ([`FETCH_TIMEOUT`]) so the timeout case stays fast. A local HTTP server
//! (`nsl_e2e::http_server`) serves a route per case. Each case is asked once through the gateway
//! consumer and once through the native consumer; then:
//!
//! - gateway: `getResult(id)` of the consumer holds `[code, result]`;
//! - native: the consumer's `DataReceived(url, userData, code, result)` events, read from the
//!   chain's blocks (not from the node's records), one per case (the URL names the case);
//! - the node's own rows end `confirmed` with the same code.
//!
//! Every mismatch is collected and reported together.

use std::sync::Arc;
use std::time::{Duration, Instant};

use neo::UInt160;
use nsl_e2e::{OracleChain, OracleChainConfig, Route, http_server, test_block_time};
use nsl_egress::{Egress, EgressPolicy};
use nsl_oracle::ResponseCode;
use nsl_oracle::service::{OracleStore, RequestFilter, RequestKind, RequestState, ServiceConfig};
use nsl_store::Store;
use tokio::sync::watch;

/// Total time budget of a fetch in this file's service; `/slow` answers much later.
const FETCH_TIMEOUT: Duration = Duration::from_millis(1500);
/// How late `/slow` answers.
const SLOW_DELAY: Duration = Duration::from_secs(20);
/// How long all answers may take to arrive on chain.
const ANSWER_DEADLINE: Duration = Duration::from_secs(90);

/// One failure (or the control success): the route asked for, the filter, the expected code
/// and result.
struct Case {
    name: &'static str,
    path: &'static str,
    filter: &'static str,
    code: ResponseCode,
    result: &'static [u8],
}

fn cases() -> Vec<Case> {
    let case = |name, path, filter, code| Case {
        name,
        path,
        filter,
        code,
        result: b"",
    };
    vec![
        // The control: the same pipeline succeeds for a good source.
        Case {
            result: b"[42.17]",
            ..case("success", "/price", "$.data.price", ResponseCode::Success)
        },
        case(
            "text/html",
            "/html",
            "",
            ResponseCode::ContentTypeNotSupported,
        ),
        case(
            "image/png",
            "/png",
            "",
            ResponseCode::ContentTypeNotSupported,
        ),
        case("timeout", "/slow", "$.data.price", ResponseCode::Timeout),
        // JSONPath syntax errors: neo-go answers Error, as docs/oracle.md says.
        case("unclosed bracket", "/price", "$.data[", ResponseCode::Error),
        case("no root", "/price", "data.price", ResponseCode::Error),
        case("filter on text", "/text", "$.a", ResponseCode::Error),
        case("404", "/missing", "$.data.price", ResponseCode::NotFound),
        case("body too large", "/big", "", ResponseCode::ResponseTooLarge),
        case(
            "filtered result too large",
            "/nested",
            "$.a.b.c['d','d','d','d']",
            ResponseCode::ResponseTooLarge,
        ),
    ]
}

fn routes() -> Vec<(&'static str, Route)> {
    let png: Vec<u8> = [
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d,
    ]
    .into_iter()
    .chain([0xff; 32])
    .collect();
    // 70,000 bytes of JSON: over the 65,535-byte body limit.
    let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(70_000));
    // 17,000 bytes of JSON; a union naming `d` four times gives a 68,000+ byte result.
    let nested = format!(
        r#"{{"a":{{"b":{{"c":{{"d":"{}"}}}}}}}}"#,
        "y".repeat(17_000)
    );
    vec![
        (
            "/html",
            Route::ok("text/html; charset=utf-8", "<html><body>42</body></html>"),
        ),
        ("/png", Route::ok("image/png", png)),
        (
            "/slow",
            Route::ok("application/json", nsl_e2e::PRICE_BODY).delayed(SLOW_DELAY),
        ),
        ("/text", Route::ok("text/plain", "forty-two")),
        ("/big", Route::ok("application/json", big)),
        ("/nested", Route::ok("application/json", nested)),
    ]
}

/// `(url, code, result)` of every `DataReceived` event `consumer` emitted in blocks
/// `from..count`.
async fn native_callbacks(
    rpc: &neo_rpc::RpcClient,
    consumer: &UInt160,
    from: u32,
) -> Vec<(String, i64, Vec<u8>)> {
    let count = rpc.get_block_count().await.unwrap();
    let mut out = Vec::new();
    for index in from..count {
        let block = rpc.get_block(index).await.unwrap();
        for tx in &block.tx {
            let log = rpc.get_application_log(&tx.hash).await.unwrap();
            for n in log.executions.iter().flat_map(|e| e.notifications.iter()) {
                if n.contract == *consumer && n.eventname == "DataReceived" {
                    let args = n.args();
                    out.push((
                        args[0].as_string().unwrap(),
                        args[2].as_i64().unwrap(),
                        args[3].as_bytes().unwrap(),
                    ));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn fetch_failures_reach_the_consumers_with_their_response_codes() {
    let (env, server) = tokio::join!(
        OracleChain::start(OracleChainConfig::with_block_time(test_block_time())),
        http_server(routes())
    );
    let rpc = env.rpc().clone();
    let db = tempfile::tempdir().unwrap();
    let store = Store::connect_url(
        &format!("sqlite://{}", db.path().join("nsl.db").display()),
        4,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    store.migrate(nsl_node::MIGRATIONS).await.unwrap();
    let egress = Egress::new(EgressPolicy {
        timeout_ms: u64::try_from(FETCH_TIMEOUT.as_millis()).unwrap(),
        ..EgressPolicy::development()
    })
    .unwrap();
    let first_block = rpc.get_block_count().await.unwrap();
    let service = env
        .service(
            rpc.clone(),
            Arc::new(store.clone()) as Arc<dyn OracleStore>,
            egress,
            ServiceConfig {
                poll_interval: test_block_time() / 2,
                start_block: Some(first_block),
                ..ServiceConfig::default()
            },
        )
        .await;
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(service.run(rx));

    // Each case through both consumers; the query string names the case (and is ignored by the
    // server), so every native callback (userData = url) maps back to its case.
    let cases = cases();
    let url = |c: &Case| format!("{}?case={}", server.url(c.path), c.name.replace(' ', "-"));
    let mut gateway_ids = Vec::new();
    for c in &cases {
        gateway_ids.push(env.gateway_request(&url(c), c.filter).await);
        env.native_request(&url(c), c.filter).await;
    }

    // Wait for every answer on chain.
    let mut failures = Vec::new();
    let mut gateway_results = Vec::new();
    for (c, id) in cases.iter().zip(&gateway_ids) {
        gateway_results.push(env.gateway_result(*id, ANSWER_DEADLINE).await);
        if gateway_results.last().unwrap().is_none() {
            failures.push(format!("gateway {}: no answer on chain", c.name));
        }
    }
    let deadline = Instant::now() + ANSWER_DEADLINE;
    let callbacks = loop {
        let callbacks = native_callbacks(&rpc, &env.native_consumer, first_block).await;
        if callbacks.len() >= cases.len() || Instant::now() > deadline {
            break callbacks;
        }
        tokio::time::sleep(test_block_time() * 2).await;
    };

    // Gateway: the consumer's stored [code, result].
    for (c, got) in cases.iter().zip(&gateway_results) {
        if let Some((code, result)) = got
            && (*code != i64::from(c.code as u8) || result.as_slice() != c.result)
        {
            failures.push(format!(
                "gateway {}: got code {code:#04x} result {:?}, expected {:#04x} {:?}",
                c.name,
                String::from_utf8_lossy(&result[..result.len().min(64)]),
                c.code as u8,
                String::from_utf8_lossy(c.result)
            ));
        }
    }
    // Native: exactly one callback per case, with its code and result.
    for c in &cases {
        let mine: Vec<_> = callbacks.iter().filter(|(u, ..)| *u == url(c)).collect();
        match mine.as_slice() {
            [(_, code, result)] => {
                if *code != i64::from(c.code as u8) || result.as_slice() != c.result {
                    failures.push(format!(
                        "native {}: got code {code:#04x} result {:?}, expected {:#04x} {:?}",
                        c.name,
                        String::from_utf8_lossy(&result[..result.len().min(64)]),
                        c.code as u8,
                        String::from_utf8_lossy(c.result)
                    ));
                }
            }
            other => failures.push(format!(
                "native {}: {} callbacks on chain, expected 1",
                c.name,
                other.len()
            )),
        }
    }
    // The node's own records agree: every row confirmed with the case's code.
    let rows = store
        .list_requests(&RequestFilter {
            limit: 100,
            ..RequestFilter::default()
        })
        .await
        .unwrap();
    for c in &cases {
        for kind in [RequestKind::Gateway, RequestKind::Native] {
            let row = rows.iter().find(|r| r.kind == kind && r.url == url(c));
            match row {
                Some(r)
                    if r.state == RequestState::Confirmed
                        && r.code == Some(i64::from(c.code as u8)) => {}
                Some(r) => failures.push(format!(
                    "{} row {}: state {} code {:?}",
                    kind.as_str(),
                    c.name,
                    r.state.as_str(),
                    r.code
                )),
                None => failures.push(format!("{} row {}: missing", kind.as_str(), c.name)),
            }
        }
    }
    assert_eq!(rows.len(), 2 * cases.len(), "one row per request");

    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} answers wrong:\n{}",
        failures.len(),
        2 * cases.len(),
        failures.join("\n")
    );
}
