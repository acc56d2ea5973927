//! Gateway service type `vrf`: [`RandomnessGatewayHandler`] answers its requests through the
//! chain runtime's ordinary `fulfill` / `fulfillShare` path.
//!
//! ```text
//! ServiceRequest(vrf, payload = words || seed) in block N ──follower──▶ GatewayCall
//!   answer: alpha = SHA-256(id || requester || seed || hash of block N)   (block hash over RPC)
//!           (beta, proof) = vault.vrf_prove(alpha)
//!           signature = node key over (id || alpha || beta)
//!           record (GET /v1/randomness/{id})
//!   ──▶ Answer::success(beta || proof || signature) ──▶ fulfill / fulfillShare (batched)
//! gateway: recomputes alpha, checks the signature with the answering node's key, emits
//!          RandomnessFulfilled(id, alpha, beta, proof), calls back with the words
//! ```
//!
//! No change to the runtime was needed: the answer is an ordinary `(code, result)` (stored,
//! retried and batched like any other), and the gateway decodes the result of `vrf` requests.
//! A `vrf` answer is never an error code (the gateway refuses one: a node could otherwise pick
//! which outputs to give): when the block hash or the prover is unavailable, the handler retries
//! a few times and then answers `Error`, which the gateway refuses, so the request stays pending
//! (withheld, never chosen).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nsl_service_api::{Answer, GatewayCall, GatewayHandler, ResponseCode};

use crate::service::RandomnessService;
use crate::store::{RandomnessRecord, RecordKind};
use crate::vrf;

/// The gateway service type answered.
pub const SERVICE_TYPE: &str = "vrf";

/// Attempts at reading the block hash or proving before giving up on a call.
const ATTEMPTS: u32 = 5;

/// Answers gateway `vrf` requests: proves with the vault, signs with the node key.
pub struct RandomnessGatewayHandler {
    service: Arc<RandomnessService>,
    node_key: neo::PrivateKey,
}

impl std::fmt::Debug for RandomnessGatewayHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RandomnessGatewayHandler")
            .field("node", &self.node_key.address())
            .finish_non_exhaustive()
    }
}

impl RandomnessGatewayHandler {
    /// A handler over `service`, signing answers with `node_key` (the key registered with
    /// `addNode`, the one that sends the fulfil transactions).
    pub fn new(service: Arc<RandomnessService>, node_key: neo::PrivateKey) -> Self {
        Self { service, node_key }
    }

    /// As the runtime's handler type.
    pub fn into_handler(self) -> Arc<dyn GatewayHandler> {
        Arc::new(self)
    }

    async fn block_hash(&self, index: u32) -> Result<[u8; 32], String> {
        let chain = self
            .service
            .chain()
            .ok_or_else(|| "no gateway configured".to_string())?;
        let mut delay = Duration::from_millis(100);
        let mut last = String::new();
        for _ in 0..ATTEMPTS {
            match chain.block_hash(index).await {
                Ok(h) => return Ok(h),
                Err(e) => last = e,
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        Err(format!("block {index} hash: {last}"))
    }
}

#[async_trait]
impl GatewayHandler for RandomnessGatewayHandler {
    fn service_type(&self) -> &'static str {
        SERVICE_TYPE
    }

    async fn answer(&self, call: &GatewayCall) -> Answer {
        let payload = match vrf::parse_payload(&call.payload) {
            Ok(p) => p,
            Err(e) => return Answer::failure(ResponseCode::Error, e.to_string()),
        };
        let block_hash = match self.block_hash(call.block_index).await {
            Ok(h) => h,
            Err(e) => return Answer::failure(ResponseCode::Error, e),
        };
        let alpha = vrf::chain_alpha(
            call.request_id,
            &call.requester.to_bytes_le(),
            &payload.seed,
            &block_hash,
        );
        let out = match self.service.prove(&alpha) {
            Ok(o) => o,
            Err(e) => return Answer::failure(ResponseCode::Error, e.to_string()),
        };
        let signature =
            self.node_key
                .sign(&vrf::signed_message(call.request_id, &alpha, &out.beta));
        let record = RandomnessRecord {
            id: call.request_id.to_string(),
            kind: RecordKind::Chain,
            account_id: None,
            sequence: None,
            requester: Some(call.requester.to_string()),
            seed: payload.seed,
            words: payload.words,
            alpha: alpha.to_vec(),
            beta: out.beta.to_vec(),
            proof: out.proof.to_vec(),
            tx_hash: Some(call.tx_hash.clone()),
            block_index: Some(i64::from(call.block_index)),
            created_at: nsl_store::now_ms(),
        };
        // The answer goes out even if the record cannot be written (it is on chain anyway).
        if let Err(e) = self.service.record_chain(&record).await {
            tracing::warn!(request = call.request_id, error = %e, "recording a vrf answer failed");
        }
        Answer::success(vrf::answer_bytes(&out.beta, &out.proof, &signature))
    }
}
