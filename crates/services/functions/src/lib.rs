//! `nsl-functions`: users' JavaScript functions with versions, limits, granted secrets and
//! executions, run in `nsl-sandbox`.
//!
//! # Flow
//!
//! ```text
//! POST /v1/functions            --validate + clamp--> FunctionStore::create_function (version 1)
//! PUT  /v1/functions/{id}       --validate + clamp--> FunctionStore::add_function_version (n+1)
//! POST /v1/functions/{id}/execute {args, mode}
//!   FunctionsService::execute
//!     insert_execution (queued)   <- persisted BEFORE anything runs
//!     [async: return the queued row now; the rest runs on a spawned task]
//!     permit (bounded pool, FunctionsConfig::max_concurrent)
//!     mark_execution_running
//!     spawn_blocking: Sandbox::execute (own QuickJS runtime, limits of the version)
//!        fetch   -> EgressFetch   -> nsl_egress::Egress::send (allowed_hosts of the version)
//!        secrets -> GrantedSecrets -> FunctionSecrets (names granted to the version only;
//!                   implemented in nsl-node over nsl_secrets::SecretsService: decrypt + audit)
//!     finish_execution (succeeded | failed + error kind)
//!
//! gateway request (service type `function`, answered through the chain runtime by
//! gateway::FunctionsGatewayHandler) -> FunctionsService::answer_chain_request
//!   chain::parse_payload -> execute_for_chain: function_by_id, requester in onchain_callers?
//!     -> the same path as a sync execute (trigger `chain`) -> ChainOutcome
//!     -> nsl_service_api::Answer { ResponseCode, result }
//! ```
//!
//! # Invariants
//!
//! - Every read and write takes the caller's account: another account's functions and executions
//!   are "not found", never "forbidden".
//! - Limits stored with a version are already clamped to the operator maxima
//!   ([`FunctionsConfig`]); the sandbox clamps again when it runs.
//! - Outbound HTTP only through `nsl-egress`, with the version's host allowlist passed to the
//!   egress client as well as checked by the sandbox (two independent checks).
//! - A secret is only looked up for a name granted to the executing version (checked by the
//!   sandbox and again by [`GrantedSecrets`]).
//! - A function runs from chain only for requesters listed in its current version's
//!   `onchain_callers`; such a run is an execution of the owner (trigger `chain`), and what goes
//!   on chain for an error is only a stable kind, never the message ([`chain`]).
//! - An execution row exists before the code runs; at startup [`FunctionsService::recover`]
//!   marks rows left `queued`/`running` by a previous process `failed` with kind `interrupted`.
//!
//! See `docs/functions.md` for the JavaScript API, limits and HTTP API.

pub mod chain;
mod config;
mod error;
pub mod gateway;
mod hosts;
mod http;
mod service;
mod store;

pub use chain::{ChainOutcome, ChainPayload};
pub use config::FunctionsConfig;
pub use error::FunctionsError;
pub use gateway::FunctionsGatewayHandler;
pub use hosts::{EgressFetch, FunctionSecrets, GrantedSecrets, NoFunctionSecrets};
pub use http::{FunctionsApiDoc, router};
pub use nsl_service_api::{Answer, ResponseCode};
pub use service::{ExecuteMode, FunctionInput, FunctionsService, LimitsInput};
pub use store::{
    ChainTrigger, ExecutionId, ExecutionOutcome, ExecutionRecord, ExecutionStatus, FunctionId,
    FunctionRecord, FunctionStore, FunctionUsage, FunctionVersion, FunctionVersionSpec,
    NewExecution,
};

/// The service's tables (`migrations/`: 0003 `functions`, `function_versions`,
/// `function_executions`; 0007 the on-chain caller and trigger columns).
/// Composed with the other crates' sets by the node (`nsl_store::compose`); see docs/storage.md.
pub static MIGRATIONS: nsl_store::MigrationSet = nsl_store::MigrationSet {
    owner: "nsl-functions",
    sqlite: sqlx::migrate!("./migrations/sqlite"),
    postgres: sqlx::migrate!("./migrations/postgres"),
};
