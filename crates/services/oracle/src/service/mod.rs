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

use std::sync::Arc;
use std::time::Duration;

use neo::{PrivateKey, UInt160};
use neo_rpc::RpcClient;
use nsl_chain::{ChainIdentity, Follower, FollowerConfig, TxConfig, TxManager, TxTasks};
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
    pub(crate) work: mpsc::UnboundedSender<worker::Work>,
    /// The runtime's transaction manager (gateway responses are built by it, every response is
    /// stored, broadcast and confirmed by it).
    pub(crate) tx: TxManager,
    /// Gathers gateway answers ready together into one transaction.
    pub(crate) batch: Arc<batcher::Batcher>,
}

/// The running oracle service: [`OracleService::run`] until the shutdown signal.
pub struct OracleService {
    shared: Arc<Shared>,
    work: mpsc::UnboundedReceiver<worker::Work>,
    follower: Follower,
    tx_tasks: TxTasks,
    batches: mpsc::Receiver<Option<batcher::Ready>>,
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
    /// Connect to the chain (`getversion`) and prepare the signers: the native oracle signs with
    /// `key` (which must be designated for the Oracle role), gateway `fulfill` transactions are
    /// sent from `key`'s account (registered with the gateway's `addNode`, holding GAS for fees).
    /// `handlers` answer gateway service types other than `oracle` (at most one per type).
    pub async fn new(
        store: Arc<dyn OracleStore>,
        rpc: RpcClient,
        egress: Egress,
        key: NodeKey,
        config: ServiceConfig,
        handlers: Vec<Arc<dyn GatewayHandler>>,
    ) -> Result<Self, ServiceError> {
        let handlers = handler::index(handlers)?;
        let native = NativeOracle::connect(rpc.clone(), egress.clone(), key.0.clone()).await?;
        // The chain's identity: its magic and, beside it, its genesis (a fresh chain with the
        // same magic, a restarted `nsl dev`, has another genesis block).
        let identity = ChainIdentity::read(&rpc).await?;
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
        let signer: Option<Arc<dyn nsl_chain::TxSigner>> = match config.gateway {
            Some(gateway) => Some(Arc::new(
                neo_rpc::Actor::with_signers(
                    rpc.clone(),
                    vec![neo_rpc::SignerAccount::with_signer(
                        neo_rpc::Account::single(key.0.clone()),
                        crate::gateway::fulfill_signer(key.0.script_hash(), gateway),
                    )],
                )
                .await?,
            )),
            None => None,
        };
        let tx_config = TxConfig {
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
        };
        let (tx, tx_tasks) = TxManager::new(
            store.clone(),
            rpc.clone(),
            identity.clone(),
            signer,
            tx_config,
        )
        .await?;
        let (batch, batches) = batcher::Batcher::new(config.max_batch);
        tx.set_default_owner(Arc::new(worker::OracleOwner(batch.clone(), rpc.clone())));
        let mut follower = Follower::new(
            rpc.clone(),
            store.clone(),
            identity.clone(),
            FollowerConfig {
                poll_interval: config.poll_interval,
                block_push: config.block_push,
                start_block: config.start_block,
                name: "oracle".into(),
            },
        )
        .with_height(tx.height());
        follower.confirm_to(tx.confirmations());
        let (work_tx, work) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            store,
            rpc,
            egress,
            fetches: tokio::sync::Semaphore::new(config.max_fetches.max(1)),
            native,
            config,
            identity,
            handlers,
            work: work_tx,
            tx,
            batch,
        });
        follower.add_sink(Arc::new(follower::OracleSink(shared.clone())));
        Ok(Self {
            shared,
            work,
            follower,
            tx_tasks,
            batches,
        })
    }

    /// Build the service from the `[oracle]` section: RPC client, egress policy (HTTPS and public
    /// addresses unless `allow_http` / `allow_private_hosts`), node key (env or file), gateway.
    /// The RPC client goes over `chain.rpc_urls` with failover, or `oracle.rpc_url` alone when
    /// that list is empty ([`rpc_client_from_config`]).
    pub async fn from_config(
        cfg: &nsl_config::OracleConfig,
        chain: &nsl_config::ChainConfig,
        store: Arc<dyn OracleStore>,
        handlers: Vec<Arc<dyn GatewayHandler>>,
        ready_warnings: Option<nsl_service_api::ReadyWarnings>,
    ) -> Result<Self, ServiceError> {
        let bad = |key: &str, e: String| ServiceError::Config(format!("{key}: {e}"));
        let wif = cfg.node_key().map_err(|e| bad("oracle.node_key", e))?;
        let key = PrivateKey::from_wif(wif.expose())
            .map_err(|_| bad("oracle.node_key", "not a valid WIF".into()))?;
        let gateway = match cfg.gateway_hash.trim() {
            "" => None,
            h => Some(
                h.parse::<UInt160>()
                    .map_err(|e| bad("oracle.gateway_hash", e.to_string()))?,
            ),
        };
        let rpc = rpc_client_from_config(chain, &cfg.rpc_url)?;
        let egress = Egress::new(nsl_egress::EgressPolicy {
            allow_http: cfg.allow_http,
            allow_private_hosts: cfg.allow_private_hosts,
            ..nsl_egress::EgressPolicy::default()
        })
        .map_err(|e| bad("oracle egress policy", e.to_string()))?;
        let config = ServiceConfig {
            gateway,
            workers: usize::try_from(cfg.workers.max(1)).unwrap_or(1),
            poll_interval: Duration::from_millis(cfg.poll_interval_ms.max(10)),
            block_push: cfg.block_push,
            start_block: cfg.start_block,
            max_attempts: cfg.max_attempts.max(1),
            max_response_fee: cfg.max_response_fee,
            low_gas_warning: cfg.low_gas_warning,
            ready_warnings,
            max_batch: usize::try_from(cfg.max_batch).unwrap_or(1),
            max_fetches: usize::try_from(cfg.max_fetches.max(1)).unwrap_or(1),
            instance: match cfg.instance.trim() {
                "" => ServiceConfig::default().instance,
                name => name.to_string(),
            },
            ..ServiceConfig::default()
        };
        Self::new(store, rpc, egress, NodeKey(key), config, handlers).await
    }

    /// `neo:<network magic>`: the chain column of this service's rows.
    pub fn chain(&self) -> &str {
        &self.shared.identity.chain
    }

    /// Run follower, workers and sender until `shutdown` becomes `true` (or its sender is
    /// dropped). Work in progress finishes its current step; everything else resumes from the
    /// store on the next start.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> Result<(), ServiceError> {
        let services: Vec<&str> = self.shared.handlers.keys().copied().collect();
        tracing::info!(chain = %self.shared.identity.chain, gateway = ?self.shared.config.gateway,
            workers = self.shared.config.workers, ?services,
            local_fees = self.shared.tx.local_fees(),
            "oracle service started");
        let Self {
            shared,
            work,
            follower,
            tx_tasks,
            batches,
        } = self;
        // Claims this instance held before a crash or restart are ours to take back now.
        let released = shared.store.release_owner(&shared.config.instance).await?;
        if released > 0 {
            tracing::info!(released, instance = %shared.config.instance,
                "took back requests claimed before the restart");
        }
        follower.enter_chain().await?;
        // One failing task stops the others, so the run ends with its error instead of going on
        // half-dead (the node's supervisor restarts the service and `/ready` shows it).
        let (stop_all, stop) = watch::channel(false);
        let stop_all = Arc::new(stop_all);
        let forward = {
            let stop_all = stop_all.clone();
            let mut outer = shutdown;
            tokio::spawn(async move {
                let _ = outer.wait_for(|s| *s).await;
                let _ = stop_all.send(true);
            })
        };
        let stop_on_err = |stop_all: Arc<watch::Sender<bool>>| {
            move |r: Result<(), ServiceError>| {
                if r.is_err() {
                    let _ = stop_all.send(true);
                }
                r
            }
        };
        let follower = tokio::spawn({
            let done = stop_on_err(stop_all.clone());
            let task = follower.run(stop.clone());
            async move { done(task.await.map_err(ServiceError::from)) }
        });
        let workers = tokio::spawn({
            let done = stop_on_err(stop_all.clone());
            let task = worker::run_workers(shared.clone(), work, stop.clone());
            async move { done(task.await) }
        });
        let batcher = tokio::spawn(batcher::run(shared.clone(), batches));
        let tx_tasks = tokio::spawn({
            let done = stop_on_err(stop_all.clone());
            let task = tx_tasks.run(stop);
            async move { done(task.await.map_err(ServiceError::from)) }
        });
        let (f, w) = tokio::join!(follower, workers);
        forward.abort();
        // The workers handed over their last answers: the batcher sends them, then stops.
        shared.batch.close().await;
        if let Err(e) = batcher.await {
            tracing::error!(error = %e, "oracle batcher panicked");
        }
        // Every worker and the follower (whose sink holds the shared state) have finished:
        // dropping our handle lets the transaction manager write what is left and stop.
        drop(shared);
        let t = tx_tasks.await;
        tracing::info!("oracle service stopped");
        for r in [f, w, t] {
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => tracing::error!(error = %e, "oracle service task panicked"),
            }
        }
        Ok(())
    }
}

/// The RPC client of the `[chain]` section: its `rpc_urls` with failover (breaker and health
/// settings from the section), or `oracle_rpc_url` alone when the list is empty.
pub fn rpc_client_from_config(
    chain: &nsl_config::ChainConfig,
    oracle_rpc_url: &str,
) -> Result<RpcClient, ServiceError> {
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
        chain.endpoints(oracle_rpc_url),
        neo_rpc::DEFAULT_TIMEOUT,
        failover,
    )
    .map_err(|e| ServiceError::Config(format!("{key}: {e}")))
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
        cfg: &nsl_config::OracleConfig,
        chain: &nsl_config::ChainConfig,
        store: Arc<dyn OracleStore>,
        handlers: Vec<Arc<dyn GatewayHandler>>,
        ready_warnings: Option<nsl_service_api::ReadyWarnings>,
    ) -> Result<Option<Self>, ServiceError> {
        if !cfg.enabled {
            return Ok(None);
        }
        let service =
            OracleService::from_config(cfg, chain, store, handlers, ready_warnings).await?;
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
