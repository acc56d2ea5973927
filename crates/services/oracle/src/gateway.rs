//! The NSL gateway path (`contracts/gateway/gateway.py`, `docs/gateway.md`).
//!
//! ```text
//! ServiceRequest(requestId, serviceType, requester, callbackContract, callbackMethod, payload,
//!                gasBudget)
//!   ──parse_service_request──▶ ServiceRequest ──parse_oracle_payload──▶ { url, filter }
//!   ──answer(egress, url, filter)──▶ Answer ──fulfill_script──▶ gateway.fulfill(requestId, code, result)
//! ```
//!
//! The `fulfill` transaction is signed by the node's single-signature account (a key registered
//! with `addNode`) with one witness rule, `Allow And(CalledByEntry, ScriptHash(gateway))`
//! ([`fulfill_signer`]): the witness holds only in the gateway called straight from the
//! transaction script. A consumer callback the gateway makes, or anything it calls (the gateway
//! included: a re-entrant `fulfill` of another request), cannot use it. `CustomContracts =
//! [gateway]`, used before, held whenever the gateway was the current script, whoever called it.
//!
//! Each request states a GAS budget (`gasBudget`, [`ServiceRequest::gas_budget`]). The gateway
//! refuses a `fulfill` transaction whose system + network fee exceed it and reimburses those fees
//! (with the service fee, less the owner's share) to the sender's deposit; the service never
//! signs a response above min(budget, `oracle.max_response_fee`) (`service::worker`).
//! Several answers in one transaction use `fulfillShare` instead ([`crate::batch`]); the gateway
//! then caps the fees charged per transaction at its system + network fee, so `fulfill` (which
//! charges the whole fee) must be the only answer of its transaction.

use neo::tx::{
    MAX_SCRIPT_LENGTH, Signer, WitnessAction, WitnessCondition, WitnessRule, WitnessScope,
};
use neo::{Arg, UInt160};
use neo_rpc::types::Notification;
use neo_rpc::{Actor, TxOutcome, call_script};
use nsl_egress::Egress;
use serde::Deserialize;

use crate::code::{MAX_URL_LEN, ResponseCode};
use crate::error::{OracleError, Result};
use crate::fetch::{Answer, answer};
use crate::filter::MAX_FILTER_LEN;

/// Name of the gateway's request event.
pub const SERVICE_REQUEST_EVENT: &str = "ServiceRequest";
/// `serviceType` of oracle requests.
pub const ORACLE_SERVICE_TYPE: &str = "oracle";
/// Largest payload the gateway accepts (`payload too large` above).
pub const MAX_PAYLOAD_LEN: usize = 768;
/// Largest `result` `fulfill` accepts (`result too large` above).
pub const MAX_FULFILL_RESULT: usize = 65_535;

/// A decoded `ServiceRequest` notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRequest {
    /// The gateway's request id.
    pub request_id: u64,
    /// `oracle`, `vrf`, `function`, ...
    pub service_type: String,
    /// Who pays (a contract, or the sender of a direct call).
    pub requester: UInt160,
    /// The contract the gateway calls back.
    pub callback_contract: UInt160,
    /// The method it calls.
    pub callback_method: String,
    /// The service-specific payload (for `oracle`: see [`OraclePayload`]).
    pub payload: Vec<u8>,
    /// The most the response transaction may cost (system + network fee, GAS fractions); the
    /// gateway refuses a response above it and reimburses the node's fees out of it.
    pub gas_budget: i64,
}

/// Decode a `ServiceRequest` notification emitted by `gateway`. `Ok(None)` for any other
/// notification; an error if the gateway's event has an unexpected shape.
pub fn parse_service_request(
    gateway: &UInt160,
    n: &Notification,
) -> Result<Option<ServiceRequest>> {
    if &n.contract != gateway || n.eventname != SERVICE_REQUEST_EVENT {
        return Ok(None);
    }
    const WHAT: &str = "ServiceRequest event";
    let m = |e: neo::Error| OracleError::malformed(WHAT, e);
    let args = n.state.as_array().map_err(m)?;
    let [
        id,
        service,
        requester,
        cb_contract,
        cb_method,
        payload,
        budget,
        ..,
    ] = args
    else {
        return Err(OracleError::malformed(
            WHAT,
            format!("{} arguments, 7 expected", args.len()),
        ));
    };
    Ok(Some(ServiceRequest {
        request_id: id.as_u64().map_err(m)?,
        service_type: service.as_string().map_err(m)?,
        requester: requester.as_hash160().map_err(m)?,
        callback_contract: cb_contract.as_hash160().map_err(m)?,
        callback_method: cb_method.as_string().map_err(m)?,
        payload: payload.as_bytes().map_err(m)?,
        gas_budget: budget.as_i64().map_err(m)?,
    }))
}

/// The payload of an `oracle` request: UTF-8 JSON `{"url": "...", "filter": "..."}`; `filter`
/// may be absent, `null` or `""` (the whole body). Other members are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OraclePayload {
    /// The URL to fetch.
    pub url: String,
    /// The JSONPath filter.
    #[serde(default)]
    pub filter: Option<String>,
}

/// Why an oracle payload is refused (answered with code `Error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// More than [`MAX_PAYLOAD_LEN`] bytes.
    #[error("payload is {0} bytes, at most {MAX_PAYLOAD_LEN}")]
    TooLarge(usize),
    /// Not a JSON object with a string `url` (and an optional string `filter`).
    #[error("payload is not {{\"url\": string, \"filter\": string}}: {0}")]
    Malformed(String),
    /// The URL is longer than 256 bytes.
    #[error("url is {0} bytes, at most {MAX_URL_LEN}")]
    UrlTooLong(usize),
    /// The filter is longer than 128 bytes.
    #[error("filter is {0} bytes, at most {MAX_FILTER_LEN}")]
    FilterTooLong(usize),
}

/// Decode and check an `oracle` payload (same URL and filter limits as the native oracle).
pub fn parse_oracle_payload(payload: &[u8]) -> Result<OraclePayload, PayloadError> {
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(PayloadError::TooLarge(payload.len()));
    }
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| PayloadError::Malformed(e.to_string()))?;
    if !value.is_object() {
        return Err(PayloadError::Malformed("not a JSON object".into()));
    }
    let p =
        OraclePayload::deserialize(value).map_err(|e| PayloadError::Malformed(e.to_string()))?;
    if p.url.len() > MAX_URL_LEN {
        return Err(PayloadError::UrlTooLong(p.url.len()));
    }
    if let Some(f) = &p.filter
        && f.len() > MAX_FILTER_LEN
    {
        return Err(PayloadError::FilterTooLong(f.len()));
    }
    Ok(p)
}

/// Answer a gateway request of type `oracle`: a malformed payload (or another service type) is
/// answered with code `Error`, otherwise [`answer`] decides.
pub async fn answer_service_request(egress: &Egress, request: &ServiceRequest) -> Answer {
    if request.service_type != ORACLE_SERVICE_TYPE {
        return Answer::failure(
            ResponseCode::Error,
            format!("service type `{}` is not oracle", request.service_type),
        );
    }
    match parse_oracle_payload(&request.payload) {
        Ok(p) => answer(egress, &p.url, p.filter.as_deref()).await,
        Err(e) => Answer::failure(ResponseCode::Error, e.to_string()),
    }
}

/// The invocation script `gateway.fulfill(requestId, code, result)` (CallFlags.All). Fails if
/// `result` exceeds [`MAX_FULFILL_RESULT`] bytes (the gateway would refuse it).
pub fn fulfill_script(
    gateway: &UInt160,
    request_id: u64,
    code: ResponseCode,
    result: &[u8],
) -> Result<Vec<u8>> {
    if result.len() > MAX_FULFILL_RESULT {
        return Err(OracleError::malformed(
            "fulfill result",
            format!("{} bytes, at most {MAX_FULFILL_RESULT}", result.len()),
        ));
    }
    let args = [
        Arg::Int(request_id.into()),
        Arg::Int((code as u8).into()),
        Arg::Bytes(result.to_vec()),
    ];
    let script = call_script(gateway, "fulfill", &args)?;
    if script.len() > MAX_SCRIPT_LENGTH {
        return Err(OracleError::malformed(
            "fulfill script",
            format!(
                "{} bytes, a transaction script holds at most {MAX_SCRIPT_LENGTH}",
                script.len()
            ),
        ));
    }
    Ok(script)
}

/// The `fulfill` script for `answer`, and the code it carries. A transaction script holds at most
/// 65,535 bytes, so a result within about 50 bytes of the gateway's 65,535-byte limit does not fit in
/// one: such an answer is sent as `ResponseTooLarge` with an empty result instead, so that the
/// request still gets a final answer.
pub fn fulfill_script_for(
    gateway: &UInt160,
    request_id: u64,
    answer: &Answer,
) -> Result<(ResponseCode, Vec<u8>)> {
    match fulfill_script(gateway, request_id, answer.code, &answer.result) {
        Ok(script) => Ok((answer.code, script)),
        Err(OracleError::Malformed { .. }) => {
            let code = ResponseCode::ResponseTooLarge;
            Ok((code, fulfill_script(gateway, request_id, code, &[])?))
        }
        Err(e) => Err(e),
    }
}

/// The signer of a `fulfill` transaction: the node's account with the single witness rule
/// `Allow And(CalledByEntry, ScriptHash(gateway))` (no other scope): the node's witness is valid
/// only in the gateway when the entry script (the node's own `fulfill` call) called it.
pub fn fulfill_signer(node_account: UInt160, gateway: UInt160) -> Signer {
    Signer::new(node_account, WitnessScope::NONE).with_rules(vec![WitnessRule::new(
        WitnessAction::Allow,
        WitnessCondition::And(vec![
            WitnessCondition::CalledByEntry,
            WitnessCondition::ScriptHash(gateway),
        ]),
    )])
}

/// The owner of `gateway` (`getOwner`).
pub async fn gateway_owner(rpc: &neo_rpc::RpcClient, gateway: &UInt160) -> Result<UInt160> {
    let item = neo_rpc::Invoker::new(rpc.clone())
        .call_item(gateway, "getOwner", &[])
        .await?;
    item.as_hash160()
        .map_err(|e| OracleError::malformed("gateway getOwner", e))
}

/// Send `gateway.fulfill(requestId, answer.code, answer.result)` (see [`fulfill_script_for`])
/// with `actor` (whose account must be a registered node, signing as [`fulfill_signer`]) and wait
/// for its inclusion. The system fee is the test run's GAS plus `system_fee_margin`: the test
/// run's transaction has no fees, so the fees the gateway records and credits on chain take a
/// few more bytes of storage (the service uses [`crate::service::SYSTEM_FEE_MARGIN`]).
pub async fn fulfill(
    actor: &Actor,
    gateway: &UInt160,
    request_id: u64,
    answer: &Answer,
    system_fee_margin: i64,
) -> Result<TxOutcome> {
    let (_, script) = fulfill_script_for(gateway, request_id, answer)?;
    let test = actor.invoker().invoke_script(&script).await?.into_halt()?;
    let sent = actor
        .send_unchecked(&script, test.gasconsumed.saturating_add(system_fee_margin))
        .await?;
    Ok(actor.wait(&sent, actor.wait_timeout()).await?)
}

#[cfg(test)]
mod tests {
    use neo::script::OpCode;
    use neo::{BigInt, StackItem};

    use super::*;

    fn gateway() -> UInt160 {
        UInt160::from_bytes_le([0x42; 20])
    }

    fn event(payload: &[u8]) -> Notification {
        Notification {
            contract: gateway(),
            eventname: "ServiceRequest".into(),
            state: StackItem::Array(vec![
                StackItem::Integer(BigInt::from(17)),
                StackItem::string("oracle"),
                StackItem::bytes(vec![1u8; 20]),
                StackItem::bytes(vec![2u8; 20]),
                StackItem::string("onServiceResponse"),
                StackItem::bytes(payload.to_vec()),
                StackItem::int(20_000_000),
            ]),
        }
    }

    #[test]
    fn service_request_decodes() {
        let payload = br#"{"url":"https://api.example.com/p","filter":"$.price"}"#;
        let req = parse_service_request(&gateway(), &event(payload))
            .unwrap()
            .unwrap();
        assert_eq!(req.request_id, 17);
        assert_eq!(req.service_type, "oracle");
        assert_eq!(req.requester, UInt160::from_bytes_le([1; 20]));
        assert_eq!(req.callback_contract, UInt160::from_bytes_le([2; 20]));
        assert_eq!(req.callback_method, "onServiceResponse");
        assert_eq!(req.gas_budget, 20_000_000);
        assert_eq!(
            parse_oracle_payload(&req.payload).unwrap(),
            OraclePayload {
                url: "https://api.example.com/p".into(),
                filter: Some("$.price".into()),
            }
        );
        // Another contract's event of the same name is not ours.
        let other = UInt160::from_bytes_le([0x43; 20]);
        assert_eq!(
            parse_service_request(&other, &event(payload)).unwrap(),
            None
        );
        let mut bad = event(payload);
        bad.state = StackItem::Array(vec![StackItem::int(1), StackItem::string("oracle")]);
        assert!(parse_service_request(&gateway(), &bad).is_err());
    }

    #[test]
    fn oracle_payloads() {
        // As StdLib.jsonSerialize writes it, without a filter, with null, with extra members.
        for (raw, filter) in [
            (r#"{"url":"https://a.example/x"}"#, None),
            (r#"{"url":"https://a.example/x","filter":null}"#, None),
            (
                r#"{"filter":"","url":"https://a.example/x","v":1}"#,
                Some(""),
            ),
        ] {
            let p = parse_oracle_payload(raw.as_bytes()).unwrap();
            assert_eq!(p.url, "https://a.example/x");
            assert_eq!(p.filter.as_deref(), filter);
        }
        for bad in [
            &b"not json"[..],
            br#"{"filter":"$.a"}"#,
            br#"{"url":5}"#,
            br#"["https://a.example"]"#,
            b"\xff",
        ] {
            assert!(
                matches!(parse_oracle_payload(bad), Err(PayloadError::Malformed(_))),
                "{bad:?}"
            );
        }
        let long_url = format!(r#"{{"url":"https://a.example/{}"}}"#, "a".repeat(250));
        assert_eq!(
            parse_oracle_payload(long_url.as_bytes()),
            Err(PayloadError::UrlTooLong(268))
        );
        let long_filter = format!(
            r#"{{"url":"https://a.example","filter":"{}"}}"#,
            "a".repeat(129)
        );
        assert_eq!(
            parse_oracle_payload(long_filter.as_bytes()),
            Err(PayloadError::FilterTooLong(129))
        );
        let huge = vec![b' '; MAX_PAYLOAD_LEN + 1];
        assert_eq!(
            parse_oracle_payload(&huge),
            Err(PayloadError::TooLarge(MAX_PAYLOAD_LEN + 1))
        );
    }

    #[tokio::test]
    async fn malformed_payloads_and_other_services_are_answered_with_error() {
        let egress = Egress::new(nsl_egress::EgressPolicy::default()).unwrap();
        let mut req = parse_service_request(&gateway(), &event(b"{}"))
            .unwrap()
            .unwrap();
        let a = answer_service_request(&egress, &req).await;
        assert_eq!((a.code, a.result.len()), (ResponseCode::Error, 0));
        req.payload = br#"{"url":"ftp://a.example/x"}"#.to_vec();
        assert_eq!(
            answer_service_request(&egress, &req).await.code,
            ResponseCode::ProtocolNotSupported
        );
        req.service_type = "vrf".into();
        assert_eq!(
            answer_service_request(&egress, &req).await.code,
            ResponseCode::Error
        );
    }

    #[test]
    fn fulfill_script_layout() {
        let script = fulfill_script(&gateway(), 17, ResponseCode::NotFound, b"").unwrap();
        // Arguments pushed in reverse, packed, then flags, method, hash, SYSCALL.
        let mut expect = Vec::new();
        expect.extend([OpCode::PUSHDATA1 as u8, 0]); // result b""
        expect.extend([OpCode::PUSHINT8 as u8, 0x14]); // code 0x14
        expect.extend([OpCode::PUSHINT8 as u8, 17]); // request id
        expect.extend([OpCode::PUSH3 as u8, OpCode::PACK as u8]);
        expect.push(OpCode::PUSH15 as u8); // CallFlags.All
        expect.extend([OpCode::PUSHDATA1 as u8, 7]);
        expect.extend(b"fulfill");
        expect.extend([OpCode::PUSHDATA1 as u8, 20]);
        expect.extend([0x42; 20]);
        expect.extend([OpCode::SYSCALL as u8, 0x62, 0x7d, 0x5b, 0x52]);
        assert_eq!(hex::encode(&script), hex::encode(&expect));

        // The largest result that fits in a transaction script with this id.
        let fits = vec![0u8; MAX_SCRIPT_LENGTH - 45];
        let script = fulfill_script(&gateway(), 17, ResponseCode::Success, &fits).unwrap();
        assert_eq!(script.len(), MAX_SCRIPT_LENGTH);
        let answer = Answer::success(fits);
        let (code, _) = fulfill_script_for(&gateway(), 17, &answer).unwrap();
        assert_eq!(code, ResponseCode::Success);
        // One byte more, or the gateway's own limit, does not fit: ResponseTooLarge instead.
        for len in [MAX_SCRIPT_LENGTH - 44, MAX_FULFILL_RESULT] {
            let big = vec![0u8; len];
            assert!(fulfill_script(&gateway(), 17, ResponseCode::Success, &big).is_err());
            let (code, script) = fulfill_script_for(&gateway(), 17, &Answer::success(big)).unwrap();
            assert_eq!(code, ResponseCode::ResponseTooLarge);
            assert_eq!(
                script,
                fulfill_script(&gateway(), 17, ResponseCode::ResponseTooLarge, b"").unwrap()
            );
        }
        let over = vec![0u8; MAX_FULFILL_RESULT + 1];
        assert!(fulfill_script(&gateway(), 1, ResponseCode::Success, &over).is_err());
    }

    #[test]
    fn fulfill_signer_is_limited_to_the_gateway() {
        let node = UInt160::from_bytes_le([5; 20]);
        let s = fulfill_signer(node, gateway());
        assert_eq!(s.account, node);
        // Rules only: no CalledByEntry / CustomContracts / Global bit besides them.
        assert_eq!(s.scopes, WitnessScope::WITNESS_RULES);
        assert!(s.allowed_contracts.is_empty());
        assert_eq!(
            s.rules,
            vec![WitnessRule::new(
                WitnessAction::Allow,
                WitnessCondition::And(vec![
                    WitnessCondition::CalledByEntry,
                    WitnessCondition::ScriptHash(gateway()),
                ]),
            )]
        );
        s.validate().unwrap();
    }
}
