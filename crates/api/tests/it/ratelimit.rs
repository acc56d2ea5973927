//! Rate limits: per IP by route group, per credential; 429 + Retry-After; counted in metrics.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode};
use nsl_config::{Bucket, GroupLimits};
use serde_json::json;

use crate::both_backends;
use crate::common::{Backend, app_with, call, create_key, request, send, wallet_login};

async fn per_ip_auth_group_limit(b: Backend) {
    let t = app_with(
        b,
        |c| {
            c.rate_limit.groups.auth = GroupLimits {
                per_ip: Some(Bucket {
                    rate_per_sec: 0.01,
                    burst: 3,
                }),
                per_api_key: None,
            }
        },
        Router::new(),
    )
    .await;
    let body = || Body::from(json!({"address": "NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6i"}).to_string());
    let ct = [("content-type", "application/json")];
    for _ in 0..3 {
        let r = send(
            &t.app,
            request(
                Method::POST,
                "/v1/auth/challenge",
                body(),
                &ct,
                [10, 0, 0, 1],
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let r = send(
        &t.app,
        request(
            Method::POST,
            "/v1/auth/challenge",
            body(),
            &ct,
            [10, 0, 0, 1],
        ),
    )
    .await;
    r.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry: u64 = r.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=100).contains(&retry), "{retry}");
    // Another client IP is not affected, nor are other groups from the same IP.
    let r = send(
        &t.app,
        request(
            Method::POST,
            "/v1/auth/challenge",
            body(),
            &ct,
            [10, 0, 0, 2],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        &t.app,
        request(Method::GET, "/v1/me", Body::empty(), &[], [10, 0, 0, 1]),
    )
    .await;
    r.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");

    let m = call(&t.app, Method::GET, "/metrics", None, None).await;
    let line = m
        .text
        .lines()
        .find(|l| {
            l.starts_with("nsl_rate_limit_rejections_total")
                && l.contains(r#"group="auth""#)
                && l.contains(r#"scope="ip""#)
        })
        .unwrap_or_else(|| panic!("no rejection metric in {}", m.text));
    let n: f64 = line
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("value");
    assert!(n >= 1.0);
    assert!(m.text.contains(r#"status="429""#));
}
both_backends!(per_ip_auth_group_limit);

async fn per_key_read_limit(b: Backend) {
    let t = app_with(
        b,
        |c| {
            c.rate_limit.groups.read = GroupLimits {
                per_ip: None,
                per_api_key: Some(Bucket {
                    rate_per_sec: 0.01,
                    burst: 2,
                }),
            }
        },
        Router::new(),
    )
    .await;
    let s = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    let k1 = create_key(&t.app, &s.access, json!({"name": "a"}))
        .await
        .str("key");
    let k2 = create_key(&t.app, &s.access, json!({"name": "b"}))
        .await
        .str("key");
    for _ in 0..2 {
        assert_eq!(
            call(&t.app, Method::GET, "/v1/me", None, Some(&k1))
                .await
                .status,
            StatusCode::OK
        );
    }
    let r = call(&t.app, Method::GET, "/v1/me", None, Some(&k1)).await;
    r.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(r.headers.contains_key("retry-after"));
    // The other key of the same account has its own bucket; writes are another group.
    assert_eq!(
        call(&t.app, Method::GET, "/v1/me", None, Some(&k2))
            .await
            .status,
        StatusCode::OK
    );
    // A wrong key with k1's prefix does not consume k1's bucket: it is refused before the limit.
    let mut forged = k2.clone();
    forged.replace_range(4..16, &k1[4..16]);
    call(&t.app, Method::GET, "/v1/me", None, Some(&forged))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
}
both_backends!(per_key_read_limit);
