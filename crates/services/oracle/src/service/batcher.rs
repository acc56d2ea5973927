//! Batched gateway answers (issue #10, docs/gateway.md "Batched answers"): answers that are ready
//! together go out in ONE transaction of `fulfillShare` calls.
//!
//! ```text
//! workers ── Ready (answer computed, row still claimed) ──▶ batcher: gather while workers are
//!   still computing, at most GATHER_WAIT after the first, at most max_batch (and the script's
//!   256 calls / 65,535 bytes) ──▶ batch task: test run once ─ plan_batch ─▶
//!     Send  ─▶ shares in the script, signed, one outbox entry for every row (one DB commit,
//!              before the broadcast) ─▶ broadcast once ─▶ the sender confirms every row
//!     Split ─▶ `retry` again as a batch, `single` one transaction each (the worker's path)
//! ```
//!
//! On chain, a batch that FAULTs (a callback that aborts or runs out of GAS only in the block)
//! has every row rebuilt and answered alone ([`Batcher::faulted`]); a requester whose own answer
//! FAULTed (on chain, or in its single test run) is never batched again in this process: a
//! hostile consumer costs the node at most one batch.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::Shared;
use super::store::{OutboxRow, OutboxWrite, RequestKind, RequestRow};
use super::worker::{self, Outcome};
use crate::batch::{
    BatchFees, BatchPlan, FulfillCall, MAX_BATCH_CALLS, batch_script, call_fragment, plan_batch,
};
use crate::fetch::Answer;

/// Longest a ready answer waits for others to join its batch (only while workers are still
/// computing answers; with none busy, the batch goes at once).
pub(crate) const GATHER_WAIT: Duration = Duration::from_millis(3);

/// Batches remembered for [`Batcher::faulted`] (oldest forgotten first past this).
const REMEMBERED_BATCHES: usize = 4096;

/// A gateway row whose answer is computed, still claimed by this instance.
pub(crate) struct Ready {
    pub(crate) row: RequestRow,
    pub(crate) answer: Answer,
    /// The answer is not stored yet (it is stored with the outbox entry).
    pub(crate) fresh: bool,
    pub(crate) seen: Option<Instant>,
    pub(crate) handler_time: Duration,
}

/// Counts a worker computing an answer (the batcher waits for busy workers, briefly).
pub(crate) struct Busy(Arc<Batcher>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Full batches the queue holds before workers answer alone.
const QUEUE_BATCHES: usize = 4;

/// The batcher's shared state: its queue, the workers' activity, and what it learned of FAULTs.
pub(crate) struct Batcher {
    max_batch: usize,
    /// Bounded: when the batcher falls behind, workers answer alone (backpressure through the
    /// single path) instead of queueing without limit.
    queue: mpsc::Sender<Option<Ready>>,
    busy: AtomicUsize,
    /// Rows to answer alone (their batch FAULTed on chain).
    solo: Mutex<HashSet<String>>,
    /// Requesters never batched again (an answer to them FAULTed).
    banned: Mutex<HashSet<String>>,
    /// Batch transactions sent by this process: hash -> calls (FIFO order for forgetting).
    batches: Mutex<(HashMap<String, usize>, std::collections::VecDeque<String>)>,
}

impl Batcher {
    /// A batcher for at most `max_batch` answers per transaction, and the receiving end of its
    /// queue (for [`run`]).
    pub(crate) fn new(max_batch: usize) -> (Arc<Self>, mpsc::Receiver<Option<Ready>>) {
        let (queue, rx) = mpsc::channel(QUEUE_BATCHES * max_batch.max(1));
        (
            Arc::new(Self {
                max_batch: max_batch.clamp(1, MAX_BATCH_CALLS),
                queue,
                busy: AtomicUsize::new(0),
                solo: Mutex::new(HashSet::new()),
                banned: Mutex::new(HashSet::new()),
                batches: Mutex::new((HashMap::new(), Default::default())),
            }),
            rx,
        )
    }

    /// A worker starts on a row.
    pub(crate) fn busy(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    /// Whether `row`'s answer goes to the batcher: a gateway row, batching on, the row not
    /// marked to go alone (consumed: the mark holds for one answer), its requester not banned.
    pub(crate) fn accepts(&self, row: &RequestRow) -> bool {
        if self.max_batch < 2 || row.kind != RequestKind::Gateway || row.gas_budget.is_none() {
            return false;
        }
        if self
            .solo
            .lock()
            .map(|mut s| s.remove(&row.id))
            .unwrap_or(true)
        {
            return false;
        }
        !self.is_banned(&row.requester)
    }

    fn is_banned(&self, requester: &str) -> bool {
        self.banned
            .lock()
            .map(|b| b.contains(requester))
            .unwrap_or(true)
    }

    /// Never batch `requester`'s answers again (in this process).
    pub(crate) fn ban(&self, requester: &str) {
        if let Ok(mut b) = self.banned.lock()
            && b.insert(requester.to_string())
        {
            tracing::warn!(
                requester,
                "an answer to this requester FAULTed: its answers go \
                alone from now on"
            );
            metrics::counter!("nsl_oracle_batch_banned_total").increment(1);
        }
    }

    /// Hand a ready answer over (the row stays claimed; the batcher answers or releases it).
    /// `Err` gives it back when the batcher has stopped or its queue is full (then it is answered
    /// alone).
    pub(crate) fn hand(&self, ready: Ready) -> Result<(), Box<Ready>> {
        match self.queue.try_send(Some(ready)) {
            Err(
                mpsc::error::TrySendError::Full(Some(r))
                | mpsc::error::TrySendError::Closed(Some(r)),
            ) => Err(Box::new(r)),
            _ => Ok(()),
        }
    }

    /// Ask [`run`] to finish what it holds and stop.
    pub(crate) async fn close(&self) {
        let _ = self.queue.send(None).await;
    }

    fn remember(&self, tx_hash: &str, calls: usize) {
        if let Ok(mut guard) = self.batches.lock() {
            let (map, order) = &mut *guard;
            if map.insert(tx_hash.to_string(), calls).is_none() {
                order.push_back(tx_hash.to_string());
            }
            while order.len() > REMEMBERED_BATCHES {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                }
            }
        }
    }

    /// A transaction of this process ended (confirmed or expired): no FAULT to expect from it.
    pub(crate) fn forget(&self, tx_hash: &str) {
        if let Ok(mut guard) = self.batches.lock() {
            guard.0.remove(tx_hash);
        }
    }

    /// Whether `tx_hash` is a batch this process sent (`None`: not sent by this process, or
    /// forgotten).
    pub(crate) fn known_batch(&self, tx_hash: &str) -> Option<bool> {
        self.batches
            .lock()
            .ok()
            .and_then(|g| g.0.get(tx_hash).map(|n| *n > 1))
    }

    /// `row`'s answer `tx_hash` (`batch`: a transaction of several answers) FAULTed on chain.
    /// A batch's row is then answered alone (the caller rebuilds it); for a single answer its
    /// requester is banned from batches. Returns `batch`.
    pub(crate) fn faulted(&self, row: &RequestRow, batch: bool) -> bool {
        if batch {
            if let Ok(mut s) = self.solo.lock() {
                s.insert(row.id.clone());
            }
        } else if row.kind == RequestKind::Gateway {
            self.ban(&row.requester);
        }
        batch
    }
}

/// Gather ready answers into batches and answer each batch in a task of its own, until
/// [`Batcher::close`]; then finish the batches in progress.
pub(crate) async fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<Option<Ready>>) {
    let batcher = shared.batch.clone();
    let mut tasks = JoinSet::new();
    let mut closing = false;
    while !closing {
        while tasks.try_join_next().is_some() {}
        let first = match rx.recv().await {
            Some(Some(r)) => r,
            Some(None) | None => break,
        };
        let mut group = vec![first];
        let deadline = tokio::time::Instant::now() + GATHER_WAIT;
        while group.len() < batcher.max_batch {
            match rx.try_recv() {
                Ok(Some(r)) => {
                    group.push(r);
                    continue;
                }
                Ok(None) => {
                    closing = true;
                    break;
                }
                Err(_) => {}
            }
            // Nothing queued: wait only while workers are still computing answers.
            if batcher.busy.load(Ordering::Acquire) == 0 {
                break;
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(Some(r))) => group.push(r),
                Ok(Some(None)) | Ok(None) => {
                    closing = true;
                    break;
                }
                Err(_) => break,
            }
        }
        metrics::histogram!("nsl_oracle_batch_gathered").record(group.len() as f64);
        let shared = shared.clone();
        tasks.spawn(async move { answer_group(&shared, group).await });
    }
    while tasks.join_next().await.is_some() {}
}

/// Split a gathered group into batches within the script's limits, and answer each.
async fn answer_group(shared: &Shared, group: Vec<Ready>) {
    let Some(gateway) = shared.config.gateway else {
        for r in group {
            single(shared, r).await;
        }
        return;
    };
    let mut batch: Vec<Ready> = Vec::new();
    let mut bytes = 0usize;
    for r in group {
        let frag = match call_fragment(&gateway, &call_of(&r), 0) {
            Ok(f) => f.len(),
            // Too large a result for a batch call: the single path answers ResponseTooLarge.
            Err(_) => {
                single(shared, r).await;
                continue;
            }
        };
        if !batch.is_empty()
            && (bytes + frag > neo::tx::MAX_SCRIPT_LENGTH || batch.len() >= MAX_BATCH_CALLS)
        {
            answer_batch(shared, &gateway, std::mem::take(&mut batch)).await;
            bytes = 0;
        }
        bytes += frag;
        batch.push(r);
    }
    if !batch.is_empty() {
        answer_batch(shared, &gateway, batch).await;
    }
}

fn call_of(r: &Ready) -> FulfillCall {
    FulfillCall {
        request_id: u64::try_from(r.row.request_id).unwrap_or_default(),
        code: r.answer.code,
        result: r.answer.result.clone(),
        gas_budget: r.row.gas_budget.unwrap_or(0),
    }
}

/// Answer one row alone, the worker's way (test run, fee ceiling, `InsufficientFunds` fallback).
async fn single(shared: &Shared, r: Ready) {
    let id = r.row.id.clone();
    let result = worker::respond(
        shared,
        r.row,
        r.answer,
        r.fresh,
        r.seen,
        r.handler_time,
        None,
    )
    .await;
    worker::settle(shared, &id, result).await;
}

/// Give the rows back for a retry (keeping fresh answers so nothing is fetched again).
async fn retry_all(shared: &Shared, items: Vec<Ready>, why: &str) {
    for r in items {
        let result = async {
            if r.fresh {
                shared
                    .store
                    .store_answer(
                        &r.row.id,
                        &shared.config.instance,
                        i64::from(r.answer.code as u8),
                        &r.answer.result,
                        nsl_store::now_ms(),
                    )
                    .await?;
            }
            Ok(Outcome::Retry(why.to_string()))
        }
        .await;
        worker::settle(shared, &r.row.id, result).await;
    }
}

/// Test-run, plan and send one batch (2..=256 calls within the script size); what the plan
/// splits off is answered alone.
async fn answer_batch(shared: &Shared, gateway: &neo::UInt160, mut items: Vec<Ready>) {
    loop {
        if items.len() < 2 {
            for r in items {
                single(shared, r).await;
            }
            return;
        }
        let calls: Vec<FulfillCall> = items.iter().map(call_of).collect();
        let zeros = vec![0i64; calls.len()];
        let test = match batch_script(gateway, &calls, &zeros) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "batch script not built; answering alone");
                for r in items {
                    single(shared, r).await;
                }
                return;
            }
        };
        let started = Instant::now();
        let (run, mut tx) =
            match tokio::try_join!(shared.tx.test_run(&test), shared.tx.unsigned(&test, 0)) {
                Ok(v) => v,
                Err(e) => return retry_all(shared, items, &e.to_string()).await,
            };
        let fees = BatchFees {
            network_fee: tx.network_fee,
            margin_per_call: shared.config.system_fee_margin,
            max_response_fee: shared.config.max_response_fee,
        };
        let plan = match plan_batch(&calls, &run, &fees) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "batch test run unreadable; answering alone");
                for r in items {
                    single(shared, r).await;
                }
                return;
            }
        };
        match plan {
            BatchPlan::Send { system_fee, shares } => {
                tx.script = match batch_script(gateway, &calls, &shares) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "batch script not built; answering alone");
                        for r in items {
                            single(shared, r).await;
                        }
                        return;
                    }
                };
                tx.system_fee = system_fee;
                let ceiling = calls.iter().fold(0i64, |acc, c| {
                    acc.saturating_add(c.gas_budget.min(shared.config.max_response_fee))
                });
                let tx = match shared.tx.sign_within(tx, ceiling) {
                    Ok(tx) => tx,
                    Err(e) => {
                        tracing::warn!(error = %e, "batch not signed; answering alone");
                        for r in items {
                            single(shared, r).await;
                        }
                        return;
                    }
                };
                let test_ms = started.elapsed().as_secs_f64() * 1e3;
                return send(shared, items, &tx, test_ms).await;
            }
            BatchPlan::Split {
                retry,
                single: alone,
            } => {
                tracing::debug!(retry = retry.len(), alone = alone.len(), "batch split");
                metrics::counter!("nsl_oracle_batch_splits_total").increment(1);
                let mut slots: Vec<Option<Ready>> = items.into_iter().map(Some).collect();
                for (i, reason) in alone {
                    if let Some(r) = slots.get_mut(i).and_then(Option::take) {
                        tracing::info!(request = %r.row.id, ?reason, "answered alone");
                        single(shared, r).await;
                    }
                }
                items = retry
                    .into_iter()
                    .filter_map(|i| slots.get_mut(i).and_then(Option::take))
                    .collect();
            }
        }
    }
}

/// Store the batch's outbox entry for every row (one commit), then broadcast it once.
async fn send(shared: &Shared, items: Vec<Ready>, tx: &neo::tx::Transaction, test_ms: f64) {
    let started = Instant::now();
    let tx_hash = tx.hash().to_string();
    let bytes = tx.to_bytes();
    let writes: Vec<OutboxWrite> = items
        .iter()
        .map(|r| OutboxWrite {
            outbox: OutboxRow {
                request: r.row.id.clone(),
                tx_hash: tx_hash.clone(),
                tx: bytes.clone(),
                valid_until_block: i64::from(tx.valid_until_block),
                attempts: 0,
            },
            code: i64::from(r.answer.code as u8),
            answer: r.fresh.then(|| r.answer.result.clone()),
        })
        .collect();
    shared.batch.remember(&tx_hash, items.len());
    metrics::histogram!("nsl_oracle_batch_calls").record(items.len() as f64);
    match shared
        .tx
        .send_shared(&shared.config.instance, &writes)
        .await
    {
        Ok((sent, written)) => {
            let store_send_ms = started.elapsed().as_secs_f64() * 1e3;
            tracing::info!(tx = %tx_hash, calls = items.len(),
                written = written.iter().filter(|w| **w).count(), ?sent, test_ms, store_send_ms,
                "batch of answers sent");
            if sent == nsl_chain::Sent::Broadcast {
                for r in &items {
                    if let Some(seen) = r.seen {
                        let overhead = seen.elapsed().saturating_sub(r.handler_time);
                        metrics::histogram!("nsl_oracle_overhead_seconds")
                            .record(overhead.as_secs_f64());
                    }
                }
            }
        }
        Err(e) => {
            shared.batch.forget(&tx_hash);
            tracing::error!(tx = %tx_hash, error = %e, "batch outbox write failed");
            retry_all(shared, items, &e.to_string()).await;
        }
    }
}

/// Whether the transaction `tx_hash` is a batch of answers (its script holds more than one
/// `fulfillShare` call), read from the node: for a FAULT of a transaction sent before this
/// process started. `false` when it cannot be read.
pub(crate) async fn batch_on_chain(rpc: &neo_rpc::RpcClient, tx_hash: &str) -> bool {
    let Ok(hash) = tx_hash.parse::<neo::UInt256>() else {
        return false;
    };
    let Ok(tx) = rpc.get_raw_transaction(&hash).await else {
        return false;
    };
    let Ok(script) = neo::encoding::from_base64(&tx.script) else {
        return false;
    };
    count_calls(&script) > 1
}

/// `fulfillShare` method names pushed by a script.
fn count_calls(script: &[u8]) -> usize {
    let name = crate::batch::FULFILL_SHARE_METHOD.as_bytes();
    script.windows(name.len()).filter(|w| *w == name).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::ResponseCode;

    #[test]
    fn batch_scripts_are_told_from_single_answers() {
        let gateway = neo::UInt160::from_bytes_le([7; 20]);
        let call = |id| FulfillCall {
            request_id: id,
            code: ResponseCode::Success,
            result: b"[1]".to_vec(),
            gas_budget: 1,
        };
        let two = batch_script(&gateway, &[call(1), call(2)], &[0, 0]).unwrap();
        assert_eq!(count_calls(&two), 2);
        let one = batch_script(&gateway, &[call(1)], &[0]).unwrap();
        assert_eq!(count_calls(&one), 1);
        let single =
            crate::gateway::fulfill_script(&gateway, 1, ResponseCode::Success, b"[1]").unwrap();
        assert_eq!(count_calls(&single), 0);
    }
}
