//! A byte-level TCP proxy for connection-loss tests: it forwards every connection to an upstream
//! (neo-go's RPC port, WebSocket included) and can cut all live connections and refuse new ones,
//! without hooks in production code. It also counts the JSON-RPC calls that go through it by
//! method (HTTP requests; calls made over a WebSocket are masked frames and not counted).
//!
//! ```text
//! client ──TCP──▶ TcpProxy ──TCP──▶ upstream
//!                   cut():          every live connection is dropped (both sides see EOF/reset)
//!                   refuse(true):   new connections are accepted and closed at once (node "down")
//!                   calls(method):  JSON-RPC requests with this method seen so far
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// JSON-RPC calls by method.
type Calls = Arc<Mutex<HashMap<String, usize>>>;

/// A running proxy; aborted (with its connections) when dropped.
pub struct TcpProxy {
    addr: SocketAddr,
    cut: watch::Sender<u64>,
    refusing: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    calls: Calls,
    task: JoinHandle<()>,
}

impl TcpProxy {
    /// Listen on a free loopback port and forward to `upstream` (`127.0.0.1:<port>`).
    pub async fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the TCP proxy");
        let addr = listener.local_addr().expect("TCP proxy address");
        let (cut, cut_rx) = watch::channel(0u64);
        let refusing = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let calls = Calls::default();
        let (r, a, c) = (refusing.clone(), accepted.clone(), calls.clone());
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                while conns.try_join_next().is_some() {}
                if r.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                a.fetch_add(1, Ordering::SeqCst);
                let mut cut_rx = cut_rx.clone();
                cut_rx.mark_unchanged();
                let calls = c.clone();
                conns.spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = async {
                        let mut buf = vec![0u8; 65536];
                        // Unscanned bytes, so a method split across reads is seen once.
                        let mut pending: Vec<u8> = Vec::new();
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            pending.extend_from_slice(&buf[..n]);
                            count_methods(&mut pending, &calls);
                            if sw.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    };
                    let down = tokio::io::copy(&mut sr, &mut cw);
                    tokio::select! {
                        () = up => {}
                        _ = down => {}
                        _ = cut_rx.changed() => {}
                    }
                    // Dropping both sockets ends the connection for both sides.
                });
            }
        });
        TcpProxy {
            addr,
            cut,
            refusing,
            accepted,
            calls,
            task,
        }
    }

    /// `http://<addr>`: the upstream's URL through the proxy.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Drop every live connection.
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// While `true`, new connections are closed as soon as they are accepted.
    pub fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }

    /// Connections forwarded so far.
    pub fn forwarded(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// JSON-RPC requests calling `method` forwarded since the start or [`TcpProxy::clear_calls`].
    pub fn calls(&self, method: &str) -> usize {
        self.calls
            .lock()
            .map(|c| c.get(method).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Forget the counted calls.
    pub fn clear_calls(&self) {
        if let Ok(mut c) = self.calls.lock() {
            c.clear();
        }
    }
}

/// Count the `"method":"<name>"` occurrences completed in `pending` (bytes from the client not
/// yet fully scanned) and drop what was scanned, keeping a possibly split key or name.
fn count_methods(pending: &mut Vec<u8>, calls: &Calls) {
    const KEY: &[u8] = b"\"method\":\"";
    let partial = |from: usize, len: usize| from.max(len.saturating_sub(KEY.len() - 1));
    let mut keep_from = partial(0, pending.len());
    let mut at = 0;
    while let Some(i) = find(&pending[at..], KEY) {
        let start = at + i + KEY.len();
        match pending[start..].iter().position(|b| *b == b'"') {
            Some(len) => {
                if let Ok(name) = std::str::from_utf8(&pending[start..start + len])
                    && let Ok(mut c) = calls.lock()
                {
                    *c.entry(name.to_owned()).or_default() += 1;
                }
                at = start + len + 1;
                keep_from = partial(at, pending.len());
            }
            None => {
                keep_from = at + i;
                break;
            }
        }
    }
    // No method name is that long: not a JSON-RPC request.
    if pending.len() - keep_from > 256 {
        keep_from = pending.len();
    }
    pending.drain(..keep_from);
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
