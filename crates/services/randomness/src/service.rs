//! [`RandomnessService`]: proves with the vault's VRF key, records what it served, reads the
//! gateway (block hashes, the registered VRF key) through a [`GatewayView`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use nsl_primitives::AccountId;
use nsl_store::{AuditStore as _, NewAuditEntry, Store, StoreError, now_ms};

use crate::error::{RandomnessError, RandomnessResult};
use crate::store::{self, RandomnessRecord, RecordKind};
use crate::vrf::{self, BETA_LEN, PROOF_LEN};

/// How many sequence numbers one API request tries before giving up (each lost to a concurrent
/// request of the same account).
const SEQUENCE_ATTEMPTS: u32 = 64;

/// One VRF evaluation: beta and its proof.
#[derive(Clone, PartialEq, Eq)]
pub struct VrfOutput {
    /// The output (ECVRF proof_to_hash).
    pub beta: [u8; BETA_LEN],
    /// The proof pi (ECVRF-P256-SHA256-TAI, 81 bytes).
    pub proof: [u8; PROOF_LEN],
}

impl fmt::Debug for VrfOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VrfOutput")
            .field("beta", &hex::encode(self.beta))
            .finish_non_exhaustive()
    }
}

/// The VRF key holder (the node's vault: the key never leaves it). Errors are messages without
/// key material.
pub trait VrfProver: Send + Sync {
    /// The public key, 33-byte compressed SEC1.
    fn public_key(&self) -> Result<[u8; 33], String>;
    /// Prove `alpha`.
    fn prove(&self, alpha: &[u8]) -> Result<VrfOutput, String>;
}

/// What the service reads from the chain.
#[async_trait]
pub trait GatewayView: Send + Sync {
    /// Hash of block `index` in the VM's byte order (what `Ledger.getBlock(index).hash` gives a
    /// contract).
    async fn block_hash(&self, index: u32) -> Result<[u8; 32], String>;
    /// The VRF key registered in the gateway (`vrfKey()`), `None` while none is.
    async fn vrf_key(&self) -> Result<Option<[u8; 33]>, String>;
}

/// [`GatewayView`] over a Neo RPC client and the gateway's hash.
#[derive(Debug, Clone)]
pub struct RpcGatewayView {
    rpc: neo_rpc::RpcClient,
    gateway: neo::UInt160,
}

impl RpcGatewayView {
    /// Read `gateway` through `rpc`.
    pub fn new(rpc: neo_rpc::RpcClient, gateway: neo::UInt160) -> Self {
        Self { rpc, gateway }
    }
}

#[async_trait]
impl GatewayView for RpcGatewayView {
    async fn block_hash(&self, index: u32) -> Result<[u8; 32], String> {
        let hash: neo::UInt256 = self
            .rpc
            .call("getblockhash", serde_json::json!([index]))
            .await
            .map_err(|e| e.to_string())?;
        Ok(hash.to_bytes_le())
    }

    async fn vrf_key(&self) -> Result<Option<[u8; 33]>, String> {
        let item = neo_rpc::Invoker::new(self.rpc.clone())
            .call_item(&self.gateway, "vrfKey", &[])
            .await
            .map_err(|e| e.to_string())?;
        let bytes = item.as_bytes().map_err(|e| e.to_string())?;
        match bytes.len() {
            0 => Ok(None),
            _ => <[u8; 33]>::try_from(bytes.as_slice())
                .map(Some)
                .map_err(|_| format!("gateway vrfKey is {} bytes", bytes.len())),
        }
    }
}

/// Who asked, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Audit actor (the account id).
    pub name: String,
    /// Client IP.
    pub ip: Option<String>,
}

/// A served randomness with its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The record.
    pub record: RandomnessRecord,
    /// The words derived from beta.
    pub words: Vec<[u8; 32]>,
}

impl Served {
    fn of(record: RandomnessRecord) -> Self {
        let words = <[u8; 32]>::try_from(record.beta.as_slice())
            .map(|beta| vrf::words(&beta, record.words))
            .unwrap_or_default();
        Self { record, words }
    }
}

/// Whether the node's VRF key is the one registered in the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayKeyStatus {
    /// The gateway's `vrfKey()` is this node's key.
    Registered,
    /// The gateway has another VRF key.
    OtherKey,
    /// The gateway has no VRF key.
    None,
    /// No gateway configured (`oracle.gateway_hash`).
    NoGateway,
    /// The chain could not be read.
    Unavailable,
}

impl GatewayKeyStatus {
    /// Stable snake_case name (API).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::OtherKey => "other_key",
            Self::None => "none",
            Self::NoGateway => "no_gateway",
            Self::Unavailable => "unavailable",
        }
    }
}

/// The node's VRF key and its status in the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The vault's VRF public key.
    pub public_key: [u8; 33],
    /// Its registration in the gateway.
    pub gateway: GatewayKeyStatus,
}

/// The randomness service.
pub struct RandomnessService {
    store: Store,
    prover: Arc<dyn VrfProver>,
    chain: Option<Arc<dyn GatewayView>>,
    max_words: u16,
}

impl fmt::Debug for RandomnessService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RandomnessService")
            .field("gateway", &self.chain.is_some())
            .field("max_words", &self.max_words)
            .finish_non_exhaustive()
    }
}

impl RandomnessService {
    /// A service recording in `store`, proving with `prover`, reading the gateway through
    /// `chain` (none: gateway requests cannot be answered, the key status is `no_gateway`).
    /// `max_words` (`[randomness] max_words`) caps API requests.
    pub fn new(
        store: Store,
        prover: Arc<dyn VrfProver>,
        chain: Option<Arc<dyn GatewayView>>,
        config: &nsl_config::RandomnessConfig,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            prover,
            chain,
            max_words: config.max_words.clamp(1, vrf::MAX_WORDS),
        })
    }

    /// The gateway reader, if a gateway is configured.
    pub fn chain(&self) -> Option<&Arc<dyn GatewayView>> {
        self.chain.as_ref()
    }

    /// Prove `alpha` with the vault's key.
    pub fn prove(&self, alpha: &[u8]) -> RandomnessResult<VrfOutput> {
        self.prover.prove(alpha).map_err(RandomnessError::Prover)
    }

    /// Randomness for `account` over the API: alpha = SHA-256("nsl-offchain" || account ||
    /// sequence (u64 BE, the account's next number) || seed), proved, recorded, audited (`randomness.request`; if the audit log
    /// cannot be written, nothing is returned).
    pub async fn request(
        &self,
        account: AccountId,
        seed: &[u8],
        words: u16,
        actor: &Actor,
    ) -> RandomnessResult<Served> {
        vrf::check(i64::from(words), seed.len())?;
        if words > self.max_words {
            return Err(RandomnessError::TooManyWords {
                got: words,
                max: self.max_words,
            });
        }
        let id = uuid::Uuid::new_v4().to_string();
        let account_text = account.to_string();
        // Take the account's next sequence number; a concurrent request that took it first makes
        // the insert a no-op, and this one takes the number after (the unique index on
        // (account_id, sequence) decides, on both backends and across processes).
        let mut attempts = 0;
        let (record, alpha, out) = loop {
            let sequence = store::next_sequence(&self.store, &account_text).await?;
            let seq = u64::try_from(sequence)
                .map_err(|_| StoreError::Corrupt(format!("randomness sequence {sequence}")))?;
            let alpha = vrf::offchain_alpha(&account_text, seq, seed);
            let out = self.prove(&alpha)?;
            let record = RandomnessRecord {
                id: id.clone(),
                kind: RecordKind::Api,
                account_id: Some(account_text.clone()),
                sequence: Some(sequence),
                requester: None,
                seed: seed.to_vec(),
                words,
                alpha: alpha.to_vec(),
                beta: out.beta.to_vec(),
                proof: out.proof.to_vec(),
                tx_hash: None,
                block_index: None,
                created_at: now_ms(),
            };
            if store::insert_sequenced(&self.store, &record).await? {
                break (record, alpha, out);
            }
            attempts += 1;
            if attempts >= SEQUENCE_ATTEMPTS {
                tracing::warn!(account_id = %account_text, attempts, "randomness sequence contended");
                return Err(StoreError::Conflict {
                    constraint: "randomness_account_sequence".into(),
                }
                .into());
            }
        };
        self.store
            .append_audit(&NewAuditEntry {
                ts: record.created_at,
                actor: actor.name.clone(),
                action: "randomness.request".into(),
                target: Some(format!("randomness:{id}")),
                ip: actor.ip.clone(),
                detail: serde_json::json!({
                    "sequence": record.sequence,
                    "words": words,
                    "alpha": hex::encode(alpha),
                    "beta": hex::encode(out.beta),
                }),
            })
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "audit append failed");
                RandomnessError::Audit(e)
            })?;
        Ok(Served::of(record))
    }

    /// Record a gateway answer (the same request answered again keeps the first record).
    pub async fn record_chain(&self, record: &RandomnessRecord) -> RandomnessResult<()> {
        store::insert(&self.store, record).await?;
        Ok(())
    }

    /// The record `id` as `account` may see it: a gateway request (decimal id) for anyone, an API
    /// request (UUID) for its account only (another account's is "not found").
    pub async fn get(&self, account: AccountId, id: &str) -> RandomnessResult<Served> {
        let key = parse_id(id)?;
        let record = store::get(&self.store, &key)
            .await?
            .ok_or(RandomnessError::NotFound)?;
        if record.kind == RecordKind::Api
            && record.account_id.as_deref() != Some(account.to_string().as_str())
        {
            return Err(RandomnessError::NotFound);
        }
        Ok(Served::of(record))
    }

    /// The vault's VRF public key and whether the gateway has it.
    pub async fn key(&self) -> RandomnessResult<KeyInfo> {
        let public_key = self.prover.public_key().map_err(RandomnessError::Prover)?;
        let gateway = match &self.chain {
            None => GatewayKeyStatus::NoGateway,
            Some(c) => match c.vrf_key().await {
                Ok(Some(k)) if k == public_key => GatewayKeyStatus::Registered,
                Ok(Some(_)) => GatewayKeyStatus::OtherKey,
                Ok(None) => GatewayKeyStatus::None,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the gateway's vrfKey failed");
                    GatewayKeyStatus::Unavailable
                }
            },
        };
        Ok(KeyInfo {
            public_key,
            gateway,
        })
    }
}

/// The stored id of a path id: a gateway request id (decimal, 1..=2^63-1, no sign or leading
/// zero) or a UUID (stored hyphenated, lower case).
pub fn parse_id(id: &str) -> RandomnessResult<String> {
    if !id.is_empty() && id.len() <= 19 && id.bytes().all(|b| b.is_ascii_digit()) {
        return match id.parse::<i64>() {
            Ok(n) if n > 0 && !id.starts_with('0') => Ok(n.to_string()),
            _ => Err(RandomnessError::BadId),
        };
    }
    uuid::Uuid::try_parse(id)
        .map(|u| u.to_string())
        .map_err(|_| RandomnessError::BadId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_decimal_request_ids_or_uuids() {
        assert_eq!(parse_id("42").unwrap(), "42");
        let u = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";
        assert_eq!(parse_id(u).unwrap(), u.to_lowercase());
        for bad in [
            "",
            "0",
            "042",
            "-1",
            "+1",
            "1.5",
            "9223372036854775808",
            "99999999999999999999",
            "abc",
            "3F2504E0-4F89-11D3-9A0C",
            "../etc",
        ] {
            assert!(
                matches!(parse_id(bad), Err(RandomnessError::BadId)),
                "{bad}"
            );
        }
    }
}
