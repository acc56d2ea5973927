//! `nsl-randomness`: verifiable random numbers (ECVRF-P256-SHA256-TAI, RFC 9381) proved by the
//! node's vault, for gateway `vrf` requests and over the API (`docs/randomness.md`).
//!
//! # Flow
//!
//! ```text
//! gateway `vrf` request ──chain runtime──▶ gateway::RandomnessGatewayHandler::answer
//!   alpha (vrf::chain_alpha, block hash from GatewayView) ─▶ VrfProver::prove ─▶ node key signs
//!   (id || alpha || beta) ─▶ store::insert ─▶ Answer(beta || proof || signature) ─▶ fulfill
//! POST /v1/randomness {seed, words} ─▶ RandomnessService::request: alpha = vrf::offchain_alpha
//!   ─▶ prove ─▶ store::insert ─▶ audit `randomness.request` ─▶ 201 {alpha, beta, proof, words}
//! GET /v1/randomness/{id} ─▶ store::get (API records only for their account)
//! GET /v1/randomness/key  ─▶ VrfProver::public_key + GatewayView::vrf_key (registered?)
//! ```
//!
//! # Invariants
//!
//! - The VRF secret key never leaves the vault ([`VrfProver`] is the vault's operation).
//! - Every alpha is fixed by inputs the node does not choose: for gateway requests by the chain
//!   (the gateway recomputes it and refuses another), for API requests by the account, a fresh
//!   UUID and the caller's seed. ECVRF gives one output per (key, alpha), so nothing is re-rolled.
//! - An API result is returned only once it is recorded and audited.
//! - Another account's API randomness is "not found".

mod error;
pub mod gateway;
mod http;
pub mod service;
pub mod store;
pub mod vrf;

/// The service's table (`migrations/`: 0013 `randomness`, 0014 its `sequence`), composed with
/// the other crates' sets by the node (`nsl_store::compose`); see docs/storage.md.
pub static MIGRATIONS: nsl_store::MigrationSet = nsl_store::MigrationSet {
    owner: "nsl-randomness",
    sqlite: sqlx::migrate!("./migrations/sqlite"),
    postgres: sqlx::migrate!("./migrations/postgres"),
};

pub use error::{RandomnessError, RandomnessResult};
pub use gateway::{RandomnessGatewayHandler, SERVICE_TYPE};
pub use http::{RandomnessApiDoc, router};
pub use service::{
    Actor, GatewayKeyStatus, GatewayView, KeyInfo, RandomnessService, RpcGatewayView, Served,
    VrfOutput, VrfProver,
};
pub use store::{RandomnessRecord, RecordKind};
