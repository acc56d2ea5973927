//! Neo's native OracleContract protocol, answered the way neo-go's oracle nodes answer it.
//!
//! ```text
//! tx with OracleRequest(Id, RequestContract, Url, Filter) ──parse_oracle_request──▶ OracleRequestEvent
//! getstorage(Oracle, 0x07 || id u64 BE) ──OracleRequest::from_storage──▶ gasForResponse, url, filter, ...
//! answer(egress, url, filter) ──▶ Answer { code, result }
//! unsigned_response_tx ─▶ calculatenetworkfee ─▶ (fee > gasForResponse? InsufficientFunds, refee)
//!     ─▶ system fee = gasForResponse - network fee ─▶ sign (OracleSigner) ─▶ sendrawtransaction
//! ```
//!
//! The response transaction (neo-go `CreateResponseTx`, C# `OracleService.CreateResponseTx`):
//! version 0, nonce = request id (truncated to 32 bits), validUntilBlock = height of the request
//! transaction + MaxValidUntilBlockIncrement, one `OracleResponse` attribute, signers
//! `[OracleContract (scope None), m-of-n multisig of the designated oracle keys (scope None)]`
//! with `m = n - (n-1)/3`, script `OracleContract.finish()` (CallFlags.All, no arguments),
//! witnesses `[empty, (signatures, multisig script)]`.
//!
//! Only keys designated for the Oracle role (RoleManagement role 8) can answer: the chain refuses a
//! response signed by any other multisig (RPC error -507).
//!
//! With several oracle nodes, `m` of them must sign the same transaction; collecting the other
//! nodes' signatures (neo-go's broadcaster) is not implemented: [`NativeOracle::answer_request`]
//! answers only when this node alone reaches `m` (one designated node). The pieces
//! ([`response_signature`], [`attach_oracle_witness`]) take any number of signatures.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use neo::keys::SIGNATURE_LEN;
use neo::script::interop::SYSTEM_CONTRACT_CALL;
use neo::script::{CallFlags, OpCode, ScriptBuilder};
use neo::tx::{Signer, Transaction, TransactionAttribute, Witness};
use neo::{PrivateKey, PublicKey, StackItem, UInt160, UInt256, multisig_script};
use neo_rpc::types::Notification;
use neo_rpc::{LocalFees, RoleManagement, RpcClient, codes};
use nsl_egress::Egress;

use crate::code::{ResponseCode, code_name};
use crate::error::{OracleError, Result};
use crate::fetch::{Answer, answer};

/// The native OracleContract (same hash on every network).
pub const ORACLE_CONTRACT: UInt160 = neo_rpc::native::ORACLE;
/// Name of the OracleContract's request event.
pub const ORACLE_REQUEST_EVENT: &str = "OracleRequest";
/// Storage prefix of pending requests in the OracleContract.
pub const REQUEST_KEY_PREFIX: u8 = 0x07;

/// Price units (times ExecFeeFactor) of the OracleContract's `verify` run for the response's
/// first witness: the `PUSH0` of the native method's stub (1) and the method's CPU price
/// (`1 << 15`); the stub's `SYSCALL` and `RET` are free.
pub const ORACLE_VERIFY_UNITS: i64 = 1 + (1 << 15);

/// The fee policy (FeePerByte, ExecFeeFactor) is read again, in the background, when older than
/// this (a committee vote can change it).
pub const FEE_POLICY_TTL: Duration = Duration::from_secs(30);

/// `OracleRequest(Id, RequestContract, Url, Filter)` as emitted by the OracleContract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleRequestEvent {
    /// The request id.
    pub id: u64,
    /// The contract that called `OracleContract.request`.
    pub request_contract: UInt160,
    /// The URL.
    pub url: String,
    /// The filter; `None` when the contract passed `null`.
    pub filter: Option<String>,
}

/// Decode an `OracleRequest` notification. `Ok(None)` for any other notification (another
/// contract or event); an error if the OracleContract's event has an unexpected shape.
pub fn parse_oracle_request(n: &Notification) -> Result<Option<OracleRequestEvent>> {
    if n.contract != ORACLE_CONTRACT || n.eventname != ORACLE_REQUEST_EVENT {
        return Ok(None);
    }
    const WHAT: &str = "OracleRequest event";
    let args = n
        .state
        .as_array()
        .map_err(|e| OracleError::malformed(WHAT, e))?;
    let [id, contract, url, filter, ..] = args else {
        return Err(OracleError::malformed(
            WHAT,
            format!("{} arguments, 4 expected", args.len()),
        ));
    };
    Ok(Some(OracleRequestEvent {
        id: id.as_u64().map_err(|e| OracleError::malformed(WHAT, e))?,
        request_contract: contract
            .as_hash160()
            .map_err(|e| OracleError::malformed(WHAT, e))?,
        url: url
            .as_string()
            .map_err(|e| OracleError::malformed(WHAT, e))?,
        filter: optional_string(filter).map_err(|e| OracleError::malformed(WHAT, e))?,
    }))
}

fn optional_string(item: &StackItem) -> neo::Result<Option<String>> {
    if item.is_null() {
        Ok(None)
    } else {
        item.as_string().map(Some)
    }
}

/// A pending request as the OracleContract stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleRequest {
    /// The transaction that made the request.
    pub original_txid: UInt256,
    /// GAS (fractions) reserved for the response transaction's fees.
    pub gas_for_response: i64,
    /// The URL.
    pub url: String,
    /// The filter; `None` when the contract passed `null`.
    pub filter: Option<String>,
    /// The contract called back by `finish`.
    pub callback_contract: UInt160,
    /// The method called back.
    pub callback_method: String,
    /// The StdLib-serialized user data handed to the callback.
    pub user_data: Vec<u8>,
}

impl OracleRequest {
    /// Decode the storage value: a StdLib-serialized Array `[originalTxid, gasForResponse, url,
    /// filter, callbackContract, callbackMethod, userData]`.
    pub fn from_storage(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "oracle request record";
        let m = |e: neo::Error| OracleError::malformed(WHAT, e);
        let item = StackItem::deserialize(bytes).map_err(m)?;
        let fields = item.as_array().map_err(m)?;
        let [
            txid,
            gas,
            url,
            filter,
            cb_contract,
            cb_method,
            user_data,
            ..,
        ] = fields
        else {
            return Err(OracleError::malformed(
                WHAT,
                format!("{} fields, 7 expected", fields.len()),
            ));
        };
        Ok(Self {
            original_txid: txid.as_hash256().map_err(m)?,
            gas_for_response: gas.as_i64().map_err(m)?,
            url: url.as_string().map_err(m)?,
            filter: optional_string(filter).map_err(m)?,
            callback_contract: cb_contract.as_hash160().map_err(m)?,
            callback_method: cb_method.as_string().map_err(m)?,
            user_data: user_data.as_bytes().map_err(m)?,
        })
    }
}

/// The OracleContract storage key of request `id`: `0x07 || id` (u64 big-endian).
pub fn request_key(id: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = REQUEST_KEY_PREFIX;
    key[1..].copy_from_slice(&id.to_be_bytes());
    key
}

/// Signatures needed from `n` oracle nodes: `n - (n - 1) / 3` (Neo's BFT threshold).
pub fn oracle_threshold(n: usize) -> usize {
    n - n.saturating_sub(1) / 3
}

/// The verification script of the oracle nodes' account: the `m`-of-`n` multisig of `nodes`
/// with `m =` [`oracle_threshold`]`(n)` (a 1-of-1 multisig for one node, not a single-sig script).
pub fn oracle_verification_script(nodes: &[PublicKey]) -> Result<Vec<u8>> {
    if nodes.is_empty() {
        return Err(OracleError::NoOracleNodes);
    }
    Ok(multisig_script(oracle_threshold(nodes.len()), nodes)?)
}

/// The response transaction's script: `OracleContract.finish()` with CallFlags.All
/// (`NEWARRAY0 PUSH15 PUSHDATA1 "finish" PUSHDATA1 <hash> SYSCALL System.Contract.Call`).
pub fn response_script() -> Vec<u8> {
    let mut sb = ScriptBuilder::new();
    sb.emit(OpCode::NEWARRAY0)
        .push_int(i64::from(CallFlags::ALL.bits()))
        .push_string("finish")
        .push_hash160(&ORACLE_CONTRACT)
        .syscall(SYSTEM_CONTRACT_CALL);
    sb.into_bytes()
}

/// The unsigned response transaction for request `id` with zero fees; witnesses are
/// `[empty, (empty invocation, verification)]`, ready for `calculatenetworkfee`.
pub fn unsigned_response_tx(
    id: u64,
    code: ResponseCode,
    result: Vec<u8>,
    valid_until_block: u32,
    verification: &[u8],
) -> Transaction {
    let mut tx = Transaction::new(
        response_script(),
        vec![
            Signer::none(ORACLE_CONTRACT),
            Signer::none(UInt160::from_script(verification)),
        ],
        id as u32,
        valid_until_block,
    );
    tx.attributes = vec![TransactionAttribute::OracleResponse { id, code, result }];
    tx.witnesses = vec![
        Witness::default(),
        Witness::new(Vec::new(), verification.to_vec()),
    ];
    tx
}

/// validUntilBlock of a response to a request made at `request_height`: `request_height +
/// increment`, plus further increments while that is not above `current_height`.
pub fn valid_until_block(request_height: u32, current_height: u32, increment: u32) -> u32 {
    let mut vub = request_height.saturating_add(increment);
    if increment == 0 {
        return vub;
    }
    while vub <= current_height && vub < u32::MAX {
        vub = vub.saturating_add(increment);
    }
    vub
}

/// The network fee of response `tx` (as [`unsigned_response_tx`] builds it) once `m` of the `n`
/// designated nodes have signed, computed as the chain charges it (what `calculatenetworkfee`
/// answers, without asking): the OracleContract's `verify` ([`ORACLE_VERIFY_UNITS`]) and the
/// multisig check ([`neo_rpc::multisig_verification_gas`]) times ExecFeeFactor, plus the size of
/// the signed transaction times FeePerByte.
pub fn response_network_fee(tx: &Transaction, m: usize, n: usize, fees: &LocalFees) -> i64 {
    let mut signed = tx.clone();
    if let Some(w) = signed.witnesses.get_mut(1) {
        let mut sb = ScriptBuilder::new();
        for _ in 0..m {
            sb.push_bytes(&[0u8; SIGNATURE_LEN]);
        }
        w.invocation = sb.into_bytes();
    }
    let size = i64::try_from(signed.size()).unwrap_or(i64::MAX);
    ORACLE_VERIFY_UNITS
        .saturating_mul(fees.exec_fee_factor)
        .saturating_add(neo_rpc::multisig_verification_gas(
            m,
            n,
            fees.exec_fee_factor,
        ))
        .saturating_add(size.saturating_mul(fees.fee_per_byte))
}

/// Turn the response of `tx` into `InsufficientFunds` with an empty result (what neo-go answers
/// when the network fee exceeds `gasForResponse`).
pub fn make_insufficient_funds(tx: &mut Transaction) {
    for attr in &mut tx.attributes {
        if let TransactionAttribute::OracleResponse { code, result, .. } = attr {
            *code = ResponseCode::InsufficientFunds;
            result.clear();
        }
    }
}

/// The response code carried by `tx`, if it has an `OracleResponse` attribute.
pub fn response_code(tx: &Transaction) -> Option<ResponseCode> {
    tx.attributes.iter().find_map(|a| match a {
        TransactionAttribute::OracleResponse { code, .. } => Some(*code),
        _ => None,
    })
}

/// Set the fees: `network_fee`, and system fee = `gas_for_response - network_fee` (the request
/// paid `gas_for_response` in advance for both). Fails if that is negative.
pub fn set_fees(tx: &mut Transaction, gas_for_response: i64, network_fee: i64) -> Result<()> {
    let system_fee = gas_for_response - network_fee;
    if system_fee < 0 {
        return Err(OracleError::GasTooLow {
            gas_for_response,
            network_fee,
        });
    }
    tx.network_fee = network_fee;
    tx.system_fee = system_fee;
    Ok(())
}

/// Something that signs for an oracle node key: a [`PrivateKey`] now, the enclave vault later.
pub trait OracleSigner: Send + Sync {
    /// The node's public key (must be designated for the Oracle role).
    fn public_key(&self) -> PublicKey;
    /// P-256 ECDSA over SHA-256 of `message`: 64 bytes `r || s`.
    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN]>;
}

impl OracleSigner for PrivateKey {
    fn public_key(&self) -> PublicKey {
        PrivateKey::public_key(self)
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN]> {
        Ok(PrivateKey::sign(self, message))
    }
}

/// This node's signature of the (fee-complete) response transaction on network `network`.
pub fn response_signature(
    tx: &Transaction,
    signer: &dyn OracleSigner,
    network: u32,
) -> Result<(PublicKey, [u8; SIGNATURE_LEN])> {
    Ok((signer.public_key(), signer.sign(&tx.signing_data(network))?))
}

/// Set the witnesses `[empty, multisig(signatures)]` for the oracle account of `verification`.
/// Needs at least `m` signatures by keys of the script.
pub fn attach_oracle_witness(
    tx: &mut Transaction,
    verification: &[u8],
    signatures: &[(PublicKey, [u8; SIGNATURE_LEN])],
) -> Result<()> {
    let witness = Witness::multisig(verification, signatures)?;
    tx.witnesses = vec![Witness::default(), witness];
    Ok(())
}

/// A signed response transaction and what it answers.
#[derive(Debug, Clone)]
pub struct ResponseTx {
    /// The request id.
    pub id: u64,
    /// The code finally carried (may be `InsufficientFunds` instead of the fetch's code).
    pub code: ResponseCode,
    /// The signed transaction.
    pub tx: Transaction,
}

/// What the node knows of the chain without asking it, for building a response without RPC
/// round trips ([`NativeOracle::build_response_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainView {
    /// The latest block index seen (the follower's height).
    pub height: u32,
    /// The block index of the request's transaction (the request row's block).
    pub request_height: u32,
}

/// The keys designated for the Oracle role as of block `index`, with their multisig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Designation {
    /// The block index the keys were read for (the block a response would first be in).
    pub index: u32,
    /// The designated keys, as RoleManagement lists them.
    pub nodes: Vec<PublicKey>,
    /// Signatures needed ([`oracle_threshold`]).
    pub m: usize,
    /// The oracle nodes' multisig verification script.
    pub verification: Vec<u8>,
}

/// How response network fees are priced.
#[derive(Debug, Clone, Copy)]
enum FeeMode {
    /// Not known yet: the first response compares the local price with the node's.
    Unchecked,
    /// Priced locally ([`response_network_fee`]) with the fee policy read at `read`.
    Local { fees: LocalFees, read: Instant },
    /// The local price differed from the node's: every response asks `calculatenetworkfee`.
    Node,
}

/// Answers native OracleContract requests through a Neo RPC node.
///
/// Building a response needs no RPC round trip once warm ([`NativeOracle::build_response_at`]):
/// validUntilBlock comes from the request's block and the follower's height, the designated
/// keys are read once per block height and shared by every response built for it, and the
/// network fee is computed locally (checked once against `calculatenetworkfee`, the fee policy
/// re-read every [`FEE_POLICY_TTL`] in the background).
pub struct NativeOracle<S> {
    rpc: RpcClient,
    egress: Egress,
    signer: S,
    network: u32,
    max_valid_until_block_increment: u32,
    /// The designation of the highest block index asked for so far.
    designation: tokio::sync::Mutex<Option<Arc<Designation>>>,
    fees: Arc<Mutex<FeeMode>>,
    /// Serialises the first fee check.
    fee_check: tokio::sync::Mutex<()>,
    /// A background fee policy refresh is running.
    refreshing: Arc<AtomicBool>,
}

impl<S> std::fmt::Debug for NativeOracle<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeOracle")
            .field("rpc", &self.rpc)
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

/// Policy `getFeePerByte` and `getExecFeeFactor`, and the height, read now.
async fn read_fee_policy(rpc: &RpcClient) -> Result<LocalFees> {
    let policy = neo_rpc::native::Policy::new(rpc.clone());
    let (count, fee_per_byte, exec_fee_factor) = tokio::try_join!(
        rpc.get_block_count(),
        policy.fee_per_byte(),
        policy.exec_fee_factor()
    )?;
    Ok(LocalFees {
        height: count.saturating_sub(1),
        fee_per_byte,
        exec_fee_factor,
    })
}

impl<S: OracleSigner> NativeOracle<S> {
    /// Connect: reads the network magic and MaxValidUntilBlockIncrement with `getversion`.
    pub async fn connect(rpc: RpcClient, egress: Egress, signer: S) -> Result<Self> {
        let version = rpc.get_version().await?;
        Ok(Self {
            rpc,
            egress,
            signer,
            network: version.protocol.network,
            max_valid_until_block_increment: version.protocol.maxvaliduntilblockincrement,
            designation: tokio::sync::Mutex::new(None),
            fees: Arc::new(Mutex::new(FeeMode::Unchecked)),
            fee_check: tokio::sync::Mutex::new(()),
            refreshing: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The node's public key.
    pub fn public_key(&self) -> PublicKey {
        self.signer.public_key()
    }

    /// The RPC client.
    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    /// Whether response network fees are computed locally (`None` until the first response
    /// compared the local price with the node's `calculatenetworkfee`).
    pub fn local_fees(&self) -> Option<bool> {
        match self.fees.lock().map(|m| *m) {
            Ok(FeeMode::Local { .. }) => Some(true),
            Ok(FeeMode::Node) => Some(false),
            _ => None,
        }
    }

    /// The `OracleRequest` events of transaction `tx` (from its application log).
    pub async fn requests_in_tx(&self, tx: &UInt256) -> Result<Vec<OracleRequestEvent>> {
        let log = self.rpc.get_application_log(tx).await?;
        let mut out = Vec::new();
        for exec in &log.executions {
            for n in &exec.notifications {
                if let Some(ev) = parse_oracle_request(n)? {
                    out.push(ev);
                }
            }
        }
        Ok(out)
    }

    /// The pending request `id` from the OracleContract's storage.
    pub async fn request(&self, id: u64) -> Result<OracleRequest> {
        match self
            .rpc
            .get_storage(&ORACLE_CONTRACT, &request_key(id))
            .await?
        {
            Some(bytes) => OracleRequest::from_storage(&bytes),
            None => Err(OracleError::RequestNotFound(id)),
        }
    }

    /// Every request still pending in the OracleContract's storage (`findstorage` on prefix
    /// `0x07`), in id order: what a node answers after a restart, as neo-go does on start.
    pub async fn pending_requests(&self) -> Result<Vec<(u64, OracleRequest)>> {
        let mut out = Vec::new();
        let mut start = 0;
        loop {
            let page = self
                .rpc
                .find_storage(&ORACLE_CONTRACT, &[REQUEST_KEY_PREFIX], start)
                .await?;
            for entry in &page.results {
                let key = entry.key_bytes()?;
                let id_bytes = match key.as_slice() {
                    [REQUEST_KEY_PREFIX, rest @ ..] if rest.len() == 8 => rest,
                    rest if rest.len() == 8 => rest,
                    _ => {
                        return Err(OracleError::malformed(
                            "oracle request key",
                            format!("{} bytes", key.len()),
                        ));
                    }
                };
                let mut id = [0u8; 8];
                id.copy_from_slice(id_bytes);
                let request = OracleRequest::from_storage(&entry.value_bytes()?)?;
                out.push((u64::from_be_bytes(id), request));
            }
            if !page.truncated || page.next <= start {
                break;
            }
            start = page.next;
        }
        out.sort_by_key(|(id, _)| *id);
        Ok(out)
    }

    /// The keys designated for the Oracle role for the next block (what the chain checks a
    /// response against).
    pub async fn oracle_nodes(&self) -> Result<Vec<PublicKey>> {
        let next = self.rpc.get_block_count().await?;
        Ok(self.designation(next).await?.nodes.clone())
    }

    /// The Oracle-role designation a response in block `index` is checked against (the chain
    /// checks the keys designated as of the block after its height). Read once per index and
    /// shared: every response built for the same (or a lower) index uses the same reading, a
    /// higher index reads again, so a new designation (effective from the block after it) is
    /// seen as soon as the height passes it.
    pub async fn designation(&self, index: u32) -> Result<Arc<Designation>> {
        let mut slot = self.designation.lock().await;
        if let Some(d) = slot.as_ref()
            && d.index >= index
        {
            return Ok(d.clone());
        }
        let nodes = RoleManagement::new(self.rpc.clone())
            .designated_by_role(neo_rpc::Role::Oracle, index)
            .await?;
        let verification = oracle_verification_script(&nodes)?;
        let d = Arc::new(Designation {
            index,
            m: oracle_threshold(nodes.len()),
            nodes,
            verification,
        });
        *slot = Some(d.clone());
        Ok(d)
    }

    /// The network fee of `tx` for `designation`: computed locally once the first response
    /// showed that the local price equals the node's, else `calculatenetworkfee`.
    async fn network_fee(&self, tx: &Transaction, designation: &Designation) -> Result<i64> {
        let local = |fees: &LocalFees| {
            response_network_fee(tx, designation.m, designation.nodes.len(), fees)
        };
        loop {
            let mode = self.fees.lock().map(|m| *m).unwrap_or(FeeMode::Node);
            match mode {
                FeeMode::Local { fees, read } => {
                    if read.elapsed() >= FEE_POLICY_TTL {
                        self.refresh_fees();
                    }
                    return Ok(local(&fees));
                }
                FeeMode::Node => return Ok(self.rpc.calculate_network_fee(&tx.to_bytes()).await?),
                FeeMode::Unchecked => {
                    let _check = self.fee_check.lock().await;
                    if !matches!(self.fees.lock().map(|m| *m), Ok(FeeMode::Unchecked)) {
                        continue;
                    }
                    let (fees, node) = tokio::try_join!(read_fee_policy(&self.rpc), async {
                        Ok(self.rpc.calculate_network_fee(&tx.to_bytes()).await?)
                    })?;
                    let mine = local(&fees);
                    let mode = if mine == node {
                        tracing::info!(
                            network_fee = node,
                            "native oracle: response network fees \
                            computed locally (equal to the node's calculatenetworkfee)"
                        );
                        FeeMode::Local {
                            fees,
                            read: Instant::now(),
                        }
                    } else {
                        tracing::warn!(
                            local = mine,
                            node,
                            "native oracle: local response \
                            network fee differs from the node's; asking the node for every response"
                        );
                        FeeMode::Node
                    };
                    if let Ok(mut slot) = self.fees.lock() {
                        *slot = mode;
                    }
                    return Ok(node);
                }
            }
        }
    }

    /// Re-read the fee policy in the background (one refresh at a time); the last values are
    /// used meanwhile, and kept when the node cannot be reached.
    fn refresh_fees(&self) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (rpc, slot, flag) = (self.rpc.clone(), self.fees.clone(), self.refreshing.clone());
        tokio::spawn(async move {
            match read_fee_policy(&rpc).await {
                Ok(fees) => {
                    if let Ok(mut slot) = slot.lock()
                        && matches!(*slot, FeeMode::Local { .. })
                    {
                        *slot = FeeMode::Local {
                            fees,
                            read: Instant::now(),
                        };
                    }
                }
                Err(e) => tracing::debug!(error = %e, "native oracle: fee policy refresh failed"),
            }
            flag.store(false, Ordering::Release);
        });
    }

    /// The chain as the node sees it now: `getblockcount`, and the height of the request's
    /// transaction (`gettransactionheight`; the current height if it is not persisted yet).
    async fn chain_view(&self, request: &OracleRequest) -> Result<ChainView> {
        let height = self.rpc.get_block_count().await?.saturating_sub(1);
        let request_height = match self
            .rpc
            .get_transaction_height(&request.original_txid)
            .await
        {
            Ok(h) => h,
            // -100: "unknown transaction" of older nodes.
            Err(e) if matches!(e.rpc_code(), Some(codes::UNKNOWN_TRANSACTION | -100)) => height,
            Err(e) => return Err(e.into()),
        };
        Ok(ChainView {
            height,
            request_height,
        })
    }

    /// Build, price and sign the response to request `id` carrying `answer`, asking the node for
    /// the height and the request transaction's height ([`NativeOracle::build_response_at`]
    /// takes them from the caller).
    pub async fn build_response(
        &self,
        id: u64,
        request: &OracleRequest,
        answer: &Answer,
    ) -> Result<ResponseTx> {
        let view = self.chain_view(request).await?;
        self.build_response_at(id, request, answer, view).await
    }

    /// Build, price and sign the response to request `id` carrying `answer` for the chain as
    /// `view` describes it, without RPC round trips once warm: the designation of block
    /// `view.height + 1` (read once per height), validUntilBlock = `view.request_height +
    /// MaxValidUntilBlockIncrement` (plus further increments while that is not above
    /// `view.height`, as neo-go does for its backup transaction), the network fee computed
    /// locally. A network fee above `gasForResponse` turns the answer into `InsufficientFunds`
    /// with an empty result (priced again), as neo-go does.
    pub async fn build_response_at(
        &self,
        id: u64,
        request: &OracleRequest,
        answer: &Answer,
        view: ChainView,
    ) -> Result<ResponseTx> {
        let designation = self.designation(view.height.saturating_add(1)).await?;
        let me = self.signer.public_key();
        if !designation.nodes.contains(&me) {
            return Err(OracleError::NotDesignated { key: me });
        }
        let vub = valid_until_block(
            view.request_height,
            view.height,
            self.max_valid_until_block_increment,
        );
        let verification = &designation.verification;
        let mut tx =
            unsigned_response_tx(id, answer.code, answer.result.clone(), vub, verification);
        let mut fee = self.network_fee(&tx, &designation).await?;
        if fee > request.gas_for_response {
            make_insufficient_funds(&mut tx);
            fee = self.network_fee(&tx, &designation).await?;
        }
        set_fees(&mut tx, request.gas_for_response, fee)?;
        let signature = response_signature(&tx, &self.signer, self.network)?;
        attach_oracle_witness(&mut tx, verification, &[signature])?;
        let code = response_code(&tx).unwrap_or(answer.code);
        Ok(ResponseTx { id, code, tx })
    }

    /// Send a signed response; returns its hash.
    pub async fn send(&self, response: &ResponseTx) -> Result<UInt256> {
        Ok(self
            .rpc
            .send_raw_transaction(&response.tx.to_bytes())
            .await?)
    }

    /// The whole flow for request `id`: read it, fetch and filter, build, sign and send the
    /// response. Returns the sent response.
    pub async fn answer_request(&self, id: u64) -> Result<ResponseTx> {
        let request = self.request(id).await?;
        let answer = answer(&self.egress, &request.url, request.filter.as_deref()).await;
        let response = self.build_response(id, &request, &answer).await?;
        let hash = self.send(&response).await?;
        tracing::info!(id, code = code_name(response.code), %hash, "native oracle response sent");
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use neo::BigInt;

    use super::*;

    #[test]
    fn response_script_is_the_well_known_finish_call() {
        // The script of every oracle response on Neo N3 mainnet and testnet (base64
        // "wh8MBmZpbmlzaAwUWIcXEX4KqBByr6tx0t2J/nxLkv5BYn1bUg==").
        assert_eq!(
            hex::encode(response_script()),
            "c21f0c0666696e6973680c14588717117e0aa81072afab71d2dd89fe7c4b92fe41627d5b52"
        );
    }

    #[test]
    fn threshold_matches_neo() {
        let expect = [
            (1, 1),
            (2, 2),
            (3, 3),
            (4, 3),
            (5, 4),
            (6, 5),
            (7, 5),
            (10, 7),
        ];
        for (n, m) in expect {
            assert_eq!(oracle_threshold(n), m, "n = {n}");
        }
        assert!(matches!(
            oracle_verification_script(&[]),
            Err(OracleError::NoOracleNodes)
        ));
    }

    #[test]
    fn valid_until_block_lies_ahead() {
        assert_eq!(valid_until_block(100, 150, 5760), 5860);
        assert_eq!(valid_until_block(100, 5860, 5760), 11_620);
        assert_eq!(valid_until_block(100, 20_000, 5760), 23_140);
        assert_eq!(valid_until_block(u32::MAX - 1, u32::MAX, 10), u32::MAX);
        assert_eq!(valid_until_block(7, 100, 0), 7);
    }

    #[test]
    fn request_key_layout() {
        assert_eq!(
            hex::encode(request_key(0x0102_0304_0506_0708)),
            "070102030405060708"
        );
        assert_eq!(hex::encode(request_key(1)), "070000000000000001");
    }

    #[test]
    fn stored_request_decodes() {
        let txid = UInt256::from_bytes_le([7u8; 32]);
        let cb = UInt160::from_bytes_le([9u8; 20]);
        let item = StackItem::Array(vec![
            StackItem::bytes(txid.to_bytes_le().to_vec()),
            StackItem::int(10_000_000),
            StackItem::string("https://example.com/p"),
            StackItem::Any,
            StackItem::bytes(cb.to_bytes_le().to_vec()),
            StackItem::string("callback"),
            StackItem::bytes(vec![0x28, 0x01, 0x61]),
        ]);
        let req = OracleRequest::from_storage(&item.serialize().unwrap()).unwrap();
        assert_eq!(req.original_txid, txid);
        assert_eq!(req.gas_for_response, 10_000_000);
        assert_eq!(req.url, "https://example.com/p");
        assert_eq!(req.filter, None);
        assert_eq!(req.callback_contract, cb);
        assert_eq!(req.callback_method, "callback");
        assert_eq!(req.user_data, vec![0x28, 0x01, 0x61]);

        let short = StackItem::Array(vec![StackItem::int(1)]);
        assert!(matches!(
            OracleRequest::from_storage(&short.serialize().unwrap()),
            Err(OracleError::Malformed { .. })
        ));
        assert!(OracleRequest::from_storage(b"\xff\x00garbage").is_err());
    }

    #[test]
    fn oracle_request_event_decodes() {
        let consumer = UInt160::from_bytes_le([3u8; 20]);
        let n = Notification {
            contract: ORACLE_CONTRACT,
            eventname: "OracleRequest".into(),
            state: StackItem::Array(vec![
                StackItem::Integer(BigInt::from(5)),
                StackItem::bytes(consumer.to_bytes_le().to_vec()),
                StackItem::string("https://x.example/a"),
                StackItem::string("$.a"),
            ]),
        };
        let ev = parse_oracle_request(&n).unwrap().unwrap();
        assert_eq!(
            ev,
            OracleRequestEvent {
                id: 5,
                request_contract: consumer,
                url: "https://x.example/a".into(),
                filter: Some("$.a".into()),
            }
        );
        let mut other = n.clone();
        other.contract = consumer;
        assert_eq!(parse_oracle_request(&other).unwrap(), None);
        let mut bad = n.clone();
        bad.state = StackItem::Array(vec![StackItem::int(1)]);
        assert!(parse_oracle_request(&bad).is_err());
    }

    /// The response transaction for fixed inputs, encoded, decoded again by `neo::Transaction`,
    /// and checked field by field and byte by byte against the layout neo-go produces.
    #[test]
    fn response_tx_layout() {
        // Key from neo-go's privnet wallets (`.docker/wallets/wallet1.json`, one of the 4 standby
        // validators); any key works, this one makes the vector reproducible.
        let key =
            PrivateKey::from_wif("KxyjQ8eUa4FHt3Gvioyt1Wz29cTUrE4eTqX3yFSk1YFCsPL8uNsY").unwrap();
        let nodes = vec![key.public_key()];
        let verification = oracle_verification_script(&nodes).unwrap();
        let mut tx = unsigned_response_tx(
            0x1_0000_0005,
            ResponseCode::Success,
            b"[42]".to_vec(),
            1234,
            &verification,
        );
        set_fees(&mut tx, 50_000_000, 1_234_567).unwrap();
        let sig = response_signature(&tx, &key, 56753).unwrap();
        attach_oracle_witness(&mut tx, &verification, &[sig]).unwrap();

        let bytes = tx.to_bytes();
        // neo-go 0.120.0 `util txdump` decodes these unsigned bytes (as a parameter context) to
        // this hash, the two signers with scope None, the fees and the `finish` script.
        assert_eq!(
            tx.hash().to_string(),
            "0xeeb963b02ba704cac8b47eb7e74aa58bb1d460df8cea5045da61a2e397dfa42c"
        );
        let back = Transaction::from_bytes(&bytes).unwrap();
        assert_eq!(back, tx);
        assert_eq!(back.version, 0);
        assert_eq!(back.nonce, 5, "nonce = request id truncated to u32");
        assert_eq!(back.system_fee, 50_000_000 - 1_234_567);
        assert_eq!(back.network_fee, 1_234_567);
        assert_eq!(back.valid_until_block, 1234);
        assert_eq!(back.signers.len(), 2);
        assert_eq!(back.signers[0].account, ORACLE_CONTRACT);
        assert_eq!(back.signers[0].scopes, neo::WitnessScope::NONE);
        assert_eq!(back.signers[1].account, UInt160::from_script(&verification));
        assert_eq!(back.signers[1].scopes, neo::WitnessScope::NONE);
        assert_eq!(
            back.attributes,
            vec![TransactionAttribute::OracleResponse {
                id: 0x1_0000_0005,
                code: ResponseCode::Success,
                result: b"[42]".to_vec(),
            }]
        );
        assert_eq!(back.script, response_script());
        assert_eq!(back.witnesses[0], Witness::default());
        assert_eq!(back.witnesses[1].verification, verification);
        // 1-of-1 multisig: PUSH1 PUSHDATA1 33 <key> PUSH1 SYSCALL CheckMultisig.
        assert_eq!(verification.len(), 1 + 35 + 1 + 5);
        assert_eq!(verification[0], 0x11);
        let sigs = back.witnesses[1].signatures().unwrap();
        assert_eq!(sigs.len(), 1);
        assert!(key.public_key().verify(&back.signing_data(56753), &sigs[0]));

        // The unsigned part, byte by byte: version, nonce, fees, vub, 2 signers, 1 attribute.
        let mut expect = String::new();
        expect += "00"; // version
        expect += "05000000"; // nonce
        expect += &hex::encode((50_000_000i64 - 1_234_567).to_le_bytes());
        expect += &hex::encode(1_234_567i64.to_le_bytes());
        expect += "d2040000"; // validUntilBlock 1234
        expect += "02";
        expect += &ORACLE_CONTRACT.to_hex_le();
        expect += "00"; // scope None
        expect += &UInt160::from_script(&verification).to_hex_le();
        expect += "00";
        expect += "01"; // one attribute
        expect += "11"; // OracleResponse
        expect += "0500000001000000"; // id u64 LE
        expect += "00"; // Success
        expect += "04"; // var-bytes length
        expect += &hex::encode(b"[42]");
        expect += &format!("{:02x}", response_script().len());
        expect += &hex::encode(response_script());
        assert_eq!(hex::encode(tx.encode_unsigned()), expect);
        // Witnesses: count 2, [empty, empty], [66-byte invocation, 42-byte verification].
        let witnesses = &hex::encode(&bytes)[expect.len()..];
        assert!(witnesses.starts_with("02" /* count */), "{witnesses}");
        assert!(witnesses.starts_with("020000" /* [empty, empty] */));
        assert!(witnesses[6..].starts_with("420c40"), "{witnesses}");
    }

    /// The local network fee of a response: `verify` of the OracleContract, the multisig check
    /// and the size of the signed transaction (m signatures of 66 bytes in the invocation).
    #[test]
    fn response_network_fee_counts_verify_multisig_and_signed_size() {
        let fees = LocalFees {
            height: 0,
            fee_per_byte: 1000,
            exec_fee_factor: 30,
        };
        // 1-of-1: the invocation grows from 0 to 66 bytes (its length prefix stays 1 byte).
        let key = PrivateKey::generate();
        let one = oracle_verification_script(&[key.public_key()]).unwrap();
        let tx = unsigned_response_tx(1, ResponseCode::Success, b"[1]".to_vec(), 10, &one);
        let size = tx.size() as i64 + 66;
        let units = (1 + (1 << 15)) + (8 + 2 + 8 + (1 << 15));
        assert_eq!(
            response_network_fee(&tx, 1, 1, &fees),
            units * 30 + size * 1000
        );
        // Signed with the node key, the transaction has exactly that size.
        let mut signed = tx.clone();
        let sig = response_signature(&signed, &key, 7).unwrap();
        attach_oracle_witness(&mut signed, &one, &[sig]).unwrap();
        assert_eq!(signed.size() as i64, size);

        // 3-of-4: 198 bytes of signatures (their length prefix stays one byte below 0xfd);
        // 5-of-7: 330 bytes, whose length prefix takes 3 bytes (0xfd + u16).
        for (m, n, extra) in [(3usize, 4usize, 198i64), (5, 7, 330 + 2)] {
            let keys: Vec<_> = (0..n)
                .map(|_| PrivateKey::generate().public_key())
                .collect();
            let script = oracle_verification_script(&keys).unwrap();
            let tx = unsigned_response_tx(1, ResponseCode::Success, vec![], 10, &script);
            let size = tx.size() as i64 + extra;
            let (m_, n_) = (m as i64, n as i64);
            let units = (1 + (1 << 15)) + (m_ * 8 + 2 + n_ * 8 + n_ * (1 << 15));
            assert_eq!(
                response_network_fee(&tx, m, n, &fees),
                units * 30 + size * 1000,
                "{m}-of-{n}"
            );
        }
    }

    #[test]
    fn insufficient_funds_clears_the_result() {
        let nodes = vec![PrivateKey::generate().public_key()];
        let verification = oracle_verification_script(&nodes).unwrap();
        let mut tx = unsigned_response_tx(
            1,
            ResponseCode::Success,
            b"data".to_vec(),
            10,
            &verification,
        );
        let before = tx.size();
        make_insufficient_funds(&mut tx);
        assert_eq!(response_code(&tx), Some(ResponseCode::InsufficientFunds));
        assert_eq!(tx.size(), before - 4);
        assert!(matches!(
            set_fees(&mut tx, 100, 101),
            Err(OracleError::GasTooLow { .. })
        ));
        set_fees(&mut tx, 100, 100).unwrap();
        assert_eq!((tx.system_fee, tx.network_fee), (0, 100));
    }

    #[test]
    fn a_multisig_of_several_nodes_needs_m_signatures() {
        let keys: Vec<_> = (0..4).map(|_| PrivateKey::generate()).collect();
        let nodes: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
        let verification = oracle_verification_script(&nodes).unwrap();
        let mut tx = unsigned_response_tx(1, ResponseCode::NotFound, vec![], 10, &verification);
        set_fees(&mut tx, 10_000_000, 1_000_000).unwrap();
        let sigs: Vec<_> = keys
            .iter()
            .map(|k| response_signature(&tx, k, 1).unwrap())
            .collect();
        assert!(attach_oracle_witness(&mut tx, &verification, &sigs[..2]).is_err());
        attach_oracle_witness(&mut tx, &verification, &sigs[..3]).unwrap();
        assert_eq!(tx.witnesses[1].signatures().unwrap().len(), 3);
    }
}
