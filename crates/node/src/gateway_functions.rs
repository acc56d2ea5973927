//! Gateway service type `function`: the oracle runtime (`nsl_oracle::service`: follower, workers,
//! outbox, sender) hands each `function` request to [`FunctionsGatewayHandler`], which runs it on
//! the functions service and answers with a Neo oracle response code.
//!
//! ```text
//! ServiceRequest(id, "function", requester, .., payload)  --follower/worker-->
//!   FunctionsGatewayHandler::answer(GatewayCall)
//!     FunctionsService::answer_chain_request(payload, requester, ChainTrigger)  (nsl-functions)
//!       -> ChainAnswer { ChainCode, result }  --response_code-->  Answer { ResponseCode, result }
//!   --outbox/sender--> gateway.fulfill(id, code, result) --> consumer callback
//! ```
//!
//! The payload format, the `onchain_callers` check and which failure gets which code belong to
//! `nsl-functions` (see `docs/functions.md`); this adapter only translates between the two crates,
//! which do not depend on each other.

use std::sync::Arc;

use async_trait::async_trait;
use nsl_functions::{ChainCode, ChainTrigger, FunctionsService};
use nsl_oracle::code::ResponseCode;
use nsl_oracle::fetch::Answer;
use nsl_oracle::service::{GatewayCall, GatewayHandler};

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

    /// The handler as the oracle runtime takes it.
    pub fn into_handler(self) -> Arc<dyn GatewayHandler> {
        Arc::new(self)
    }
}

/// Neo's oracle response code of the same name.
pub fn response_code(code: ChainCode) -> ResponseCode {
    match code {
        ChainCode::Success => ResponseCode::Success,
        ChainCode::NotFound => ResponseCode::NotFound,
        ChainCode::Timeout => ResponseCode::Timeout,
        ChainCode::Forbidden => ResponseCode::Forbidden,
        ChainCode::ResponseTooLarge => ResponseCode::ResponseTooLarge,
        ChainCode::Error => ResponseCode::Error,
    }
}

#[async_trait]
impl GatewayHandler for FunctionsGatewayHandler {
    fn service_type(&self) -> &'static str {
        SERVICE_TYPE
    }

    async fn answer(&self, call: &GatewayCall) -> Answer {
        let requester = call.requester.to_string();
        let answer = self
            .functions
            .answer_chain_request(
                &call.payload,
                &requester,
                ChainTrigger {
                    request_id: call.request_id,
                    tx_hash: call.tx_hash.clone(),
                    requester: requester.clone(),
                },
            )
            .await;
        let code = response_code(answer.code);
        // The error result (`{"error":"<kind>"}`) is public anyway: it is the log detail too.
        let detail = (code != ResponseCode::Success)
            .then(|| String::from_utf8_lossy(&answer.result).into_owned());
        Answer {
            code,
            result: answer.result,
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_codes_are_neo_oracle_codes() {
        let expect = [
            (ChainCode::Success, 0x00),
            (ChainCode::NotFound, 0x14),
            (ChainCode::Timeout, 0x16),
            (ChainCode::Forbidden, 0x18),
            (ChainCode::ResponseTooLarge, 0x1a),
            (ChainCode::Error, 0xff),
        ];
        for (chain, byte) in expect {
            assert_eq!(response_code(chain) as u8, byte, "{chain:?}");
        }
    }
}
