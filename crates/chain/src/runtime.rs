//! One chain runtime per node: one RPC client, one [`Follower`] (one cursor, one block stream)
//! and one [`TxManager`] (one outbox, one sender), shared by every chain-facing service.
//!
//! ```text
//! node registry: ChainRuntime::new(rpc, store, RuntimeConfig)   (before the services using it)
//!   services' build: handle.add_sink(sink)        (contract, event) subscriptions
//!                    handle.set_owner(name, owner) FAULT / expiry / confirmation decisions
//! supervise(ChainRuntime "chain"): run = start (identity, TxManager, Follower + every sink,
//!   enter_chain) -> publish Attached { identity, tx } -> follower + sender until shutdown or
//!   failure -> Attached::ended() fires (Shutdown | Failed(class)) -> wait for the services to
//!   drop their TxManager handles -> Err: back-off, next run publishes a new Attached
//! service run: attached = handle.attach(shutdown) -> tx.with_signer(its scoped signer) ->
//!   work until shutdown or attached.ended() (then end its run with the runtime's class)
//! ```
//!
//! Invariants:
//! - Sinks and owners are registered before the first start ([`ChainHandle::add_sink`] refuses
//!   later ones); every run of the runtime builds its follower with all of them.
//! - The cursor moves once every sink recorded a block: a sink whose service is down answers
//!   [`crate::SinkError::Retry`] and holds the cursor (nothing is missed; the other sinks get
//!   the block again, idempotently, when it comes back).
//! - A service never holds a [`TxManager`] of an ended run: the run waits for every handle to be
//!   dropped before it returns (its outbox writer writes what they handed over).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use neo_rpc::RpcClient;
use nsl_service_api::{ErrorClass, RunContext, Service, ServiceError};
use tokio::sync::watch;

use crate::queue::ChainStore;
use crate::{
    ChainError, ChainIdentity, Follower, FollowerConfig, Sink, TxConfig, TxManager, TxOwner,
    TxTasks,
};

/// Settings of the node's chain runtime (`[chain]`: docs/config.md).
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// The follower's (poll interval, block push, start block, name in logs).
    pub follower: FollowerConfig,
    /// The transaction manager's (poll interval, fee margin, GAS gauge and warning).
    pub tx: TxConfig,
}

/// Why a run of the runtime ended (what [`Attached::ended`] reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// The node is shutting down.
    Shutdown,
    /// The run failed; the runtime restarts with back-off. `class`: what failed (`store`,
    /// `chain`); `message`: for the log.
    Failed {
        /// What failed.
        class: ErrorClass,
        /// For the log only.
        message: String,
    },
}

/// A sink or owner registered after the runtime started.
#[derive(Debug, thiserror::Error)]
#[error("the chain runtime has started: register sinks before the first start")]
pub struct LateRegistration;

/// What services registered.
#[derive(Default)]
struct Registered {
    sinks: Vec<Arc<dyn Sink>>,
    owners: Vec<(String, Arc<dyn TxOwner>)>,
    started: bool,
}

struct Inner {
    rpc: RpcClient,
    store: Arc<dyn ChainStore>,
    config: RuntimeConfig,
    registered: Mutex<Registered>,
    /// The running generation (`None` between runs).
    current: watch::Sender<Option<Attached>>,
    /// The class of the last failed run (or start), until a run starts.
    last_failure: Mutex<Option<ErrorClass>>,
}

/// What a service holds of the node's chain runtime (cheap to clone): register sinks and
/// owners, then [`ChainHandle::attach`] in each of its runs.
#[derive(Clone)]
pub struct ChainHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ChainHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainHandle")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// One run of the runtime as a service sees it: the chain and the transaction manager. Ends with
/// the run ([`Attached::ended`]); the service's run then ends too and attaches again.
#[derive(Clone)]
pub struct Attached {
    /// The chain followed.
    pub identity: ChainIdentity,
    /// The run's transaction manager, without a signer: a service signs with its own
    /// ([`TxManager::with_signer`]).
    pub tx: TxManager,
    end: watch::Receiver<Option<RunEnd>>,
}

impl std::fmt::Debug for Attached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attached")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Attached {
    /// Resolves when the runtime's run ends (shutdown or failure).
    pub async fn ended(&self) -> RunEnd {
        let mut rx = self.end.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(end) => end.clone().unwrap_or(RunEnd::Shutdown),
            Err(_) => RunEnd::Failed {
                class: ErrorClass::Internal,
                message: "the chain runtime's run went away".into(),
            },
        }
    }

    /// Whether the run has ended.
    pub fn is_ended(&self) -> bool {
        self.end.borrow().is_some()
    }
}

impl ChainHandle {
    /// The node's RPC client (failover over `[chain] rpc_urls`).
    pub fn rpc(&self) -> &RpcClient {
        &self.inner.rpc
    }

    /// The store the runtime keeps its cursor, queue and outbox in.
    pub fn store(&self) -> &Arc<dyn ChainStore> {
        &self.inner.store
    }

    /// The runtime's settings.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Subscribe `sink` to the follower (its [`Sink::subscriptions`] are read at every start).
    /// Only before the runtime's first start.
    pub fn add_sink(&self, sink: Arc<dyn Sink>) -> Result<(), LateRegistration> {
        let mut reg = self.lock();
        if reg.started {
            return Err(LateRegistration);
        }
        reg.sinks.push(sink);
        Ok(())
    }

    /// The owner of `service`'s rows and submitted transactions (see [`TxManager::set_owner`]).
    /// Only before the runtime's first start, so that no sender round decides without it.
    pub fn set_owner(
        &self,
        service: &str,
        owner: Arc<dyn TxOwner>,
    ) -> Result<(), LateRegistration> {
        let mut reg = self.lock();
        if reg.started {
            return Err(LateRegistration);
        }
        reg.owners.push((service.to_string(), owner));
        Ok(())
    }

    /// Wait for a running generation of the runtime; `None` when `shutdown` fires first.
    pub async fn attach(&self, shutdown: &mut watch::Receiver<bool>) -> Option<Attached> {
        let mut current = self.inner.current.subscribe();
        loop {
            if *shutdown.borrow() {
                return None;
            }
            if let Some(a) = current
                .borrow_and_update()
                .clone()
                .filter(|a| !a.is_ended())
            {
                return Some(a);
            }
            tokio::select! {
                r = current.changed() => if r.is_err() { return None },
                r = shutdown.changed() => if r.is_err() { return None },
            }
        }
    }

    /// While the runtime is down after a failure: its class (`store`, `chain`). A service
    /// waiting to attach shows it as its own state (`/ready`: restarting, with this class).
    pub fn last_failure(&self) -> Option<ErrorClass> {
        *self
            .inner
            .last_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn set_failure(&self, class: Option<ErrorClass>) {
        *self
            .inner
            .last_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = class;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registered> {
        self.inner
            .registered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

/// A run of the runtime, started ([`ChainRuntime::start`]) and not yet running.
pub struct Started {
    follower: Follower,
    tasks: TxTasks,
    attached: Attached,
    end: watch::Sender<Option<RunEnd>>,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started")
            .field("identity", &self.attached.identity)
            .finish_non_exhaustive()
    }
}

impl Started {
    /// The run as services see it.
    pub fn attached(&self) -> &Attached {
        &self.attached
    }
}

/// The node's chain runtime: the supervised service `chain` (its [`Service::run`] is
/// [`ChainRuntime::start`] + [`ChainRuntime::run_started`]).
#[derive(Clone, Debug)]
pub struct ChainRuntime {
    handle: ChainHandle,
}

impl ChainRuntime {
    /// A runtime over `rpc` and `store` (nothing is asked of either until it starts).
    pub fn new(rpc: RpcClient, store: Arc<dyn ChainStore>, config: RuntimeConfig) -> Self {
        let (current, _) = watch::channel(None);
        Self {
            handle: ChainHandle {
                inner: Arc::new(Inner {
                    rpc,
                    store,
                    config,
                    registered: Mutex::new(Registered::default()),
                    current,
                    last_failure: Mutex::new(None),
                }),
            },
        }
    }

    /// The handle services register with and attach to.
    pub fn handle(&self) -> ChainHandle {
        self.handle.clone()
    }

    /// Set up one run: the chain's identity, a transaction manager with the registered owners, a
    /// follower with the registered sinks, the cursor checked against the chain
    /// ([`Follower::enter_chain`]). From here on no sink or owner can be added.
    pub async fn start(&self) -> Result<Started, ChainError> {
        let inner = &self.handle.inner;
        let identity = ChainIdentity::read(&inner.rpc).await?;
        let (tx, tasks) = TxManager::new(
            inner.store.clone(),
            inner.rpc.clone(),
            identity.clone(),
            None,
            inner.config.tx.clone(),
        )
        .await?;
        let mut follower = Follower::new(
            inner.rpc.clone(),
            inner.store.clone(),
            identity.clone(),
            inner.config.follower.clone(),
        )
        .with_height(tx.height());
        follower.confirm_to(tx.confirmations());
        {
            let mut reg = self.handle.lock();
            reg.started = true;
            for (service, owner) in &reg.owners {
                tx.set_owner(service, owner.clone());
            }
            for sink in &reg.sinks {
                follower.add_sink(sink.clone());
            }
        }
        follower.enter_chain().await?;
        let (end, end_rx) = watch::channel(None);
        Ok(Started {
            follower,
            tasks,
            attached: Attached {
                identity,
                tx,
                end: end_rx,
            },
            end,
        })
    }

    /// Run `started` until `shutdown` (then `Ok`) or a failure of the follower or the sender
    /// (then `Err`): publishes it to [`ChainHandle::attach`], and when it ends tells the
    /// attached services ([`Attached::ended`]) and waits for them to drop their handles.
    pub async fn run_started(
        &self,
        started: Started,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), ChainError> {
        let Started {
            follower,
            tasks,
            attached,
            end,
        } = started;
        let end = Arc::new(end);
        let (stop_all, stop) = watch::channel(false);
        let stop_all = Arc::new(stop_all);
        // The first end wins: a failure, else the shutdown.
        let finish = {
            let (end, stop_all, handle) = (end.clone(), stop_all.clone(), self.handle.clone());
            move |why: RunEnd| {
                if let RunEnd::Failed { class, .. } = &why
                    && end.borrow().is_none()
                {
                    handle.set_failure(Some(*class));
                }
                end.send_if_modified(|e| {
                    if e.is_none() {
                        *e = Some(why);
                        true
                    } else {
                        false
                    }
                });
                let _ = stop_all.send(true);
            }
        };
        self.handle.set_failure(None);
        self.handle.inner.current.send_replace(Some(attached));
        let forward = {
            let finish = finish.clone();
            let mut outer = shutdown;
            tokio::spawn(async move {
                let _ = outer.wait_for(|s| *s).await;
                finish(RunEnd::Shutdown);
            })
        };
        let sender = tokio::spawn({
            let finish = finish.clone();
            tasks.run_reporting(stop.clone(), move |e| finish(failed(e)))
        });
        let followed = follower.run(stop).await;
        finish(match &followed {
            Ok(()) => RunEnd::Shutdown,
            Err(e) => failed(e),
        });
        forward.abort();
        // Services attached to this run end theirs and drop their handles; the sender's writer
        // stores what they handed over and stops.
        self.handle.inner.current.send_replace(None);
        let sent = match sender.await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "chain runtime: transaction manager panicked");
                Err(ChainError::Retry("transaction manager panicked".into()))
            }
        };
        followed.and(sent)
    }
}

impl RuntimeConfig {
    /// The node runtime's settings from `[chain]`: follower and sender poll interval, block
    /// push, start block, system fee margin, low-GAS warning (key `chain.low_gas_warning`,
    /// metrics `nsl_chain_*`). The GAS account and where the warning shows are the node's to
    /// set (`tx.gas_account`, `tx.ready_warnings`).
    pub fn from_config(chain: &nsl_config::ChainConfig) -> Self {
        let poll_interval = Duration::from_millis(chain.poll_interval_ms.max(10));
        Self {
            follower: FollowerConfig {
                poll_interval,
                block_push: chain.block_push,
                start_block: chain.start_block,
                name: "chain".into(),
            },
            tx: TxConfig {
                poll_interval,
                system_fee_margin: chain.system_fee_margin,
                low_gas_warning: chain.low_gas_warning,
                low_gas_key: "chain.low_gas_warning".into(),
                ..TxConfig::default()
            },
        }
    }
}

/// The RPC client of `[chain]`: `rpc_urls` with failover (breaker and health settings from the
/// section), or `fallback_url` (`oracle.rpc_url`) alone when the list is empty. `Err`: the
/// message names the key (URLs redacted).
pub fn rpc_client_from_config(
    chain: &nsl_config::ChainConfig,
    fallback_url: &str,
) -> Result<RpcClient, String> {
    let key = if chain.rpc_urls.is_empty() {
        "oracle.rpc_url"
    } else {
        "chain.rpc_urls"
    };
    let failover = neo_rpc::FailoverConfig {
        breaker_threshold: chain.breaker_threshold,
        breaker_cooldown: Duration::from_millis(chain.breaker_cooldown_ms),
        breaker_max_cooldown: Duration::from_millis(chain.breaker_max_cooldown_ms),
        lag_threshold: chain.lag_threshold,
        health_interval: Duration::from_millis(chain.health_interval_ms),
    };
    RpcClient::with_endpoints(
        chain.endpoints(fallback_url),
        neo_rpc::DEFAULT_TIMEOUT,
        failover,
    )
    .map_err(|e| format!("{key}: {e}"))
}

/// The run end for a runtime error.
fn failed(e: &ChainError) -> RunEnd {
    RunEnd::Failed {
        class: class_of(e),
        message: e.to_string(),
    }
}

/// The class `/ready` shows for a runtime error.
pub fn class_of(e: &ChainError) -> ErrorClass {
    match e {
        ChainError::Store(_) | ChainError::Batch(_) => ErrorClass::Store,
        ChainError::Rpc(_) | ChainError::Retry(_) => ErrorClass::Chain,
    }
}

#[async_trait::async_trait]
impl Service for ChainRuntime {
    fn name(&self) -> &'static str {
        "chain"
    }

    async fn run(&self, ctx: RunContext) -> Result<(), ServiceError> {
        let to_error = |e: ChainError| ServiceError::new(class_of(&e), e);
        let started = match self.start().await {
            Ok(s) => s,
            Err(e) => {
                self.handle.set_failure(Some(class_of(&e)));
                return Err(to_error(e));
            }
        };
        ctx.health.running();
        self.run_started(started, ctx.shutdown.receiver())
            .await
            .map_err(to_error)
    }
}
