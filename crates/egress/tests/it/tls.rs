//! HTTPS end to end with a local TLS server whose certificate is issued by a test CA
//! (`tests/fixtures`): the production policy path (https only) with an exempt origin.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use nsl_egress::{Egress, EgressError, EgressPolicy, ErrorKind, ForbiddenReason, RequestOptions};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::support::{Server, canary, read_request_head, serve_raw};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn acceptor() -> TlsAcceptor {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(fixture("server.pem"))
        .expect("server.pem")
        .collect::<Result<_, _>>()
        .expect("certificates");
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).expect("server.key");
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    TlsAcceptor::from(Arc::new(config))
}

/// A TLS server on `ip`: `/json` answers JSON, any other path redirects (302) to `redirect_to`.
async fn tls_server(ip: &str, redirect_to: String) -> Server {
    let acceptor = acceptor();
    let redirect_to = Arc::new(redirect_to);
    let (server, _) = serve_raw(ip, move |stream: TcpStream| {
        let acceptor = acceptor.clone();
        let redirect_to = Arc::clone(&redirect_to);
        async move {
            let Ok(mut tls) = acceptor.accept(stream).await else {
                return;
            };
            let head = read_request_head(&mut tls).await;
            let response = if head.starts_with(b"GET /json ") {
                let body = r#"{"tls":true}"#;
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                format!(
                    "HTTP/1.1 302 Found\r\nlocation: {redirect_to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                )
            };
            let _ = tls.write_all(response.as_bytes()).await;
            let _ = tls.shutdown().await;
        }
    })
    .await;
    server
}

fn production_with_exempt_origin() -> EgressPolicy {
    EgressPolicy {
        exempt_networks: vec!["127.0.0.2/32".parse().expect("cidr")],
        extra_ca_files: vec![fixture("ca.pem")],
        ..EgressPolicy::default()
    }
}

fn https_url(server: &Server, path: &str) -> String {
    format!("https://{}{path}", server.addr)
}

#[tokio::test]
async fn https_fetch_under_the_production_policy() {
    let server = tls_server("127.0.0.2", "/json".into()).await;
    let egress = Egress::new(production_with_exempt_origin()).expect("client");
    let resp = egress
        .get(&https_url(&server, "/json"), &RequestOptions::default())
        .await
        .expect("https fetch");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.as_ref(), br#"{"tls":true}"#);

    // Same-origin redirect over https is followed.
    let resp = egress
        .get(&https_url(&server, "/go"), &RequestOptions::default())
        .await
        .expect("https redirect");
    assert_eq!(resp.redirects, 1);
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_connect_error() {
    let server = tls_server("127.0.0.2", "/json".into()).await;
    let egress = Egress::new(EgressPolicy {
        extra_ca_files: vec![],
        ..production_with_exempt_origin()
    })
    .expect("client");
    let err = egress
        .get(
            &https_url(&server, "/json?key=TOPSECRET"),
            &RequestOptions::default(),
        )
        .await
        .expect_err("unknown issuer");
    assert_eq!(err.kind(), ErrorKind::Connect, "{err:?}");
    assert!(!format!("{err} {err:?}").contains("TOPSECRET"));
}

#[tokio::test]
async fn https_to_http_redirect_is_refused_and_the_target_never_reached() {
    // The plain-HTTP target is exempt and http is allowed: only the downgrade rule can refuse it.
    let (target, accepted) = canary("127.0.0.2").await;
    let server = tls_server("127.0.0.2", format!("http://{}/", target.addr)).await;
    let egress = Egress::new(EgressPolicy {
        allow_http: true,
        ..production_with_exempt_origin()
    })
    .expect("client");
    egress
        .get(
            &format!("http://{}/", target.addr),
            &RequestOptions::default(),
        )
        .await
        .expect("the target itself is reachable over http");
    let before = accepted.load(Ordering::SeqCst);

    let err = egress
        .get(
            &https_url(&server, "/downgrade"),
            &RequestOptions::default(),
        )
        .await
        .expect_err("downgrade");
    assert!(
        matches!(
            err,
            EgressError::Forbidden {
                reason: ForbiddenReason::InsecureRedirect,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        before,
        "the http target was dialled"
    );
}

#[tokio::test]
async fn https_redirect_to_a_loopback_name_is_refused() {
    let (target, accepted) = canary("127.0.0.1").await;
    let server = tls_server(
        "127.0.0.2",
        format!("https://localhost:{}/json", target.addr.port()),
    )
    .await;
    let egress = Egress::new(production_with_exempt_origin()).expect("client");
    let err = egress
        .get(
            &https_url(&server, "/to-localhost"),
            &RequestOptions::default(),
        )
        .await
        .expect_err("redirect to localhost");
    assert!(
        matches!(
            err,
            EgressError::Forbidden {
                reason: ForbiddenReason::BlockedResolution { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

#[test]
fn unreadable_or_empty_ca_files_are_policy_errors() {
    for path in [fixture("missing.pem"), fixture("README.md")] {
        let err = Egress::new(EgressPolicy {
            extra_ca_files: vec![path.clone()],
            ..EgressPolicy::default()
        })
        .expect_err("bad CA file");
        assert!(
            matches!(err, EgressError::InvalidPolicy(_)),
            "{path:?}: {err:?}"
        );
    }
}
