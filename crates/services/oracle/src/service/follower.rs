//! The oracle's sink on the chain runtime's follower: records gateway `ServiceRequest`s (of the
//! service types this node answers) and native `OracleRequest`s as request rows, claimed for this
//! instance and handed straight to the workers.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use neo_rpc::types::{Notification, VmState};
use nsl_chain::{ChainEvent, Sink, SinkError, Subscription};
use nsl_store::now_ms;

use super::store::{NewRequest, RequestKind, RequestRow};
use super::worker::Work;
use super::{Shared, Slot};
use crate::gateway::{
    ORACLE_SERVICE_TYPE, SERVICE_REQUEST_EVENT, parse_oracle_payload, parse_service_request,
};
use crate::native::{ORACLE_CONTRACT, ORACLE_REQUEST_EVENT, parse_oracle_request};

/// The oracle's sink (see the module doc), registered with the chain runtime once; it hands
/// the events to the oracle's current run, and holds the runtime's cursor (`Retry`) while no
/// run is attached (a restart: nothing is missed).
pub(crate) struct OracleSink(pub(crate) Arc<Slot>);

impl OracleSink {
    fn shared(&self) -> Result<Arc<Shared>, SinkError> {
        self.0
            .shared()
            .ok_or_else(|| SinkError::Retry("the oracle is not running (restarting)".into()))
    }
}

#[async_trait]
impl Sink for OracleSink {
    fn name(&self) -> &str {
        "oracle"
    }

    fn subscriptions(&self) -> Vec<Subscription> {
        let mut subs = vec![Subscription::new(ORACLE_CONTRACT, ORACLE_REQUEST_EVENT)];
        if let Some(gateway) = self.0.gateway {
            subs.push(Subscription::new(gateway, SERVICE_REQUEST_EVENT));
        }
        subs
    }

    async fn record(
        &self,
        block: u32,
        events: Vec<ChainEvent>,
        seen: Instant,
    ) -> Result<(), SinkError> {
        if events.is_empty() {
            return Ok(());
        }
        let shared = &self.shared()?;
        let requests: Vec<NewRequest> = events
            .iter()
            .filter_map(|e| {
                request_of(
                    shared,
                    &e.notification,
                    &e.tx_hash.to_string(),
                    e.index,
                    i64::from(block),
                )
            })
            .collect();
        if requests.is_empty() {
            return Ok(());
        }
        let rows = record(shared, &requests).await?;
        if !rows.is_empty() {
            // Stage figure for oracle-bench (docs/benchmarks.md): events read -> rows recorded.
            metrics::histogram!("nsl_oracle_stage_seconds", "stage" => "events_to_recorded")
                .record(seen.elapsed().as_secs_f64());
            tracing::info!(block, new = rows.len(), "oracle requests recorded");
        }
        hand_over(shared, rows, Some(seen)).await;
        Ok(())
    }

    async fn catch_up(&self) -> Result<(), SinkError> {
        catch_up(&self.shared()?).await
    }
}

/// Insert `requests` (idempotently), claimed for this instance.
async fn record(shared: &Shared, requests: &[NewRequest]) -> Result<Vec<RequestRow>, SinkError> {
    let now = now_ms();
    let lease = i64::try_from(shared.config.claim_lease.as_millis()).unwrap_or(i64::MAX);
    Ok(shared
        .store
        .record_requests(
            &shared.identity.chain,
            requests,
            Some((&shared.config.instance, now.saturating_add(lease))),
            now,
        )
        .await?)
}

/// Give new rows to the workers.
async fn hand_over(shared: &Shared, rows: Vec<RequestRow>, seen: Option<Instant>) {
    for row in rows {
        metrics::counter!("nsl_oracle_requests_seen_total", "kind" => row.kind.as_str(),
            "service" => row.service.clone())
        .increment(1);
        // Bounded (`WORK_QUEUE`): while the workers are that far behind, the follower waits here
        // and its cursor does not advance (a flood of requests is held back, not buffered).
        // The workers hold the receiver until shutdown; a closed channel means they are
        // stopping, and the claimed row is picked up again after its lease.
        let _ = shared.work.send(Work { row, seen }).await;
    }
}

/// Native oracle catch-up at start: every request still pending in the OracleContract's
/// storage (`findstorage` on prefix `0x07`) that has no row yet becomes one, as if the follower
/// had seen its `OracleRequest` event: made while the node was down and behind a reset cursor,
/// or before `start_block` / the first start's height. Rows the follower already has (same tx
/// hash and notification index) are skipped, so this and the follower never record a request
/// twice. A request whose transaction cannot be read is logged and skipped.
async fn catch_up(shared: &Arc<Shared>) -> Result<(), SinkError> {
    let pending = shared
        .native
        .pending_requests()
        .await
        .map_err(|e| SinkError::Retry(e.to_string()))?;
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
    let rows = if requests.is_empty() {
        Vec::new()
    } else {
        record(shared, &requests).await?
    };
    tracing::info!(
        pending = pending.len(),
        new = rows.len(),
        "oracle catch-up: native requests pending on chain checked"
    );
    hand_over(shared, rows, None).await;
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
