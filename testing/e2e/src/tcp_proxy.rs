//! A byte-level TCP proxy for connection-loss tests: it forwards every connection to an upstream
//! (neo-go's RPC port, WebSocket included) and can cut all live connections and refuse new ones,
//! without hooks in production code.
//!
//! ```text
//! client ──TCP──▶ TcpProxy ──TCP──▶ upstream
//!                   cut():          every live connection is dropped (both sides see EOF/reset)
//!                   refuse(true):   new connections are accepted and closed at once (node "down")
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running proxy; aborted (with its connections) when dropped.
pub struct TcpProxy {
    addr: SocketAddr,
    cut: watch::Sender<u64>,
    refusing: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
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
        let (r, a) = (refusing.clone(), accepted.clone());
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                while conns.try_join_next().is_some() {}
                if r.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                a.fetch_add(1, Ordering::SeqCst);
                let mut cut_rx = cut_rx.clone();
                cut_rx.mark_unchanged();
                conns.spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
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
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
