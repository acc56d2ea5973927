//! Workers (fetch, build, sign, outbox, broadcast) and the sender (re-broadcast, confirm,
//! rebuild after validUntilBlock).

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use neo::UInt256;
use neo_rpc::codes;
use nsl_store::now_ms;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::store::{OutboxRow, RequestKind, RequestRow, RequestState};
use super::{ServiceError, Shared, pause};
use crate::code::{ResponseCode, code_name};
use crate::error::OracleError;
use crate::fetch::{Answer, answer};
use crate::gateway::fulfill_script_for;

/// Sender rounds between re-broadcasts of a `sent` transaction that is not in a block yet.
const REBROADCAST_EVERY: u64 = 10;

/// Claim and process rows with at most `config.workers` at a time, until shutdown; then wait
/// for the rows in progress.
pub(crate) async fn run_workers(
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ServiceError> {
    let permits = Arc::new(Semaphore::new(shared.config.workers.max(1)));
    let mut tasks = JoinSet::new();
    let result = loop {
        while tasks.try_join_next().is_some() {}
        let free = permits.available_permits();
        if free > 0 {
            let now = now_ms();
            let lease = i64::try_from(shared.config.claim_lease.as_millis()).unwrap_or(i64::MAX);
            let claimed = shared
                .store
                .claim(
                    &shared.config.instance,
                    now.saturating_add(lease),
                    i64::try_from(free).unwrap_or(1),
                    now,
                )
                .await;
            match claimed {
                Ok(rows) => {
                    for row in rows {
                        let Ok(permit) = permits.clone().acquire_owned().await else {
                            break;
                        };
                        let shared = shared.clone();
                        tasks.spawn(async move {
                            process(&shared, row).await;
                            drop(permit);
                        });
                    }
                }
                Err(e) => break Err(ServiceError::Store(e)),
            }
        }
        if pause(&mut shutdown, shared.config.poll_interval).await {
            break Ok(());
        }
    };
    while tasks.join_next().await.is_some() {}
    result
}

/// What stopped a row.
enum Outcome {
    /// The row is in its final state or handed to the sender.
    Done,
    /// A transient problem: release the claim, retry later.
    Retry(String),
}

async fn process(shared: &Shared, row: RequestRow) {
    let id = row.id.clone();
    match process_row(shared, row).await {
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

async fn process_row(shared: &Shared, row: RequestRow) -> Result<Outcome, ServiceError> {
    let owner = shared.config.instance.as_str();
    let answer = match row.state {
        RequestState::Seen => {
            let started = Instant::now();
            let answer = match &row.invalid {
                Some(why) => Answer::failure(ResponseCode::Error, why.clone()),
                None => answer(&shared.egress, &row.url, row.filter.as_deref()).await,
            };
            metrics::histogram!("nsl_oracle_fetch_seconds").record(started.elapsed().as_secs_f64());
            tracing::info!(request = %row.id, kind = row.kind.as_str(), id = row.request_id,
                code = code_name(answer.code), detail = answer.detail.as_deref().unwrap_or(""),
                "oracle request fetched");
            let stored = shared
                .store
                .store_answer(
                    &row.id,
                    owner,
                    i64::from(answer.code as u8),
                    &answer.result,
                    now_ms(),
                )
                .await?;
            if !stored {
                return Ok(Outcome::Done);
            }
            answer
        }
        RequestState::Fetched => stored_answer(&row)?,
        _ => return Ok(Outcome::Done),
    };
    let request_id = u64::try_from(row.request_id).unwrap_or_default();
    let built = match row.kind {
        RequestKind::Native => build_native(shared, request_id, &answer).await,
        RequestKind::Gateway => build_gateway(shared, request_id, &answer).await,
    };
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
        Build::Retry(why) => return Ok(Outcome::Retry(why)),
    };
    let outbox = OutboxRow {
        request: row.id.clone(),
        tx_hash: tx.hash().to_string(),
        tx: tx.to_bytes(),
        valid_until_block: i64::from(tx.valid_until_block),
        attempts: 0,
    };
    let written = shared
        .store
        .write_outbox(&row.id, owner, &outbox, i64::from(code as u8), now_ms())
        .await?;
    if written {
        broadcast(shared, &outbox).await?;
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

async fn build_gateway(shared: &Shared, id: u64, answer: &Answer) -> Build {
    let (Some(actor), Some(gateway)) = (&shared.gateway_actor, &shared.config.gateway) else {
        return Build::Final(RequestState::Failed, "no gateway configured".into());
    };
    let (code, script) = match fulfill_script_for(gateway, id, answer) {
        Ok(s) => s,
        Err(e) => return Build::Final(RequestState::Failed, e.to_string()),
    };
    match actor.make_tx(&script).await {
        Ok(tx) => Build::Tx(code, tx),
        // The test run FAULTs: fulfilled by another node, expired, or refused.
        Err(neo_rpc::Error::Fault { exception }) => {
            let state = if exception.contains("already") || exception.contains("expired") {
                RequestState::Expired
            } else {
                RequestState::Failed
            };
            Build::Final(state, format!("fulfill refused: {exception}"))
        }
        Err(e) => Build::Retry(e.to_string()),
    }
}

/// Send the outbox transaction; `sent` on success (also when the node already has it).
/// A refusal leaves the row in `outbox`/`sent` for the sender to retry or rebuild.
async fn broadcast(shared: &Shared, outbox: &OutboxRow) -> Result<(), ServiceError> {
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
            return Ok(());
        }
    }
    shared.store.mark_sent(&outbox.request, now_ms()).await?;
    Ok(())
}

/// Watch outbox/sent rows until shutdown: confirm, re-broadcast, or send back for a rebuild.
pub(crate) async fn run_sender(
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ServiceError> {
    let mut round: u64 = 0;
    loop {
        match sender_round(&shared, round).await {
            Ok(()) => {}
            Err(ServiceError::Store(e)) => return Err(ServiceError::Store(e)),
            Err(e) => tracing::warn!(error = %e, "oracle sender: chain unreachable, retrying"),
        }
        round = round.wrapping_add(1);
        if pause(&mut shutdown, shared.config.poll_interval).await {
            return Ok(());
        }
    }
}

async fn sender_round(shared: &Shared, round: u64) -> Result<(), ServiceError> {
    if round.is_multiple_of(REBROADCAST_EVERY) {
        for (state, n) in shared.store.count_by_state().await? {
            metrics::gauge!("nsl_oracle_requests", "state" => state).set(n as f64);
        }
    }
    let rows = shared.store.in_flight().await?;
    if rows.is_empty() {
        return Ok(());
    }
    // Read the height first: if the transaction is not in a block at or below it and the
    // height has reached validUntilBlock, it can never be included.
    let height = i64::from(shared.rpc.get_block_count().await?) - 1;
    for (row, outbox) in rows {
        let hash = UInt256::from_str(&outbox.tx_hash).map_err(|e| {
            nsl_store::StoreError::Corrupt(format!("outbox hash {}: {e}", outbox.tx_hash))
        })?;
        match shared.rpc.get_transaction_height(&hash).await {
            Ok(block) => {
                confirmed(shared, &row, i64::from(block)).await?;
                continue;
            }
            Err(e) if matches!(e.rpc_code(), Some(codes::UNKNOWN_TRANSACTION | -100)) => {}
            Err(e) => return Err(e.into()),
        }
        if height >= outbox.valid_until_block {
            tracing::warn!(request = %row.id, tx = %outbox.tx_hash,
                "response expired unconfirmed; rebuilding");
            shared
                .store
                .requeue(&row.id, &outbox.tx_hash, now_ms())
                .await?;
        } else if row.state == RequestState::Outbox || round.is_multiple_of(REBROADCAST_EVERY) {
            broadcast(shared, &outbox).await?;
        }
    }
    Ok(())
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
