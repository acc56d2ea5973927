//! Functions run from chain: a contract asks the gateway for service type `function`, an NSL node
//! answers with `gateway.fulfill(requestId, code, result)`.
//!
//! This module owns the request format and what goes back on chain: an [`Answer`] with one of
//! Neo's oracle response codes ([`ResponseCode`], shared by every service through
//! `nsl-service-api`); [`crate::gateway::FunctionsGatewayHandler`] hands it to the chain runtime.
//!
//! ```text
//! payload (<= 768 bytes, UTF-8 JSON) {"function": "<uuid>", "args": <any JSON, default null>}
//!   parse_payload ──invalid──> Error            {"error":"invalid_payload"}
//!   FunctionsService::execute_for_chain(function id, requester, args, ChainTrigger)
//!     no such function       ──> NotFound        {"error":"not_found"}
//!     requester not allowed  ──> Forbidden       {"error":"forbidden"}
//!     run (execution record, trigger `chain`)
//!       succeeded            ──> Success         compact JSON of the return value
//!       timeout              ──> Timeout         {"error":"timeout"}
//!       result_too_large     ──> ResponseTooLarge {"error":"result_too_large"}
//!       any other failure    ──> Error           {"error":"<kind>"}
//! ```
//!
//! Everything in a fulfil transaction is public: errors carry only a stable kind, never the
//! message (which stays in the owner's execution record).

use crate::ExecutionId;
use nsl_service_api::{Answer, ResponseCode};
use serde::Deserialize;
use serde_json::Value;

/// Largest payload the gateway accepts for a request, bytes.
pub const MAX_PAYLOAD_BYTES: usize = 768;

/// Largest `result` the gateway accepts in `fulfill`, bytes (the protocol-wide limit).
pub const MAX_CHAIN_RESULT_BYTES: usize = nsl_service_api::MAX_RESULT_SIZE;

/// Most entries in a version's `onchain_callers`.
pub const MAX_ONCHAIN_CALLERS: usize = 32;

/// A parsed `function` request payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainPayload {
    /// Id of the function to run.
    pub function: String,
    /// The argument passed to the function's `main` (`null` when absent).
    #[serde(default)]
    pub args: Value,
}

/// Parse a `function` request payload: UTF-8 JSON `{"function": "<id>", "args": <any>}` of at most
/// [`MAX_PAYLOAD_BYTES`]; no other keys. `Err` holds why (for logs; the chain sees
/// `invalid_payload`).
pub fn parse_payload(payload: &[u8]) -> Result<ChainPayload, String> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(format!(
            "payload is {} bytes; at most {MAX_PAYLOAD_BYTES}",
            payload.len()
        ));
    }
    let text = std::str::from_utf8(payload).map_err(|_| "payload is not UTF-8".to_string())?;
    serde_json::from_str(text).map_err(|e| format!("payload is not a function request: {e}"))
}

/// `s` as a requester in stored form (`0x` + 40 lowercase hex digits, big-endian script hash):
/// from `0x`-prefixed hex (either case) or a Neo N3 address (`N...`). `None` if it is neither.
pub fn normalize_caller(s: &str) -> Option<String> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some(format!("0x{}", hex.to_ascii_lowercase()));
        }
        return None;
    }
    neo::UInt160::from_address(s).ok().map(|h| h.to_string())
}

/// How a chain request ended, from [`crate::FunctionsService::execute_for_chain`].
#[derive(Debug, Clone, PartialEq)]
pub enum ChainOutcome {
    /// The function ran and returned `result`.
    Succeeded {
        /// The owner's execution record.
        execution_id: ExecutionId,
        /// The returned value.
        result: Value,
    },
    /// The function ran and failed with the execution error kind `kind` (`timeout`,
    /// `memory_limit`, `script_error`, ...).
    Failed {
        /// The owner's execution record (it has the message).
        execution_id: ExecutionId,
        /// The execution's error kind.
        kind: String,
    },
    /// No such function, or the id is not a function id.
    NotFound,
    /// The requester is not allowed to run the function's current version from chain.
    Forbidden,
    /// Nothing ran: `kind` is `invalid_payload`, `args_too_large`, `shutting_down` or `internal`.
    Rejected {
        /// Stable kind.
        kind: &'static str,
    },
}

/// `code` with the public result `{"error":"<kind>"}` (also the log detail).
fn error_answer(code: ResponseCode, kind: &str) -> Answer {
    let text = serde_json::json!({ "error": kind }).to_string();
    Answer {
        code,
        result: text.clone().into_bytes(),
        detail: Some(text),
    }
}

impl ChainOutcome {
    /// The code and result bytes to fulfil the request with: the function's compact JSON value
    /// with `Success`, else `{"error":"<kind>"}` (also the answer's `detail`).
    pub fn answer(&self) -> Answer {
        let (code, kind) = match self {
            ChainOutcome::Succeeded { result, .. } => {
                let bytes = result.to_string().into_bytes();
                if bytes.len() <= MAX_CHAIN_RESULT_BYTES {
                    return Answer::success(bytes);
                }
                (ResponseCode::ResponseTooLarge, "result_too_large")
            }
            ChainOutcome::Failed { kind, .. } => match kind.as_str() {
                "timeout" => (ResponseCode::Timeout, "timeout"),
                "result_too_large" => (ResponseCode::ResponseTooLarge, "result_too_large"),
                other => return error_answer(ResponseCode::Error, other),
            },
            ChainOutcome::NotFound => (ResponseCode::NotFound, "not_found"),
            ChainOutcome::Forbidden => (ResponseCode::Forbidden, "forbidden"),
            ChainOutcome::Rejected { kind } => (ResponseCode::Error, *kind),
        };
        error_answer(code, kind)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn text(a: &Answer) -> &str {
        std::str::from_utf8(&a.result).expect("utf-8")
    }

    #[test]
    fn payload_with_and_without_args() {
        let p = parse_payload(br#"{"function":"f1","args":{"a":[1,2]}}"#).expect("parse");
        assert_eq!(p.function, "f1");
        assert_eq!(p.args, json!({"a": [1, 2]}));
        let p = parse_payload(br#"{"function":"f1"}"#).expect("parse");
        assert_eq!(p.args, Value::Null);
        // StdLib.jsonSerialize of a map with a null value.
        let p = parse_payload(br#"{"args":null,"function":"x"}"#).expect("parse");
        assert_eq!((p.function.as_str(), p.args), ("x", Value::Null));
    }

    #[test]
    fn malformed_payloads_are_refused() {
        for bad in [
            &b""[..],
            b"null",
            b"[]",
            b"\"f\"",
            br#"{"args":1}"#,
            br#"{"function":1}"#,
            br#"{"function":"f","extra":true}"#,
            br#"{"function":"f""#,
            b"\xff\xfe",
        ] {
            assert!(parse_payload(bad).is_err(), "{bad:?}");
        }
        let big = format!(
            r#"{{"function":"f","args":"{}"}}"#,
            "x".repeat(MAX_PAYLOAD_BYTES)
        );
        let err = parse_payload(big.as_bytes()).unwrap_err();
        assert!(err.contains("at most 768"), "{err}");
    }

    #[test]
    fn callers_normalize_to_lowercase_big_endian_hex() {
        let hash = "0xA7cbfee3f01f89d58c042644b0b6df2d59a6eb26";
        assert_eq!(
            normalize_caller(hash).as_deref(),
            Some("0xa7cbfee3f01f89d58c042644b0b6df2d59a6eb26")
        );
        // An address and its script hash are the same caller.
        let h = neo::UInt160::from_hex_be(hash).expect("hash");
        assert_eq!(
            normalize_caller(&h.to_address()).as_deref(),
            Some("0xa7cbfee3f01f89d58c042644b0b6df2d59a6eb26")
        );
        for bad in [
            "",
            "a7cbfee3f01f89d58c042644b0b6df2d59a6eb26",
            "0xa7cbfee3f01f89d58c042644b0b6df2d59a6eb2",
            "0xg7cbfee3f01f89d58c042644b0b6df2d59a6eb26",
            "NNotAnAddress",
        ] {
            assert_eq!(normalize_caller(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn outcomes_map_to_codes_and_public_results() {
        let id = uuid::Uuid::new_v4();
        let ok = ChainOutcome::Succeeded {
            execution_id: id,
            result: json!({"sum": 42, "s": "a b"}),
        }
        .answer();
        assert_eq!(ok.code, ResponseCode::Success);
        assert_eq!(text(&ok), r#"{"s":"a b","sum":42}"#);
        let null = ChainOutcome::Succeeded {
            execution_id: id,
            result: Value::Null,
        }
        .answer();
        assert_eq!((null.code, text(&null)), (ResponseCode::Success, "null"));
        let cases = [
            (ChainOutcome::NotFound, ResponseCode::NotFound, "not_found"),
            (
                ChainOutcome::Forbidden,
                ResponseCode::Forbidden,
                "forbidden",
            ),
            (
                ChainOutcome::Rejected {
                    kind: "invalid_payload",
                },
                ResponseCode::Error,
                "invalid_payload",
            ),
            (
                ChainOutcome::Failed {
                    execution_id: id,
                    kind: "timeout".into(),
                },
                ResponseCode::Timeout,
                "timeout",
            ),
            (
                ChainOutcome::Failed {
                    execution_id: id,
                    kind: "result_too_large".into(),
                },
                ResponseCode::ResponseTooLarge,
                "result_too_large",
            ),
            (
                ChainOutcome::Failed {
                    execution_id: id,
                    kind: "script_error".into(),
                },
                ResponseCode::Error,
                "script_error",
            ),
            (
                ChainOutcome::Failed {
                    execution_id: id,
                    kind: "memory_limit".into(),
                },
                ResponseCode::Error,
                "memory_limit",
            ),
        ];
        for (outcome, code, kind) in cases {
            let a = outcome.answer();
            assert_eq!(a.code, code, "{outcome:?}");
            assert_eq!(text(&a), format!(r#"{{"error":"{kind}"}}"#), "{outcome:?}");
        }
    }

    #[test]
    fn a_success_larger_than_the_gateway_accepts_is_response_too_large() {
        let id = uuid::Uuid::new_v4();
        // 65 535 bytes of JSON exactly: accepted; one more: too large.
        let fits = Value::String("x".repeat(MAX_CHAIN_RESULT_BYTES - 2));
        let a = ChainOutcome::Succeeded {
            execution_id: id,
            result: fits,
        }
        .answer();
        assert_eq!(
            (a.code, a.result.len()),
            (ResponseCode::Success, MAX_CHAIN_RESULT_BYTES)
        );
        let over = Value::String("x".repeat(MAX_CHAIN_RESULT_BYTES - 1));
        let a = ChainOutcome::Succeeded {
            execution_id: id,
            result: over,
        }
        .answer();
        assert_eq!(a.code, ResponseCode::ResponseTooLarge);
        assert_eq!(text(&a), r#"{"error":"result_too_large"}"#);
    }
}
