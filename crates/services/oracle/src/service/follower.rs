//! The follower: scans blocks from the stored cursor and records oracle requests.

use std::sync::Arc;

use neo_rpc::types::Notification;
use nsl_store::now_ms;
use tokio::sync::watch;

use super::store::{NewRequest, RequestKind};
use super::{FOLLOWER_SOURCE, ServiceError, Shared, pause};
use crate::gateway::{ORACLE_SERVICE_TYPE, parse_oracle_payload, parse_service_request};
use crate::native::parse_oracle_request;

/// Follow the chain until shutdown. RPC errors are logged and retried after the poll interval;
/// store errors stop the service.
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ServiceError> {
    loop {
        match step(&shared, &shutdown).await {
            Ok(()) => {}
            Err(ServiceError::Store(e)) => return Err(ServiceError::Store(e)),
            Err(e) => tracing::warn!(error = %e, "oracle follower: chain unreachable, retrying"),
        }
        if pause(&mut shutdown, shared.config.poll_interval).await {
            return Ok(());
        }
    }
}

/// Record every block between the cursor and the chain's height.
async fn step(shared: &Shared, shutdown: &watch::Receiver<bool>) -> Result<(), ServiceError> {
    let count = i64::from(shared.rpc.get_block_count().await?);
    let mut next = match shared.store.cursor(&shared.chain, FOLLOWER_SOURCE).await? {
        Some(next) => next,
        None => shared
            .config
            .start_block
            .map_or(count.saturating_sub(1).max(0), i64::from),
    };
    while next < count && !*shutdown.borrow() {
        let index = u32::try_from(next).unwrap_or(u32::MAX);
        let block = shared.rpc.get_block(index).await?;
        let mut requests = Vec::new();
        for tx in &block.tx {
            let log = shared.rpc.get_application_log(&tx.hash).await?;
            let notifications = log.executions.iter().flat_map(|e| e.notifications.iter());
            for (i, n) in notifications.enumerate() {
                if let Some(r) = request_of(shared, n, &tx.hash.to_string(), i, next) {
                    requests.push(r);
                }
            }
        }
        let new = shared
            .store
            .record_block(
                &shared.chain,
                FOLLOWER_SOURCE,
                next + 1,
                &requests,
                now_ms(),
            )
            .await?;
        for r in requests.iter().take(new) {
            metrics::counter!("nsl_oracle_requests_seen_total", "kind" => r.kind.as_str())
                .increment(1);
        }
        if new > 0 {
            tracing::info!(block = next, new, "oracle requests recorded");
        }
        metrics::gauge!("nsl_oracle_follower_block").set(next as f64);
        next += 1;
    }
    Ok(())
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
            match parse_oracle_payload(&req.payload) {
                Ok(p) => {
                    row.url = p.url;
                    row.filter = p.filter;
                }
                Err(e) => row.invalid = Some(e.to_string()),
            }
            Some(row)
        }
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, tx = tx_hash, "skipping malformed ServiceRequest");
            None
        }
    }
}
