//! `nsl-oracle`: answers oracle requests with filtered off-chain data, for Neo's native
//! OracleContract and for the NSL gateway contract.
//!
//! The pipeline is split by stage (as neo-go's `pkg/services/oracle`), each stage a plain function
//! or small type so that the node's persistence layer (request rows, outbox) can sit between any
//! two of them:
//!
//! ```text
//! chain event ─┬─ native::parse_oracle_request ─ NativeOracle::request (getstorage 0x07||id) ─┐
//!              └─ gateway::parse_service_request ─ gateway::parse_oracle_payload ────────────┤
//!                                                                                            ▼
//!        fetch::answer(egress, url, filter):  URL/filter limits ─ nsl-egress GET (SSRF guard,
//!        65,535-byte cap) ─ code::code_for_egress_error / code_for_http_status ─ UTF-8 check
//!        ─ filter::apply_filter_bounded (neo-go's JSONPath dialect and JSON output, on a
//!          blocking thread, a few at once, with a deadline) ─ result size  ──▶ Answer{code, result}
//!                                                                                            │
//!              ┌─ native: unsigned_response_tx ─ calculatenetworkfee ─ set_fees ─ OracleSigner ─ send
//!              └─ gateway: fulfill_script(requestId, code, result) ─ node account (CustomContracts)
//! ```
//!
//! Invariants:
//! - Fetch and filter problems never fail a request: they become a response code with an empty
//!   result ([`Answer`]); [`OracleError`] is only for "cannot answer at all" (chain unreachable,
//!   malformed event, node not designated).
//! - A result is at most 65,535 bytes and empty unless the code is `Success`.
//! - No filter can make a body expensive: the dialect has no sub-queries, 6 steps over at most
//!   1,024 values, and the filter runs off the async runtime under a deadline.
//! - Every outbound fetch goes through `nsl-egress`; the egress policy decides schemes and
//!   addresses (production: HTTPS, public addresses only).
//! - The signing key is used only through [`OracleSigner`] (a `neo::PrivateKey` today, the
//!   enclave vault later); no key material appears in errors or logs.
//!
//! See `docs/oracle.md` for the response codes, filter semantics and both protocols.

pub mod batch;
pub mod code;
mod error;
pub mod fetch;
pub mod filter;
pub mod gateway;
pub mod native;
pub mod service;

pub use code::{
    MAX_RESULT_SIZE, MAX_URL_LEN, ResponseCode, code_for_egress_error, code_for_http_status,
    code_name,
};
pub use error::{OracleError, Result};
pub use fetch::{Answer, answer};
pub use filter::{
    FILTER_DEADLINE, Filter, FilterError, MAX_FILTER_DEPTH, MAX_FILTER_LEN, MAX_FILTER_MATCHES,
    apply_filter, apply_filter_bounded, validate_filter,
};
pub use gateway::{OraclePayload, ServiceRequest};
pub use native::{NativeOracle, OracleRequest, OracleRequestEvent, OracleSigner, ResponseTx};
