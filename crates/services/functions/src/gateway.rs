//! Gateway service type `function`: the chain runtime hands each `function` request to
//! [`FunctionsGatewayHandler`], which runs it on the functions service and answers with a Neo
//! oracle response code.
//!
//! ```text
//! ServiceRequest(id, "function", requester, .., payload)  --chain runtime-->
//!   FunctionsGatewayHandler::answer(GatewayCall)
//!     FunctionsService::answer_chain_request(payload, requester, ChainTrigger)
//!       -> Answer { ResponseCode, result }
//!   --outbox/sender--> gateway.fulfill(id, code, result) --> consumer callback
//! ```
//!
//! The payload format, the `onchain_callers` check and which failure gets which code are in
//! [`crate::chain`] (see `docs/functions.md`).

use std::sync::Arc;

use async_trait::async_trait;
use nsl_service_api::{Answer, GatewayCall, GatewayHandler};

use crate::{ChainTrigger, FunctionsService};

/// The gateway service type answered.
pub const SERVICE_TYPE: &str = "function";

/// Answers gateway `function` requests with the functions service.
#[derive(Debug, Clone)]
pub struct FunctionsGatewayHandler {
    functions: FunctionsService,
}

impl FunctionsGatewayHandler {
    /// A handler running requests on `functions`.
    pub fn new(functions: FunctionsService) -> Self {
        Self { functions }
    }

    /// The handler as the chain runtime takes it.
    pub fn into_handler(self) -> Arc<dyn GatewayHandler> {
        Arc::new(self)
    }
}

#[async_trait]
impl GatewayHandler for FunctionsGatewayHandler {
    fn service_type(&self) -> &'static str {
        SERVICE_TYPE
    }

    async fn answer(&self, call: &GatewayCall) -> Answer {
        let requester = call.requester.to_string();
        self.functions
            .answer_chain_request(
                &call.payload,
                &requester,
                ChainTrigger {
                    request_id: call.request_id,
                    tx_hash: call.tx_hash.clone(),
                    requester: requester.clone(),
                },
            )
            .await
    }
}
