//! The follower: scans blocks from the stored cursor and records oracle requests.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use neo_rpc::types::{Notification, VmState};
use neo_rpc::ws::{Event, EventStream, StreamItem, StreamOptions, Subscription};
use nsl_store::now_ms;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::store::{NewRequest, RequestKind};
use super::worker::Work;
use super::{FOLLOWER_SOURCE, ServiceError, Shared, pause};
use crate::gateway::{ORACLE_SERVICE_TYPE, parse_oracle_payload, parse_service_request};
use crate::native::parse_oracle_request;

/// Follow the chain until shutdown. RPC errors are logged and retried after the poll interval;
/// store errors stop the service.
///
/// With `block_push`, a watcher task subscribes to the node's `block_added` over WebSocket and
/// wakes the follower as soon as a block is announced; the follower still reads every block from
/// its cursor in order over HTTP, and polls every `poll_interval` whatever the push does (the
/// fallback when the node has no WebSocket endpoint or the socket is down).
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ServiceError> {
    let wake = Arc::new(Notify::new());
    let watcher = shared.config.block_push.then(|| {
        AbortOnDrop(tokio::spawn(watch_blocks(
            shared.rpc.url().to_owned(),
            wake.clone(),
        )))
    });
    let mut caught_up = false;
    loop {
        if !caught_up {
            match catch_up(&shared).await {
                Ok(()) => caught_up = true,
                Err(ServiceError::Store(e)) => return Err(ServiceError::Store(e)),
                Err(e) => tracing::warn!(error = %e,
                    "oracle follower: native catch-up failed, retrying"),
            }
        }
        match step(&shared, &shutdown).await {
            Ok(()) => {}
            Err(ServiceError::Store(e)) => return Err(ServiceError::Store(e)),
            Err(e) => tracing::warn!(error = %e, "oracle follower: chain unreachable, retrying"),
        }
        if shutdown_or_wake(&mut shutdown, shared.config.poll_interval, &wake).await {
            drop(watcher);
            return Ok(());
        }
    }
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
    interval: std::time::Duration,
    wake: &Notify,
) -> bool {
    tokio::select! {
        stop = pause(shutdown, interval) => stop,
        () = wake.notified() => {
            metrics::counter!("nsl_oracle_follower_wakeups_total", "source" => "push").increment(1);
            *shutdown.borrow()
        }
    }
}

/// Wake the follower on every block the node announces (and after a reconnect, when blocks may
/// have been missed). Ends when the node has no WebSocket endpoint (polling alone goes on); a
/// node that cannot be reached at start is tried again with back-off.
async fn watch_blocks(rpc_url: String, wake: Arc<Notify>) {
    let options = StreamOptions::default();
    let mut delay = options.backoff_min;
    let mut stream = loop {
        let subs = vec![Subscription::blocks()];
        match EventStream::connect(&rpc_url, subs, options.clone()).await {
            Ok(s) => break s,
            // The node is down for now: try again (polling goes on meanwhile).
            Err(e) if e.is_transport() => {
                tracing::debug!(error = %e, "oracle follower: block push not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(options.backoff_max);
            }
            Err(e) => {
                tracing::info!(error = %e, "oracle follower: no block push, polling only");
                return;
            }
        }
    };
    tracing::info!("oracle follower: woken by pushed blocks (polling stays the fallback)");
    loop {
        match stream.next().await {
            StreamItem::Event(Event::Block(_))
            | StreamItem::Gap { .. }
            | StreamItem::Reconnected => {
                wake.notify_one();
            }
            StreamItem::Event(_) => {}
            StreamItem::Disconnected { error, retry_in } => {
                tracing::debug!(error = %error, ?retry_in, "oracle follower: block push lost, polling");
            }
        }
    }
}

/// Application logs fetched at once while reading a block.
const LOG_FETCHES: usize = 16;

/// Record every block between the cursor and the chain's height; hand new rows (claimed for
/// this instance) straight to the workers.
async fn step(shared: &Arc<Shared>, shutdown: &watch::Receiver<bool>) -> Result<(), ServiceError> {
    let count = shared.rpc.get_block_count().await?;
    shared
        .height
        .fetch_max(count.saturating_sub(1), Ordering::Relaxed);
    let count = i64::from(count);
    let mut next = match shared.store.cursor(&shared.chain, FOLLOWER_SOURCE).await? {
        Some(next) => next,
        None => shared
            .config
            .start_block
            .map_or(count.saturating_sub(1).max(0), i64::from),
    };
    while next < count && !*shutdown.borrow() {
        let index = u32::try_from(next).unwrap_or(u32::MAX);
        let read_start = now_ms();
        let block = shared.rpc.get_block(index).await?;
        let hashes: Vec<_> = block.tx.iter().map(|tx| tx.hash).collect();
        let logs = application_logs(shared, &hashes).await?;
        // The block's events are known from here: the start of the node's overhead.
        let seen = Instant::now();
        // Stage figures for oracle-bench (docs/benchmarks.md): block timestamp -> events read.
        let block_ms = i64::try_from(block.time).unwrap_or(i64::MAX);
        for (name, at) in [("block_to_read", read_start), ("block_to_events", now_ms())] {
            metrics::histogram!("nsl_oracle_stage_seconds", "stage" => name)
                .record(at.saturating_sub(block_ms).max(0) as f64 / 1e3);
        }
        let mut requests = Vec::new();
        for (hash, log) in hashes.iter().zip(&logs) {
            // A FAULTed execution changed nothing on chain: its notifications (which neo-go
            // still lists in the log) open no request.
            let notifications = log
                .executions
                .iter()
                .filter(|e| e.vmstate == VmState::Halt)
                .flat_map(|e| e.notifications.iter());
            for (i, n) in notifications.enumerate() {
                if let Some(r) = request_of(shared, n, &hash.to_string(), i, next) {
                    requests.push(r);
                }
            }
        }
        let now = now_ms();
        let lease = i64::try_from(shared.config.claim_lease.as_millis()).unwrap_or(i64::MAX);
        let rows = shared
            .store
            .record_block(
                &shared.chain,
                FOLLOWER_SOURCE,
                next + 1,
                &requests,
                Some((&shared.config.instance, now.saturating_add(lease))),
                now,
            )
            .await?;
        let new = rows.len();
        if new > 0 {
            metrics::histogram!("nsl_oracle_stage_seconds", "stage" => "events_to_recorded")
                .record(seen.elapsed().as_secs_f64());
        }
        // The sender confirms responses from the blocks read here (no per-row polling).
        let fates = hashes
            .iter()
            .zip(&logs)
            .map(|(hash, log)| super::worker::TxFate {
                hash: hash.to_string(),
                fault: super::worker::fault_of(log),
            })
            .collect();
        let _ = shared.blocks.send((next, fates));
        for row in rows {
            metrics::counter!("nsl_oracle_requests_seen_total", "kind" => row.kind.as_str(),
                "service" => row.service.clone())
            .increment(1);
            // The workers hold the receiver until shutdown; a closed channel means they are
            // stopping, and the claimed row is picked up again after its lease.
            let _ = shared.work.send(Work {
                row,
                seen: Some(seen),
            });
        }
        if new > 0 {
            tracing::info!(block = next, new, "oracle requests recorded");
        }
        metrics::gauge!("nsl_oracle_follower_block").set(next as f64);
        next += 1;
    }
    Ok(())
}

/// Native oracle catch-up at start: every request still pending in the OracleContract's
/// storage (`findstorage` on prefix `0x07`) that has no row yet becomes one, as if the follower
/// had seen its `OracleRequest` event: made while the node was down and behind a reset cursor,
/// or before `start_block` / the first start's height. Rows the follower already has (same tx
/// hash and notification index) are skipped, so this and the follower never record a request
/// twice. A request whose transaction cannot be read is logged and skipped.
async fn catch_up(shared: &Arc<Shared>) -> Result<(), ServiceError> {
    let pending = shared.native.pending_requests().await?;
    let mut requests = Vec::new();
    for (id, req) in &pending {
        let tx = req.original_txid;
        let found = async {
            let height = shared.rpc.get_transaction_height(&tx).await?;
            let log = shared.rpc.get_application_log(&tx).await?;
            Ok::<_, neo_rpc::Error>((height, log))
        }
        .await;
        let (height, log) = match found {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, request = id, tx = %tx,
                    "oracle catch-up: pending request's transaction unreadable, skipped");
                continue;
            }
        };
        // The same numbering as the follower's: notifications of HALTed executions in order.
        let notifications = log
            .executions
            .iter()
            .filter(|e| e.vmstate == VmState::Halt)
            .flat_map(|e| e.notifications.iter());
        for (i, n) in notifications.enumerate() {
            if matches!(parse_oracle_request(n), Ok(Some(ev)) if ev.id == *id)
                && let Some(r) = request_of(shared, n, &tx.to_string(), i, i64::from(height))
            {
                requests.push(r);
            }
        }
    }
    let now = now_ms();
    let lease = i64::try_from(shared.config.claim_lease.as_millis()).unwrap_or(i64::MAX);
    let rows = shared
        .store
        .record_requests(
            &shared.chain,
            &requests,
            Some((&shared.config.instance, now.saturating_add(lease))),
            now,
        )
        .await?;
    tracing::info!(
        pending = pending.len(),
        new = rows.len(),
        "oracle catch-up: native requests pending on chain checked"
    );
    for row in rows {
        metrics::counter!("nsl_oracle_requests_seen_total", "kind" => row.kind.as_str(),
            "service" => row.service.clone())
        .increment(1);
        let _ = shared.work.send(Work { row, seen: None });
    }
    Ok(())
}

/// The application logs of `hashes`, in order, at most [`LOG_FETCHES`] at a time.
async fn application_logs(
    shared: &Arc<Shared>,
    hashes: &[neo::UInt256],
) -> Result<Vec<neo_rpc::types::ApplicationLog>, ServiceError> {
    let mut logs: Vec<Option<neo_rpc::types::ApplicationLog>> = vec![None; hashes.len()];
    let mut tasks = JoinSet::new();
    let mut next = 0;
    while next < hashes.len() || !tasks.is_empty() {
        while next < hashes.len() && tasks.len() < LOG_FETCHES {
            let (rpc, hash, i) = (shared.rpc.clone(), hashes[next], next);
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

/// The request a notification makes, if it is one this node answers. Malformed events are
/// logged and skipped (they cannot be answered, and must not stall the follower).
fn request_of(
    shared: &Shared,
    n: &Notification,
    tx_hash: &str,
    index: usize,
    block: i64,
) -> Option<NewRequest> {
    let base = |kind, request_id: u64, requester: String| NewRequest {
        kind,
        tx_hash: tx_hash.to_string(),
        notification_index: i64::try_from(index).unwrap_or(i64::MAX),
        block_index: block,
        request_id: i64::try_from(request_id).unwrap_or(i64::MAX),
        requester,
        url: String::new(),
        filter: None,
        invalid: None,
        service: ORACLE_SERVICE_TYPE.to_string(),
        payload: None,
        gas_budget: None,
    };
    match parse_oracle_request(n) {
        Ok(Some(ev)) => {
            return Some(NewRequest {
                url: ev.url,
                filter: ev.filter,
                ..base(RequestKind::Native, ev.id, ev.request_contract.to_string())
            });
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, tx = tx_hash, "skipping malformed OracleRequest");
            return None;
        }
    }
    let gateway = shared.config.gateway.as_ref()?;
    match parse_service_request(gateway, n) {
        Ok(Some(req)) if req.service_type == ORACLE_SERVICE_TYPE => {
            let mut row = base(
                RequestKind::Gateway,
                req.request_id,
                req.requester.to_string(),
            );
            row.gas_budget = Some(req.gas_budget);
            match parse_oracle_payload(&req.payload) {
                Ok(p) => {
                    row.url = p.url;
                    row.filter = p.filter;
                }
                Err(e) => row.invalid = Some(e.to_string()),
            }
            Some(row)
        }
        Ok(Some(req)) => {
            // Another service type: ours if a handler answers it (else another node's).
            let (ty, _) = shared.handlers.get_key_value(req.service_type.as_str())?;
            Some(NewRequest {
                service: (*ty).to_string(),
                payload: Some(req.payload),
                gas_budget: Some(req.gas_budget),
                ..base(
                    RequestKind::Gateway,
                    req.request_id,
                    req.requester.to_string(),
                )
            })
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, tx = tx_hash, "skipping malformed ServiceRequest");
            None
        }
    }
}
