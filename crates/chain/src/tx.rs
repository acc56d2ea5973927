//! The transaction manager: builds (test run, fee ceiling, local fees), signs through a
//! [`TxSigner`], writes the outbox BEFORE broadcasting, broadcasts, re-broadcasts, confirms from
//! the follower's blocks, reports FAULT and expiry to the owning service ([`TxOwner`]), and keeps
//! the node account's GAS gauge and low-GAS warning.
//!
//! ```text
//! service ── build(script, ceiling) ──▶ invokescript ─▶ fees > ceiling? refuse (nothing signed)
//!                                       ─▶ local network fee + validUntilBlock ─▶ sign
//!         ── send(OutboxWrite) ───────▶ outbox writer (group commit) ─▶ broadcast ─▶ `sent`
//!         ── submit(NewOutboxTx) ─────▶ outbox row (no request row) ─▶ broadcast ─▶ `sent`
//! follower ── block's tx fates ───────▶ sender: in a block? confirmed / FAULT (owner decides)
//!                                       validUntilBlock passed? expired (owner decides: rebuild)
//!                                       not in a block after a while? broadcast again
//! ```
//!
//! Already-signed transactions (the native OracleContract's responses, signed by the oracle
//! multisig with an `OracleResponse` attribute) go through [`TxManager::send`] like any other:
//! the manager stores and broadcasts the bytes it is given.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use neo::UInt256;
use neo::tx::Transaction;
use neo_rpc::{LocalFees, RpcClient, codes};
use nsl_store::{StoreError, UnixMillis, now_ms};
use tokio::sync::{mpsc, oneshot, watch};

use crate::queue::{
    ChainStore, NewOutboxTx, OutboxRow, OutboxTx, OutboxWrite, RequestRow, RequestState, TxState,
};
use crate::{ChainError, ChainIdentity, pause};

/// Added to the test run's GAS for a transaction's system fee by default: state the transaction
/// writes can grow between the test run and the block (a stored height gains a byte at 128,
/// 32768, ...; the test run's transaction has no fees, so fees recorded on chain are a few bytes
/// longer, measured: 0.005 GAS), and running short of GAS FAULTs the whole transaction.
/// 0.015 GAS: fifteen bytes of storage at the default price.
pub const SYSTEM_FEE_MARGIN: i64 = 1_500_000;

/// Sender rounds between re-broadcasts of a `sent` transaction that is not in a block yet.
const REBROADCAST_EVERY: u64 = 10;

/// An `outbox` entry younger than this is left to the task that wrote it (its broadcast may be
/// in flight); older ones were not sent (a crash, a refused broadcast) and the sender sends them.
const OUTBOX_GRACE_MS: i64 = 2_000;

/// Blocks kept in the sender's memory of recent transactions.
const RECENT_BLOCKS: i64 = 200;

/// A `sent` transaction not in a block after this long is broadcast again (the node may have
/// dropped it from its pool).
const REBROADCAST_AFTER_MS: i64 = 5_000;

/// Most writes committed in one transaction.
const OUTBOX_BATCH: usize = 256;
/// Capacity of the outbox writer's queue. Every job's sender awaits its reply, so the queue holds
/// at most one job per concurrent sender; the bound makes that explicit.
const OUTBOX_QUEUE: usize = 1024;
/// Capacity of the "broadcast, mark sent" queue: a slow store holds broadcasting senders back
/// instead of growing memory without limit.
const SENT_QUEUE: usize = 4096;
/// Blocks the follower may be ahead of the sender's confirmation rounds; past that the follower
/// waits (its cursor does not advance), so a stalled sender cannot make memory grow with the chain.
pub const CONFIRMATION_QUEUE: usize = 64;

/// A transaction of a block the follower read: its hash and, if it FAULTed, the exception.
#[derive(Debug, Clone)]
pub struct TxFate {
    /// `0x` hex hash.
    pub hash: String,
    /// The exception if an execution FAULTed.
    pub fault: Option<String>,
}

/// Transactions of a block the follower read: `(block index, transactions)`.
pub type BlockTxs = (i64, Vec<TxFate>);

/// The exception of a transaction's application log if it FAULTed.
pub fn fault_of(log: &neo_rpc::types::ApplicationLog) -> Option<String> {
    log.executions
        .iter()
        .find(|e| !e.vmstate.is_halt())
        .map(|e| e.exception.clone().unwrap_or_else(|| "FAULT".into()))
}

/// The account that signs the transactions the manager builds: a `neo_rpc::Actor` over the
/// node's key today, the enclave later. Witness scopes are the signer's (narrowest scope: see
/// docs/security.md).
pub trait TxSigner: Send + Sync {
    /// The paying account (first signer).
    fn sender(&self) -> neo::UInt160;
    /// Test-runs scripts with this signer's signers.
    fn invoker(&self) -> &neo_rpc::Invoker;
    /// An unsigned transaction with final fees (network fee computed locally from `fees`).
    fn unsigned(&self, script: &[u8], system_fee: i64, fees: &LocalFees) -> Transaction;
    /// Put the witnesses on `tx`.
    fn sign(&self, tx: &mut Transaction) -> Result<(), neo_rpc::Error>;
}

impl TxSigner for neo_rpc::Actor {
    fn sender(&self) -> neo::UInt160 {
        neo_rpc::Actor::sender(self)
    }
    fn invoker(&self) -> &neo_rpc::Invoker {
        neo_rpc::Actor::invoker(self)
    }
    fn unsigned(&self, script: &[u8], system_fee: i64, fees: &LocalFees) -> Transaction {
        self.make_unsigned_local(script, system_fee, fees)
    }
    fn sign(&self, tx: &mut Transaction) -> Result<(), neo_rpc::Error> {
        neo_rpc::Actor::sign(self, tx)
    }
}

/// Why [`TxManager::build`] produced no transaction.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The test run FAULTed (nothing signed).
    #[error("test run FAULTed: {exception}")]
    Fault {
        /// The VM's exception.
        exception: String,
    },
    /// System + network fee above the ceiling (nothing signed).
    #[error(
        "transaction costs {fees} GAS fractions (system fee {system_fee} + network fee \
         {network_fee}), above the ceiling {ceiling}"
    )]
    AboveCeiling {
        /// System + network fee.
        fees: i64,
        /// System fee.
        system_fee: i64,
        /// Network fee.
        network_fee: i64,
        /// The ceiling.
        ceiling: i64,
    },
    /// The chain could not be asked (retry later).
    #[error(transparent)]
    Rpc(#[from] neo_rpc::Error),
}

/// What the owning service decides when its transaction will not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Back to `fetched`: the service builds a new transaction.
    Rebuild,
    /// The row ends in this state with this detail.
    End(RequestState, String),
}

/// The service a transaction belongs to: told when it is confirmed, and asked what to do when it
/// FAULTed or expired. Defaults: FAULT ends the row `failed` (its fees are spent, and a rebuild
/// could FAULT again at the node's expense), expiry rebuilds.
#[async_trait]
pub trait TxOwner: Send + Sync {
    /// A row's transaction is in `block` (HALT); the row is `confirmed` already.
    async fn confirmed(&self, _row: &RequestRow, _block: i64) {}

    /// A row's transaction FAULTed in `block`.
    async fn faulted(&self, _row: &RequestRow, tx_hash: &str, block: i64, exception: &str) -> Fate {
        Fate::End(
            RequestState::Failed,
            format!("response {tx_hash} FAULTed in block {block}: {exception}"),
        )
    }

    /// A row's transaction passed its validUntilBlock without inclusion.
    async fn expired(&self, _row: &RequestRow, _tx_hash: &str) -> Fate {
        Fate::Rebuild
    }

    /// A transaction without request rows ([`TxManager::submit`]) ended: `confirmed`, `failed`
    /// (FAULT) or `expired`. The service decides whether to submit another.
    async fn tx_ended(&self, _tx: &OutboxTx) {}
}

/// The default owner (the defaults of [`TxOwner`]).
#[derive(Debug, Default)]
pub struct DefaultOwner;

impl TxOwner for DefaultOwner {}

/// Settings of a transaction manager.
#[derive(Clone)]
pub struct TxConfig {
    /// Pause between sender rounds.
    pub poll_interval: Duration,
    /// GAS fractions added to the test run's GAS for the system fee.
    pub system_fee_margin: i64,
    /// Below this GAS balance (fractions) of the signer's account, warn in the log and in
    /// `/ready`; `0` disables the warning.
    pub low_gas_warning: i64,
    /// The config key named in the low-GAS warning.
    pub low_gas_key: String,
    /// Where the low-GAS warning is shown besides the log (`nsl serve`: the API's `/ready`),
    /// with the warning's name there.
    pub ready_warnings: Option<(nsl_service_api::ReadyWarnings, String)>,
    /// Prefix of the metrics (`nsl_chain`; the oracle keeps `nsl_oracle`).
    pub metrics_prefix: String,
    /// Account whose GAS is watched; `None`: the signer's (no signer: none).
    pub gas_account: Option<neo::UInt160>,
}

impl std::fmt::Debug for TxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxConfig")
            .field("poll_interval", &self.poll_interval)
            .field("system_fee_margin", &self.system_fee_margin)
            .field("low_gas_warning", &self.low_gas_warning)
            .field("metrics_prefix", &self.metrics_prefix)
            .finish_non_exhaustive()
    }
}

impl Default for TxConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(100),
            system_fee_margin: SYSTEM_FEE_MARGIN,
            low_gas_warning: 0,
            low_gas_key: "chain.low_gas_warning".into(),
            ready_warnings: None,
            metrics_prefix: "nsl_chain".into(),
            gas_account: None,
        }
    }
}

/// State shared by the manager's handles and its sender task.
struct Core {
    store: Arc<dyn ChainStore>,
    rpc: RpcClient,
    identity: ChainIdentity,
    /// The account of the signer given to [`TxManager::new`] (the GAS gauge's default).
    signer_account: Option<neo::UInt160>,
    config: TxConfig,
    height: Arc<AtomicU32>,
    /// Fee policy for building without RPC round trips; `None` until a signer was checked
    /// (read once, refreshed by the sender). Whether a handle's signer computes the network fee
    /// locally is the handle's (`TxManager::local`).
    local_fees: Mutex<Option<LocalFees>>,
    owners: Mutex<HashMap<String, Arc<dyn TxOwner>>>,
    default_owner: Mutex<Arc<dyn TxOwner>>,
}

/// Writes for the outbox writer (one or several rows answered by one transaction, committed
/// together), with where to send the outcome (the writes come back too).
type OutboxJob = (
    String,
    Vec<OutboxWrite>,
    oneshot::Sender<(Vec<OutboxWrite>, Result<Vec<bool>, String>)>,
);

/// Handle of the transaction manager (cheap to clone). Its tasks ([`TxTasks::run`]) end once
/// shutdown is asked and every handle is dropped.
#[derive(Clone)]
pub struct TxManager {
    core: Arc<Core>,
    /// The account that signs what this handle builds ([`TxManager::with_signer`]).
    signer: Option<Arc<dyn TxSigner>>,
    /// Whether `signer`'s network fee computed locally agreed with the node's (else every build
    /// asks `calculatenetworkfee`).
    local: bool,
    outbox: mpsc::Sender<OutboxJob>,
    sent: mpsc::Sender<String>,
    blocks: mpsc::Sender<BlockTxs>,
}

impl std::fmt::Debug for TxManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxManager")
            .field("identity", &self.core.identity)
            .field("config", &self.core.config)
            .finish_non_exhaustive()
    }
}

/// The manager's tasks, to run once ([`TxTasks::run`]).
pub struct TxTasks {
    core: Arc<Core>,
    outbox: mpsc::Receiver<OutboxJob>,
    sent: mpsc::Receiver<String>,
    blocks: mpsc::Receiver<BlockTxs>,
}

impl std::fmt::Debug for TxTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxTasks").finish_non_exhaustive()
    }
}

/// What [`TxManager::send`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// Stored and broadcast (the rows are marked `sent` shortly after).
    Broadcast,
    /// Stored; the broadcast was refused (the sender retries it, or it expires).
    Stored,
    /// Not stored: a row was no longer claimed by this owner or no longer in its state.
    NotWritten,
    /// The manager is stopping; nothing was stored.
    Stopping,
}

impl TxManager {
    /// A manager for `identity`'s chain. With a `signer`, the fee policy is read and the local
    /// network-fee calculation checked against the node's once (`calculatenetworkfee`).
    pub async fn new(
        store: Arc<dyn ChainStore>,
        rpc: RpcClient,
        identity: ChainIdentity,
        signer: Option<Arc<dyn TxSigner>>,
        config: TxConfig,
    ) -> Result<(Self, TxTasks), ChainError> {
        let core = Arc::new(Core {
            store,
            rpc,
            identity,
            signer_account: signer.as_ref().map(|s| s.sender()),
            config,
            height: Arc::new(AtomicU32::new(0)),
            local_fees: Mutex::new(None),
            owners: Mutex::new(HashMap::new()),
            default_owner: Mutex::new(Arc::new(DefaultOwner)),
        });
        let (outbox_tx, outbox) = mpsc::channel(OUTBOX_QUEUE);
        let (sent_tx, sent) = mpsc::channel(SENT_QUEUE);
        let (blocks_tx, blocks) = mpsc::channel(CONFIRMATION_QUEUE);
        let manager = Self {
            core: core.clone(),
            signer: None,
            local: false,
            outbox: outbox_tx,
            sent: sent_tx,
            blocks: blocks_tx,
        };
        let manager = match signer {
            Some(s) => manager.with_signer(s).await?,
            None => manager,
        };
        Ok((
            manager,
            TxTasks {
                core,
                outbox,
                sent,
                blocks,
            },
        ))
    }

    /// A handle on the same manager (one outbox, one sender, one set of owners) that builds and
    /// signs with `signer`: each service signs with its own witness scopes (the node's chain
    /// runtime has no signer of its own). Reads the fee policy if no handle did yet, and checks
    /// `signer`'s local network fee against the node's `calculatenetworkfee` once.
    pub async fn with_signer(&self, signer: Arc<dyn TxSigner>) -> Result<Self, ChainError> {
        let known = self.core.local_fees.lock().ok().and_then(|f| *f);
        let fees = match known {
            Some(f) => f,
            None => {
                let f = read_fees(&self.core.rpc).await?;
                if let Ok(mut slot) = self.core.local_fees.lock() {
                    *slot = Some(f);
                }
                f
            }
        };
        self.core.height.fetch_max(fees.height, Ordering::Relaxed);
        let local = check_local_fees(&self.core.rpc, signer.as_ref(), &fees).await?;
        Ok(Self {
            signer: Some(signer),
            local,
            ..self.clone()
        })
    }

    /// The owner of `service`'s transactions (rows whose `service` is it, and transactions
    /// submitted under it).
    pub fn set_owner(&self, service: &str, owner: Arc<dyn TxOwner>) {
        if let Ok(mut owners) = self.core.owners.lock() {
            owners.insert(service.to_string(), owner);
        }
    }

    /// The owner of services without their own ([`TxManager::set_owner`]).
    pub fn set_default_owner(&self, owner: Arc<dyn TxOwner>) {
        if let Ok(mut slot) = self.core.default_owner.lock() {
            *slot = owner;
        }
    }

    /// Where the follower sends each block's transactions ([`crate::Follower::confirm_to`]).
    pub fn confirmations(&self) -> mpsc::Sender<BlockTxs> {
        self.blocks.clone()
    }

    /// The latest block index seen (the follower's, shared through [`crate::Follower::with_height`]).
    pub fn height(&self) -> Arc<AtomicU32> {
        self.core.height.clone()
    }

    /// Whether builds compute the network fee locally.
    pub fn local_fees(&self) -> bool {
        self.local
    }

    /// The chain.
    pub fn identity(&self) -> &ChainIdentity {
        &self.core.identity
    }

    /// Build and sign a transaction running `script` with the signer's signers: test run
    /// (`invokescript`; FAULT: refused), system fee = GAS consumed + margin, network fee and
    /// validUntilBlock computed locally (or by the node when the local calculation disagreed at
    /// start), refused when system + network fee exceed `ceiling`, then signed. Nothing is
    /// signed for a refused transaction.
    pub async fn build(&self, script: &[u8], ceiling: i64) -> Result<Transaction, BuildError> {
        let signer = self.signer()?;
        let test = signer.invoker().invoke_script(script).await?;
        let outcome = match test.into_halt() {
            Ok(o) => o,
            Err(neo_rpc::Error::Fault { exception }) => {
                return Err(BuildError::Fault { exception });
            }
            Err(e) => return Err(e.into()),
        };
        let system_fee = outcome
            .gasconsumed
            .saturating_add(self.core.config.system_fee_margin);
        let tx = self.unsigned(script, system_fee).await?;
        self.sign_within(tx, ceiling)
    }

    /// Test-run `script` with the signer's signers (`invokescript`) and return the whole result,
    /// HALT or FAULT (for services that read the result stack, e.g. a batch of answers).
    pub async fn test_run(
        &self,
        script: &[u8],
    ) -> Result<neo_rpc::types::InvokeResult, BuildError> {
        let signer = self.signer()?;
        Ok(signer.invoker().invoke_script(script).await?)
    }

    /// An unsigned transaction running `script` with this system fee: network fee and
    /// validUntilBlock computed locally (or by the node when the local calculation disagreed at
    /// start). The network fee depends on the script's size, not its content.
    pub async fn unsigned(
        &self,
        script: &[u8],
        system_fee: i64,
    ) -> Result<Transaction, BuildError> {
        let signer = self.signer()?;
        let height = self.core.height.load(Ordering::Relaxed);
        let local = if self.local {
            self.core.local_fees.lock().ok().and_then(|f| *f)
        } else {
            None
        };
        Ok(match local {
            Some(fees) => signer.unsigned(
                script,
                system_fee,
                &LocalFees {
                    height: fees.height.max(height),
                    ..fees
                },
            ),
            None => {
                let height = self.core.rpc.get_block_count().await?.saturating_sub(1);
                let fees = LocalFees {
                    height,
                    fee_per_byte: 0,
                    exec_fee_factor: 0,
                };
                let mut tx = signer.unsigned(script, system_fee, &fees);
                tx.network_fee = self.core.rpc.calculate_network_fee(&tx.to_bytes()).await?;
                tx
            }
        })
    }

    /// Sign `tx` unless its system + network fee exceed `ceiling` (then nothing is signed).
    pub fn sign_within(
        &self,
        mut tx: Transaction,
        ceiling: i64,
    ) -> Result<Transaction, BuildError> {
        let signer = self.signer()?;
        let fees = tx.system_fee.saturating_add(tx.network_fee);
        if fees > ceiling {
            metrics::counter!(format!(
                "{}_tx_refused_total",
                self.core.config.metrics_prefix
            ))
            .increment(1);
            return Err(BuildError::AboveCeiling {
                fees,
                system_fee: tx.system_fee,
                network_fee: tx.network_fee,
                ceiling,
            });
        }
        signer.sign(&mut tx)?;
        Ok(tx)
    }

    fn signer(&self) -> Result<&Arc<dyn TxSigner>, BuildError> {
        self.signer.as_ref().ok_or_else(|| {
            BuildError::Rpc(neo_rpc::Error::InvalidArgument(
                "this transaction manager has no signer".into(),
            ))
        })
    }

    /// Store one signed transaction answering several request rows claimed by `owner` (one
    /// outbox entry shared by all, every row `outbox`, in ONE database transaction: the outbox
    /// writer's group commit, with other writes ready at the same time), then broadcast it once. Per write: whether it was written (`false`: that row is no longer this
    /// owner's); nothing is broadcast when no row was written.
    pub async fn send_shared(
        &self,
        owner: &str,
        writes: &[OutboxWrite],
    ) -> Result<(Sent, Vec<bool>), ChainError> {
        let Some(first) = writes.first() else {
            return Ok((Sent::NotWritten, Vec::new()));
        };
        let outbox = first.outbox.clone();
        let (reply, done) = oneshot::channel();
        if self
            .outbox
            .send((owner.to_string(), writes.to_vec(), reply))
            .await
            .is_err()
        {
            return Ok((Sent::Stopping, Vec::new()));
        }
        let (writes, written) = match done.await {
            Ok((writes, Ok(written))) => (writes, written),
            Ok((_, Err(e))) => return Err(ChainError::Batch(e)),
            Err(_) => return Ok((Sent::Stopping, Vec::new())),
        };
        if !written.iter().any(|w| *w) {
            return Ok((Sent::NotWritten, written));
        }
        if broadcast(&self.core.rpc, &outbox.tx, &outbox.tx_hash, &outbox.request).await {
            for (w, done) in writes.iter().zip(&written) {
                if *done {
                    let _ = self.sent.send(w.outbox.request.clone()).await;
                }
            }
            Ok((Sent::Broadcast, written))
        } else {
            Ok((Sent::Stored, written))
        }
    }

    /// Store a signed transaction answering a request row claimed by `owner` (outbox entry and
    /// row state `outbox`, committed with other writes arriving together), then broadcast it.
    /// Several writes with the same transaction answer several rows with one transaction.
    pub async fn send(&self, owner: &str, write: OutboxWrite) -> Result<Sent, ChainError> {
        let (reply, written) = oneshot::channel();
        if self
            .outbox
            .send((owner.to_string(), vec![write], reply))
            .await
            .is_err()
        {
            return Ok(Sent::Stopping);
        }
        let (outbox, written) = match written.await {
            Ok((mut writes, Ok(written))) => match writes.pop() {
                Some(w) => (w.outbox, written.first().copied().unwrap_or(false)),
                None => return Ok(Sent::NotWritten),
            },
            Ok((_, Err(e))) => return Err(ChainError::Batch(e)),
            Err(_) => return Ok(Sent::Stopping),
        };
        if !written {
            return Ok(Sent::NotWritten);
        }
        if broadcast(&self.core.rpc, &outbox.tx, &outbox.tx_hash, &outbox.request).await {
            let _ = self.sent.send(outbox.request.clone()).await;
            Ok(Sent::Broadcast)
        } else {
            Ok(Sent::Stored)
        }
    }

    /// Store and broadcast a signed transaction that answers no request row (a push or timer
    /// service's); its owner ([`TxManager::set_owner`] for `service`) hears how it ended.
    /// `false` when a transaction with this hash was already submitted.
    pub async fn submit(
        &self,
        service: &str,
        reference: &str,
        tx: &Transaction,
    ) -> Result<bool, ChainError> {
        let hash = tx.hash().to_string();
        let new = NewOutboxTx {
            tx_hash: hash.clone(),
            chain: self.core.identity.chain.clone(),
            service: service.to_string(),
            reference: reference.to_string(),
            tx: tx.to_bytes(),
            valid_until_block: i64::from(tx.valid_until_block),
        };
        if !self.core.store.submit_tx(&new, now_ms()).await? {
            return Ok(false);
        }
        if broadcast(&self.core.rpc, &new.tx, &hash, reference).await {
            self.core
                .store
                .mark_tx(&hash, TxState::Sent, None, None, now_ms())
                .await?;
        }
        Ok(true)
    }
}

impl TxTasks {
    /// Run the sender (confirmations, re-broadcasts, expiry, fee and gauge refreshes) until
    /// `shutdown`, then the outbox writer and sent marker until every [`TxManager`] handle is
    /// dropped (they write what is left).
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> Result<(), ChainError> {
        self.run_reporting(shutdown, |_| {}).await
    }

    /// [`TxTasks::run`], calling `sender_failed` as soon as the sender stops with an error
    /// (before waiting for the handles to go): the chain runtime stops its services then.
    pub(crate) async fn run_reporting(
        self,
        shutdown: watch::Receiver<bool>,
        sender_failed: impl FnOnce(&ChainError),
    ) -> Result<(), ChainError> {
        let Self {
            core,
            outbox,
            sent,
            blocks,
        } = self;
        let writer = tokio::spawn(run_outbox_writer(core.clone(), outbox));
        let marker = tokio::spawn(run_sent_marker(core.store.clone(), sent));
        let s = run_sender(core, blocks, shutdown).await;
        if let Err(e) = &s {
            sender_failed(e);
        }
        let (w, m) = tokio::join!(writer, marker);
        for r in [w, m] {
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => tracing::error!(error = %e, "transaction manager task panicked"),
            }
        }
        s
    }
}

/// Check the signer's local network fee (fee policy `fees`) against the node's
/// `calculatenetworkfee` for a sample transaction; `false` (every build then asks the node) if
/// they differ.
async fn check_local_fees(
    rpc: &RpcClient,
    signer: &dyn TxSigner,
    fees: &LocalFees,
) -> Result<bool, ChainError> {
    // Any script will do: the fee depends on the size and the signers only.
    let sample = signer.unsigned(&[0x40; 200], 0, fees);
    let expected = rpc.calculate_network_fee(&sample.to_bytes()).await?;
    if expected == sample.network_fee {
        Ok(true)
    } else {
        tracing::warn!(
            local = sample.network_fee,
            node = expected,
            "local network fee differs from the node's; asking the node for every transaction"
        );
        Ok(false)
    }
}

async fn read_fees(rpc: &RpcClient) -> Result<LocalFees, neo_rpc::Error> {
    let policy = neo_rpc::native::Policy::new(rpc.clone());
    let (count, fee_per_byte, exec_fee_factor) = tokio::try_join!(
        rpc.get_block_count(),
        policy.fee_per_byte(),
        policy.exec_fee_factor()
    )?;
    Ok(LocalFees {
        height: count.saturating_sub(1),
        fee_per_byte,
        exec_fee_factor,
    })
}

/// Re-read the fee policy (it can change by a committee vote); keeps the last good values when
/// the node cannot be reached.
async fn refresh_local_fees(core: &Core) {
    if core.local_fees.lock().map(|f| f.is_none()).unwrap_or(true) {
        return;
    }
    match read_fees(&core.rpc).await {
        Ok(fees) => {
            core.height.fetch_max(fees.height, Ordering::Relaxed);
            if let Ok(mut slot) = core.local_fees.lock() {
                *slot = Some(fees);
            }
        }
        Err(e) => tracing::debug!(error = %e, "fee policy refresh failed"),
    }
}

/// Publish the signer account's GAS balance (`<prefix>_node_gas`, in GAS) and warn (log and
/// `/ready`) while it is below `low_gas_warning`: the node pays fees up front.
async fn check_node_gas(core: &Core) {
    let Some(account) = core.config.gas_account.or(core.signer_account) else {
        return;
    };
    let balance = match neo_rpc::Nep17::gas(core.rpc.clone())
        .balance_of(&account)
        .await
    {
        Ok(b) => i64::try_from(b).unwrap_or(i64::MAX),
        Err(e) => {
            tracing::debug!(error = %e, "node GAS balance not read");
            return;
        }
    };
    metrics::gauge!(format!("{}_node_gas", core.config.metrics_prefix)).set(balance as f64 / 1e8);
    let threshold = core.config.low_gas_warning;
    let warnings = core.config.ready_warnings.as_ref();
    if threshold > 0 && balance < threshold {
        let message = format!(
            "node account {} holds {} GAS, below {} {} GAS",
            neo::address::script_hash_to_address(&account),
            nsl_primitives::GasAmount::from_units(balance),
            core.config.low_gas_key,
            nsl_primitives::GasAmount::from_units(threshold)
        );
        tracing::warn!(balance, threshold, "{message}");
        if let Some((w, name)) = warnings {
            w.set(name, message);
        }
    } else if let Some((w, name)) = warnings {
        w.clear(name);
    }
}

/// Send a stored transaction; `true` when the node has it (sent now or before). A refusal
/// leaves it for the sender to retry or expire.
async fn broadcast(rpc: &RpcClient, tx: &[u8], hash: &str, what: &str) -> bool {
    match rpc.send_raw_transaction(tx).await {
        Ok(_) => true,
        Err(e)
            if matches!(
                e.rpc_code(),
                Some(codes::ALREADY_EXISTS | codes::ALREADY_IN_POOL)
            ) =>
        {
            true
        }
        Err(e) => {
            tracing::warn!(request = %what, tx = %hash, error = %e, "broadcast refused; will retry");
            false
        }
    }
}

/// Write the services' signed transactions, committing what arrives together in one database
/// transaction (group commit: one disk sync and no writer contention for a whole block of
/// responses), until every handle is gone.
async fn run_outbox_writer(
    core: Arc<Core>,
    mut jobs: mpsc::Receiver<OutboxJob>,
) -> Result<(), ChainError> {
    // Rows are claimed by the service's instance; the write checks the claim.
    while let Some(batch) = next_batch(&mut jobs, OUTBOX_BATCH).await {
        let mut owners: Vec<String> = batch.iter().map(|(o, _, _)| o.clone()).collect();
        owners.sort_unstable();
        owners.dedup();
        metrics::histogram!(format!("{}_outbox_batch", core.config.metrics_prefix))
            .record(batch.iter().map(|(_, w, _)| w.len()).sum::<usize>() as f64);
        let mut batch: Vec<Option<OutboxJob>> = batch.into_iter().map(Some).collect();
        // One commit per owner (one instance name per service in practice: one commit); a job's
        // writes (the rows of one shared transaction) are always in the same commit.
        for owner in owners {
            let idx: Vec<usize> = (0..batch.len())
                .filter(|&i| matches!(&batch[i], Some((o, _, _)) if *o == owner))
                .collect();
            let writes: Vec<OutboxWrite> = idx
                .iter()
                .filter_map(|&i| batch[i].as_ref().map(|(_, w, _)| w.clone()))
                .flatten()
                .collect();
            let result = core.store.write_outboxes(&owner, &writes, now_ms()).await;
            let mut at = 0usize;
            for i in idx {
                let Some((_, writes, reply)) = batch[i].take() else {
                    continue;
                };
                let n = writes.len();
                let outcome = match &result {
                    Ok(v) => Ok((at..at + n)
                        .map(|k| v.get(k).copied().unwrap_or(false))
                        .collect()),
                    Err(e) => Err(e.to_string()),
                };
                at += n;
                let _ = reply.send((writes, outcome));
            }
        }
    }
    Ok(())
}

/// Wait for one item, then take what else is already queued, up to `max`; `None` once every
/// sender is gone and the queue is empty. The batching of the DB writer tasks.
async fn next_batch<T>(rx: &mut mpsc::Receiver<T>, max: usize) -> Option<Vec<T>> {
    let mut batch = vec![rx.recv().await?];
    while batch.len() < max
        && let Ok(item) = rx.try_recv()
    {
        batch.push(item);
    }
    Some(batch)
}

/// Mark broadcast rows `sent`, batching what arrives together, until every sender is gone.
async fn run_sent_marker(
    store: Arc<dyn ChainStore>,
    mut sent: mpsc::Receiver<String>,
) -> Result<(), ChainError> {
    while let Some(ids) = next_batch(&mut sent, OUTBOX_BATCH).await {
        store.mark_sent_many(&ids, now_ms()).await?;
    }
    Ok(())
}

/// Watch outbox/sent transactions until shutdown: confirm them from the blocks the follower
/// reads, re-broadcast, or report them expired once their validUntilBlock has passed.
async fn run_sender(
    core: Arc<Core>,
    mut blocks: mpsc::Receiver<BlockTxs>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ChainError> {
    let mut sender = Sender::default();
    let mut round: u64 = 0;
    loop {
        let mut new_block = false;
        while let Ok((block, hashes)) = blocks.try_recv() {
            sender.saw_block(block, hashes);
            new_block = true;
        }
        // Work (reading every in-flight row with its transaction) when a block came, and
        // otherwise every REBROADCAST_EVERY rounds for entries that wait on time alone (unsent
        // outbox entries, re-broadcasts, fee and gauge refreshes); round 0 looks at what a
        // previous run left.
        if new_block || round.is_multiple_of(REBROADCAST_EVERY) {
            match sender.round(&core, round).await {
                Ok(()) => {}
                Err(ChainError::Store(e)) => return Err(ChainError::Store(e)),
                Err(e) => {
                    tracing::warn!(error = %e, "transaction sender: chain unreachable, retrying")
                }
            }
        }
        round = round.wrapping_add(1);
        if pause(&mut shutdown, core.config.poll_interval).await {
            return Ok(());
        }
    }
}

/// Where a transaction is, as far as the sender knows.
enum Seen {
    /// In a block (with its FAULT exception if any).
    Included(i64, Option<String>),
    /// Not in a block at or below the current height, which has reached its validUntilBlock.
    Expired,
    /// Still pending.
    Pending,
}

/// The sender's memory: transactions of recent blocks, and the ones already looked up on chain.
#[derive(Default)]
struct Sender {
    /// Transaction hash -> (block index, FAULT exception), for the last [`RECENT_BLOCKS`] blocks
    /// read.
    recent: HashMap<String, (i64, Option<String>)>,
    /// Highest block index read.
    top: i64,
    /// Transactions this process has checked with `gettransactionheight`: ones from before it
    /// started, whose block the follower may have read in a previous run.
    looked_up: HashSet<String>,
    /// When this sender started (entries written later are confirmed from the block feed alone).
    started: UnixMillis,
}

impl Sender {
    fn saw_block(&mut self, block: i64, txs: Vec<TxFate>) {
        for tx in txs {
            self.recent.insert(tx.hash, (block, tx.fault));
        }
        if block > self.top {
            self.top = block;
            let floor = block - RECENT_BLOCKS;
            self.recent.retain(|_, (b, _)| *b > floor);
        }
    }

    /// Where `tx_hash` (valid until `valid_until`, last changed at `updated_at`) is.
    async fn locate(
        &mut self,
        core: &Core,
        tx_hash: &str,
        valid_until: i64,
        updated_at: UnixMillis,
    ) -> Result<Seen, ChainError> {
        if let Some((block, fault)) = self.recent.get(tx_hash).cloned() {
            return Ok(Seen::Included(block, fault));
        }
        // Written before this process started: its block may have been read by the previous
        // run; ask the node once. Expiring: make sure before reporting it.
        let height = i64::from(core.height.load(Ordering::Relaxed));
        let expiring = height >= valid_until;
        let older = updated_at < self.started && !self.looked_up.contains(tx_hash);
        if older || expiring {
            self.looked_up.insert(tx_hash.to_string());
            let hash = UInt256::from_str(tx_hash)
                .map_err(|e| StoreError::Corrupt(format!("outbox hash {tx_hash}: {e}")))?;
            match core.rpc.get_transaction_height(&hash).await {
                Ok(block) => {
                    let log = core.rpc.get_application_log(&hash).await?;
                    return Ok(Seen::Included(i64::from(block), fault_of(&log)));
                }
                Err(e) if matches!(e.rpc_code(), Some(codes::UNKNOWN_TRANSACTION | -100)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(if expiring {
            Seen::Expired
        } else {
            Seen::Pending
        })
    }

    async fn round(&mut self, core: &Core, round: u64) -> Result<(), ChainError> {
        if self.started == 0 {
            self.started = now_ms();
        }
        if round.is_multiple_of(REBROADCAST_EVERY) {
            refresh_local_fees(core).await;
            check_node_gas(core).await;
            for (state, n) in core.store.count_by_state().await? {
                metrics::gauge!(format!("{}_requests", core.config.metrics_prefix), "state" => state)
                    .set(n as f64);
            }
        }
        let now = now_ms();
        for (row, outbox) in core.store.in_flight().await? {
            let owner = owner_of(core, &row.service);
            match self
                .locate(
                    core,
                    &outbox.tx_hash,
                    outbox.valid_until_block,
                    row.updated_at,
                )
                .await?
            {
                Seen::Included(block, None) => {
                    if core.store.mark_confirmed(&row.id, block, now_ms()).await? {
                        owner.confirmed(&row, block).await;
                    }
                }
                Seen::Included(block, Some(exception)) => {
                    tracing::warn!(request = %row.id, tx = %outbox.tx_hash, block, exception,
                        "transaction FAULTed on chain");
                    metrics::counter!(format!(
                        "{}_response_faults_total",
                        core.config.metrics_prefix
                    ))
                    .increment(1);
                    let fate = owner
                        .faulted(&row, &outbox.tx_hash, block, &exception)
                        .await;
                    apply(core, &row, &outbox, fate, "FAULTed").await?;
                }
                Seen::Expired => {
                    tracing::warn!(request = %row.id, tx = %outbox.tx_hash,
                        "transaction expired unconfirmed");
                    let fate = owner.expired(&row, &outbox.tx_hash).await;
                    apply(
                        core,
                        &row,
                        &outbox,
                        fate,
                        "not included before its validUntilBlock",
                    )
                    .await?;
                }
                Seen::Pending => {
                    let age = now.saturating_sub(row.updated_at);
                    let due = match row.state {
                        // Fresh entries belong to the task that wrote them (its broadcast may
                        // be in flight); older ones were never sent.
                        RequestState::Outbox => age >= OUTBOX_GRACE_MS,
                        _ => age >= REBROADCAST_AFTER_MS && round.is_multiple_of(REBROADCAST_EVERY),
                    };
                    if due && broadcast(&core.rpc, &outbox.tx, &outbox.tx_hash, &row.id).await {
                        core.store.mark_sent(&row.id, now_ms()).await?;
                    }
                }
            }
        }
        for tx in core.store.pending_txs(&core.identity.chain).await? {
            let seen = self
                .locate(core, &tx.tx_hash, tx.valid_until_block, tx.updated_at)
                .await?;
            let (state, block, detail) = match seen {
                Seen::Included(block, None) => (TxState::Confirmed, Some(block), None),
                Seen::Included(block, Some(exception)) => (
                    TxState::Failed,
                    Some(block),
                    Some(format!("FAULTed in block {block}: {exception}")),
                ),
                Seen::Expired => (
                    TxState::Expired,
                    None,
                    Some("not included before its validUntilBlock".to_string()),
                ),
                Seen::Pending => {
                    let age = now.saturating_sub(tx.updated_at);
                    let due = match tx.state {
                        TxState::Outbox => age >= OUTBOX_GRACE_MS,
                        _ => age >= REBROADCAST_AFTER_MS && round.is_multiple_of(REBROADCAST_EVERY),
                    };
                    if due && broadcast(&core.rpc, &tx.tx, &tx.tx_hash, &tx.reference).await {
                        core.store
                            .mark_tx(&tx.tx_hash, TxState::Sent, None, None, now_ms())
                            .await?;
                    }
                    continue;
                }
            };
            if core
                .store
                .mark_tx(&tx.tx_hash, state, block, detail.as_deref(), now_ms())
                .await?
                && let Some(ended) = core.store.outbox_tx(&tx.tx_hash).await?
            {
                owner_of(core, &tx.service).tx_ended(&ended).await;
            }
        }
        Ok(())
    }
}

/// Carry out the owner's decision for a row whose transaction will not answer.
async fn apply(
    core: &Core,
    row: &RequestRow,
    outbox: &OutboxRow,
    fate: Fate,
    why: &str,
) -> Result<(), ChainError> {
    match fate {
        Fate::Rebuild => {
            core.store
                .requeue(&row.id, &outbox.tx_hash, why, now_ms())
                .await?;
        }
        Fate::End(state, detail) => {
            core.store
                .mark_final(&row.id, state, &detail, now_ms())
                .await?;
        }
    }
    Ok(())
}

fn owner_of(core: &Core, service: &str) -> Arc<dyn TxOwner> {
    if let Some(o) = core
        .owners
        .lock()
        .ok()
        .and_then(|owners| owners.get(service).cloned())
    {
        return o;
    }
    core.default_owner
        .lock()
        .map(|o| o.clone())
        .unwrap_or_else(|_| Arc::new(DefaultOwner))
}
