//! Stage 1 + 2 of an answer: fetch the URL through the egress guard, then filter.
//!
//! [`answer`] never fails: every problem becomes a Neo response code with an empty result, and a
//! human-readable `detail` (URLs redacted by `nsl-egress`) for logs and request records.

use nsl_egress::{Egress, RequestOptions};

use crate::code::{
    MAX_RESULT_SIZE, MAX_URL_LEN, ResponseCode, code_for_egress_error, code_for_http_status,
    code_name,
};
use crate::filter::{FILTER_DEADLINE, FilterError, MAX_FILTER_LEN, apply_filter_bounded};

/// The outcome of one fetch (shared by every service: `nsl-service-api`).
pub use nsl_service_api::Answer;

/// Fetch `url` with `GET` through `egress` and apply `filter` (Neo semantics, see
/// [`crate::filter`]). The egress policy decides the schemes (`https`; `http` only if the policy
/// allows it; anything else, e.g. `neofs:`, is `ProtocolNotSupported`) and the addresses; the body
/// is capped at [`MAX_RESULT_SIZE`] bytes.
///
/// Order of checks (as neo-go): URL and filter lengths, fetch and status, UTF-8 body, filter,
/// result size.
pub async fn answer(egress: &Egress, url: &str, filter: Option<&str>) -> Answer {
    let answer = answer_inner(egress, url, filter).await;
    match &answer.detail {
        None => tracing::debug!(
            code = code_name(answer.code),
            len = answer.result.len(),
            "oracle fetch answered"
        ),
        Some(detail) => {
            tracing::info!(code = code_name(answer.code), %detail, "oracle fetch failed")
        }
    }
    answer
}

async fn answer_inner(egress: &Egress, url: &str, filter: Option<&str>) -> Answer {
    if url.len() > MAX_URL_LEN {
        return Answer::failure(
            ResponseCode::Error,
            format!("URL is {} bytes long, at most {MAX_URL_LEN}", url.len()),
        );
    }
    if let Some(f) = filter
        && f.len() > MAX_FILTER_LEN
    {
        return Answer::failure(
            ResponseCode::Error,
            FilterError::TooLong { len: f.len() }.to_string(),
        );
    }
    let opts = RequestOptions {
        max_response_bytes: Some(MAX_RESULT_SIZE as u64),
        ..RequestOptions::default()
    };
    let response = match egress.get(url, &opts).await {
        Ok(r) => r,
        Err(e) => {
            // The operator log keeps the detail (resolved address, transport error); the answer's
            // detail is shown to the tenant and must not reveal internal addresses.
            tracing::info!(error = %e, "oracle fetch refused or failed");
            return Answer::failure(code_for_egress_error(&e), e.public_message());
        }
    };
    let code = code_for_http_status(response.status);
    if code != ResponseCode::Success {
        return Answer::failure(code, format!("HTTP status {}", response.status));
    }
    if std::str::from_utf8(&response.body).is_err() {
        return Answer::failure(ResponseCode::Error, "response body is not UTF-8");
    }
    // CPU-bound: off the async runtime, a few at once, with a deadline (`Error` when it passes,
    // as neo-go answers every filter failure).
    let result = match apply_filter_bounded(
        response.body.to_vec(),
        filter.map(str::to_owned),
        FILTER_DEADLINE,
    )
    .await
    {
        Ok(r) => r,
        Err(e @ FilterError::ResultTooLarge) => {
            return Answer::failure(ResponseCode::ResponseTooLarge, e.to_string());
        }
        Err(e) => return Answer::failure(ResponseCode::Error, e.to_string()),
    };
    if result.len() > MAX_RESULT_SIZE {
        return Answer::failure(
            ResponseCode::ResponseTooLarge,
            format!(
                "filtered result is {} bytes, at most {MAX_RESULT_SIZE}",
                result.len()
            ),
        );
    }
    Answer::success(result)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use nsl_egress::EgressPolicy;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A one-route-per-path HTTP/1.1 server on 127.0.0.1 for these tests; aborted on drop.
    struct Server {
        addr: SocketAddr,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// `routes`: (path, status, content type, body).
    async fn serve(routes: Vec<(&'static str, u16, &'static str, Vec<u8>)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let routes = routes.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut n = 0;
                    while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") && n < buf.len() {
                        match sock.read(&mut buf[n..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => n += k,
                        }
                    }
                    let head = String::from_utf8_lossy(&buf[..n]).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let (status, ctype, body) = routes
                        .iter()
                        .find(|r| r.0 == path)
                        .map(|r| (r.1, r.2, r.3.clone()))
                        .unwrap_or((404, "text/html", b"<h1>not here</h1>".to_vec()));
                    let head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&body).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Server { addr, task }
    }

    fn dev_egress() -> Egress {
        Egress::new(EgressPolicy::development()).unwrap()
    }

    /// The answer's detail is shown to the tenant (`/v1/oracle/requests`): a host name resolving to
    /// loopback is "destination not allowed", without the resolved address.
    #[tokio::test]
    async fn refused_destinations_do_not_reveal_resolved_addresses() {
        let srv = serve(vec![("/x", 200, "application/json", b"1".to_vec())]).await;
        let egress = Egress::new(EgressPolicy {
            allow_http: true,
            ..EgressPolicy::default()
        })
        .unwrap();
        let a = answer(
            &egress,
            &format!("http://localhost:{}/x", srv.addr.port()),
            None,
        )
        .await;
        assert_eq!(a.code, ResponseCode::Forbidden);
        let detail = a.detail.unwrap();
        assert!(
            !detail.contains("127.0.0.1") && !detail.contains("::1"),
            "{detail}"
        );
        assert!(detail.contains("destination not allowed"), "{detail}");
    }

    #[tokio::test]
    async fn fetch_and_filter() {
        let srv = serve(vec![
            (
                "/price",
                200,
                "application/json; charset=utf-8",
                br#"{"pair":"NEO-USD","data":{"price":42.17,"volume":[1,2]}}"#.to_vec(),
            ),
            ("/text", 200, "text/plain", b"hello".to_vec()),
            ("/created", 201, "application/json", b"{}".to_vec()),
            ("/forbidden", 403, "text/plain", b"no".to_vec()),
            ("/teapot", 418, "text/plain", b"no".to_vec()),
            ("/html", 200, "text/html", b"<p>".to_vec()),
            ("/binary", 200, "text/plain", vec![0xff, 0xfe]),
            ("/big", 200, "text/plain", vec![b'a'; MAX_RESULT_SIZE + 1]),
            ("/max", 200, "application/json", {
                let mut v = b"\"".to_vec();
                v.extend(vec![b'a'; MAX_RESULT_SIZE - 2]);
                v.push(b'"');
                v
            }),
        ])
        .await;
        let egress = dev_egress();
        let base = format!("http://{}", srv.addr);

        let a = answer(&egress, &format!("{base}/price"), Some("$.data.price")).await;
        assert_eq!(
            (a.code, a.result.as_slice()),
            (ResponseCode::Success, &b"[42.17]"[..])
        );
        let a = answer(&egress, &format!("{base}/price"), None).await;
        assert_eq!(a.code, ResponseCode::Success);
        assert!(a.result.starts_with(br#"{"pair":"NEO-USD""#));
        let a = answer(&egress, &format!("{base}/text"), Some("")).await;
        assert_eq!(
            (a.code, a.result.as_slice()),
            (ResponseCode::Success, &b"hello"[..])
        );

        // Filter problems are Error, after a successful fetch.
        let a = answer(&egress, &format!("{base}/text"), Some("$.a")).await;
        assert_eq!((a.code, a.result.len()), (ResponseCode::Error, 0));
        let a = answer(&egress, &format!("{base}/price"), Some("price")).await;
        assert_eq!(a.code, ResponseCode::Error);
        assert!(a.detail.unwrap().contains("JSONPath"));

        // Statuses.
        let a = answer(&egress, &format!("{base}/missing"), Some("$.a")).await;
        assert_eq!((a.code, a.result.len()), (ResponseCode::NotFound, 0));
        assert_eq!(
            answer(&egress, &format!("{base}/forbidden"), None)
                .await
                .code,
            ResponseCode::Forbidden
        );
        assert_eq!(
            answer(&egress, &format!("{base}/teapot"), None).await.code,
            ResponseCode::Error
        );
        assert_eq!(
            answer(&egress, &format!("{base}/created"), None).await.code,
            ResponseCode::Error
        );

        // Content, encoding, size.
        assert_eq!(
            answer(&egress, &format!("{base}/html"), None).await.code,
            ResponseCode::ContentTypeNotSupported
        );
        assert_eq!(
            answer(&egress, &format!("{base}/binary"), None).await.code,
            ResponseCode::Error
        );
        assert_eq!(
            answer(&egress, &format!("{base}/big"), None).await.code,
            ResponseCode::ResponseTooLarge
        );
        let a = answer(&egress, &format!("{base}/max"), None).await;
        assert_eq!(
            (a.code, a.result.len()),
            (ResponseCode::Success, MAX_RESULT_SIZE)
        );
        // Wrapping the largest body in an array makes the result too large.
        let a = answer(&egress, &format!("{base}/max"), Some("$")).await;
        assert_eq!(a.code, ResponseCode::ResponseTooLarge);
    }

    #[tokio::test]
    async fn url_checks() {
        let srv = serve(vec![("/", 200, "text/plain", b"ok".to_vec())]).await;
        // Production policy: http and private hosts are refused.
        let strict = Egress::new(EgressPolicy::default()).unwrap();
        let http = format!("http://{}/", srv.addr);
        assert_eq!(
            answer(&strict, &http, None).await.code,
            ResponseCode::ProtocolNotSupported
        );
        let https_loopback = format!("https://{}/", srv.addr);
        assert_eq!(
            answer(&strict, &https_loopback, None).await.code,
            ResponseCode::Forbidden
        );
        for url in [
            "neofs:6pd3BgHZ5ChwqYxPuT8LXrcXdJ4kjpZxbdJjd6BDnBDm/some/object",
            "ftp://example.com/x",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert_eq!(
                answer(&strict, url, None).await.code,
                ResponseCode::ProtocolNotSupported,
                "{url}"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(answer(&strict, &long, None).await.code, ResponseCode::Error);
        let long_filter = format!("$.{}", "a".repeat(MAX_FILTER_LEN));
        assert_eq!(
            answer(&dev_egress(), &http, Some(&long_filter)).await.code,
            ResponseCode::Error
        );
        // Development policy: allowed.
        let a = answer(&dev_egress(), &http, None).await;
        assert_eq!(
            (a.code, a.result.as_slice()),
            (ResponseCode::Success, &b"ok"[..])
        );
    }
}
