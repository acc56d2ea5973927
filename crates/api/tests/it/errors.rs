//! The one error format: request ids, 404/405/400/415/422/413, timeout, panic.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::routing::get;
use serde_json::json;

use crate::both_backends;
use crate::common::{Backend, CLIENT, app, app_with, call, request, send, wallet_login};

async fn unknown_routes_and_methods(b: Backend) {
    let t = app(b).await;
    call(&t.app, Method::GET, "/v1/nope", None, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    call(&t.app, Method::GET, "/", None, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let r = call(&t.app, Method::DELETE, "/v1/me", None, None).await;
    r.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    // Unauthenticated.
    call(&t.app, Method::GET, "/v1/me", None, None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
}
both_backends!(unknown_routes_and_methods);

async fn request_ids_are_generated_or_propagated(b: Backend) {
    let t = app(b).await;
    let r = send(
        &t.app,
        request(
            Method::GET,
            "/health",
            Body::empty(),
            &[("x-request-id", "trace-42")],
            CLIENT,
        ),
    )
    .await;
    assert_eq!(r.headers["x-request-id"], "trace-42");
    let r = send(
        &t.app,
        request(
            Method::GET,
            "/nope",
            Body::empty(),
            &[("x-request-id", "trace-43")],
            CLIENT,
        ),
    )
    .await;
    assert_eq!(r.body["request_id"], "trace-43");
    // Unsafe ids are replaced.
    let r = send(
        &t.app,
        request(
            Method::GET,
            "/nope",
            Body::empty(),
            &[("x-request-id", "a b<script>")],
            CLIENT,
        ),
    )
    .await;
    let id = r.str("request_id");
    assert_ne!(id, "a b<script>");
    assert_eq!(id.len(), 32);
    let a = call(&t.app, Method::GET, "/health", None, None).await;
    let b2 = call(&t.app, Method::GET, "/health", None, None).await;
    assert_ne!(a.headers["x-request-id"], b2.headers["x-request-id"]);
}
both_backends!(request_ids_are_generated_or_propagated);

async fn bad_bodies(b: Backend) {
    let t = app(b).await;
    let json = [("content-type", "application/json")];
    // Syntax error -> 400 invalid_json.
    let r = send(
        &t.app,
        request(
            Method::POST,
            "/v1/auth/challenge",
            Body::from("{\"address\": "),
            &json,
            CLIENT,
        ),
    )
    .await;
    r.assert_error(StatusCode::BAD_REQUEST, "invalid_json");
    // Wrong shape -> 422 validation_failed.
    let r = send(
        &t.app,
        request(
            Method::POST,
            "/v1/auth/challenge",
            Body::from("{\"addr\": 1}"),
            &json,
            CLIENT,
        ),
    )
    .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    // Not an address -> 422.
    let r = call(
        &t.app,
        Method::POST,
        "/v1/auth/challenge",
        Some(json!({"address": "NotAnAddress"})),
        None,
    )
    .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    // No content type -> 415.
    let r = send(
        &t.app,
        request(
            Method::POST,
            "/v1/auth/challenge",
            Body::from("{}"),
            &[],
            CLIENT,
        ),
    )
    .await;
    r.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
}
both_backends!(bad_bodies);

async fn oversized_bodies_get_413(b: Backend) {
    let t = app_with(b, |c| c.api.body_limit_bytes = 1024, Router::new()).await;
    let big = format!("{{\"address\": \"{}\"}}", "N".repeat(4096));
    // With Content-Length.
    let r = send(
        &t.app,
        request(
            Method::POST,
            "/v1/auth/challenge",
            Body::from(big.clone()),
            &[("content-type", "application/json")],
            CLIENT,
        ),
    )
    .await;
    r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // Streamed without Content-Length.
    let stream = futures::stream::iter(vec![Ok::<_, std::io::Error>(bytes::Bytes::from(big))]);
    let r = send(
        &t.app,
        request(
            Method::POST,
            "/v1/auth/challenge",
            Body::from_stream(stream),
            &[("content-type", "application/json")],
            CLIENT,
        ),
    )
    .await;
    r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // Authenticated endpoint too.
    let s = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    let r = call(
        &t.app,
        Method::POST,
        "/v1/apikeys",
        Some(json!({"name": "x".repeat(2000)})),
        Some(&s.access),
    )
    .await;
    r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}
both_backends!(oversized_bodies_get_413);

async fn panicking() -> &'static str {
    let detail = std::hint::black_box("db-password-in-panic");
    panic!("boom: {detail}")
}

async fn slow_handlers_time_out_and_panics_are_contained(b: Backend) {
    let extra = Router::new()
        .route(
            "/v1/test/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route("/v1/test/panic", get(panicking));
    let t = app_with(b, |c| c.api.request_timeout_ms = 200, extra).await;
    let r = call(&t.app, Method::GET, "/v1/test/slow", None, None).await;
    r.assert_error(StatusCode::GATEWAY_TIMEOUT, "timeout");
    let r = call(&t.app, Method::GET, "/v1/test/panic", None, None).await;
    r.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "internal");
    assert!(
        !r.text.contains("db-password"),
        "no panic details: {}",
        r.text
    );
    // The router still serves after a panic.
    assert_eq!(
        call(&t.app, Method::GET, "/health", None, None)
            .await
            .status,
        StatusCode::OK
    );
}
both_backends!(slow_handlers_time_out_and_panics_are_contained);
