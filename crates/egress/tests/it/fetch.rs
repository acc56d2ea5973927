//! Fetch behaviour under the development policy (plain HTTP and private hosts allowed) against
//! local servers: success, status mapping, size cap, content type, timeout, redirects, headers.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use nsl_egress::{Egress, EgressError, EgressPolicy, ErrorKind, RequestOptions};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::{Server, read_request_head, serve, serve_raw};

const LIMIT: u64 = 1024;

fn dev_policy() -> EgressPolicy {
    EgressPolicy {
        max_response_bytes: LIMIT,
        ..EgressPolicy::development()
    }
}

fn dev() -> Egress {
    Egress::new(dev_policy()).expect("client")
}

fn json(body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], body)
}

fn sized(len: usize) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "x".repeat(len),
    )
}

async fn redirect_chain(Path(n): Path<u32>) -> Response {
    if n == 0 {
        json(r#"{"end":true}"#).into_response()
    } else {
        (
            StatusCode::FOUND,
            [(header::LOCATION, format!("/r/{}", n - 1))],
        )
            .into_response()
    }
}

async fn echo_method(method: Method, body: Bytes) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain")],
        format!("{method} {}", String::from_utf8_lossy(&body)),
    )
}

async fn echo_header(headers: HeaderMap) -> impl IntoResponse {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("<none>")
        .to_owned();
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("<none>")
        .to_owned();
    (
        [(header::CONTENT_TYPE, "text/plain")],
        format!("{key}|{ua}"),
    )
}

fn chunked_body(chunks: usize, size: usize) -> Body {
    let stream = futures::stream::iter(
        (0..chunks).map(move |_| Ok::<_, Infallible>(Bytes::from(vec![b'y'; size]))),
    );
    Body::from_stream(stream)
}

fn app() -> Router {
    Router::new()
        .route("/json", get(|| async { json(r#"{"price":"42.5"}"#) }))
        .route(
            "/text",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "Text/Plain; Charset=UTF-8")],
                    "hello",
                )
            }),
        )
        .route(
            "/html",
            get(|| async { ([(header::CONTENT_TYPE, "text/html")], "<p>") }),
        )
        .route(
            "/no-type",
            get(|| async { Response::new(Body::from("{}")) }),
        )
        .route("/exact", get(|| async { sized(LIMIT as usize) }))
        .route("/big", get(|| async { sized(LIMIT as usize + 1) }))
        .route("/600", get(|| async { sized(600) }))
        .route(
            "/chunked-big",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    chunked_body(8, 256),
                )
            }),
        )
        .route(
            "/chunked-ok",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    chunked_body(4, 256),
                )
            }),
        )
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route("/empty", get(|| async { StatusCode::NO_CONTENT }))
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, json(r#"{"error":1}"#)) }),
        )
        .route("/r/{n}", get(redirect_chain))
        .route("/echo-method", any(echo_method))
        .route(
            "/see-other",
            any(|| async { (StatusCode::SEE_OTHER, [(header::LOCATION, "/echo-method")]) }),
        )
        .route(
            "/temporary",
            any(|| async {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, "/echo-method")],
                )
            }),
        )
        .route("/no-location", get(|| async { StatusCode::FOUND }))
        .route("/echo-header", get(echo_header))
}

async fn app_server() -> Server {
    serve("127.0.0.1", app()).await
}

#[tokio::test]
async fn json_is_fetched() {
    let server = app_server().await;
    let resp = dev()
        .get(&server.url("/json"), &RequestOptions::default())
        .await
        .expect("fetch");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.redirects, 0);
    assert_eq!(resp.content_type.as_deref(), Some("application/json"));
    let value: serde_json::Value = serde_json::from_slice(&resp.body).expect("json body");
    assert_eq!(value["price"], "42.5");
}

#[tokio::test]
async fn content_type_parameters_are_ignored() {
    let server = app_server().await;
    let resp = dev()
        .get(&server.url("/text"), &RequestOptions::default())
        .await
        .expect("text/plain with charset");
    assert_eq!(resp.text(), Some("hello"));
}

#[tokio::test]
async fn wrong_or_missing_content_type_is_refused() {
    let server = app_server().await;
    let egress = dev();
    let err = egress
        .get(&server.url("/html"), &RequestOptions::default())
        .await
        .expect_err("html");
    assert!(matches!(
        &err,
        EgressError::ContentTypeNotSupported { content_type: Some(t) } if t == "text/html"
    ));
    let err = egress
        .get(&server.url("/no-type"), &RequestOptions::default())
        .await
        .expect_err("no content type");
    assert!(matches!(
        err,
        EgressError::ContentTypeNotSupported { content_type: None }
    ));
}

#[tokio::test]
async fn not_found_and_other_statuses() {
    let server = app_server().await;
    let egress = dev();
    let err = egress
        .get(
            &server.url("/missing?apikey=TOPSECRET"),
            &RequestOptions::default(),
        )
        .await
        .expect_err("404");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.status(), Some(404));
    assert!(!err.to_string().contains("TOPSECRET"));
    assert!(err.to_string().contains("/missing?…"), "{err}");

    let err = egress
        .get(&server.url("/fail"), &RequestOptions::default())
        .await
        .expect_err("500");
    assert!(matches!(err, EgressError::Http { status: 500, .. }));

    let opts = RequestOptions {
        accept_error_status: true,
        ..RequestOptions::default()
    };
    let resp = egress
        .get(&server.url("/fail"), &opts)
        .await
        .expect("accepted");
    assert_eq!(resp.status, 500);
    assert_eq!(resp.body.as_ref(), br#"{"error":1}"#);

    let resp = egress
        .get(&server.url("/empty"), &RequestOptions::default())
        .await
        .expect("204 needs no content type");
    assert_eq!(resp.status, 204);
    assert!(resp.body.is_empty());

    let err = egress
        .get(&server.url("/no-location"), &RequestOptions::default())
        .await
        .expect_err("302 without Location");
    assert_eq!(err.status(), Some(302));
}

#[tokio::test]
async fn body_cap_is_enforced() {
    let server = app_server().await;
    let egress = dev();
    let opts = RequestOptions::default();
    let resp = egress
        .get(&server.url("/exact"), &opts)
        .await
        .expect("exactly the cap");
    assert_eq!(resp.body.len() as u64, LIMIT);

    let err = egress
        .get(&server.url("/big"), &opts)
        .await
        .expect_err("cap + 1");
    assert!(matches!(err, EgressError::TooLarge { limit: LIMIT }));

    let resp = egress
        .get(&server.url("/chunked-ok"), &opts)
        .await
        .expect("chunked within the cap");
    assert_eq!(resp.body.len(), 1024);
    assert!(resp.headers.get(header::CONTENT_LENGTH).is_none());

    let err = egress
        .get(&server.url("/chunked-big"), &opts)
        .await
        .expect_err("chunked over the cap");
    assert!(matches!(err, EgressError::TooLarge { limit: LIMIT }));
}

#[tokio::test]
async fn per_call_cap_only_tightens() {
    let server = app_server().await;
    let egress = dev();
    let tighter = RequestOptions {
        max_response_bytes: Some(500),
        ..RequestOptions::default()
    };
    let err = egress
        .get(&server.url("/600"), &tighter)
        .await
        .expect_err("600 > 500");
    assert!(matches!(err, EgressError::TooLarge { limit: 500 }));

    let looser = RequestOptions {
        max_response_bytes: Some(1 << 30),
        ..RequestOptions::default()
    };
    let err = egress
        .get(&server.url("/big"), &looser)
        .await
        .expect_err("the policy cap still holds");
    assert!(matches!(err, EgressError::TooLarge { limit: LIMIT }));
}

/// A raw chunked response that never announces its length and keeps sending.
#[tokio::test]
async fn raw_endless_chunked_body_is_cut_at_the_cap() {
    let (server, _) = serve_raw("127.0.0.1", |mut stream: TcpStream| async move {
        let _ = read_request_head(&mut stream).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = format!("100\r\n{}\r\n", "z".repeat(256));
        // Far more than the cap; stops when the client hangs up.
        for _ in 0..100_000 {
            if stream.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
    })
    .await;
    let err = dev()
        .get(&server.url("/"), &RequestOptions::default())
        .await
        .expect_err("endless body");
    assert!(
        matches!(err, EgressError::TooLarge { limit: LIMIT }),
        "{err:?}"
    );
}

#[tokio::test]
async fn announced_oversize_is_refused_before_reading() {
    let (server, _) = serve_raw("127.0.0.1", |mut stream: TcpStream| async move {
        let _ = read_request_head(&mut stream).await;
        // Announces 10 MB, sends a few bytes, then stalls: only the header can explain TooLarge.
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10000000\r\n\r\n{\"a\":";
        let _ = stream.write_all(head.as_bytes()).await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
    })
    .await;
    let err = dev()
        .get(&server.url("/"), &RequestOptions::default())
        .await
        .expect_err("announced oversize");
    assert!(
        matches!(err, EgressError::TooLarge { limit: LIMIT }),
        "{err:?}"
    );
}

async fn stalling_server(send_head: bool) -> Server {
    let (server, _) = serve_raw("127.0.0.1", move |mut stream: TcpStream| async move {
        let _ = read_request_head(&mut stream).await;
        if send_head {
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{";
            let _ = stream.write_all(head.as_bytes()).await;
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    })
    .await;
    server
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = stalling_server(false).await;
    let egress = Egress::new(EgressPolicy {
        timeout_ms: 300,
        ..dev_policy()
    })
    .expect("client");
    let err = egress
        .get(&server.url("/"), &RequestOptions::default())
        .await
        .expect_err("stall");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
}

#[tokio::test]
async fn a_body_that_stalls_times_out() {
    let server = stalling_server(true).await;
    let egress = Egress::new(EgressPolicy {
        timeout_ms: 300,
        ..dev_policy()
    })
    .expect("client");
    let err = egress
        .get(&server.url("/"), &RequestOptions::default())
        .await
        .expect_err("stall in body");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
}

#[tokio::test]
async fn per_call_timeout_tightens_the_policy() {
    let server = stalling_server(false).await;
    let opts = RequestOptions {
        timeout: Some(Duration::from_millis(200)),
        ..RequestOptions::default()
    };
    let err = dev().get(&server.url("/"), &opts).await.expect_err("stall");
    assert!(
        matches!(err, EgressError::Timeout { after } if after == Duration::from_millis(200)),
        "{err:?}"
    );
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_maximum() {
    let server = app_server().await;
    let egress = dev();
    let resp = egress
        .get(&server.url("/r/2"), &RequestOptions::default())
        .await
        .expect("two redirects");
    assert_eq!(resp.redirects, 2);
    assert_eq!(resp.url.path(), "/r/0");
    assert_eq!(resp.body.as_ref(), br#"{"end":true}"#);

    let err = egress
        .get(&server.url("/r/3"), &RequestOptions::default())
        .await
        .expect_err("three redirects");
    assert!(
        matches!(err, EgressError::TooManyRedirects { max: 2 }),
        "{err:?}"
    );

    let none = Egress::new(EgressPolicy {
        max_redirects: 0,
        ..dev_policy()
    })
    .expect("client");
    let err = none
        .get(&server.url("/r/1"), &RequestOptions::default())
        .await
        .expect_err("no redirects allowed");
    assert_eq!(err.kind(), ErrorKind::TooManyRedirects);
}

#[tokio::test]
async fn redirect_method_rules() {
    let server = app_server().await;
    let egress = dev();
    let opts = RequestOptions {
        headers: vec![("content-type".into(), "text/plain".into())],
        ..RequestOptions::default()
    };
    let resp = egress
        .post(
            &server.url("/see-other"),
            Bytes::from_static(b"payload"),
            &opts,
        )
        .await
        .expect("303");
    assert_eq!(resp.text(), Some("GET "));
    let resp = egress
        .post(
            &server.url("/temporary"),
            Bytes::from_static(b"payload"),
            &opts,
        )
        .await
        .expect("307");
    assert_eq!(resp.text(), Some("POST payload"));
}

#[tokio::test]
async fn caller_headers_stay_within_the_origin() {
    let a = app_server().await;
    let b = app_server().await;
    let redirect_to_b = Router::new()
        .route(
            "/same",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/echo-header")]) }),
        )
        .merge(app());
    let b_url = b.url("/echo-header");
    let redirect_to_b = redirect_to_b.route(
        "/cross",
        get(move || {
            let to = b_url.clone();
            async move { (StatusCode::FOUND, [(header::LOCATION, to)]) }
        }),
    );
    let origin = serve("127.0.0.1", redirect_to_b).await;
    let egress = dev();
    let opts = RequestOptions {
        headers: vec![("X-Api-Key".into(), "TOPSECRET".into())],
        ..RequestOptions::default()
    };
    let ua = &egress.policy().user_agent;

    let direct = egress
        .get(&a.url("/echo-header"), &opts)
        .await
        .expect("direct");
    assert_eq!(direct.text(), Some(format!("TOPSECRET|{ua}").as_str()));
    let same = egress
        .get(&origin.url("/same"), &opts)
        .await
        .expect("same origin");
    assert_eq!(same.text(), Some(format!("TOPSECRET|{ua}").as_str()));
    let cross = egress
        .get(&origin.url("/cross"), &opts)
        .await
        .expect("cross origin");
    assert_eq!(cross.text(), Some(format!("<none>|{ua}").as_str()));
    assert!(!format!("{opts:?} {cross:?}").contains("TOPSECRET"));
}

#[tokio::test]
async fn transport_headers_cannot_be_set() {
    let egress = dev();
    for name in ["Host", "content-length", "Transfer-Encoding", "bad header"] {
        let opts = RequestOptions {
            headers: vec![(name.into(), "x".into())],
            ..RequestOptions::default()
        };
        let err = egress
            .get("http://127.0.0.1:9/", &opts)
            .await
            .expect_err(name);
        assert!(
            matches!(err, EgressError::InvalidHeader { .. }),
            "{name}: {err:?}"
        );
    }
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    // Bind then drop to get a port with nothing listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let err = dev()
        .get(
            &format!("http://127.0.0.1:{port}/?k=TOPSECRET"),
            &RequestOptions::default(),
        )
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Connect, "{err:?}");
    assert!(!format!("{err} {err:?}").contains("TOPSECRET"));
}

#[test]
fn invalid_policies_are_refused_at_construction() {
    let err = Egress::new(EgressPolicy {
        timeout_ms: 0,
        ..EgressPolicy::default()
    })
    .expect_err("zero timeout");
    assert!(matches!(err, EgressError::InvalidPolicy(_)));
}

/// A source that keeps its connections open is fetched over one connection (no TCP or TLS
/// handshake per fetch): the client pools connections per host. A source that closes every
/// connection (`connection: close`, like the oracle bench's) costs a handshake per fetch.
#[tokio::test]
async fn fetches_of_a_keep_alive_source_share_one_connection() {
    let (server, accepted) = serve_raw("127.0.0.1", |mut stream: TcpStream| async move {
        loop {
            if read_request_head(&mut stream).await.is_empty() {
                return;
            }
            let body = r#"{"p":1}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            if stream.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
        }
    })
    .await;
    let egress = dev();
    for _ in 0..5 {
        let r = egress
            .get(&server.url("/p"), &RequestOptions::default())
            .await
            .unwrap();
        assert_eq!((r.status, r.body.as_ref()), (200, &br#"{"p":1}"#[..]));
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}
