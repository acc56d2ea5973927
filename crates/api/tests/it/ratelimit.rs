//! Rate limits: per IP by route group, per credential; 429 + Retry-After; counted in metrics.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode};
use nsl_config::{Bucket, GroupLimits};
use nsl_store::{AuditFilter, AuditStore as _};
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
                per_account: None,
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
                per_account: None,
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

fn one_per_ip(c: &mut nsl_config::Config, burst: u32) {
    c.rate_limit.groups.auth = GroupLimits {
        per_ip: Some(Bucket {
            rate_per_sec: 0.001,
            burst,
        }),
        per_api_key: None,
        per_account: None,
    };
}

async fn challenge_from(
    t: &crate::common::TestApp,
    xff: &str,
    peer: [u8; 4],
) -> crate::common::Resp {
    let body = Body::from(json!({"address": "NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6i"}).to_string());
    send(
        &t.app,
        request(
            Method::POST,
            "/v1/auth/challenge",
            body,
            &[
                ("content-type", "application/json"),
                ("x-forwarded-for", xff),
            ],
            peer,
        ),
    )
    .await
}

/// Behind one proxy (`trust_forwarded_for`, no `trusted_proxies`) only the last entry counts: a
/// client varying the entries it sends itself (left of the proxy's) gets no new bucket, also when
/// the proxy writes `address:port`.
async fn spoofed_forwarded_for_does_not_change_the_bucket(b: Backend) {
    let t = app_with(
        b,
        |c| {
            c.api.trust_forwarded_for = true;
            one_per_ip(c, 2);
        },
        Router::new(),
    )
    .await;
    let proxy = [10, 0, 0, 1];
    for i in 0..2 {
        let r = challenge_from(&t, &format!("6.6.6.{i}, 203.0.113.9:4711"), proxy).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    for i in 2..5 {
        challenge_from(&t, &format!("6.6.6.{i}, 203.0.113.9:4711"), proxy)
            .await
            .assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    }
    // Another real client behind the same proxy has its own bucket.
    let r = challenge_from(&t, "6.6.6.1, 203.0.113.10", proxy).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // IPv6 clients are keyed per /64: another address of the same /64 shares the bucket.
    for _ in 0..2 {
        let r = challenge_from(&t, "2001:db8:5:6::1", proxy).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    challenge_from(&t, "2001:db8:5:6:ffff::2", proxy)
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let r = challenge_from(&t, "2001:db8:5:7::1", proxy).await;
    assert_eq!(r.status, StatusCode::OK, "another /64: {}", r.text);
}
both_backends!(spoofed_forwarded_for_does_not_change_the_bucket);

/// With `trusted_proxies` the list is walked right to left past the proxies; spoofed entries left
/// of the client's change neither the bucket nor the audit IP, and a peer that is not a trusted
/// proxy is the client whatever it claims.
async fn trusted_proxies_decide_the_client_ip(b: Backend) {
    let t = app_with(
        b,
        |c| {
            c.api.trust_forwarded_for = true;
            c.api.trusted_proxies = vec!["10.0.0.0/8".into()];
            one_per_ip(c, 2);
        },
        Router::new(),
    )
    .await;
    let proxy = [10, 0, 0, 1];
    for i in 0..2 {
        let r = challenge_from(&t, &format!("6.6.6.{i}, 203.0.113.9, 10.0.0.2"), proxy).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    challenge_from(&t, "7.7.7.7, 203.0.113.9, 10.0.0.2", proxy)
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // A direct client (not a proxy) cannot claim to be 203.0.113.20 to get a fresh bucket twice.
    let direct = [198, 51, 100, 7];
    for _ in 0..2 {
        let r = challenge_from(&t, "203.0.113.20", direct).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    challenge_from(&t, "203.0.113.21", direct)
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // The audit IP of a failed login is the walked client address, not a spoofed entry.
    let body = json!({"nonce": "00", "public_key": neo::PrivateKey::generate().public_key().to_hex(), "signature": "00".repeat(64)});
    let r = send(
        &t.app,
        request(
            Method::POST,
            "/v1/auth/login",
            Body::from(body.to_string()),
            &[
                ("content-type", "application/json"),
                ("x-forwarded-for", "6.6.6.6, 203.0.113.30, 10.0.0.2"),
            ],
            proxy,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let entries = t
        .store
        .list_audit(&AuditFilter {
            action: Some("auth.login_failed".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(entries.entries.len(), 1, "{:?}", entries.entries);
    assert_eq!(entries.entries[0].ip.as_deref(), Some("203.0.113.30"));
}
both_backends!(trusted_proxies_decide_the_client_ip);

/// All keys and sessions of an account share the account bucket: more keys do not buy more rate.
async fn account_bucket_is_shared_by_keys_and_sessions(b: Backend) {
    let t = app_with(
        b,
        |c| {
            c.rate_limit.groups.read = GroupLimits {
                per_ip: None,
                per_api_key: None,
                per_account: Some(Bucket {
                    rate_per_sec: 0.001,
                    burst: 3,
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
    for cred in [&k1, &k2, &s.access] {
        let r = call(&t.app, Method::GET, "/v1/me", None, Some(cred)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let k3 = create_key(&t.app, &s.access, json!({"name": "c"}))
        .await
        .str("key");
    for cred in [&k3, &k1, &s.access] {
        let r = call(&t.app, Method::GET, "/v1/me", None, Some(cred)).await;
        r.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        assert!(r.headers.contains_key("retry-after"));
    }
    // Another account is not affected.
    let other = wallet_login(&t.app, &neo::PrivateKey::generate()).await;
    let r = call(&t.app, Method::GET, "/v1/me", None, Some(&other.access)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let m = call(&t.app, Method::GET, "/metrics", None, None).await;
    assert!(
        m.text
            .lines()
            .any(|l| l.starts_with("nsl_rate_limit_rejections_total")
                && l.contains(r#"scope="account""#)),
        "{}",
        m.text
    );
}
both_backends!(account_bucket_is_shared_by_keys_and_sessions);
