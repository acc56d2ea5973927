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

// The handler trait and its call are shared by every service (`nsl-service-api`).
pub use nsl_service_api::gateway::{GatewayCall, GatewayHandler};

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
