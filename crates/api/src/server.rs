//! Serving the router on a socket with graceful shutdown, plus the API's background upkeep.
//!
//! ```text
//! accept --> permit of the connection cap?  no --> 503 `unavailable`, close
//!        --> HTTP/1.1 connection (hyper) over a guarded socket:
//!              no request in flight, no byte of a new one   --> closed after keep_alive_timeout
//!              first byte of a request head seen             --> closed unless the head is complete
//!                                                               within header_read_timeout
//!              request in flight                             --> [api] request_timeout_ms governs
//! ```
//!
//! The guards defend against slow clients (slowloris: heads sent a byte at a time, or connections
//! opened and left idle) that would otherwise hold sockets and tasks without limit.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use nsl_store::AuthStore as _;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

use crate::state::AppState;

/// How often expired challenges and refresh tokens are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(300);
/// After the shutdown signal, how long in-flight requests may still take.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long the 503 answer to a connection beyond the cap may take to write.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Limits of the listener (`[api] header_read_timeout_ms`, `keep_alive_timeout_ms`,
/// `max_connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// Time to send a complete request head, from its first byte.
    pub header_read_timeout: Duration,
    /// Time an idle connection (no request in flight, no byte of a new one) stays open.
    pub keep_alive_timeout: Duration,
    /// Most connections open at once; more are answered 503 and closed.
    pub max_connections: u32,
}

impl ListenerLimits {
    /// From `[api]`.
    pub fn from_config(api: &nsl_config::ApiConfig) -> Self {
        Self {
            header_read_timeout: Duration::from_millis(api.header_read_timeout_ms),
            keep_alive_timeout: Duration::from_millis(api.keep_alive_timeout_ms),
            max_connections: api.max_connections.max(1),
        }
    }
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self::from_config(&nsl_config::ApiConfig::default())
    }
}

/// Errors of the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Accepting connections failed.
    #[error("HTTP server failed: {0}")]
    Io(#[from] std::io::Error),
    /// In-flight requests did not finish within the grace period.
    #[error("in-flight requests did not finish within {0:?} of the shutdown signal")]
    ShutdownTimeout(Duration),
}

/// Serve `app` on `listener` until `shutdown` completes, then stop accepting, let in-flight requests
/// finish (at most [`SHUTDOWN_GRACE`]) and return. Background upkeep (metrics, purge of expired auth
/// rows) runs meanwhile. The listener limits come from `state`'s settings.
pub async fn serve<F>(
    listener: TcpListener,
    app: Router,
    state: &AppState,
    shutdown: F,
) -> Result<(), ServeError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let limits = state.settings().listener;
    let upkeep = state.metrics().spawn_upkeep();
    let purge = spawn_purge(state.clone());
    let permits = Arc::new(Semaphore::new(limits.max_connections as usize));
    let (closing_tx, closing_rx) = watch::channel(false);
    // Refusals being written; beyond the cap more connections are dropped without an answer, so
    // a flood cannot pile up refusal tasks either.
    let refusing = Arc::new(AtomicUsize::new(0));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics::counter!("nsl_http_connections_refused_total").increment(1);
            if refusing.fetch_add(1, Ordering::AcqRel) < limits.max_connections as usize {
                let refusing = refusing.clone();
                tokio::spawn(async move {
                    refuse(stream).await;
                    refusing.fetch_sub(1, Ordering::AcqRel);
                });
            } else {
                refusing.fetch_sub(1, Ordering::AcqRel);
                drop(stream);
            }
            continue;
        };
        let app = app.clone();
        let closing = closing_rx.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, app, limits, closing).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let drained =
        tokio::time::timeout(SHUTDOWN_GRACE, permits.acquire_many(limits.max_connections)).await;
    upkeep.abort();
    purge.abort();
    match drained {
        Ok(_) => Ok(()),
        Err(_) => Err(ServeError::ShutdownTimeout(SHUTDOWN_GRACE)),
    }
}

/// Answer a connection beyond the cap with 503 `unavailable` and close it.
async fn refuse(mut stream: TcpStream) {
    let body = serde_json::json!({
        "code": crate::ErrorCode::Unavailable,
        "message": "too many connections, retry later",
        "request_id": format!("{:032x}", rand::random::<u128>()),
    })
    .to_string();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, write).await;
}

/// Requests of one connection: in flight now, and completed so far.
#[derive(Debug, Default)]
struct ConnActivity {
    in_flight: AtomicUsize,
    completed: AtomicU64,
    /// The connection's reader, parked while a request was in flight: woken when it completes so
    /// the idle deadline starts even if the client sends nothing more.
    reader: futures::task::AtomicWaker,
}

/// Marks a request in flight until dropped (when its response future completes).
struct InFlight(Arc<ConnActivity>);

impl InFlight {
    fn enter(a: &Arc<ConnActivity>) -> Self {
        a.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(a.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.completed.fetch_add(1, Ordering::AcqRel);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.reader.wake();
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ListenerLimits,
    mut closing: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(ConnActivity::default());
    let io = hyper_util::rt::TokioIo::new(GuardedIo::new(stream, activity.clone(), limits));
    let svc = hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let guard = InFlight::enter(&activity);
        let app = app.clone();
        async move {
            let res = app.oneshot(req.map(axum::body::Body::new)).await;
            drop(guard);
            res
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, svc)
        .with_upgrades();
    tokio::pin!(conn);
    let mut shutting_down = *closing.borrow();
    if shutting_down {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, %peer, "connection closed with an error");
                }
                return;
            }
            changed = closing.changed(), if !shutting_down => {
                shutting_down = true;
                if changed.is_err() || *closing.borrow() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// The socket of one connection, closing it (read error `TimedOut`) when it sits idle past the
/// keep-alive timeout or takes longer than the header timeout to deliver a request head. While a
/// request is in flight no deadline applies here.
struct GuardedIo {
    io: TcpStream,
    activity: Arc<ConnActivity>,
    limits: ListenerLimits,
    /// `completed` when the state below was last reset.
    seen_completed: u64,
    /// Since when the connection has been idle (start, or the last completed request).
    idle_since: Instant,
    /// When the first byte of the current request head arrived.
    head_since: Option<Instant>,
    sleep: Pin<Box<Sleep>>,
}

impl GuardedIo {
    fn new(io: TcpStream, activity: Arc<ConnActivity>, limits: ListenerLimits) -> Self {
        let now = Instant::now();
        Self {
            io,
            activity,
            limits,
            seen_completed: 0,
            idle_since: now,
            head_since: None,
            sleep: Box::pin(tokio::time::sleep_until(now + limits.keep_alive_timeout)),
        }
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let res = Pin::new(&mut this.io).poll_read(cx, buf);
        let now = Instant::now();
        let completed = this.activity.completed.load(Ordering::Acquire);
        if completed != this.seen_completed {
            this.seen_completed = completed;
            this.idle_since = now;
            this.head_since = None;
        }
        let mut in_flight = this.activity.in_flight.load(Ordering::Acquire) > 0;
        if in_flight && res.is_pending() {
            // Be woken when the request completes (re-checked after registering: no lost wake-up).
            this.activity.reader.register(cx.waker());
            in_flight = this.activity.in_flight.load(Ordering::Acquire) > 0;
        }
        match res {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && !in_flight && this.head_since.is_none() {
                    this.head_since = Some(now);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if in_flight => Poll::Pending,
            Poll::Pending => {
                let (deadline, what) = match this.head_since {
                    Some(t) => (t + this.limits.header_read_timeout, "request head"),
                    None => (this.idle_since + this.limits.keep_alive_timeout, "idle"),
                };
                this.sleep.as_mut().reset(deadline);
                if now >= deadline || this.sleep.as_mut().poll(cx).is_ready() {
                    tracing::debug!(what, "closing a slow or idle connection");
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{what} timeout"),
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

fn spawn_purge(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PURGE_INTERVAL);
        loop {
            tick.tick().await;
            match state.store().purge_expired_auth(nsl_store::now_ms()).await {
                Ok(n) if n > 0 => {
                    tracing::debug!(rows = n, "purged expired challenges and refresh tokens")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging expired auth rows failed"),
            }
        }
    })
}
