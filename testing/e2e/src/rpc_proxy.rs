//! An HTTP proxy for crash tests: it sits between a node under test and a real server (neo-go's
//! JSON-RPC, a test HTTP server), forwards every request, and stops at one chosen request so the
//! test can kill the node at a precise point, without hooks in production code.
//!
//! ```text
//! nsl serve ──HTTP──▶ Proxy ──HTTP/1.0──▶ upstream (neo-go RPC / price server)
//!                       │ first request matching `Match`:
//!                       ├ Trap::Hold                  never forwarded nor answered; the test is told
//!                       └ Trap::ForwardAfterNextBlock forwarded just after a new block, answered,
//!                                                     then the test is told
//! ```
//!
//! Every answer carries `Connection: close` (one request per connection), so a client never
//! reuses a connection across the trap. After [`Proxy::pass_through`] the proxy is transparent:
//! held requests are dropped unanswered and later ones are forwarded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OnceCell, watch};
use tokio::task::{JoinHandle, JoinSet};

/// Which requests the trap applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// JSON-RPC requests (POST body) calling this method, e.g. `sendrawtransaction`.
    RpcMethod(String),
    /// Requests for this path, e.g. `/price`.
    Path(String),
}

/// What happens to matching requests until [`Proxy::pass_through`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trap {
    /// The first matching request trips the trap; it and every later matching request are held:
    /// never forwarded, never answered.
    Hold,
    /// For a Neo JSON-RPC upstream: matching requests wait until the upstream's block count has
    /// grown past its value when the first one arrived, are forwarded and answered; the first
    /// answered one trips the trap, later ones are forwarded at once. A transaction sent this way
    /// reaches the mempool right after a block, so it stays unconfirmed for about a block time.
    ForwardAfterNextBlock,
}

/// The request that tripped the trap.
#[derive(Debug, Clone)]
pub struct Intercepted {
    /// Its body (a JSON-RPC request for [`Match::RpcMethod`]).
    pub request: Vec<u8>,
    /// The upstream's answer body, when it was forwarded ([`Trap::ForwardAfterNextBlock`]).
    pub response: Option<Vec<u8>>,
}

impl Intercepted {
    /// The request body as JSON (panics if it is not JSON).
    pub fn request_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.request).expect("intercepted request is JSON")
    }

    /// The answer body as JSON (panics if there is none or it is not JSON).
    pub fn response_json(&self) -> serde_json::Value {
        serde_json::from_slice(self.response.as_deref().expect("the request was forwarded"))
            .expect("intercepted answer is JSON")
    }
}

struct Shared {
    upstream: String,
    matcher: Match,
    trap: Trap,
    matched: AtomicUsize,
    passing: watch::Sender<bool>,
    tripped: watch::Sender<Option<Intercepted>>,
    /// Block count when the first matching request arrived ([`Trap::ForwardAfterNextBlock`]).
    base_height: OnceCell<u64>,
}

/// A running proxy; stops (with every held connection) when dropped.
pub struct Proxy {
    /// Where it listens (`127.0.0.1:<free port>`).
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .field("matcher", &self.shared.matcher)
            .field("trap", &self.shared.trap)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// Start a proxy on a free loopback port in front of `upstream` (`http://host:port`, a path
    /// is ignored: the client's path is forwarded).
    pub async fn start(upstream: &str, matcher: Match, trap: Trap) -> Proxy {
        let authority = upstream
            .strip_prefix("http://")
            .expect("upstream must be http://host:port")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream: authority,
            matcher,
            trap,
            matched: AtomicUsize::new(0),
            passing: watch::Sender::new(false),
            tripped: watch::Sender::new(None),
            base_height: OnceCell::new(),
        });
        let task = tokio::spawn(accept(listener, shared.clone()));
        Proxy { addr, shared, task }
    }

    /// `http://<addr>`: what the node under test is configured with.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Wait until the trap trips (panics after `within`).
    pub async fn tripped(&self, within: Duration) -> Intercepted {
        let mut rx = self.shared.tripped.subscribe();
        match tokio::time::timeout(within, rx.wait_for(Option::is_some)).await {
            Ok(Ok(hit)) => hit.clone().expect("tripped"),
            _ => panic!(
                "no {:?} request reached the proxy within {within:?} ({} matched)",
                self.shared.matcher,
                self.matched()
            ),
        }
    }

    /// Disarm: held requests are dropped unanswered, later ones are forwarded.
    pub fn pass_through(&self) {
        self.shared.passing.send_replace(true);
    }

    /// Matching requests received so far (held, delayed or forwarded).
    pub fn matched(&self) -> usize {
        self.shared.matched.load(Ordering::SeqCst)
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    // Dropping the set (when the proxy is aborted) aborts every connection task.
    let mut connections = JoinSet::new();
    while let Ok((sock, _)) = listener.accept().await {
        while connections.try_join_next().is_some() {}
        connections.spawn(serve(sock, shared.clone()));
    }
}

/// A parsed client request.
struct Request {
    method: String,
    path: String,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Request {
    fn matches(&self, m: &Match) -> bool {
        match m {
            Match::Path(p) => self.path == *p,
            Match::RpcMethod(name) => {
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(&self.body) else {
                    return false;
                };
                let calls = match &v {
                    serde_json::Value::Array(batch) => batch.iter().collect(),
                    one => vec![one],
                };
                calls.iter().any(|c| c["method"] == name.as_str())
            }
        }
    }
}

async fn serve(mut sock: TcpStream, shared: Arc<Shared>) {
    let Some(req) = read_request(&mut sock).await else {
        return;
    };
    let matching = req.matches(&shared.matcher);
    if matching {
        shared.matched.fetch_add(1, Ordering::SeqCst);
    }
    if matching && !*shared.passing.borrow() {
        match shared.trap {
            Trap::Hold => {
                shared.tripped.send_if_modified(|t| {
                    t.get_or_insert_with(|| Intercepted {
                        request: req.body.clone(),
                        response: None,
                    });
                    true
                });
                // Held until the test disarms the proxy; then dropped without an answer.
                let mut passing = shared.passing.subscribe();
                let _ = passing.wait_for(|p| *p).await;
                return;
            }
            Trap::ForwardAfterNextBlock if shared.tripped.borrow().is_none() => {
                let base = *shared
                    .base_height
                    .get_or_init(|| block_count(&shared.upstream))
                    .await;
                while block_count(&shared.upstream).await <= base {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let Some((status, ctype, body)) = forward(&shared.upstream, &req).await else {
                    return;
                };
                if respond(&mut sock, &status, ctype.as_deref(), &body)
                    .await
                    .is_ok()
                {
                    shared.tripped.send_if_modified(|t| {
                        if t.is_some() {
                            return false;
                        }
                        *t = Some(Intercepted {
                            request: req.body.clone(),
                            response: Some(body.clone()),
                        });
                        true
                    });
                }
                return;
            }
            Trap::ForwardAfterNextBlock => {}
        }
    }
    match forward(&shared.upstream, &req).await {
        Some((status, ctype, body)) => {
            let _ = respond(&mut sock, &status, ctype.as_deref(), &body).await;
        }
        None => {
            let _ = respond(
                &mut sock,
                "502 Bad Gateway",
                Some("text/plain"),
                b"upstream",
            )
            .await;
        }
    }
}

/// Read one HTTP/1.1 request (head and a `Content-Length` body).
async fn read_request(sock: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let mut length = 0usize;
    let mut content_type = None;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = v.trim().parse().ok()?,
            "content-type" => content_type = Some(v.trim().to_owned()),
            _ => {}
        }
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some(Request {
        method,
        path,
        content_type,
        body,
    })
}

/// Send `req` upstream as HTTP/1.0 (so the answer is neither chunked nor kept alive) and read
/// the whole answer: (status text such as `200 OK`, content type, body).
async fn forward(upstream: &str, req: &Request) -> Option<(String, Option<String>, Vec<u8>)> {
    let exchange = async {
        let mut up = TcpStream::connect(upstream).await.ok()?;
        let mut head = format!(
            "{} {} HTTP/1.0\r\nHost: {upstream}\r\nContent-Length: {}\r\nConnection: close\r\n",
            req.method,
            req.path,
            req.body.len()
        );
        if let Some(ct) = &req.content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str("\r\n");
        up.write_all(head.as_bytes()).await.ok()?;
        up.write_all(&req.body).await.ok()?;
        let mut raw = Vec::new();
        up.read_to_end(&mut raw).await.ok()?;
        Some(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(60), exchange)
        .await
        .ok()??;
    let head_end = find(&raw, b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_once(' ')?.1.trim().to_owned();
    let mut length = None;
    let mut content_type = None;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = v.trim().parse::<usize>().ok(),
            "content-type" => content_type = Some(v.trim().to_owned()),
            _ => {}
        }
    }
    let mut body = raw[head_end..].to_vec();
    if let Some(n) = length {
        body.truncate(n);
    }
    Some((status, content_type, body))
}

async fn respond(
    sock: &mut TcpStream,
    status: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("\r\n");
    sock.write_all(head.as_bytes()).await?;
    sock.write_all(body).await?;
    sock.shutdown().await
}

/// The upstream's `getblockcount` (retried until it answers).
async fn block_count(upstream: &str) -> u64 {
    let req = Request {
        method: "POST".into(),
        path: "/".into(),
        content_type: Some("application/json".into()),
        body: br#"{"jsonrpc":"2.0","id":1,"method":"getblockcount","params":[]}"#.to_vec(),
    };
    loop {
        if let Some((_, _, body)) = forward(upstream, &req).await
            && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
            && let Some(n) = v["result"].as_u64()
        {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
