//! Gateway service types other than `oracle` (for example `function`), answered by the same
//! runtime: the follower records their `ServiceRequest`s, a worker asks the type's
//! [`GatewayHandler`] for the answer, and the outbox / sender path delivers it with
//! `gateway.fulfill(requestId, code, result)`.
//!
//! A handler never fails: every problem is a response code (Neo's oracle codes,
//! [`crate::code::ResponseCode`]). Unlike oracle answers, a handler's error answers may carry a
//! result (e.g. `{"error":"timeout"}`). A result larger than the gateway accepts
//! ([`crate::gateway::MAX_FULFILL_RESULT`]) is replaced by code `ResponseTooLarge` and an empty
//! result.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use neo::UInt160;

use crate::fetch::Answer;

/// A gateway request of a handled service type, as the handler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayCall {
    /// The gateway's request id.
    pub request_id: u64,
    /// Who pays: the calling contract, or the sender of a direct call.
    pub requester: UInt160,
    /// The request's payload (at most 768 bytes; the format is the service type's).
    pub payload: Vec<u8>,
    /// Hash of the requesting transaction (`0x` hex).
    pub tx_hash: String,
    /// Block holding the request.
    pub block_index: u32,
}

/// Answers gateway requests of one service type.
#[async_trait]
pub trait GatewayHandler: Send + Sync + std::fmt::Debug {
    /// The gateway service type answered, e.g. `function`.
    fn service_type(&self) -> &'static str;

    /// The answer to `call`. Never fails: problems are response codes.
    async fn answer(&self, call: &GatewayCall) -> Answer;
}

/// Handlers by service type.
pub(crate) type Handlers = HashMap<&'static str, Arc<dyn GatewayHandler>>;

/// Index `handlers` by service type; `oracle` is the runtime's own and cannot be replaced, and
/// a type may be handled once.
pub(crate) fn index(
    handlers: Vec<Arc<dyn GatewayHandler>>,
) -> Result<Handlers, super::ServiceError> {
    let mut out = Handlers::new();
    for h in handlers {
        let ty = h.service_type();
        if ty == crate::gateway::ORACLE_SERVICE_TYPE || ty.is_empty() || ty.len() > 32 {
            return Err(super::ServiceError::Config(format!(
                "service type {ty:?} cannot have a handler"
            )));
        }
        if out.insert(ty, h).is_some() {
            return Err(super::ServiceError::Config(format!(
                "two handlers for service type {ty:?}"
            )));
        }
    }
    Ok(out)
}
