//! The oracle service on the chain runtime (`nsl-chain`, docs/chain.md): the runtime's follower
//! hands the oracle's sink the `ServiceRequest` / `OracleRequest` notifications, the sink records
//! them as request rows (claimed for this instance) and gives them to the workers, which answer
//! them and hand the signed responses to the runtime's transaction manager.
//!
//! ```text
//! nsl-chain follower (pushed blocks, app logs)   oracle workers (bounded pool)   nsl-chain tx manager
//!   ServiceRequest(gateway) ─┐
//!   OracleRequest(native)   ─┴▶ OracleSink: rows `seen` (claimed) ─▶ answer(egress, url, filter)
//!                              cursor N+1 after the sink recorded    ─▶ `fetched` (code, result)
//!                                                                    ─▶ build (gateway: test run,
//!                                                                       ceiling, local fees, sign;
//!                                                                       native: oracle multisig)
//!                                                                    ─▶ outbox + `outbox` ─▶ broadcast
//!                                                                       ─▶ `sent` ─▶ `confirmed`
//!                                                                       validUntilBlock passed ─▶
//!                                                                       back to `fetched` (rebuild)
//! ```
//!
//! Invariants:
//! - A request is recorded once per `(chain, tx hash, notification index)`; the follower's cursor
//!   moves after the sink recorded the block (recording twice changes nothing).
//! - The signed transaction is stored before it is broadcast. After a crash the stored bytes are
//!   broadcast again (same hash, so the chain answers at most once); a response is rebuilt only
//!   after its validUntilBlock has passed without inclusion.
//! - The follower's cursor belongs to one chain (magic + genesis hash): at start, a cursor of
//!   another chain is retired with its unfinished rows (`expired`, nothing sent to the new
//!   chain), and requests still pending in the OracleContract are recorded (native catch-up).
//! - Fetch problems are answers (a response code), never retries; RPC problems are retried (the
//!   claim is released, or the outbox entry is re-sent on the next sender round).
//! - The node key is used only to sign; it never appears in logs or errors.

pub mod api;
mod batcher;
mod follower;
mod handler;
mod store;
mod worker;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use neo::{PrivateKey, UInt160};
use neo_rpc::RpcClient;
use nsl_chain::{
    Attached, ChainHandle, ChainIdentity, ChainRuntime, FollowerConfig, RunEnd, RuntimeConfig,
    Started, TxConfig, TxManager,
};
use nsl_egress::Egress;
use tokio::sync::{mpsc, watch};

pub use handler::{GatewayCall, GatewayHandler};
pub use worker::SYSTEM_FEE_MARGIN;

pub use store::{
    ChainEntry, HistoryEntry, NewOutboxTx, NewRequest, OracleStore, OutboxRow, OutboxTx,
    OutboxWrite, RequestDetail, RequestFilter, RequestKind, RequestRow, RequestState, RetiredChain,
    TxState,
};

use crate::native::NativeOracle;

/// Follower source name: the runtime's (one cursor per chain).
pub const FOLLOWER_SOURCE: &str = nsl_chain::FOLLOWER_SOURCE;

/// Errors that stop the service (everything else is logged and retried).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The store failed.
    #[error("oracle store: {0}")]
    Store(#[from] nsl_store::StoreError),
    /// The `[oracle]` configuration is unusable (the message never contains the key).
    #[error("oracle config: {0}")]
    Config(String),
    /// The chain could not be reached or refused a call.
    #[error(transparent)]
    Oracle(#[from] crate::OracleError),
    /// A JSON-RPC call failed.
    #[error(transparent)]
    Rpc(#[from] neo_rpc::Error),
    /// A batched store write failed (the store error's text).
    #[error("oracle store (batched write): {0}")]
    Batch(String),
    /// The node's chain runtime stopped (its run failed: the oracle's run ends with it and
    /// attaches to the next one).
    #[error("chain runtime stopped ({class}): {message}")]
    Runtime {
        /// What failed in the runtime (`store`, `chain`).
        class: nsl_service_api::ErrorClass,
        /// For the log.
        message: String,
    },
}

impl From<nsl_chain::ChainError> for ServiceError {
    fn from(e: nsl_chain::ChainError) -> Self {
        match e {
            nsl_chain::ChainError::Store(e) => Self::Store(e),
            nsl_chain::ChainError::Rpc(e) => Self::Rpc(e),
            other => Self::Batch(other.to_string()),
        }
    }
}

/// Runtime settings of the service.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Script hash of the NSL gateway contract; `None` answers native requests only.
    pub gateway: Option<UInt160>,
    /// Requests worked on at once (fetch, handler, build, sign, broadcast). Each is an async
    /// task waiting on I/O most of the time, so this can be large: a block's requests should all
    /// be in flight at once for them to be answered in the next block.
    pub workers: usize,
    /// Pause between follower / sender rounds when there is nothing new (the follower sees a new
    /// block at most this late).
    pub poll_interval: Duration,
    /// Wake the follower as soon as the node pushes a new block (`block_added` over its
    /// WebSocket endpoint); polling every `poll_interval` stays the fallback. Default `true`.
    pub block_push: bool,
    /// First block to scan when the store has no cursor yet; `None`: the chain's height then.
    pub start_block: Option<u32>,
    /// How long a worker's claim on a row lasts before another worker may take it over.
    pub claim_lease: Duration,
    /// GAS fractions added to a gateway response's test-run GAS for its system fee (default
    /// [`SYSTEM_FEE_MARGIN`]).
    pub system_fee_margin: i64,
    /// Claims of a row whose worker never gave it back (crash, hang) after which the row is
    /// answered with code `Error` without fetching again (default 3). Twice as many and the row
    /// is `failed` (even that answer could not be built).
    pub max_attempts: u32,
    /// Hard ceiling on the system + network fee of one gateway response (GAS fractions): the
    /// node never signs a response above it nor above the request's GAS budget.
    pub max_response_fee: i64,
    /// Below this GAS balance (fractions) of the node account, the service warns in its log and
    /// in `/ready`; `0` disables the warning.
    pub low_gas_warning: i64,
    /// Where the low-GAS warning is shown besides the log (`nsl serve`: the API's `/ready`).
    pub ready_warnings: Option<nsl_service_api::ReadyWarnings>,
    /// Most gateway answers in one transaction (1: every answer alone). Default 64.
    pub max_batch: usize,
    /// URL fetches running at once (`oracle.max_fetches`, default 16).
    pub max_fetches: usize,
    /// Name of this instance in claims: unique among the processes sharing the database, and
    /// best kept across restarts (its claims from before a restart are released at start).
    /// Default: a random name (claims of a previous run then wait out their lease).
    pub instance: String,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            gateway: None,
            workers: 128,
            poll_interval: Duration::from_millis(100),
            block_push: true,
            start_block: None,
            claim_lease: Duration::from_secs(30),
            system_fee_margin: SYSTEM_FEE_MARGIN,
            max_attempts: 3,
            max_response_fee: nsl_config::DEFAULT_MAX_RESPONSE_FEE,
            low_gas_warning: nsl_config::DEFAULT_LOW_GAS_WARNING,
            ready_warnings: None,
            max_batch: nsl_config::DEFAULT_MAX_BATCH as usize,
            max_fetches: nsl_config::DEFAULT_MAX_FETCHES as usize,
            instance: format!("oracle-{}", uuid::Uuid::new_v4().simple()),
        }
    }
}

/// The node's key, wrapped so that it never prints.
#[derive(Clone)]
pub struct NodeKey(pub PrivateKey);

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeKey({})", self.0.public_key())
    }
}

/// Rows handed from the follower to the workers that may wait for a worker: beyond that the
/// follower waits (backpressure down to the chain cursor) instead of buffering a flood of requests.
const WORK_QUEUE: usize = 4096;

/// Shared state of the service's tasks.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn OracleStore>,
    pub(crate) rpc: RpcClient,
    pub(crate) egress: Egress,
    /// Slots for URL fetches (`ServiceConfig::max_fetches`).
    pub(crate) fetches: tokio::sync::Semaphore,
    pub(crate) native: NativeOracle<PrivateKey>,
    pub(crate) config: ServiceConfig,
    /// The chain (`neo:<magic>`, genesis hash).
    pub(crate) identity: ChainIdentity,
    /// Answerers of service types other than `oracle`.
    pub(crate) handlers: handler::Handlers,
    /// Rows the follower recorded (claimed for this instance), for the workers.
    pub(crate) work: mpsc::Sender<worker::Work>,
    /// The runtime's transaction manager (gateway responses are built by it, every response is
    /// stored, broadcast and confirmed by it).
    pub(crate) tx: TxManager,
    /// Gathers gateway answers ready together into one transaction.
    pub(crate) batch: Arc<batcher::Batcher>,
    /// This run's decisions on FAULTed / expired answers (knows the batcher's batches).
    pub(crate) owner: Arc<worker::OracleOwner>,
}

/// The current run's state, for the sink and the owner registered with the chain runtime (which
/// outlive a run): empty while the oracle is not running.
pub(crate) struct Slot {
    /// The gateway whose `ServiceRequest`s the sink subscribes to.
    gateway: Option<UInt160>,
    current: RwLock<Option<Arc<Shared>>>,
    /// The owner's decisions while no run is attached (a fresh batcher: as after a restart).
    idle_owner: Arc<worker::OracleOwner>,
}

impl Slot {
    pub(crate) fn shared(&self) -> Option<Arc<Shared>> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    fn set(&self, shared: Option<Arc<Shared>>) {
        if let Ok(mut c) = self.current.write() {
            *c = shared;
        }
    }
}

/// The oracle's owner of its rows' transactions: the current run's (batcher memory), else one
/// with a fresh memory.
struct SlotOwner(Arc<Slot>);

impl SlotOwner {
    fn owner(&self) -> Arc<worker::OracleOwner> {
        self.0
            .shared()
            .map(|s| s.owner.clone())
            .unwrap_or_else(|| self.0.idle_owner.clone())
    }
}

#[async_trait::async_trait]
impl nsl_chain::TxOwner for SlotOwner {
    async fn confirmed(&self, row: &RequestRow, block: i64) {
        self.owner().confirmed(row, block).await;
    }

    async fn faulted(
        &self,
        row: &RequestRow,
        tx_hash: &str,
        block: i64,
        exception: &str,
    ) -> nsl_chain::Fate {
        self.owner().faulted(row, tx_hash, block, exception).await
    }

    async fn expired(&self, row: &RequestRow, tx_hash: &str) -> nsl_chain::Fate {
        self.owner().expired(row, tx_hash).await
    }
}

/// The oracle on a chain runtime: its sink and owner registered once
/// ([`OracleOnChain::register`], before the runtime starts), then one [`OracleService`] per run
/// of the runtime ([`OracleOnChain::attach`]).
pub struct OracleOnChain {
    chain: ChainHandle,
    egress: Egress,
    key: NodeKey,
    config: ServiceConfig,
    handlers: handler::Handlers,
    slot: Arc<Slot>,
}

impl std::fmt::Debug for OracleOnChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OracleOnChain")
            .field("config", &self.config)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl OracleOnChain {
    /// Register the oracle with `chain`: its sink (native `OracleRequest`, and the gateway's
    /// `ServiceRequest` with a gateway) and its owner for the service types it answers
    /// (`oracle` and the `handlers`' types, at most one handler per type).
    pub fn register(
        chain: ChainHandle,
        egress: Egress,
        key: NodeKey,
        config: ServiceConfig,
        handlers: Vec<Arc<dyn GatewayHandler>>,
    ) -> Result<Self, ServiceError> {
        let handlers = handler::index(handlers)?;
        let (idle_batch, _) = batcher::Batcher::new(config.max_batch);
        let slot = Arc::new(Slot {
            gateway: config.gateway,
            current: RwLock::new(None),
            idle_owner: Arc::new(worker::OracleOwner(idle_batch, chain.rpc().clone())),
        });
        let late = |e: nsl_chain::LateRegistration| ServiceError::Config(e.to_string());
        chain
            .add_sink(Arc::new(follower::OracleSink(slot.clone())))
            .map_err(late)?;
        let owner: Arc<dyn nsl_chain::TxOwner> = Arc::new(SlotOwner(slot.clone()));
        for ty in
            std::iter::once(crate::gateway::ORACLE_SERVICE_TYPE).chain(handlers.keys().copied())
        {
            chain.set_owner(ty, owner.clone()).map_err(late)?;
        }
        Ok(Self {
            chain,
            egress,
            key,
            config,
            handlers,
            slot,
        })
    }

    /// The runtime this oracle is registered with.
    pub fn chain(&self) -> &ChainHandle {
        &self.chain
    }

    /// The service for one run of the runtime: connects the native oracle, checks that the node
    /// key does not own the gateway, and signs gateway answers with the node account (scope:
    /// the gateway only).
    pub async fn attach(&self, attached: Attached) -> Result<OracleService, ServiceError> {
        let rpc = self.chain.rpc().clone();
        let key = &self.key;
        let config = self.config.clone();
        let native = NativeOracle::connect(rpc.clone(), self.egress.clone(), key.0.clone()).await?;
        if let Some(gateway) = &config.gateway {
            // The owner's witness administers the gateway (nodes, fees, code updates): a node
            // key that is also the owner would put that power in every transaction the node
            // signs. Refuse to run rather than sign with it.
            let owner = crate::gateway::gateway_owner(&rpc, gateway).await?;
            if owner == key.0.script_hash() {
                return Err(ServiceError::Config(format!(
                    "the node key's account {} is the owner of gateway {gateway}; \
                     register a separate node key (addNode) and keep the owner key offline",
                    neo::address::script_hash_to_address(&owner)
                )));
            }
        }
        // Gateway `fulfill` transactions are signed by the node account with the narrowest
        // scope (CustomContracts: the gateway only).
        let tx = match config.gateway {
            Some(gateway) => {
                let signer: Arc<dyn nsl_chain::TxSigner> = Arc::new(
                    neo_rpc::Actor::with_signers(
                        rpc.clone(),
                        vec![neo_rpc::SignerAccount::with_signer(
                            neo_rpc::Account::single(key.0.clone()),
                            crate::gateway::fulfill_signer(key.0.script_hash(), gateway),
                        )],
                    )
                    .await?,
                );
                attached.tx.with_signer(signer).await?
            }
            None => attached.tx.clone(),
        };
        let (batch, batches) = batcher::Batcher::new(config.max_batch);
        let owner = Arc::new(worker::OracleOwner(batch.clone(), rpc.clone()));
        let (work_tx, work) = mpsc::channel(WORK_QUEUE);
        let shared = Arc::new(Shared {
            store: self.chain.store().clone(),
            rpc,
            egress: self.egress.clone(),
            fetches: tokio::sync::Semaphore::new(config.max_fetches.max(1)),
            native,
            config,
            identity: attached.identity.clone(),
            handlers: self.handlers.clone(),
            work: work_tx,
            tx,
            batch,
            owner,
        });
        Ok(OracleService {
            shared,
            work,
            batches,
            slot: self.slot.clone(),
            attached,
            own: None,
        })
    }
}

/// The running oracle service: [`OracleService::run`] until the shutdown signal.
pub struct OracleService {
    shared: Arc<Shared>,
    work: mpsc::Receiver<worker::Work>,
    batches: mpsc::Receiver<Option<batcher::Ready>>,
    /// Where the runtime's sink and owner find this run.
    slot: Arc<Slot>,
    /// The runtime's run this service is attached to.
    attached: Attached,
    /// A runtime of its own ([`OracleService::new`]), run with the service.
    own: Option<(ChainRuntime, Started)>,
}

impl std::fmt::Debug for OracleService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OracleService")
            .field("chain", &self.shared.identity.chain)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl OracleService {
    /// A service with a chain runtime of its own (tests, benchmarks, a library user without a
    /// node): the runtime is started here (`getversion`, the cursor checked) and runs with the
    /// service. The native oracle signs with `key` (which must be designated for the Oracle
    /// role), gateway `fulfill` transactions are sent from `key`'s account (registered with the
    /// gateway's `addNode`, holding GAS for fees). `handlers` answer gateway service types other
    /// than `oracle` (at most one per type). `nsl serve` uses the node's runtime instead
    /// ([`OracleOnChain`]).
    pub async fn new(
        store: Arc<dyn OracleStore>,
        rpc: RpcClient,
        egress: Egress,
        key: NodeKey,
        config: ServiceConfig,
        handlers: Vec<Arc<dyn GatewayHandler>>,
    ) -> Result<Self, ServiceError> {
        let runtime = ChainRuntime::new(rpc, store, standalone_runtime_config(&config, &key));
        let on_chain = OracleOnChain::register(runtime.handle(), egress, key, config, handlers)?;
        let started = runtime.start().await?;
        let mut service = on_chain.attach(started.attached().clone()).await?;
        service.own = Some((runtime, started));
        Ok(service)
    }

    /// Build the service, with a runtime of its own, from the configuration: `[oracle]` (egress
    /// policy, gateway, workers, ...) and `[chain]` (node key, RPC endpoints with failover,
    /// follower and sender settings), see [`OracleService::parts_from_config`].
    pub async fn from_config(
        cfg: &nsl_config::Config,
        store: Arc<dyn OracleStore>,
        handlers: Vec<Arc<dyn GatewayHandler>>,
        ready_warnings: Option<nsl_service_api::ReadyWarnings>,
    ) -> Result<Self, ServiceError> {
        let (egress, key, mut config) = Self::parts_from_config(cfg)?;
        config.ready_warnings = ready_warnings;
        let rpc = rpc_client_from_config(&cfg.chain, &cfg.oracle.rpc_url)?;
        Self::new(store, rpc, egress, key, config, handlers).await
    }

    /// The oracle's settings from the configuration, without connecting: the egress policy
    /// (HTTPS and public addresses unless `allow_http` / `allow_private_hosts`), the node key
    /// (`[chain]`, or the deprecated `[oracle]` keys), the gateway, and the service's settings
    /// (the runtime's `poll_interval_ms`, `block_push`, `start_block`, `low_gas_warning` and
    /// `system_fee_margin` from `[chain]`).
    pub fn parts_from_config(
        cfg: &nsl_config::Config,
    ) -> Result<(Egress, NodeKey, ServiceConfig), ServiceError> {
        let bad = |key: &str, e: String| ServiceError::Config(format!("{key}: {e}"));
        let (wif, key_name) = cfg.node_key().map_err(ServiceError::Config)?;
        let key = PrivateKey::from_wif(wif.expose())
            .map_err(|_| bad(key_name, "not a valid WIF".into()))?;
        let (oracle, chain) = (&cfg.oracle, &cfg.chain);
        let gateway = match oracle.gateway_hash.trim() {
            "" => None,
            h => Some(
                h.parse::<UInt160>()
                    .map_err(|e| bad("oracle.gateway_hash", e.to_string()))?,
            ),
        };
        let egress = Egress::new(nsl_egress::EgressPolicy {
            allow_http: oracle.allow_http,
            allow_private_hosts: oracle.allow_private_hosts,
            ..nsl_egress::EgressPolicy::default()
        })
        .map_err(|e| bad("oracle egress policy", e.to_string()))?;
        let config = ServiceConfig {
            gateway,
            workers: usize::try_from(oracle.workers.max(1)).unwrap_or(1),
            poll_interval: Duration::from_millis(chain.poll_interval_ms.max(10)),
            block_push: chain.block_push,
            start_block: chain.start_block,
            system_fee_margin: chain.system_fee_margin,
            max_attempts: oracle.max_attempts.max(1),
            max_response_fee: oracle.max_response_fee,
            low_gas_warning: chain.low_gas_warning,
            max_batch: usize::try_from(oracle.max_batch).unwrap_or(1),
            max_fetches: usize::try_from(oracle.max_fetches.max(1)).unwrap_or(1),
            instance: match oracle.instance.trim() {
                "" => ServiceConfig::default().instance,
                name => name.to_string(),
            },
            ..ServiceConfig::default()
        };
        Ok((egress, NodeKey(key), config))
    }

    /// `neo:<network magic>`: the chain column of this service's rows.
    pub fn chain(&self) -> &str {
        &self.shared.identity.chain
    }

    /// Run the workers (and, with a runtime of its own, the runtime's follower and sender)
    /// until `shutdown` becomes `true` (or its sender is dropped), or until the runtime's run
    /// ends (then `Err(ServiceError::Runtime)` on a failure). Work in progress finishes its
    /// current step; everything else resumes from the store on the next start.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> Result<(), ServiceError> {
        let Self {
            shared,
            work,
            batches,
            slot,
            attached,
            own,
        } = self;
        // A runtime of its own stops with the service (on shutdown, and when the workers fail).
        let (stop_runtime, runtime_stop) = watch::channel(false);
        let stop_runtime = Arc::new(stop_runtime);
        let runtime = own.map(|(runtime, started)| {
            let forward = {
                let (stop_runtime, mut outer) = (stop_runtime.clone(), shutdown.clone());
                tokio::spawn(async move {
                    let _ = outer.wait_for(|s| *s).await;
                    let _ = stop_runtime.send(true);
                })
            };
            tokio::spawn(async move {
                let r = runtime.run_started(started, runtime_stop).await;
                forward.abort();
                r
            })
        });
        let result = run_attached(shared, work, batches, slot, attached, shutdown).await;
        let _ = stop_runtime.send(true);
        let Some(runtime) = runtime else {
            return result;
        };
        let runtime = match runtime.await {
            Ok(r) => r.map_err(ServiceError::from),
            Err(e) => {
                tracing::error!(error = %e, "oracle: its chain runtime panicked");
                Ok(())
            }
        };
        // The runtime's own error says more than "the runtime stopped".
        match (result, runtime) {
            (Err(ServiceError::Runtime { .. }), Err(e)) => Err(e),
            (Err(e), _) | (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        }
    }
}

/// The oracle's part of a run: its workers and batcher, fed by the runtime's sink (through
/// `slot`) until `shutdown` or the end of the runtime's run.
async fn run_attached(
    shared: Arc<Shared>,
    work: mpsc::Receiver<worker::Work>,
    batches: mpsc::Receiver<Option<batcher::Ready>>,
    slot: Arc<Slot>,
    attached: Attached,
    shutdown: watch::Receiver<bool>,
) -> Result<(), ServiceError> {
    let services: Vec<&str> = shared.handlers.keys().copied().collect();
    tracing::info!(chain = %shared.identity.chain, gateway = ?shared.config.gateway,
        workers = shared.config.workers, ?services,
        local_fees = shared.tx.local_fees(),
        "oracle service started");
    // Claims this instance held before a crash or restart are ours to take back now (before
    // the sink hands this run new rows).
    let released = shared.store.release_owner(&shared.config.instance).await?;
    if released > 0 {
        tracing::info!(released, instance = %shared.config.instance,
            "took back requests claimed before the restart");
    }
    slot.set(Some(shared.clone()));
    // The workers stop on shutdown or when the runtime's run ends (then this run ends with an
    // error: the node's supervisor restarts it on the runtime's next run, `/ready` shows it).
    let (stop_all, stop) = watch::channel(false);
    let ended = {
        let mut outer = shutdown;
        let attached = attached.clone();
        tokio::spawn(async move {
            let end = tokio::select! {
                _ = outer.wait_for(|s| *s) => None,
                end = attached.ended() => Some(end),
            };
            let _ = stop_all.send(true);
            end
        })
    };
    let batcher = tokio::spawn(batcher::run(shared.clone(), batches));
    let w = worker::run_workers(shared.clone(), work, stop).await;
    if w.is_err() {
        ended.abort();
    }
    let end = ended.await.ok().flatten();
    // No new rows for this run (the sink holds the cursor until the next run takes over).
    slot.set(None);
    // The workers handed over their last answers: the batcher sends them, then stops.
    shared.batch.close().await;
    if let Err(e) = batcher.await {
        tracing::error!(error = %e, "oracle batcher panicked");
    }
    // Our handles on the runtime's transaction manager go: its writer stores what is left.
    drop(shared);
    drop(attached);
    tracing::info!("oracle service stopped");
    w?;
    match end {
        Some(RunEnd::Failed { class, message }) => Err(ServiceError::Runtime { class, message }),
        _ => Ok(()),
    }
}

/// The settings of the runtime an [`OracleService::new`] runs itself: the service's own (poll
/// interval, block push, start block, fee margin, low-GAS warning as `oracle.low_gas_warning`,
/// metrics `nsl_oracle_*`), the node account's GAS watched.
fn standalone_runtime_config(config: &ServiceConfig, key: &NodeKey) -> RuntimeConfig {
    RuntimeConfig {
        follower: FollowerConfig {
            poll_interval: config.poll_interval,
            block_push: config.block_push,
            start_block: config.start_block,
            name: "oracle".into(),
        },
        tx: TxConfig {
            poll_interval: config.poll_interval,
            system_fee_margin: config.system_fee_margin,
            low_gas_warning: config.low_gas_warning,
            low_gas_key: "oracle.low_gas_warning".into(),
            ready_warnings: config
                .ready_warnings
                .clone()
                .map(|w| (w, "oracle".to_string())),
            metrics_prefix: "nsl_oracle".into(),
            gas_account: Some(key.0.script_hash()),
        },
    }
}

/// The RPC client of the `[chain]` section: its `rpc_urls` with failover (breaker and health
/// settings from the section), or `oracle_rpc_url` alone when the list is empty
/// ([`nsl_chain::runtime::rpc_client_from_config`]).
pub fn rpc_client_from_config(
    chain: &nsl_config::ChainConfig,
    oracle_rpc_url: &str,
) -> Result<RpcClient, ServiceError> {
    nsl_chain::runtime::rpc_client_from_config(chain, oracle_rpc_url).map_err(ServiceError::Config)
}

/// A service running in a spawned task (what `nsl serve` holds).
#[derive(Debug)]
pub struct OracleHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), ServiceError>>,
}

impl OracleHandle {
    /// Start the service of the `[oracle]` section in a task; `Ok(None)` when it is disabled.
    pub async fn spawn_from_config(
        cfg: &nsl_config::Config,
        store: Arc<dyn OracleStore>,
        handlers: Vec<Arc<dyn GatewayHandler>>,
        ready_warnings: Option<nsl_service_api::ReadyWarnings>,
    ) -> Result<Option<Self>, ServiceError> {
        if !cfg.oracle.enabled {
            return Ok(None);
        }
        let service = OracleService::from_config(cfg, store, handlers, ready_warnings).await?;
        let (stop, rx) = watch::channel(false);
        Ok(Some(Self {
            stop,
            task: tokio::spawn(service.run(rx)),
        }))
    }

    /// Ask the service to stop and wait for it (work in progress finishes its current step).
    pub async fn shutdown(self) -> Result<(), ServiceError> {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "oracle service task failed");
                Ok(())
            }
        }
    }
}
