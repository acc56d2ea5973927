//! Workers (fetch, build, sign, outbox, broadcast) and the sender (re-broadcast, confirm,
//! rebuild after validUntilBlock).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use neo::{UInt160, UInt256};
use neo_rpc::{LocalFees, codes};
use nsl_store::UnixMillis;
use nsl_store::now_ms;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::handler::GatewayCall;
use super::store::{OutboxRow, OutboxWrite, RequestKind, RequestRow, RequestState};
use super::{ServiceError, Shared, pause};
use crate::code::{ResponseCode, code_name};
use crate::error::OracleError;
use crate::fetch::{Answer, answer};
use crate::gateway::{ORACLE_SERVICE_TYPE, fulfill_script_for};

/// Added to the test run's GAS for a gateway response's system fee: state the response writes can
/// grow between the test run and the block (the gateway stores the closing height, whose encoding
/// gains a byte at 128, 32768, ...; a consumer may store heights or times too; the test run's
/// transaction has no fees, so the fees the gateway records and credits are a few bytes longer on
/// chain, measured: 0.005 GAS), and running short of GAS FAULTs the whole response.
/// 0.015 GAS: fifteen bytes of storage at the default price.
pub const SYSTEM_FEE_MARGIN: i64 = 1_500_000;

/// Sender rounds between re-broadcasts of a `sent` transaction that is not in a block yet.
const REBROADCAST_EVERY: u64 = 10;

/// An `outbox` row younger than this is left to the worker that wrote it (its broadcast may be
/// in flight); older ones were not sent (a crash, a refused broadcast) and the sender sends them.
const OUTBOX_GRACE_MS: i64 = 2_000;

/// A row to work on: handed over by the follower (`seen` = when its block's events were read)
/// or claimed back from the store after a lease ran out or a restart (`seen` = `None`).
pub(crate) struct Work {
    pub(crate) row: RequestRow,
    pub(crate) seen: Option<Instant>,
}

/// Work on the follower's rows as they arrive and, every poll interval, on rows claimed from
/// the store (left by a crash, a released claim or another instance), with at most
/// `config.workers` at a time, until shutdown; then wait for the rows in progress.
pub(crate) async fn run_workers(
    shared: Arc<Shared>,
    mut work: mpsc::UnboundedReceiver<Work>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ServiceError> {
    let permits = Arc::new(Semaphore::new(shared.config.workers.max(1)));
    let mut tasks = JoinSet::new();
    let mut next_claim = tokio::time::Instant::now();
    let result = loop {
        while tasks.try_join_next().is_some() {}
        if *shutdown.borrow() {
            break Ok(());
        }
        if tokio::time::Instant::now() >= next_claim {
            if let Err(e) = claim_stored(&shared, &permits, &mut tasks).await {
                break Err(e);
            }
            next_claim = tokio::time::Instant::now() + shared.config.poll_interval;
        }
        tokio::select! {
            item = work.recv() => {
                let Some(item) = item else { break Ok(()) };
                let Ok(permit) = permits.clone().acquire_owned().await else { break Ok(()) };
                let shared = shared.clone();
                tasks.spawn(async move {
                    process(&shared, item).await;
                    drop(permit);
                });
            }
            () = tokio::time::sleep_until(next_claim) => {}
            r = shutdown.changed() => if r.is_err() || *shutdown.borrow() { break Ok(()) },
        }
    };
    while tasks.join_next().await.is_some() {}
    result
}

/// Claim stored rows that nobody works on, up to the free permits, and start them.
async fn claim_stored(
    shared: &Arc<Shared>,
    permits: &Arc<Semaphore>,
    tasks: &mut JoinSet<()>,
) -> Result<(), ServiceError> {
    let free = permits.available_permits();
    if free == 0 {
        return Ok(());
    }
    let now = now_ms();
    let lease = i64::try_from(shared.config.claim_lease.as_millis()).unwrap_or(i64::MAX);
    let rows = shared
        .store
        .claim(
            &shared.config.instance,
            now.saturating_add(lease),
            i64::try_from(free).unwrap_or(1),
            now,
        )
        .await?;
    for row in rows {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let shared = shared.clone();
        tasks.spawn(async move {
            process(&shared, Work { row, seen: None }).await;
            drop(permit);
        });
    }
    Ok(())
}

/// What stopped a row.
enum Outcome {
    /// The row is in its final state or handed to the sender.
    Done,
    /// A transient problem: release the claim, retry later.
    Retry(String),
}

async fn process(shared: &Shared, work: Work) {
    let id = work.row.id.clone();
    match process_row(shared, work).await {
        Ok(Outcome::Done) => {}
        Ok(Outcome::Retry(why)) => {
            tracing::warn!(request = %id, why, "oracle request will be retried");
            if let Err(e) = shared.store.release(&id, &shared.config.instance).await {
                tracing::warn!(request = %id, error = %e, "releasing claim failed");
            }
        }
        Err(e) => {
            tracing::error!(request = %id, error = %e, "oracle store failed");
        }
    }
}

/// The answer to a `seen` row: fetch and filter for `oracle`, the service type's handler
/// otherwise.
async fn compute_answer(shared: &Shared, row: &RequestRow) -> Answer {
    if let Some(why) = &row.invalid {
        return Answer::failure(ResponseCode::Error, why.clone());
    }
    if row.service == ORACLE_SERVICE_TYPE {
        return answer(&shared.egress, &row.url, row.filter.as_deref()).await;
    }
    let Some(handler) = shared.handlers.get(row.service.as_str()) else {
        return Answer::failure(
            ResponseCode::Error,
            format!("no handler for service type {:?}", row.service),
        );
    };
    let call = GatewayCall {
        request_id: u64::try_from(row.request_id).unwrap_or_default(),
        requester: match UInt160::from_str(&row.requester) {
            Ok(h) => h,
            Err(e) => {
                return Answer::failure(ResponseCode::Error, format!("requester: {e}"));
            }
        },
        payload: row.payload.clone().unwrap_or_default(),
        tx_hash: row.tx_hash.clone(),
        block_index: u32::try_from(row.block_index).unwrap_or_default(),
    };
    handler.answer(&call).await
}

async fn process_row(shared: &Shared, work: Work) -> Result<Outcome, ServiceError> {
    let Work { row, seen } = work;
    // Stage figures for oracle-bench (docs/benchmarks.md), each from the follower's `seen`.
    let stage = |name: &'static str| {
        if let Some(seen) = seen {
            metrics::histogram!("nsl_oracle_stage_seconds", "stage" => name)
                .record(seen.elapsed().as_secs_f64());
        }
    };
    stage("worker_start");
    let owner = shared.config.instance.as_str();
    let mut handler_time = Duration::ZERO;
    let max_attempts = i64::from(shared.config.max_attempts.max(1));
    if row.attempts > 2 * max_attempts
        && matches!(row.state, RequestState::Seen | RequestState::Fetched)
    {
        let why = format!(
            "gave up after {} claims whose worker never finished",
            row.attempts - 1
        );
        tracing::warn!(request = %row.id, why, "oracle request ends");
        shared
            .store
            .mark_final(&row.id, RequestState::Failed, &why, now_ms())
            .await?;
        return Ok(Outcome::Done);
    }
    let (mut answer, fresh) = match row.state {
        // Its worker crashed or hung on it every time: answer Error, fetch nothing.
        RequestState::Seen | RequestState::Fetched if row.attempts > max_attempts => {
            let why = format!(
                "gave up after {} attempts whose worker never finished",
                row.attempts - 1
            );
            tracing::warn!(request = %row.id, why, "oracle request answered with Error");
            (Answer::failure(ResponseCode::Error, why), true)
        }
        RequestState::Seen => {
            let started = Instant::now();
            let answer = compute_answer(shared, &row).await;
            handler_time = started.elapsed();
            stage("fetched");
            if row.service == ORACLE_SERVICE_TYPE {
                metrics::histogram!("nsl_oracle_fetch_seconds").record(handler_time.as_secs_f64());
            } else {
                metrics::histogram!("nsl_gateway_handler_seconds", "service" => row.service.clone())
                    .record(handler_time.as_secs_f64());
            }
            tracing::info!(request = %row.id, kind = row.kind.as_str(), service = row.service,
                id = row.request_id, code = code_name(answer.code),
                detail = answer.detail.as_deref().unwrap_or(""), "oracle request answered");
            (answer, true)
        }
        RequestState::Fetched => (stored_answer(&row)?, false),
        _ => return Ok(Outcome::Done),
    };
    let request_id = u64::try_from(row.request_id).unwrap_or_default();
    let code_before = answer.code;
    let built = match row.kind {
        RequestKind::Native => build_native(shared, request_id, &answer).await,
        RequestKind::Gateway => build_gateway(shared, &row, request_id, &mut answer).await,
    };
    stage("signed");
    // The answer was replaced (the budget could not pay for it): store the one that is sent.
    let fresh = fresh || answer.code != code_before;
    let (code, tx) = match built {
        Build::Tx(code, tx) => (code, tx),
        Build::Final(state, why) => {
            tracing::warn!(request = %row.id, state = state.as_str(), why, "oracle request ends");
            metrics::counter!("nsl_oracle_requests_total", "state" => state.as_str(),
                "code" => "none")
            .increment(1);
            shared
                .store
                .mark_final(&row.id, state, &why, now_ms())
                .await?;
            return Ok(Outcome::Done);
        }
        Build::Retry(why) => {
            // Keep a fresh answer so the retry does not fetch (or run the handler) again.
            if fresh {
                shared
                    .store
                    .store_answer(
                        &row.id,
                        owner,
                        i64::from(answer.code as u8),
                        &answer.result,
                        now_ms(),
                    )
                    .await?;
            }
            return Ok(Outcome::Retry(why));
        }
    };
    let outbox = OutboxRow {
        request: row.id.clone(),
        tx_hash: tx.hash().to_string(),
        tx: tx.to_bytes(),
        valid_until_block: i64::from(tx.valid_until_block),
        attempts: 0,
    };
    // The answer (when fresh) and the signed response are stored in one transaction, before
    // the broadcast.
    let write = OutboxWrite {
        outbox,
        code: i64::from(code as u8),
        answer: fresh.then_some(answer.result),
    };
    let (reply, written) = oneshot::channel();
    if shared.outbox.send((write, reply)).is_err() {
        return Ok(Outcome::Retry("stopping".into()));
    }
    let (outbox, written) = match written.await {
        Ok((write, Ok(written))) => (write.outbox, written),
        Ok((_, Err(e))) => return Err(ServiceError::Batch(e)),
        Err(_) => return Ok(Outcome::Retry("stopping".into())),
    };
    stage("outbox_written");
    if written && broadcast(shared, &outbox).await {
        stage("broadcast");
        if let Some(seen) = seen {
            let overhead = seen.elapsed().saturating_sub(handler_time);
            metrics::histogram!("nsl_oracle_overhead_seconds").record(overhead.as_secs_f64());
        }
        let _ = shared.sent.send(outbox.request.clone());
    }
    Ok(Outcome::Done)
}

/// The answer stored with a `fetched` row.
fn stored_answer(row: &RequestRow) -> Result<Answer, ServiceError> {
    let code = row
        .code
        .and_then(|c| u8::try_from(c).ok())
        .and_then(|c| ResponseCode::from_u8(c).ok())
        .ok_or_else(|| {
            nsl_store::StoreError::Corrupt(format!("fetched row {} has no valid code", row.id))
        })?;
    Ok(Answer {
        code,
        result: row.result.clone().unwrap_or_default(),
        detail: None,
    })
}

enum Build {
    Tx(ResponseCode, neo::tx::Transaction),
    Final(RequestState, String),
    Retry(String),
}

async fn build_native(shared: &Shared, id: u64, answer: &Answer) -> Build {
    let request = match shared.native.request(id).await {
        Ok(r) => r,
        Err(OracleError::RequestNotFound(_)) => {
            return Build::Final(
                RequestState::Expired,
                "no longer pending in the OracleContract (answered or expired)".into(),
            );
        }
        Err(e) => return Build::Retry(e.to_string()),
    };
    match shared.native.build_response(id, &request, answer).await {
        Ok(r) => Build::Tx(r.code, r.tx),
        Err(e @ (OracleError::NotDesignated { .. } | OracleError::GasTooLow { .. })) => {
            Build::Final(RequestState::Failed, e.to_string())
        }
        Err(e @ OracleError::Malformed { .. }) => Build::Final(RequestState::Failed, e.to_string()),
        Err(e) => Build::Retry(e.to_string()),
    }
}

/// Build the `fulfill` transaction of a gateway request, within what the node may spend on it:
/// the request's GAS budget, capped by the configured ceiling (`max_response_fee`). An answer
/// whose transaction costs more is replaced by `InsufficientFunds` with an empty result; when
/// even that does not fit, the request ends `failed` and nothing is signed.
async fn build_gateway(shared: &Shared, row: &RequestRow, id: u64, answer: &mut Answer) -> Build {
    let Some(budget) = row.gas_budget else {
        return Build::Final(
            RequestState::Failed,
            "gateway request without a gas budget".into(),
        );
    };
    let limit = budget.min(shared.config.max_response_fee);
    let built = build_fulfill(shared, id, answer).await;
    let Build::Tx(_, tx) = &built else {
        return built;
    };
    let fees = tx.system_fee.saturating_add(tx.network_fee);
    if fees <= limit {
        return built;
    }
    let why = format!(
        "response costs {fees} GAS fractions (system fee {} + network fee {}), the limit is \
         {limit} (gas budget {budget}, max_response_fee {})",
        tx.system_fee, tx.network_fee, shared.config.max_response_fee
    );
    if answer.code != ResponseCode::InsufficientFunds || !answer.result.is_empty() {
        tracing::info!(request = %row.id, id, fees, limit, "answer exceeds the gas budget; \
            sending InsufficientFunds instead");
        *answer = Answer::failure(ResponseCode::InsufficientFunds, why);
        let built = build_fulfill(shared, id, answer).await;
        let Build::Tx(_, tx) = &built else {
            return built;
        };
        let fees = tx.system_fee.saturating_add(tx.network_fee);
        if fees <= limit {
            return built;
        }
        return Build::Final(
            RequestState::Failed,
            format!(
                "not signed: even an InsufficientFunds answer costs {fees} GAS fractions, the \
                 limit is {limit} (gas budget {budget})"
            ),
        );
    }
    Build::Final(RequestState::Failed, format!("not signed: {why}"))
}

/// The `fulfill` transaction for `answer` (test run for the system fee, then local or node fees).
async fn build_fulfill(shared: &Shared, id: u64, answer: &Answer) -> Build {
    let (Some(actor), Some(gateway)) = (&shared.gateway_actor, &shared.config.gateway) else {
        return Build::Final(RequestState::Failed, "no gateway configured".into());
    };
    let (code, script) = match fulfill_script_for(gateway, id, answer) {
        Ok(s) => s,
        Err(e) => return Build::Final(RequestState::Failed, e.to_string()),
    };
    let test = match actor.invoker().invoke_script(&script).await {
        Ok(outcome) => outcome.into_halt(),
        Err(e) => Err(e),
    };
    let system_fee = match test {
        Ok(outcome) => outcome
            .gasconsumed
            .saturating_add(shared.config.system_fee_margin),
        // The test run FAULTs: fulfilled by another node, expired, or refused.
        Err(neo_rpc::Error::Fault { exception }) => {
            let state = if exception.contains("already") || exception.contains("expired") {
                RequestState::Expired
            } else {
                RequestState::Failed
            };
            return Build::Final(state, format!("fulfill refused: {exception}"));
        }
        Err(e) => return Build::Retry(e.to_string()),
    };
    let local = shared.local_fees.lock().ok().and_then(|f| *f);
    let tx = match local {
        Some(fees) => {
            let fees = LocalFees {
                height: fees.height.max(shared.height.load(Ordering::Relaxed)),
                ..fees
            };
            actor.make_tx_local(&script, system_fee, &fees)
        }
        None => actor.make_tx_unchecked(&script, system_fee).await,
    };
    match tx {
        Ok(tx) => Build::Tx(code, tx),
        Err(e) => Build::Retry(e.to_string()),
    }
}

/// Read the fee policy and check [`neo_rpc::Actor::make_tx_local`]'s network fee against the
/// node's `calculatenetworkfee` for a sample response; `None` (every response then asks the
/// node) if they differ.
pub(crate) async fn check_local_fees(
    actor: &neo_rpc::Actor,
) -> Result<Option<LocalFees>, ServiceError> {
    let fees = actor.local_fees().await?;
    // Any script will do: the fee depends on the size and the signers only.
    let sample = actor.make_tx_local(&[0x40; 200], 0, &fees)?;
    let expected = actor
        .rpc()
        .calculate_network_fee(&sample.to_bytes())
        .await?;
    if expected == sample.network_fee {
        Ok(Some(fees))
    } else {
        tracing::warn!(
            local = sample.network_fee,
            node = expected,
            "local network fee differs from the node's; asking the node for every response"
        );
        Ok(None)
    }
}

/// Re-read the fee policy (it can change by a committee vote); keeps the last good values when
/// the node cannot be reached.
async fn refresh_local_fees(shared: &Shared) {
    let Some(actor) = &shared.gateway_actor else {
        return;
    };
    if shared
        .local_fees
        .lock()
        .map(|f| f.is_none())
        .unwrap_or(true)
    {
        return;
    }
    match actor.local_fees().await {
        Ok(fees) => {
            shared.height.fetch_max(fees.height, Ordering::Relaxed);
            if let Ok(mut slot) = shared.local_fees.lock() {
                *slot = Some(fees);
            }
        }
        Err(e) => tracing::debug!(error = %e, "fee policy refresh failed"),
    }
}

/// Publish the node account's GAS balance (`nsl_oracle_node_gas`, in GAS) and warn (log and
/// `/ready`) while it is below `low_gas_warning`: the node pays gateway responses up front and is
/// reimbursed by the gateway (to its deposit there) only after inclusion.
async fn check_node_gas(shared: &Shared) {
    let balance = match neo_rpc::Nep17::gas(shared.rpc.clone())
        .balance_of(&shared.node_account)
        .await
    {
        Ok(b) => i64::try_from(b).unwrap_or(i64::MAX),
        Err(e) => {
            tracing::debug!(error = %e, "node GAS balance not read");
            return;
        }
    };
    metrics::gauge!("nsl_oracle_node_gas").set(balance as f64 / 1e8);
    let threshold = shared.config.low_gas_warning;
    let warnings = shared.config.ready_warnings.as_ref();
    if threshold > 0 && balance < threshold {
        let message = format!(
            "node account {} holds {} GAS, below oracle.low_gas_warning {} GAS",
            neo::address::script_hash_to_address(&shared.node_account),
            nsl_primitives::GasAmount::from_units(balance),
            nsl_primitives::GasAmount::from_units(threshold)
        );
        tracing::warn!(balance, threshold, "{message}");
        if let Some(w) = warnings {
            w.set("oracle", message);
        }
    } else if let Some(w) = warnings {
        w.clear("oracle");
    }
}

/// Send the outbox transaction; `true` when the node has it (sent now or before). A refusal
/// leaves the row in `outbox`/`sent` for the sender to retry or rebuild.
async fn broadcast(shared: &Shared, outbox: &OutboxRow) -> bool {
    match shared.rpc.send_raw_transaction(&outbox.tx).await {
        Ok(_) => {}
        Err(e)
            if matches!(
                e.rpc_code(),
                Some(codes::ALREADY_EXISTS | codes::ALREADY_IN_POOL)
            ) => {}
        Err(e) => {
            tracing::warn!(request = %outbox.request, tx = %outbox.tx_hash, error = %e,
                "broadcast refused; will retry");
            return false;
        }
    }
    true
}

/// A write for the outbox writer, with where to send the outcome (the write comes back too).
pub(crate) type OutboxJob = (
    OutboxWrite,
    oneshot::Sender<(OutboxWrite, Result<bool, String>)>,
);

/// Most writes committed in one transaction.
const OUTBOX_BATCH: usize = 256;

/// Write the workers' signed responses, committing what arrives together in one transaction
/// (group commit: one disk sync and no writer contention for a whole block of responses), until
/// every worker is gone.
pub(crate) async fn run_outbox_writer(
    store: Arc<dyn super::OracleStore>,
    owner: String,
    mut jobs: mpsc::UnboundedReceiver<OutboxJob>,
) -> Result<(), ServiceError> {
    while let Some(batch) = next_batch(&mut jobs, OUTBOX_BATCH).await {
        let (writes, replies): (Vec<OutboxWrite>, Vec<_>) = batch.into_iter().unzip();
        let result = store.write_outboxes(&owner, &writes, now_ms()).await;
        metrics::histogram!("nsl_oracle_outbox_batch").record(writes.len() as f64);
        for (i, (write, reply)) in writes.into_iter().zip(replies).enumerate() {
            let outcome = match &result {
                Ok(done) => Ok(done.get(i).copied().unwrap_or(false)),
                Err(e) => Err(e.to_string()),
            };
            let _ = reply.send((write, outcome));
        }
    }
    Ok(())
}

/// Wait for one item, then take what else is already queued, up to `max`; `None` once every
/// sender is gone and the queue is empty. The batching of the DB writer tasks.
async fn next_batch<T>(rx: &mut mpsc::UnboundedReceiver<T>, max: usize) -> Option<Vec<T>> {
    let mut batch = vec![rx.recv().await?];
    while batch.len() < max
        && let Ok(item) = rx.try_recv()
    {
        batch.push(item);
    }
    Some(batch)
}

/// Mark broadcast rows `sent`, batching what arrives together, until every sender is gone.
pub(crate) async fn run_sent_marker(
    store: Arc<dyn super::OracleStore>,
    mut sent: mpsc::UnboundedReceiver<String>,
) -> Result<(), ServiceError> {
    while let Some(ids) = next_batch(&mut sent, OUTBOX_BATCH).await {
        store.mark_sent_many(&ids, now_ms()).await?;
    }
    Ok(())
}

/// A transaction of a block the follower read: its hash and, if it FAULTed, the exception.
pub(crate) struct TxFate {
    pub(crate) hash: String,
    pub(crate) fault: Option<String>,
}

/// Transactions of the blocks the follower read: `(block index, transactions)`.
pub(crate) type BlockTxs = (i64, Vec<TxFate>);

/// Blocks kept in the sender's memory of recent transactions.
const RECENT_BLOCKS: i64 = 200;

/// A `sent` transaction not in a block after this long is broadcast again (the node may have
/// dropped it from its pool).
const REBROADCAST_AFTER_MS: i64 = 5_000;

/// Watch outbox/sent rows until shutdown: confirm them from the blocks the follower reads,
/// re-broadcast, or send them back for a rebuild once their validUntilBlock has passed.
pub(crate) async fn run_sender(
    shared: Arc<Shared>,
    mut blocks: mpsc::UnboundedReceiver<BlockTxs>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ServiceError> {
    let mut sender = Sender::default();
    let mut round: u64 = 0;
    loop {
        let mut new_block = false;
        while let Ok((block, hashes)) = blocks.try_recv() {
            sender.saw_block(block, hashes);
            new_block = true;
        }
        // Work (reading every in-flight row with its transaction) when a block came, and
        // otherwise every REBROADCAST_EVERY rounds for rows that wait on time alone (unsent
        // outbox rows, re-broadcasts, fee and gauge refreshes); round 0 looks at what a previous
        // run left.
        if new_block || round.is_multiple_of(REBROADCAST_EVERY) {
            match sender.round(&shared, round).await {
                Ok(()) => {}
                Err(ServiceError::Store(e)) => return Err(ServiceError::Store(e)),
                Err(e) => tracing::warn!(error = %e, "oracle sender: chain unreachable, retrying"),
            }
        }
        round = round.wrapping_add(1);
        if pause(&mut shutdown, shared.config.poll_interval).await {
            return Ok(());
        }
    }
}

/// The sender's memory: transactions of recent blocks, and the rows already looked up on chain.
#[derive(Default)]
struct Sender {
    /// Transaction hash -> (block index, FAULT exception), for the last [`RECENT_BLOCKS`] blocks
    /// read.
    recent: std::collections::HashMap<String, (i64, Option<String>)>,
    /// Highest block index read.
    top: i64,
    /// Rows (by outbox hash) this process has checked with `gettransactionheight`: rows from
    /// before it started, whose block the follower may have read in a previous run.
    looked_up: std::collections::HashSet<String>,
    /// When this sender started (rows written later are confirmed from the block feed alone).
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

    /// The response of `row` is in `block`: `confirmed` if it ran (HALT); if it FAULTed, the
    /// request ends `failed` with the exception. A FAULTed response is never rebuilt: its fees
    /// are spent, and a callback that runs out of GAS on chain (cheap in the test run, costly in
    /// the block) would make every rebuild FAULT again at the node's expense.
    async fn included(
        &mut self,
        shared: &Shared,
        row: &RequestRow,
        outbox: &OutboxRow,
        block: i64,
        fault: Option<String>,
    ) -> Result<(), ServiceError> {
        let Some(exception) = fault else {
            return confirmed(shared, row, block).await;
        };
        tracing::warn!(request = %row.id, tx = %outbox.tx_hash, block, exception,
            "response FAULTed on chain; the request ends failed (no rebuild)");
        metrics::counter!("nsl_oracle_response_faults_total").increment(1);
        let detail = format!(
            "response {} FAULTed in block {block}: {exception}",
            outbox.tx_hash
        );
        shared
            .store
            .mark_final(&row.id, RequestState::Failed, &detail, now_ms())
            .await?;
        Ok(())
    }

    async fn round(&mut self, shared: &Shared, round: u64) -> Result<(), ServiceError> {
        if self.started == 0 {
            self.started = now_ms();
        }
        if round.is_multiple_of(REBROADCAST_EVERY) {
            refresh_local_fees(shared).await;
            check_node_gas(shared).await;
            for (state, n) in shared.store.count_by_state().await? {
                metrics::gauge!("nsl_oracle_requests", "state" => state).set(n as f64);
            }
        }
        let rows = shared.store.in_flight().await?;
        let now = now_ms();
        for (row, outbox) in rows {
            if let Some((block, fault)) = self.recent.get(&outbox.tx_hash).cloned() {
                self.included(shared, &row, &outbox, block, fault).await?;
                continue;
            }
            // Written before this process started: its block may have been read by the previous
            // run; ask the node once. Expiring: make sure before rebuilding.
            let height = i64::from(shared.height.load(Ordering::Relaxed));
            let expiring = height >= outbox.valid_until_block;
            let older = row.updated_at < self.started && !self.looked_up.contains(&outbox.tx_hash);
            if older || expiring {
                self.looked_up.insert(outbox.tx_hash.clone());
                let hash = UInt256::from_str(&outbox.tx_hash).map_err(|e| {
                    nsl_store::StoreError::Corrupt(format!("outbox hash {}: {e}", outbox.tx_hash))
                })?;
                match shared.rpc.get_transaction_height(&hash).await {
                    Ok(block) => {
                        let log = shared.rpc.get_application_log(&hash).await?;
                        self.included(shared, &row, &outbox, i64::from(block), fault_of(&log))
                            .await?;
                        continue;
                    }
                    Err(e) if matches!(e.rpc_code(), Some(codes::UNKNOWN_TRANSACTION | -100)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            // Not in a block at or below `height`, which has reached validUntilBlock: it can
            // never be included.
            if expiring {
                tracing::warn!(request = %row.id, tx = %outbox.tx_hash,
                    "response expired unconfirmed; rebuilding");
                let why = "not included before its validUntilBlock";
                shared
                    .store
                    .requeue(&row.id, &outbox.tx_hash, why, now)
                    .await?;
                continue;
            }
            let age = now.saturating_sub(row.updated_at);
            let due = match row.state {
                // Fresh rows belong to the worker that wrote them (its broadcast may be in
                // flight); older ones were never sent (a crash, a refused broadcast).
                RequestState::Outbox => age >= OUTBOX_GRACE_MS,
                _ => age >= REBROADCAST_AFTER_MS && round.is_multiple_of(REBROADCAST_EVERY),
            };
            if due && broadcast(shared, &outbox).await {
                shared.store.mark_sent(&row.id, now_ms()).await?;
            }
        }
        Ok(())
    }
}

/// The exception of a transaction's application log if it FAULTed.
pub(crate) fn fault_of(log: &neo_rpc::types::ApplicationLog) -> Option<String> {
    log.executions
        .iter()
        .find(|e| !e.vmstate.is_halt())
        .map(|e| e.exception.clone().unwrap_or_else(|| "FAULT".into()))
}

async fn confirmed(shared: &Shared, row: &RequestRow, block: i64) -> Result<(), ServiceError> {
    if !shared
        .store
        .mark_confirmed(&row.id, block, now_ms())
        .await?
    {
        return Ok(());
    }
    let code = row
        .code
        .and_then(|c| u8::try_from(c).ok())
        .and_then(|c| ResponseCode::from_u8(c).ok())
        .map(code_name)
        .unwrap_or("unknown");
    let blocks = block.saturating_sub(row.block_index);
    metrics::counter!("nsl_oracle_requests_total", "state" => "confirmed", "code" => code)
        .increment(1);
    metrics::histogram!("nsl_oracle_blocks_to_answer").record(blocks as f64);
    metrics::histogram!("nsl_oracle_answer_seconds").record(
        Duration::from_millis(u64::try_from(now_ms() - row.created_at).unwrap_or(0)).as_secs_f64(),
    );
    tracing::info!(request = %row.id, kind = row.kind.as_str(), id = row.request_id, block,
        blocks_to_answer = blocks, code, "oracle response confirmed");
    Ok(())
}
