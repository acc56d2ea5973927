//! End to end over real HTTP: a tiny reqwest-based `FetchHost` against a local server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use nsl_sandbox::{
    ExecutionScope, FetchHost, FetchRequest, FetchResponse, HostError, NoSecrets, Sandbox,
    SandboxConfig, Status,
};

use crate::support::request;

/// Minimal real implementation of the trait (the node uses the egress crate instead).
struct ReqwestFetch {
    client: reqwest::blocking::Client,
}

impl FetchHost for ReqwestFetch {
    fn fetch(&self, _: &ExecutionScope, req: &FetchRequest) -> Result<FetchResponse, HostError> {
        let timeout = req.deadline.saturating_duration_since(Instant::now());
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|e| HostError::Failed(e.to_string()))?;
        let mut builder = self
            .client
            .request(method, req.url.as_str())
            .timeout(timeout)
            .body(req.body.clone());
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        let resp = builder.send().map_err(|e| {
            if e.is_timeout() {
                HostError::Timeout
            } else {
                HostError::Failed("request failed".into())
            }
        })?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let mut body = Vec::new();
        resp.take(req.max_response_bytes as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|_| HostError::Failed("reading the body failed".into()))?;
        if body.len() > req.max_response_bytes {
            return Err(HostError::ResponseTooLarge {
                limit: req.max_response_bytes,
            });
        }
        Ok(FetchResponse {
            status,
            headers,
            body,
        })
    }
}

/// Serves `n` requests, answering with JSON describing each request.
fn serve(n: usize) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for stream in listener.incoming().take(n) {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            reader.read_line(&mut line).expect("request line");
            let mut content_length = 0usize;
            let mut api_key = String::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).expect("header");
                let h = h.trim_end().to_string();
                if h.is_empty() {
                    break;
                }
                let lower = h.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    content_length = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("x-api-key:") {
                    api_key = h["x-api-key:".len()..].trim().to_string();
                }
            }
            let mut body = vec![0u8; content_length];
            reader.read_exact(&mut body).expect("body");
            let payload = format!(
                "{{\"line\":{:?},\"key\":{:?},\"body\":{:?}}}",
                line.trim_end(),
                api_key,
                String::from_utf8_lossy(&body)
            );
            seen.push(line.trim_end().to_string());
            let response = format!(
                "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Served-By: test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                payload.len(),
                payload
            );
            stream.write_all(response.as_bytes()).expect("write");
        }
        seen
    });
    (port, handle)
}

#[test]
fn fetch_reaches_a_real_local_server() {
    let (port, server) = serve(2);
    let fetch = Arc::new(ReqwestFetch {
        client: reqwest::blocking::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
    });
    let sandbox = Sandbox::new(SandboxConfig::default(), fetch, Arc::new(NoSecrets));
    let mut req = request(&format!(
        "export default async function main(args) {{
           const base = 'http://127.0.0.1:{port}';
           const a = await fetch(base + '/price?sym=' + args.sym, {{ headers: {{ 'X-Api-Key': 'abc' }} }});
           const b = await fetch(base + '/submit', {{ method: 'POST', body: crypto.sha256('x') }});
           return {{ a: await a.json(), status: b.status, served: b.headers.get('x-served-by'), b: (await b.json()).body.length }};
         }}"
    ));
    req.allowed_hosts = vec!["127.0.0.1".into()];
    req.args = serde_json::json!({ "sym": "NEO" });
    let r = sandbox.execute(&req);
    assert_eq!(r.status, Status::Ok, "{r:?}");
    let v = r.result.expect("result");
    assert_eq!(v["a"]["line"], "GET /price?sym=NEO HTTP/1.1");
    assert_eq!(v["a"]["key"], "abc");
    assert_eq!(v["status"], 201);
    assert_eq!(v["served"], "test");
    assert_eq!(v["b"], 64);
    assert_eq!(r.fetch_count, 2);
    let seen = server.join().expect("server");
    assert_eq!(
        seen,
        ["GET /price?sym=NEO HTTP/1.1", "POST /submit HTTP/1.1"]
    );
}
