//! The node's service registry: `nsl serve` builds every service from [`SERVICES`], in order,
//! and runs each long-running one under the supervisor of `nsl-service-api`.
//!
//! ```text
//! SERVICES (start order = list order; a later service may use what an earlier one put in Wiring)
//!   secrets   -> routes, doc, Wiring::secrets
//!   functions -> routes, doc, gateway handler `function` (uses Wiring::secrets)
//!   randomness -> routes, doc, gateway handler `vrf` (the vault proves, the node key signs)
//!   chain     -> (only if a service uses the chain) supervised Service `chain`, Wiring::chain
//!   oracle    -> routes, doc, supervised Service `oracle` (registers its sink and owner with
//!                Wiring::chain, answers Wiring::gateway_handlers)
//! serve.rs: Wiring { routes, docs, services } -> API router + supervise(service) per service
//!   supervise: run -> Err/panic -> HealthBoard `restarting` (/ready 503) -> back-off -> run again
//! ```
//!
//! Adding a service: its crate, one file here with its [`Registration`], one line in
//! [`SERVICES`]. `serve.rs` does not change.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use nsl_api::AppState;
use nsl_service_api::{
    GatewayHandler, HealthBoard, RestartPolicy, Service, Shutdown, TokioClock, supervise,
};

use crate::cli::CliError;

mod chain;
mod functions;
mod oracle;
mod randomness;
mod secrets;

pub use randomness::VaultProver;

/// The registered services, in start order. Adding a service is one line here.
pub const SERVICES: &[Registration] = &[
    secrets::REGISTRATION,
    functions::REGISTRATION,
    randomness::REGISTRATION,
    chain::REGISTRATION,
    oracle::REGISTRATION,
];

/// What the node gives every service when building it.
pub struct NodeContext<'a> {
    /// The whole configuration (each service reads its own section).
    pub config: &'a nsl_config::Config,
    /// The store (migrated).
    pub store: nsl_store::Store,
    /// The node's vault (secrets' master key, the VRF key).
    pub vault: Arc<nsl_enclave::SoftwareVault>,
    /// Warnings `/ready` lists without turning 503.
    pub ready_warnings: nsl_api::ReadyWarnings,
}

/// What the services built so far added to the node.
#[derive(Default)]
pub struct Wiring {
    /// Their `/v1/...` routes.
    pub routes: Router<AppState>,
    /// Gateway service types answered by the chain runtime (`oracle` takes them).
    pub gateway_handlers: Vec<Arc<dyn GatewayHandler>>,
    /// Long-running services, each run under the supervisor.
    pub services: Vec<Arc<dyn Service>>,
    /// The secrets service, for services that read secrets (functions).
    pub secrets: Option<Arc<nsl_secrets::SecretsService>>,
    /// The node's chain runtime, for chain-facing services (built when one is enabled).
    pub chain: Option<nsl_chain::ChainHandle>,
}

/// The future of a [`Registration::build`].
pub type BuildFuture<'a> = Pin<Box<dyn Future<Output = Result<(), CliError>> + Send + 'a>>;

/// One service as the registry knows it.
pub struct Registration {
    /// Its name (logs, `/ready`).
    pub name: &'static str,
    /// Whether its routes are mounted (and documented) under this configuration.
    pub mounted: fn(&nsl_config::Config) -> bool,
    /// The OpenAPI paths and schemas of its routes.
    pub doc: fn() -> utoipa::openapi::OpenApi,
    /// Build it (only when `mounted`): add its routes, handlers and services to the wiring. A
    /// configuration error is [`CliError::BadInput`] (exit 2).
    pub build: for<'a> fn(&'a NodeContext<'a>, &'a mut Wiring) -> BuildFuture<'a>,
}

/// Build every mounted service of `cfg`, in [`SERVICES`] order.
pub async fn build_all(ctx: &NodeContext<'_>) -> Result<Wiring, CliError> {
    let mut wiring = Wiring::default();
    for warning in ctx.config.deprecations() {
        tracing::warn!("config: {warning}");
    }
    for reg in SERVICES {
        if (reg.mounted)(ctx.config) {
            (reg.build)(ctx, &mut wiring).await?;
            tracing::debug!(service = reg.name, "service built");
        }
    }
    Ok(wiring)
}

/// The OpenAPI document of the routes `cfg` mounts (merged into the API's own).
pub fn services_doc(cfg: &nsl_config::Config) -> utoipa::openapi::OpenApi {
    let mut doc = utoipa::openapi::OpenApiBuilder::new().build();
    for reg in SERVICES.iter().filter(|r| (r.mounted)(cfg)) {
        doc.merge((reg.doc)());
    }
    doc
}

/// Run every service of `services` under the supervisor until `shutdown`; their health goes to
/// `board`. The returned handles end once the services stopped.
pub fn supervise_all(
    services: Vec<Arc<dyn Service>>,
    board: &HealthBoard,
    shutdown: &Shutdown,
) -> Vec<tokio::task::JoinHandle<()>> {
    services
        .into_iter()
        .map(|s| {
            let health = board.register(s.name());
            tokio::spawn(supervise(
                s,
                health,
                shutdown.clone(),
                RestartPolicy::default(),
                Arc::new(TokioClock),
            ))
        })
        .collect()
}
