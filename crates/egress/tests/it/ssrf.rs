//! SSRF corpus under the production (default) policy, and redirect re-validation.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use nsl_egress::{
    BlockedClass, Egress, EgressError, EgressPolicy, ErrorKind, ForbiddenReason, RequestOptions,
    Url,
};

use crate::support::{canary, serve};

/// Host forms that must all be refused; each is written as it appears in a URL.
const CORPUS: &[&str] = &[
    "127.0.0.1",
    "0x7f000001",
    "2130706433",
    "0177.0.0.1",
    "127.1",
    "0x7f.1",
    "127.000.000.001",
    "\u{ff11}\u{ff12}\u{ff17}.0.0.1", // fullwidth digits, mapped by IDNA to 127.0.0.1
    "127.0.0.1.",
    "%31%32%37.0.0.1",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::127.0.0.1]",
    "[2002:7f00:1::]",
    "[64:ff9b::7f00:1]",
    "169.254.169.254",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "100.64.0.1",
    "0.0.0.0",
    "0",
    "[::]",
    "[fe80::1]",
    "[fc00::1]",
    "[fd12:3456::1]",
    "[ff02::1]",
    "224.0.0.1",
    "255.255.255.255",
    "198.18.0.1",
    "192.0.2.1",
    "[2001:db8::1]",
];

fn forbidden_class(err: &EgressError) -> Option<BlockedClass> {
    match err {
        EgressError::Forbidden {
            reason: ForbiddenReason::BlockedAddress { reason, .. },
            ..
        }
        | EgressError::Forbidden {
            reason: ForbiddenReason::BlockedResolution { reason, .. },
            ..
        } => Some(reason.class),
        _ => None,
    }
}

#[test]
fn whatwg_parsing_normalises_numeric_hosts() {
    for host in [
        "0x7f000001",
        "2130706433",
        "0177.0.0.1",
        "127.1",
        "0x7f.1",
        "127.000.000.001",
        "\u{ff11}\u{ff12}\u{ff17}.0.0.1",
        "127.0.0.1.",
        "%31%32%37.0.0.1",
    ] {
        let url = Url::parse(&format!("https://{host}/")).expect("parses");
        assert_eq!(url.host_str(), Some("127.0.0.1"), "{host}");
    }
    let url = Url::parse("https://[::ffff:127.0.0.1]/").expect("parses");
    assert_eq!(url.host_str(), Some("[::ffff:7f00:1]"));
}

#[tokio::test]
async fn corpus_is_forbidden_under_default_policy_and_never_dialled() {
    let (target, accepted) = canary("127.0.0.1").await;
    let port = target.addr.port();
    let egress = Egress::new(EgressPolicy::default()).expect("client");
    for host in CORPUS {
        let url = format!("https://{host}:{port}/v1?apikey=TOPSECRET");
        let err = egress
            .get(&url, &RequestOptions::default())
            .await
            .expect_err(host);
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{host}: {err}");
        assert!(forbidden_class(&err).is_some(), "{host}: {err:?}");
        let text = format!("{err} {err:?}");
        assert!(!text.contains("TOPSECRET"), "{host}: secret leaked: {text}");
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "a refused address was dialled"
    );
}

#[tokio::test]
async fn corpus_is_forbidden_with_plain_http_allowed() {
    let (target, accepted) = canary("127.0.0.1").await;
    let port = target.addr.port();
    let policy = EgressPolicy {
        allow_http: true,
        ..EgressPolicy::default()
    };
    let egress = Egress::new(policy).expect("client");
    for host in CORPUS {
        let url = format!("http://{host}:{port}/");
        let err = egress
            .get(&url, &RequestOptions::default())
            .await
            .expect_err(host);
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{host}: {err}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_forbidden_after_resolution() {
    let (target, accepted) = canary("127.0.0.1").await;
    let port = target.addr.port();
    let policy = EgressPolicy {
        allow_http: true,
        ..EgressPolicy::default()
    };
    let egress = Egress::new(policy).expect("client");
    for url in [
        format!("https://localhost:{port}/?token=TOPSECRET"),
        format!("http://localhost:{port}/"),
        format!("http://LOCALHOST:{port}/"),
    ] {
        let err = egress
            .get(&url, &RequestOptions::default())
            .await
            .expect_err(&url);
        match &err {
            EgressError::Forbidden {
                reason: ForbiddenReason::BlockedResolution { host, reason, .. },
                ..
            } => {
                assert!(host.starts_with("localhost"), "{host}");
                assert_eq!(reason.class, BlockedClass::Loopback);
            }
            other => panic!("{url}: expected a blocked resolution, got {other:?}"),
        }
        assert!(!err.to_string().contains("TOPSECRET"));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

/// What tenants see of a refused destination (function `fetch` errors, oracle answer details)
/// never names the address the node resolved; the operator's `Display` text keeps it.
#[tokio::test]
async fn tenant_text_does_not_reveal_resolved_addresses() {
    let (target, accepted) = canary("127.0.0.1").await;
    let port = target.addr.port();
    let policy = EgressPolicy {
        allow_http: true,
        ..EgressPolicy::default()
    };
    let egress = Egress::new(policy).expect("client");
    let err = egress
        .get(
            &format!("http://localhost:{port}/"),
            &RequestOptions::default(),
        )
        .await
        .expect_err("loopback");
    assert!(
        err.to_string().contains("127.0.0.1"),
        "operator text: {err}"
    );
    let public = err.public_message();
    assert_eq!(public, "forbidden: destination not allowed");
    // A literal private address is refused with the same text.
    let err = egress
        .get("http://10.0.0.5/", &RequestOptions::default())
        .await
        .expect_err("private");
    assert_eq!(err.public_message(), "forbidden: destination not allowed");
    // Refused connections do not leak transport text either.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let dev = Egress::new(EgressPolicy::development()).expect("client");
    let err = dev
        .get(
            &format!("http://localhost:{closed_port}/"),
            &RequestOptions::default(),
        )
        .await
        .expect_err("closed port");
    assert!(
        !err.public_message().contains("127.0.0.1"),
        "{}",
        err.public_message()
    );
    assert!(
        !err.public_message().contains("::1"),
        "{}",
        err.public_message()
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

#[derive(Clone)]
struct Origin {
    hits: Arc<AtomicUsize>,
    target_port: u16,
}

async fn origin_ok(State(s): State<Origin>) -> impl IntoResponse {
    s.hits.fetch_add(1, Ordering::SeqCst);
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"ok":true}"#,
    )
}

async fn redirect_to(location: String, s: &Origin) -> impl IntoResponse + use<> {
    s.hits.fetch_add(1, Ordering::SeqCst);
    (StatusCode::FOUND, [(header::LOCATION, location)])
}

fn origin_router(state: Origin) -> Router {
    Router::new()
        .route("/ok", get(origin_ok))
        .route(
            "/to-literal",
            get(|State(s): State<Origin>| async move {
                redirect_to(format!("http://127.0.0.1:{}/", s.target_port), &s).await
            }),
        )
        .route(
            "/to-numeric",
            get(|State(s): State<Origin>| async move {
                redirect_to(format!("http://2130706433:{}/", s.target_port), &s).await
            }),
        )
        .route(
            "/to-mapped",
            get(|State(s): State<Origin>| async move {
                redirect_to(format!("http://[::ffff:127.0.0.1]:{}/", s.target_port), &s).await
            }),
        )
        .route(
            "/to-localhost",
            get(|State(s): State<Origin>| async move {
                redirect_to(format!("http://localhost:{}/", s.target_port), &s).await
            }),
        )
        .route(
            "/to-metadata",
            get(|State(s): State<Origin>| async move {
                redirect_to("http://169.254.169.254/latest/meta-data/".to_owned(), &s).await
            }),
        )
        .with_state(state)
}

fn exempt_origin_policy() -> EgressPolicy {
    EgressPolicy {
        allow_http: true,
        exempt_networks: vec!["127.0.0.2/32".parse().expect("cidr")],
        ..EgressPolicy::default()
    }
}

#[tokio::test]
async fn redirect_to_a_private_address_is_refused_and_the_target_never_reached() {
    let (target, accepted) = canary("127.0.0.1").await;
    let hits = Arc::new(AtomicUsize::new(0));
    let origin = serve(
        "127.0.0.2",
        origin_router(Origin {
            hits: Arc::clone(&hits),
            target_port: target.addr.port(),
        }),
    )
    .await;
    let egress = Egress::new(exempt_origin_policy()).expect("client");
    let opts = RequestOptions::default();

    // The exempt origin itself is reachable: the refusals below are about the redirect hop.
    let ok = egress
        .get(&origin.url("/ok"), &opts)
        .await
        .expect("exempt origin");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body.as_ref(), br#"{"ok":true}"#);

    for path in [
        "/to-literal",
        "/to-numeric",
        "/to-mapped",
        "/to-localhost",
        "/to-metadata",
    ] {
        let err = egress.get(&origin.url(path), &opts).await.expect_err(path);
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{path}: {err}");
        assert!(forbidden_class(&err).is_some(), "{path}: {err:?}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 6, "origin saw every first hop");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "the redirect target received a connection"
    );
}

#[tokio::test]
async fn the_exemption_is_exact() {
    let (target, accepted) = canary("127.0.0.3").await;
    let egress = Egress::new(exempt_origin_policy()).expect("client");
    let err = egress
        .get(&target.url("/"), &RequestOptions::default())
        .await
        .expect_err("127.0.0.3 is not exempt");
    assert_eq!(forbidden_class(&err), Some(BlockedClass::Loopback));
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn host_allowlist_is_enforced_before_any_connection() {
    let hits = Arc::new(AtomicUsize::new(0));
    let origin = serve(
        "127.0.0.2",
        origin_router(Origin {
            hits: Arc::clone(&hits),
            target_port: 9,
        }),
    )
    .await;
    let egress = Egress::new(exempt_origin_policy()).expect("client");
    let only_other = RequestOptions {
        allowed_hosts: Some(vec!["api.example.com".into()]),
        ..RequestOptions::default()
    };
    let err = egress
        .get(&origin.url("/ok"), &only_other)
        .await
        .expect_err("not in allowlist");
    assert!(matches!(
        err,
        EgressError::Forbidden {
            reason: ForbiddenReason::HostNotAllowed { .. },
            ..
        }
    ));
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    let allowed = RequestOptions {
        allowed_hosts: Some(vec!["127.0.0.2".into()]),
        ..RequestOptions::default()
    };
    egress
        .get(&origin.url("/ok"), &allowed)
        .await
        .expect("allowed host");
    // A redirect leaving the allowlist is refused even to an otherwise permitted place.
    let err = egress
        .get(&origin.url("/to-localhost"), &allowed)
        .await
        .expect_err("redirect leaves allowlist");
    assert!(matches!(
        err,
        EgressError::Forbidden {
            reason: ForbiddenReason::HostNotAllowed { .. },
            ..
        }
    ));
}

#[tokio::test]
async fn only_https_under_the_default_policy() {
    let egress = Egress::new(EgressPolicy::default()).expect("client");
    let opts = RequestOptions::default();
    for (url, scheme) in [
        ("http://example.com/", "http"),
        ("ftp://example.com/file", "ftp"),
        ("file:///etc/passwd", "file"),
        ("gopher://example.com/", "gopher"),
        ("ws://example.com/", "ws"),
        ("data:text/plain,hello", "data"),
    ] {
        let err = egress.get(url, &opts).await.expect_err(url);
        match err {
            EgressError::ProtocolNotSupported { scheme: s } => assert_eq!(s, scheme),
            other => panic!("{url}: {other:?}"),
        }
    }
    for url in ["not a url", "https://", "https://:443/", "//example.com/"] {
        let err = egress.get(url, &opts).await.expect_err(url);
        assert_eq!(err.kind(), ErrorKind::InvalidUrl, "{url}: {err}");
    }
}

#[test]
fn https_to_http_redirect_is_forbidden_even_when_http_is_allowed() {
    let egress = Egress::new(EgressPolicy::development()).expect("client");
    let opts = RequestOptions::default();
    let from = Url::parse("https://api.example.com/a?key=TOPSECRET").expect("url");
    let err = egress
        .check_redirect(&from, "http://api.example.com/b", &opts)
        .expect_err("downgrade");
    assert!(matches!(
        err,
        EgressError::Forbidden {
            reason: ForbiddenReason::InsecureRedirect,
            ..
        }
    ));
    // Relative location keeps the scheme; upgrade and https -> https are fine.
    let next = egress
        .check_redirect(&from, "/b?x=1", &opts)
        .expect("relative");
    assert_eq!(next.as_str(), "https://api.example.com/b?x=1");
    egress
        .check_redirect(&from, "https://other.example.com/", &opts)
        .expect("https to https");
    let plain = Url::parse("http://api.example.com/").expect("url");
    egress
        .check_redirect(&plain, "https://api.example.com/", &opts)
        .expect("http to https");
    // Scheme-relative location from https stays https.
    let next = egress
        .check_redirect(&from, "//cdn.example.com/x", &opts)
        .expect("scheme-relative");
    assert_eq!(next.scheme(), "https");
}

#[test]
fn redirect_targets_are_checked_like_first_hops() {
    let egress = Egress::new(EgressPolicy::default()).expect("client");
    let opts = RequestOptions::default();
    let from = Url::parse("https://api.example.com/").expect("url");
    for location in [
        "https://127.0.0.1/",
        "https://0x7f000001/",
        "https://[::ffff:10.0.0.1]/",
        "https://169.254.169.254/",
    ] {
        let err = egress
            .check_redirect(&from, location, &opts)
            .expect_err(location);
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{location}");
    }
    let err = egress
        .check_redirect(&from, "ftp://example.com/", &opts)
        .expect_err("ftp");
    assert_eq!(err.kind(), ErrorKind::ProtocolNotSupported);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
    /// URL checking is total: any input gives a URL or an error, never a panic, and a URL that
    /// passes under the default policy is https with a host.
    #[test]
    fn check_url_never_panics(input in "\\PC{0,64}", host in "[0-9a-fx.:\\[\\]%]{1,24}") {
        let egress = Egress::new(EgressPolicy::default()).expect("client");
        let opts = RequestOptions::default();
        for candidate in [input.clone(), format!("https://{host}/"), format!("https://{input}")] {
            if let Ok(url) = egress.check_url(&candidate, &opts) {
                proptest::prop_assert_eq!(url.scheme(), "https");
                proptest::prop_assert!(url.host_str().is_some_and(|h| !h.is_empty()));
                if let Some(url::Host::Ipv4(v4)) = url.host() {
                    proptest::prop_assert!(nsl_egress::is_public(v4.into()));
                }
                if let Some(url::Host::Ipv6(v6)) = url.host() {
                    proptest::prop_assert!(nsl_egress::is_public(v6.into()));
                }
            }
        }
    }
}
