//! Workers: claim a request row, answer it (fetch and filter, or the service type's handler),
//! build the response (native: the oracle multisig's transaction; gateway: `fulfill` through the
//! runtime's transaction manager) and hand it to the transaction manager (outbox, broadcast,
//! confirmations, expiry).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use neo::UInt160;
use nsl_store::now_ms;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use super::batcher::{Busy, Ready};
use super::handler::GatewayCall;
use super::store::{OutboxRow, OutboxWrite, RequestKind, RequestRow, RequestState};
use super::{ServiceError, Shared};
use crate::code::{ResponseCode, code_name};
use crate::error::OracleError;
use crate::fetch::{Answer, answer};
use crate::gateway::{ORACLE_SERVICE_TYPE, fulfill_script_for};
use crate::native::{ChainView, OracleRequest};

/// Added to the test run's GAS for a gateway response's system fee (the runtime's default,
/// see [`nsl_chain::SYSTEM_FEE_MARGIN`]).
pub const SYSTEM_FEE_MARGIN: i64 = nsl_chain::SYSTEM_FEE_MARGIN;

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
    mut work: mpsc::Receiver<Work>,
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
                let busy = shared.batch.busy();
                tasks.spawn(async move {
                    process(&shared, item, busy).await;
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
        let busy = shared.batch.busy();
        tasks.spawn(async move {
            process(&shared, Work { row, seen: None }, busy).await;
            drop(permit);
        });
    }
    Ok(())
}

/// What stopped a row.
pub(crate) enum Outcome {
    /// The row is in its final state or handed to the sender.
    Done,
    /// A transient problem: release the claim, retry later.
    Retry(String),
}

async fn process(shared: &Shared, work: Work, busy: Busy) {
    let id = work.row.id.clone();
    let result = process_row(shared, work, busy).await;
    settle(shared, &id, result).await;
}

/// Release a row to retry, or log a store failure.
pub(crate) async fn settle(shared: &Shared, id: &str, result: Result<Outcome, ServiceError>) {
    match result {
        Ok(Outcome::Done) => {}
        Ok(Outcome::Retry(why)) => {
            tracing::warn!(request = %id, why, "oracle request will be retried");
            if let Err(e) = shared.store.release(id, &shared.config.instance).await {
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
        // A slot first: a burst's fetches run `max_fetches` at a time (the semaphore is never
        // closed; without a slot the fetch would still be bounded by the workers).
        let _slot = shared.fetches.acquire().await.ok();
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

async fn process_row(shared: &Shared, work: Work, busy: Busy) -> Result<Outcome, ServiceError> {
    let Work { row, seen } = work;
    let stage = |name: &'static str| stage(seen, name);
    stage("worker_start");
    let mut handler_time = Duration::ZERO;
    let mut native_record = None;
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
    let (answer, fresh) = match row.state {
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
            // A native response needs the request's record (its gasForResponse): read while
            // the fetch runs, off the response's path.
            let (answer, record) = if row.kind == RequestKind::Native {
                let id = u64::try_from(row.request_id).unwrap_or_default();
                let (answer, record) =
                    tokio::join!(compute_answer(shared, &row), shared.native.request(id));
                (answer, Some(record))
            } else {
                (compute_answer(shared, &row).await, None)
            };
            native_record = record;
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
    // Gateway answers ready together go out in one transaction (the batcher answers or
    // releases the row); this worker is no longer busy computing.
    drop(busy);
    if shared.batch.accepts(&row) {
        let ready = Ready {
            row,
            answer,
            fresh,
            seen,
            handler_time,
        };
        match shared.batch.hand(ready) {
            Ok(()) => return Ok(Outcome::Done),
            Err(r) => {
                return respond(
                    shared,
                    r.row,
                    r.answer,
                    r.fresh,
                    r.seen,
                    r.handler_time,
                    None,
                )
                .await;
            }
        }
    }
    respond(
        shared,
        row,
        answer,
        fresh,
        seen,
        handler_time,
        native_record,
    )
    .await
}

/// Stage figure for oracle-bench (docs/benchmarks.md): time since the follower's `seen`.
pub(crate) fn stage(seen: Option<Instant>, name: &'static str) {
    if let Some(seen) = seen {
        metrics::histogram!("nsl_oracle_stage_seconds", "stage" => name)
            .record(seen.elapsed().as_secs_f64());
    }
}

/// Build, store and broadcast one row's response alone (native: the oracle multisig's
/// transaction; gateway: a single `fulfill`). `native_record`: the native request's record
/// when already read (else it is read here).
pub(crate) async fn respond(
    shared: &Shared,
    row: RequestRow,
    mut answer: Answer,
    fresh: bool,
    seen: Option<Instant>,
    handler_time: Duration,
    native_record: Option<Result<OracleRequest, OracleError>>,
) -> Result<Outcome, ServiceError> {
    let owner = shared.config.instance.as_str();
    let stage = |name: &'static str| stage(seen, name);
    let request_id = u64::try_from(row.request_id).unwrap_or_default();
    let code_before = answer.code;
    let built = match row.kind {
        RequestKind::Native => build_native(shared, &row, request_id, &answer, native_record).await,
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
    match shared.tx.send(owner, write).await {
        Ok(nsl_chain::Sent::Broadcast) => {
            // The transaction manager wrote the outbox (group commit), then broadcast.
            stage("broadcast");
            if let Some(seen) = seen {
                let overhead = seen.elapsed().saturating_sub(handler_time);
                metrics::histogram!("nsl_oracle_overhead_seconds").record(overhead.as_secs_f64());
            }
        }
        Ok(nsl_chain::Sent::Stored | nsl_chain::Sent::NotWritten) => {}
        Ok(nsl_chain::Sent::Stopping) => return Ok(Outcome::Retry("stopping".into())),
        Err(nsl_chain::ChainError::Store(e)) => return Err(ServiceError::Store(e)),
        Err(e) => return Err(ServiceError::Batch(e.to_string())),
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

/// Build the native response without RPC round trips once warm: the request's record
/// (`record`, read beside the fetch, or read now), validUntilBlock from the row's block and the
/// follower's height, the designation read once per height, the network fee computed locally
/// ([`crate::native::NativeOracle::build_response_at`]).
async fn build_native(
    shared: &Shared,
    row: &RequestRow,
    id: u64,
    answer: &Answer,
    record: Option<Result<OracleRequest, OracleError>>,
) -> Build {
    let record = match record {
        Some(r) => r,
        None => shared.native.request(id).await,
    };
    let request = match record {
        Ok(r) => r,
        Err(OracleError::RequestNotFound(_)) => {
            return Build::Final(
                RequestState::Expired,
                "no longer pending in the OracleContract (answered or expired)".into(),
            );
        }
        Err(e) => return Build::Retry(e.to_string()),
    };
    // The follower's height (shared with the transaction manager); before its first block, the
    // node's.
    let height = match shared.tx.height().load(Ordering::Relaxed) {
        0 => match shared.rpc.get_block_count().await {
            Ok(count) => count.saturating_sub(1),
            Err(e) => return Build::Retry(e.to_string()),
        },
        h => h,
    };
    let view = ChainView {
        height,
        request_height: u32::try_from(row.block_index).unwrap_or(height).min(height),
    };
    match shared
        .native
        .build_response_at(id, &request, answer, view)
        .await
    {
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
/// Build the `fulfill` transaction of a gateway request, within what the node may spend on it:
/// the request's GAS budget, capped by the configured ceiling (`max_response_fee`). An answer
/// whose transaction costs more is replaced by `InsufficientFunds` with an empty result; when
/// even that does not fit, the request ends `failed` and nothing is signed (the transaction
/// manager refuses above the ceiling before signing).
async fn build_gateway(shared: &Shared, row: &RequestRow, id: u64, answer: &mut Answer) -> Build {
    let Some(budget) = row.gas_budget else {
        return Build::Final(
            RequestState::Failed,
            "gateway request without a gas budget".into(),
        );
    };
    let limit = budget.min(shared.config.max_response_fee);
    let why = match build_fulfill(shared, id, answer, limit).await {
        Fulfill::Built(b) => {
            // Its callback FAULTs even in a test run: it would sink every batch it joins.
            if let Build::Final(RequestState::Failed, why) = &b
                && why.starts_with(REFUSED)
            {
                shared.batch.ban(&row.requester);
            }
            return b;
        }
        Fulfill::Above(e) => format!(
            "{e} (gas budget {budget}, max_response_fee {})",
            shared.config.max_response_fee
        ),
    };
    if answer.code != ResponseCode::InsufficientFunds || !answer.result.is_empty() {
        tracing::info!(request = %row.id, id, limit, "answer exceeds the gas budget; \
            sending InsufficientFunds instead");
        *answer = Answer::failure(ResponseCode::InsufficientFunds, why);
        return match build_fulfill(shared, id, answer, limit).await {
            Fulfill::Built(b) => b,
            Fulfill::Above(e) => Build::Final(
                RequestState::Failed,
                format!(
                    "not signed: even an InsufficientFunds answer is above the limit: {e} \
                     (gas budget {budget})"
                ),
            ),
        };
    }
    Build::Final(RequestState::Failed, format!("not signed: {why}"))
}

/// How a `fulfill` refused in its test run is described.
const REFUSED: &str = "fulfill refused: ";

/// What [`build_fulfill`] made.
enum Fulfill {
    Built(Build),
    /// Above the limit (nothing signed).
    Above(nsl_chain::BuildError),
}

/// The `fulfill` transaction for `answer`, built by the transaction manager (test run for the
/// system fee, local or node fees, refused above `limit`, then signed).
async fn build_fulfill(shared: &Shared, id: u64, answer: &Answer, limit: i64) -> Fulfill {
    let Some(gateway) = &shared.config.gateway else {
        return Fulfill::Built(Build::Final(
            RequestState::Failed,
            "no gateway configured".into(),
        ));
    };
    let (code, script) = match fulfill_script_for(gateway, id, answer) {
        Ok(s) => s,
        Err(e) => return Fulfill::Built(Build::Final(RequestState::Failed, e.to_string())),
    };
    Fulfill::Built(match shared.tx.build(&script, limit).await {
        Ok(tx) => Build::Tx(code, tx),
        // The test run FAULTs: fulfilled by another node, expired, or refused.
        Err(nsl_chain::BuildError::Fault { exception }) => {
            let state = if exception.contains("already") || exception.contains("expired") {
                RequestState::Expired
            } else {
                RequestState::Failed
            };
            Build::Final(state, format!("{REFUSED}{exception}"))
        }
        Err(e @ nsl_chain::BuildError::AboveCeiling { .. }) => return Fulfill::Above(e),
        Err(nsl_chain::BuildError::Rpc(e)) => Build::Retry(e.to_string()),
    })
}

/// The oracle as owner of its transactions in the runtime's transaction manager: metrics and logs
/// of confirmations; FAULT ends the request `failed` (never rebuilt: its fees are spent, and a
/// callback that runs out of GAS on chain, cheap in the test run and costly in the block, would
/// make every rebuild FAULT again at the node's expense); expiry rebuilds.
pub(crate) struct OracleOwner(
    pub(crate) Arc<super::batcher::Batcher>,
    pub(crate) neo_rpc::RpcClient,
);

#[async_trait::async_trait]
impl nsl_chain::TxOwner for OracleOwner {
    async fn confirmed(&self, row: &RequestRow, block: i64) {
        if let Some(h) = &row.response_tx_hash {
            self.0.forget(h);
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
            Duration::from_millis(u64::try_from(now_ms() - row.created_at).unwrap_or(0))
                .as_secs_f64(),
        );
        tracing::info!(request = %row.id, kind = row.kind.as_str(), id = row.request_id, block,
            blocks_to_answer = blocks, code, "oracle response confirmed");
    }

    async fn faulted(
        &self,
        row: &RequestRow,
        tx_hash: &str,
        block: i64,
        exception: &str,
    ) -> nsl_chain::Fate {
        let batch = match self.0.known_batch(tx_hash) {
            Some(b) => b,
            // Sent before this process started: read the transaction.
            None => {
                row.kind == RequestKind::Gateway
                    && super::batcher::batch_on_chain(&self.1, tx_hash).await
            }
        };
        if self.0.faulted(row, batch) {
            tracing::warn!(request = %row.id, tx = %tx_hash, block, exception,
                "batch of answers FAULTed on chain; this request is answered alone");
            metrics::counter!("nsl_oracle_batch_faults_total").increment(1);
            return nsl_chain::Fate::Rebuild;
        }
        tracing::warn!(request = %row.id, tx = %tx_hash, block, exception,
            "response FAULTed on chain; the request ends failed (no rebuild)");
        nsl_chain::Fate::End(
            RequestState::Failed,
            format!("response {tx_hash} FAULTed in block {block}: {exception}"),
        )
    }

    async fn expired(&self, row: &RequestRow, tx_hash: &str) -> nsl_chain::Fate {
        self.0.forget(tx_hash);
        tracing::warn!(request = %row.id, tx = %tx_hash, "response expired unconfirmed; rebuilding");
        nsl_chain::Fate::Rebuild
    }
}
