//! The block follower: one per chain, one cursor per chain. Reads every block from the cursor in
//! order, hands the notifications of HALTed transactions to the sinks subscribed to them, hands
//! every transaction's fate to the transaction manager (confirmations), then moves the cursor.
//!
//! Cursor discipline (documented in docs/chain.md): the cursor moves after every sink has recorded
//! the block. Sinks record idempotently (unique keys such as `(chain, tx hash, notification
//! index)`), so a crash between a sink's write and the cursor's only makes the next run record the
//! block again, which changes nothing.
//!
//! Latency: pushed blocks (`block_added` over the node's WebSocket) carry their transactions, so
//! the follower takes them from the push (no `getblockcount` / `getblock` round trip). The same
//! socket carries each transaction's application log (`transaction_executed`, which the node
//! sends before the block's `block_added`), so a pushed block usually comes with every log it
//! needs and the follower makes no `getapplicationlog` call for it. The block stays the source
//! of truth: a transaction of the block whose log did not come with it (socket lost, events
//! dropped for a slow reader, a polled block) is read with `getapplicationlog`, concurrently.
//! Polling `getblockcount` + `getblock` every `poll_interval` stays the fallback (no WebSocket
//! endpoint, socket down, missed blocks).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use neo::{UInt160, UInt256};
use neo_rpc::RpcClient;
use neo_rpc::types::{ApplicationLog, Block, Execution, Notification, VmState};
use neo_rpc::ws::{Event, EventStream, StreamItem, StreamOptions, Subscription as WsSubscription};
use nsl_store::{StoreError, now_ms};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;

use crate::queue::ChainStore;
use crate::tx::{BlockTxs, TxFate, fault_of};
use crate::{ChainError, ChainIdentity, pause};

/// Cursor source of the follower (one cursor per chain).
pub const FOLLOWER_SOURCE: &str = "follower";

/// Application logs fetched at once while reading a block.
const LOG_FETCHES: usize = 16;

/// Pushed blocks kept ahead of the cursor.
const PUSHED_BLOCKS: usize = 64;

/// How long the follower waits for the push of the newest block once polling has shown it,
/// while the socket is up: `getblockcount` shows a block before the node has sent its executions
/// (a block of many transactions takes a while), and reading it over RPC then costs one
/// `getapplicationlog` per transaction.
const PUSH_GRACE: Duration = Duration::from_millis(50);

/// Pushed executions kept while waiting for their block; beyond this (no block came) they are
/// dropped and read over RPC if needed.
const PUSHED_EXECUTIONS: usize = 8192;

/// A block pushed by the node, with the application logs of its transactions that were pushed
/// before it (`transaction_executed`); transactions missing from `logs` are read over RPC.
#[derive(Debug)]
pub(crate) struct PushedBlock {
    block: Box<Block>,
    logs: HashMap<UInt256, ApplicationLog>,
}

/// What a sink subscribes to: an event name of a contract.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subscription {
    /// The emitting contract.
    pub contract: UInt160,
    /// The event name (`ServiceRequest`, `OracleRequest`, `Transfer`, ...).
    pub event: String,
}

impl Subscription {
    /// `event` of `contract`.
    pub fn new(contract: UInt160, event: impl Into<String>) -> Self {
        Self {
            contract,
            event: event.into(),
        }
    }

    fn matches(&self, n: &Notification) -> bool {
        n.contract == self.contract && n.eventname == self.event
    }
}

/// A notification handed to a sink.
#[derive(Debug, Clone)]
pub struct ChainEvent {
    /// Height of the block.
    pub block: u32,
    /// The transaction that emitted it.
    pub tx_hash: UInt256,
    /// Its index among the notifications of the transaction's HALTed executions (with the chain
    /// and the transaction hash, a unique key).
    pub index: usize,
    /// The notification.
    pub notification: Notification,
}

/// What stops a sink's recording of a block.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The store failed: the follower stops (the service stops).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A transient problem: the block is read again after the poll interval.
    #[error("{0}")]
    Retry(String),
}

/// A consumer of the follower's notifications (a service's request recorder, a deposit watcher).
#[async_trait]
pub trait Sink: Send + Sync {
    /// Name in logs.
    fn name(&self) -> &str;

    /// The (contract, event) pairs this sink receives.
    fn subscriptions(&self) -> Vec<Subscription>;

    /// Record the matching notifications of block `block` (possibly none), idempotently: the
    /// same block may be handed over again after a crash. Called for every block, in order.
    async fn record(
        &self,
        block: u32,
        events: Vec<ChainEvent>,
        seen: Instant,
    ) -> Result<(), SinkError>;

    /// Start-up hook, run before the first block and retried (after the poll interval) until it
    /// succeeds: catch up with what the chain holds beside the event stream (the oracle's native
    /// requests pending in the OracleContract).
    async fn catch_up(&self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Settings of a follower.
#[derive(Debug, Clone)]
pub struct FollowerConfig {
    /// Pause between polls when there is nothing new.
    pub poll_interval: Duration,
    /// Take blocks pushed by the node (`block_added`); polling stays the fallback.
    pub block_push: bool,
    /// First block to read when there is no cursor; `None`: the chain's height then.
    pub start_block: Option<u32>,
    /// Name in logs; a name other than `chain` also publishes the follower metrics as
    /// `nsl_<name>_follower_block` / `nsl_<name>_follower_wakeups_total` (the oracle's names).
    pub name: String,
}

impl Default for FollowerConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(100),
            block_push: true,
            start_block: None,
            name: "chain".into(),
        }
    }
}

/// The follower of one chain; [`Follower::run`] until shutdown.
pub struct Follower {
    rpc: RpcClient,
    store: Arc<dyn ChainStore>,
    identity: ChainIdentity,
    config: FollowerConfig,
    sinks: Vec<(Arc<dyn Sink>, Vec<Subscription>)>,
    blocks: Vec<mpsc::Sender<BlockTxs>>,
    height: Arc<AtomicU32>,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("identity", &self.identity)
            .field("config", &self.config)
            .field("sinks", &self.sinks.len())
            .finish_non_exhaustive()
    }
}

impl Follower {
    /// A follower of the chain `identity` (read with [`ChainIdentity::read`]).
    pub fn new(
        rpc: RpcClient,
        store: Arc<dyn ChainStore>,
        identity: ChainIdentity,
        config: FollowerConfig,
    ) -> Self {
        Self {
            rpc,
            store,
            identity,
            config,
            sinks: Vec::new(),
            blocks: Vec::new(),
            height: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Add a sink (before [`Follower::run`]).
    pub fn add_sink(&mut self, sink: Arc<dyn Sink>) {
        let subs = sink.subscriptions();
        self.sinks.push((sink, subs));
    }

    /// Hand every block's transactions to `tx` (the transaction manager's confirmations, see
    /// [`crate::TxManager::confirmations`]).
    pub fn confirm_to(&mut self, tx: mpsc::Sender<BlockTxs>) {
        self.blocks.push(tx);
    }

    /// The latest block index the follower saw (shared with the transaction manager).
    pub fn height(&self) -> Arc<AtomicU32> {
        self.height.clone()
    }

    /// Share `height` (the transaction manager's) instead of the follower's own.
    pub fn with_height(mut self, height: Arc<AtomicU32>) -> Self {
        self.height = height;
        self
    }

    /// The chain followed.
    pub fn identity(&self) -> &ChainIdentity {
        &self.identity
    }

    /// Check the stored cursor against the chain (see [`ChainStore::enter_chain`]) and log what
    /// happened: resume, adopt (cursor without identity), or reset (another chain).
    pub async fn enter_chain(&self) -> Result<crate::queue::ChainEntry, ChainError> {
        let (chain, genesis) = (&self.identity.chain, &self.identity.genesis);
        let entry = self
            .store
            .enter_chain(chain, FOLLOWER_SOURCE, genesis, now_ms())
            .await?;
        let name = &self.config.name;
        for old in &entry.retired {
            tracing::warn!(
                old_chain = %old.chain,
                old_genesis = old.genesis.as_deref().unwrap_or("unknown"),
                old_next_block = old.next_block,
                new_chain = %chain,
                new_genesis = %genesis,
                expired = old.expired,
                rows_now_under = %old.renamed_to,
                "{name}: the node is on another chain than the stored cursor (fresh chain in the \
                 same data dir?): its follower state is reset, its unfinished requests end \
                 expired and nothing of it is sent to the new chain"
            );
        }
        if entry.adopted {
            tracing::info!(%chain, %genesis,
                "{name}: cursor without chain identity (written before migration 0011) adopts this chain");
        }
        match entry.resume_at {
            Some(next) if next >= 0 => {
                tracing::info!(%chain, %genesis, next_block = next, "{name}: resuming the follower")
            }
            _ => tracing::info!(%chain, %genesis, start_block = ?self.config.start_block,
                "{name}: no cursor for this chain, starting fresh"),
        }
        Ok(entry)
    }

    /// Follow the chain until shutdown: catch-up hooks first, then every block from the cursor.
    /// RPC errors and [`SinkError::Retry`] are logged and retried after the poll interval; store
    /// errors stop the follower.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<(), ChainError> {
        let wake = Arc::new(Notify::new());
        let (pushed_tx, mut pushed_rx) = mpsc::channel(PUSHED_BLOCKS);
        // The socket is subscribed and delivering (set by the watcher).
        let live = Arc::new(AtomicBool::new(false));
        let watcher = self.config.block_push.then(|| {
            AbortOnDrop(tokio::spawn(watch_blocks(
                self.rpc.clone(),
                wake.clone(),
                pushed_tx,
                live.clone(),
                self.config.name.clone(),
            )))
        });
        let mut pushed = BTreeMap::new();
        // The newest block polling showed before its push, and since when.
        let mut awaited: Option<(u32, Instant)> = None;
        let mut caught_up = vec![false; self.sinks.len()];
        loop {
            for (i, (sink, _)) in self.sinks.iter().enumerate() {
                if caught_up[i] {
                    continue;
                }
                match sink.catch_up().await {
                    Ok(()) => caught_up[i] = true,
                    Err(SinkError::Store(e)) => return Err(e.into()),
                    Err(e) => tracing::warn!(sink = sink.name(), error = %e,
                        "{}: catch-up failed, retrying", self.config.name),
                }
            }
            while let Ok(p) = pushed_rx.try_recv() {
                let p: PushedBlock = p;
                pushed.insert(p.block.index, p);
            }
            let push = Push {
                live: live.load(Ordering::Relaxed),
                awaited: &mut awaited,
            };
            match self.step(&shutdown, &mut pushed, push).await {
                Ok(()) => {}
                Err(ChainError::Store(e)) => return Err(ChainError::Store(e)),
                Err(e) => tracing::warn!(error = %e,
                    "{} follower: chain unreachable, retrying", self.config.name),
            }
            // Waiting for the push of the newest block: look again after the grace at most.
            let interval = match awaited {
                Some((_, since)) => PUSH_GRACE.saturating_sub(since.elapsed()),
                None => self.config.poll_interval,
            };
            if pushed_rx.is_empty()
                && shutdown_or_wake(&mut shutdown, interval, &wake, &self.config).await
            {
                drop(watcher);
                return Ok(());
            }
            if *shutdown.borrow() {
                return Ok(());
            }
        }
    }

    /// Read every block between the cursor and the chain's height.
    async fn step(
        &self,
        shutdown: &watch::Receiver<bool>,
        pushed: &mut BTreeMap<u32, PushedBlock>,
        push: Push<'_>,
    ) -> Result<(), ChainError> {
        let chain = &self.identity.chain;
        let stored = self.store.cursor(chain, FOLLOWER_SOURCE).await?;
        // The pushed block at the cursor saves the height and block round trips.
        let mut count = match stored {
            Some(next) if pushed.contains_key(&u32::try_from(next).unwrap_or(u32::MAX)) => pushed
                .last_key_value()
                .map_or(0, |(k, _)| i64::from(*k) + 1),
            _ => i64::from(self.rpc.get_block_count().await?),
        };
        self.height
            .fetch_max(u32::try_from(count - 1).unwrap_or(0), Ordering::Relaxed);
        let mut next = match stored {
            Some(next) => next,
            None => self
                .config
                .start_block
                .map_or(count.saturating_sub(1).max(0), i64::from),
        };
        // Pushed blocks below the cursor are done.
        let floor = u32::try_from(next).unwrap_or(u32::MAX);
        pushed.retain(|k, _| *k >= floor);
        while next < count && !*shutdown.borrow() {
            let index = u32::try_from(next).unwrap_or(u32::MAX);
            let (block, logs) = match pushed.remove(&index) {
                Some(p) => {
                    metrics::counter!("nsl_chain_blocks_total", "source" => "push").increment(1);
                    (*p.block, p.logs)
                }
                None => {
                    // The newest block, not pushed yet while the socket is up: its push is
                    // probably on its way; wait for it (woken by it), at most PUSH_GRACE,
                    // then read it over RPC.
                    if push.live && next == count - 1 {
                        match *push.awaited {
                            Some((i, since)) if i == index => {
                                if since.elapsed() < PUSH_GRACE {
                                    return Ok(());
                                }
                            }
                            _ => {
                                *push.awaited = Some((index, Instant::now()));
                                return Ok(());
                            }
                        }
                    }
                    metrics::counter!("nsl_chain_blocks_total", "source" => "poll").increment(1);
                    (self.rpc.get_block(index).await?, HashMap::new())
                }
            };
            self.block(&block, logs).await?;
            if matches!(*push.awaited, Some((i, _)) if i == index) {
                *push.awaited = None;
            }
            next += 1;
            if let Some((top, _)) = pushed.last_key_value() {
                count = count.max(i64::from(*top) + 1);
            }
        }
        Ok(())
    }

    /// One block: logs (the pushed ones, the rest over RPC), sinks, confirmations, cursor.
    async fn block(
        &self,
        block: &Block,
        pushed: HashMap<UInt256, ApplicationLog>,
    ) -> Result<(), ChainError> {
        let index = block.index;
        let hashes: Vec<UInt256> = block.tx.iter().map(|tx| tx.hash).collect();
        let read_start = now_ms();
        let logs = application_logs_with(&self.rpc, &hashes, pushed).await?;
        // The block's events are known from here: the start of the services' overhead.
        let seen = Instant::now();
        // Stage figures (oracle-bench, docs/benchmarks.md): block timestamp -> block read and
        // -> events known, as `nsl_<service>_stage_seconds{stage}`.
        if let Some(name) = service_metric(&self.config, "stage_seconds") {
            let block_ms = i64::try_from(block.time).unwrap_or(i64::MAX);
            for (stage, at) in [("block_to_read", read_start), ("block_to_events", now_ms())] {
                metrics::histogram!(name.clone(), "stage" => stage)
                    .record(at.saturating_sub(block_ms).max(0) as f64 / 1e3);
            }
        }
        let mut per_sink: Vec<Vec<ChainEvent>> = vec![Vec::new(); self.sinks.len()];
        for (hash, log) in hashes.iter().zip(&logs) {
            // A FAULTed execution changed nothing on chain: its notifications (which neo-go
            // still lists in the log) are not events.
            let notifications = log
                .executions
                .iter()
                .filter(|e| e.vmstate == VmState::Halt)
                .flat_map(|e| e.notifications.iter());
            for (i, n) in notifications.enumerate() {
                for (s, (_, subs)) in self.sinks.iter().enumerate() {
                    if subs.iter().any(|sub| sub.matches(n)) {
                        per_sink[s].push(ChainEvent {
                            block: index,
                            tx_hash: *hash,
                            index: i,
                            notification: n.clone(),
                        });
                    }
                }
            }
        }
        for ((sink, _), events) in self.sinks.iter().zip(per_sink) {
            match sink.record(index, events, seen).await {
                Ok(()) => {}
                Err(SinkError::Store(e)) => return Err(e.into()),
                Err(SinkError::Retry(why)) => return Err(ChainError::Retry(why)),
            }
        }
        for blocks in &self.blocks {
            let fates = hashes
                .iter()
                .zip(&logs)
                .map(|(hash, log)| TxFate {
                    hash: hash.to_string(),
                    fault: fault_of(log),
                })
                .collect();
            // Bounded: a sender behind by `CONFIRMATION_QUEUE` blocks holds the follower here.
            let _ = blocks.send((i64::from(index), fates)).await;
        }
        self.store
            .set_cursor(
                &self.identity.chain,
                FOLLOWER_SOURCE,
                i64::from(index) + 1,
                now_ms(),
            )
            .await?;
        self.height.fetch_max(index, Ordering::Relaxed);
        metrics::gauge!("nsl_chain_follower_block").set(f64::from(index));
        if let Some(name) = service_metric(&self.config, "follower_block") {
            metrics::gauge!(name).set(f64::from(index));
        }
        Ok(())
    }
}

/// The push's state for one [`Follower::step`].
struct Push<'a> {
    /// The socket is subscribed and delivering.
    live: bool,
    /// The newest block polling showed before its push, and since when.
    awaited: &'a mut Option<(u32, Instant)>,
}

/// `nsl_<name>_<metric>` for a follower named after its service (the oracle's metric names in
/// use before the runtime existed); `None` for the default name `chain`.
fn service_metric(config: &FollowerConfig, metric: &str) -> Option<String> {
    (config.name != "chain").then(|| format!("nsl_{}_{metric}", config.name))
}

/// Aborts the watcher task when the follower stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Wait for `interval`, a pushed block, or shutdown; `true` when shutting down.
async fn shutdown_or_wake(
    shutdown: &mut watch::Receiver<bool>,
    interval: Duration,
    wake: &Notify,
    config: &FollowerConfig,
) -> bool {
    tokio::select! {
        stop = pause(shutdown, interval) => stop,
        () = wake.notified() => {
            metrics::counter!("nsl_chain_follower_wakeups_total", "source" => "push").increment(1);
            if let Some(name) = service_metric(config, "follower_wakeups_total") {
                metrics::counter!(name, "source" => "push").increment(1);
            }
            *shutdown.borrow()
        }
    }
}

/// Forward every block the node pushes (and wake the follower, also after a reconnect, when
/// blocks may have been missed). Ends when the node has no WebSocket endpoint (polling alone goes
/// on); a node that cannot be reached at start is tried again with back-off.
async fn watch_blocks(
    rpc: neo_rpc::RpcClient,
    wake: Arc<Notify>,
    pushed: mpsc::Sender<PushedBlock>,
    live: Arc<AtomicBool>,
    name: String,
) {
    let options = StreamOptions::default();
    let mut delay = options.backoff_min;
    // The logs too, unless the node refuses that subscription (then blocks only).
    let mut with_logs = true;
    let mut stream = loop {
        let mut subs = vec![WsSubscription::blocks()];
        if with_logs {
            // Before the blocks: the node sends a block's executions before its `block_added`.
            subs.insert(
                0,
                WsSubscription::Executions {
                    state: None,
                    container: None,
                },
            );
        }
        // The stream follows the client's preferred endpoint: when its endpoint dies it
        // reconnects to the next one.
        match EventStream::connect_rpc(&rpc, subs, options.clone()).await {
            Ok(s) => break s,
            // The node is down for now: try again (polling goes on meanwhile).
            Err(e) if e.is_transport() => {
                tracing::debug!(error = %e, "{name} follower: block push not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(options.backoff_max);
            }
            Err(e @ neo_rpc::Error::Rpc { .. }) if with_logs => {
                tracing::info!(error = %e,
                    "{name} follower: no pushed application logs, reading them over RPC");
                with_logs = false;
            }
            Err(e) => {
                tracing::info!(error = %e, "{name} follower: no block push, polling only");
                return;
            }
        }
    };
    if with_logs {
        tracing::info!(
            "{name} follower: blocks and their application logs taken from the push (polling \
             stays the fallback)"
        );
    } else {
        tracing::info!("{name} follower: blocks taken from the push (polling stays the fallback)");
    }
    let mut executions = Executions::default();
    live.store(true, Ordering::Relaxed);
    loop {
        match stream.next().await {
            StreamItem::Event(Event::Execution(e)) => executions.add(e.container, e.execution),
            StreamItem::Event(Event::Block(block)) => {
                let logs = executions.take_for(&block);
                // A full queue only means the follower is behind: it polls what it lacks.
                let _ = pushed.try_send(PushedBlock { block, logs });
                wake.notify_one();
            }
            StreamItem::Reconnected => {
                executions.clear();
                live.store(true, Ordering::Relaxed);
                wake.notify_one();
            }
            StreamItem::Gap { .. } => wake.notify_one(),
            StreamItem::Event(_) => {}
            StreamItem::Disconnected { error, retry_in } => {
                live.store(false, Ordering::Relaxed);
                tracing::debug!(error = %error, ?retry_in, "{name} follower: block push lost, polling");
            }
        }
    }
}

/// Executions pushed by the node (`transaction_executed`) waiting for their block.
#[derive(Default)]
struct Executions(HashMap<UInt256, Vec<Execution>>);

impl Executions {
    fn add(&mut self, container: UInt256, execution: Execution) {
        if self.0.len() >= PUSHED_EXECUTIONS && !self.0.contains_key(&container) {
            // No block came for a long time: what is here is read over RPC if it matters.
            self.0.clear();
        }
        self.0.entry(container).or_default().push(execution);
    }

    /// The logs of `block`'s transactions that were pushed. Everything else held is dropped:
    /// the node sends a block's executions before the block, so what is left belongs to no
    /// block to come (the block's own OnPersist / PostPersist runs, or a block that was missed).
    fn take_for(&mut self, block: &Block) -> HashMap<UInt256, ApplicationLog> {
        let logs = block
            .tx
            .iter()
            .filter_map(|tx| {
                let executions = self.0.remove(&tx.hash)?;
                Some((
                    tx.hash,
                    ApplicationLog {
                        txid: Some(tx.hash),
                        blockhash: None,
                        executions,
                    },
                ))
            })
            .collect();
        self.0.clear();
        logs
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// The application logs of `hashes`, in order, at most [`LOG_FETCHES`] at a time.
pub async fn application_logs(
    rpc: &RpcClient,
    hashes: &[UInt256],
) -> Result<Vec<ApplicationLog>, neo_rpc::Error> {
    application_logs_with(rpc, hashes, HashMap::new()).await
}

/// The application logs of `hashes`, in order: those in `pushed` as they are, the others read
/// with `getapplicationlog`, at most [`LOG_FETCHES`] at a time.
pub async fn application_logs_with(
    rpc: &RpcClient,
    hashes: &[UInt256],
    mut pushed: HashMap<UInt256, ApplicationLog>,
) -> Result<Vec<ApplicationLog>, neo_rpc::Error> {
    let mut logs: Vec<Option<ApplicationLog>> = hashes.iter().map(|h| pushed.remove(h)).collect();
    let have = logs.iter().filter(|l| l.is_some()).count();
    metrics::counter!("nsl_chain_app_logs_total", "source" => "push").increment(have as u64);
    metrics::counter!("nsl_chain_app_logs_total", "source" => "rpc")
        .increment((hashes.len() - have) as u64);
    let missing: Vec<usize> = (0..hashes.len()).filter(|i| logs[*i].is_none()).collect();
    let mut tasks = JoinSet::new();
    let mut next = 0;
    while next < missing.len() || !tasks.is_empty() {
        while next < missing.len() && tasks.len() < LOG_FETCHES {
            let i = missing[next];
            let (rpc, hash) = (rpc.clone(), hashes[i]);
            tasks.spawn(async move { (i, rpc.get_application_log(&hash).await) });
            next += 1;
        }
        if let Some(done) = tasks.join_next().await {
            // A task only ends early by panicking: carry the panic on, as if fetched inline.
            let (i, log) = done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            logs[i] = Some(log?);
        }
    }
    Ok(logs.into_iter().flatten().collect())
}
