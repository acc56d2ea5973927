//! Local test servers. Every server runs as a task of the test's runtime and is aborted when its
//! handle drops, so nothing outlives a test, failed or not.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running server; aborted on drop.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serve an axum router on `ip:0`.
pub(crate) async fn serve(ip: &str, router: Router) -> Server {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind test server");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Server { addr, task }
}

/// A raw TCP server: `handler` gets every accepted connection. Returns the server and a counter of
/// accepted connections.
pub(crate) async fn serve_raw<F, Fut>(ip: &str, handler: F) -> (Server, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind((ip, 0)).await.expect("bind raw server");
    let addr = listener.local_addr().expect("local addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(handler(stream));
        }
    });
    (Server { addr, task }, accepted)
}

/// A raw server that answers every connection with a fixed JSON 200, counting connections. Used as
/// the target that must never be reached.
pub(crate) async fn canary(ip: &str) -> (Server, Arc<AtomicUsize>) {
    serve_raw(ip, |mut stream: TcpStream| async move {
        let body = r#"{"reached":true}"#;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = read_request_head(&mut stream).await;
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(body.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await
}

/// Read until the end of the request head (or EOF); returns what was read.
pub(crate) async fn read_request_head<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            break;
        }
    }
    buf
}
