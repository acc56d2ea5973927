//! Gateway service types other than `oracle` (for example `function`): the chain runtime records
//! their `ServiceRequest`s, asks the type's [`GatewayHandler`] for the answer, and delivers it
//! with `gateway.fulfill(requestId, code, result)`.
//!
//! A handler never fails: every problem is a response code ([`crate::ResponseCode`]). Unlike
//! oracle answers, a handler's error answers may carry a result (e.g. `{"error":"timeout"}`). A
//! result larger than the gateway accepts is replaced by the runtime with code
//! `ResponseTooLarge` and an empty result.

use async_trait::async_trait;
use neo::UInt160;

use crate::answer::Answer;

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
