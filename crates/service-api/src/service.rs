//! The [`Service`] trait: one shape for every long-running NSL service.
//!
//! A service gets its dependencies (store, configuration section, clients) when the node's
//! registry constructs it; [`Service::run`] then gets what changes per run: the shutdown signal
//! and its health reporter ([`RunContext`]). `run` is called again after a failure, so it builds
//! whatever per-run state it needs (connections, caches) itself.
//!
//! ```text
//! registry (nsl-node): build(deps) -> Arc<dyn Service>
//! supervise(service):  loop { ctx = RunContext; service.run(ctx) ; Err/panic -> back-off }
//! run(ctx):            set up -> ctx.health.running() -> work until ctx.shutdown -> Ok(())
//! ```

use async_trait::async_trait;
use tokio::sync::watch;

use crate::health::HealthReporter;

/// Why a run failed, as far as operators and `/ready` are concerned: a class, never the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The database failed or is unreachable.
    Store,
    /// The chain (RPC node) failed or is unreachable.
    Chain,
    /// The service's configuration is unusable.
    Config,
    /// The task panicked.
    Panic,
    /// Anything else.
    Internal,
}

impl ErrorClass {
    /// Stable snake_case name (`/ready`, logs, metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Store => "store",
            Self::Chain => "chain",
            Self::Config => "config",
            Self::Panic => "panic",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed run: its class (public) and a message for the node log. The message must not hold
/// keys or credentials (services' own error types already keep them out).
#[derive(Debug, thiserror::Error)]
#[error("{class}: {message}")]
pub struct ServiceError {
    /// The class shown on `/ready`.
    pub class: ErrorClass,
    /// For the log only.
    pub message: String,
}

impl ServiceError {
    /// An error of `class` with `message` (log only).
    pub fn new(class: ErrorClass, message: impl std::fmt::Display) -> Self {
        Self {
            class,
            message: message.to_string(),
        }
    }
}

/// The node's shutdown signal: cheap to clone; every clone sees the same signal.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// Sends the shutdown signal (held by the node).
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

impl Shutdown {
    /// A signal and its trigger.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger(tx), Shutdown(rx))
    }

    /// Whether shutdown was asked for (or the trigger dropped).
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }

    /// Resolves once shutdown is asked for (or the trigger is dropped).
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|stop| *stop).await;
    }

    /// The underlying receiver (`true` = stop), for APIs that take a `watch::Receiver<bool>`.
    pub fn receiver(&self) -> watch::Receiver<bool> {
        self.0.clone()
    }
}

impl ShutdownTrigger {
    /// Ask every holder of the signal to stop.
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}

/// What one run of a service gets.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// Stop when this fires; return `Ok(())` then.
    pub shutdown: Shutdown,
    /// Report `running` once set up (and warnings).
    pub health: HealthReporter,
}

/// A long-running service of the node (oracle, functions, ...).
#[async_trait]
pub trait Service: Send + Sync + std::fmt::Debug + 'static {
    /// Stable name (`/ready`, logs), e.g. `oracle`.
    fn name(&self) -> &'static str;

    /// Run until `ctx.shutdown` fires (then finish the current step and return `Ok(())`).
    /// Return `Err` when the service cannot go on: the supervisor restarts it with back-off.
    /// Call `ctx.health.running()` once set up.
    async fn run(&self, ctx: RunContext) -> Result<(), ServiceError>;
}
