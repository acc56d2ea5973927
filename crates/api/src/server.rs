//! Serving the router on a socket with graceful shutdown, plus the API's background upkeep.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use nsl_store::AuthStore as _;
use tokio::net::TcpListener;

use crate::state::AppState;

/// How often expired challenges and refresh tokens are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(300);
/// After the shutdown signal, how long in-flight requests may still take.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

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
/// rows) runs meanwhile.
pub async fn serve<F>(
    listener: TcpListener,
    app: Router,
    state: &AppState,
    shutdown: F,
) -> Result<(), ServeError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let upkeep = state.metrics().spawn_upkeep();
    let purge = spawn_purge(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let signalled = async move {
        shutdown.await;
        let _ = tx.send(());
    };
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signalled)
    .into_future();
    tokio::pin!(server);
    let result = tokio::select! {
        r = &mut server => r.map_err(ServeError::from),
        Ok(()) = rx => match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
            Ok(r) => r.map_err(ServeError::from),
            Err(_) => Err(ServeError::ShutdownTimeout(SHUTDOWN_GRACE)),
        },
    };
    upkeep.abort();
    purge.abort();
    result
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
