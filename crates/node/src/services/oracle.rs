//! `oracle`: its request routes always; with `[oracle] enabled`, the supervised service
//! `oracle` on the node's chain runtime (`chain`, built before it): its sink and transaction
//! owner are registered with the runtime here, and each run attaches to the runtime's current
//! run and answers the requests the sink hands it (also the gateway service types of the
//! handlers registered before it).
//!
//! A configuration error found from the configuration (node key, gateway hash, a handler type
//! twice) is exit 2; one found on the chain (the node key owns the gateway), a store or chain
//! failure, or the runtime stopping is a failed run that the supervisor restarts.

use std::sync::Arc;

use async_trait::async_trait;
use nsl_oracle::service::{OracleOnChain, OracleService, ServiceError as OracleError};
use nsl_service_api::{ErrorClass, RunContext, Service, ServiceError};

use super::{BuildFuture, NodeContext, Registration, Wiring};
use crate::cli::CliError;

pub(super) const REGISTRATION: Registration = Registration {
    name: "oracle",
    mounted: |_| true,
    doc: || {
        use utoipa::OpenApi as _;
        nsl_oracle::service::api::OracleApiDoc::openapi()
    },
    build,
};

fn build<'a>(ctx: &'a NodeContext<'a>, wiring: &'a mut Wiring) -> BuildFuture<'a> {
    Box::pin(async move {
        wiring.routes =
            std::mem::take(&mut wiring.routes).merge(nsl_oracle::service::api::router());
        if !ctx.config.oracle.enabled {
            return Ok(());
        }
        let Some(chain) = wiring.chain.clone() else {
            return Err(CliError::bad_input(
                "oracle: the node's chain runtime was not built (services::chain::needs_chain)",
            ));
        };
        let mut cfg = ctx.config.clone();
        if cfg.oracle.instance.trim().is_empty() {
            cfg.oracle.instance = instance_name(&cfg.node.data_dir);
        }
        let config_error = |e: OracleError| match e {
            OracleError::Config(msg) => CliError::bad_input(msg),
            other => CliError::bad_input(other),
        };
        let (egress, key, config) = OracleService::parts_from_config(&cfg).map_err(config_error)?;
        let on_chain =
            OracleOnChain::register(chain, egress, key, config, wiring.gateway_handlers.clone())
                .map_err(config_error)?;
        wiring.services.push(Arc::new(OracleRuntime { on_chain }));
        Ok(())
    })
}

/// The oracle as a supervised service on the node's chain runtime.
#[derive(Debug)]
struct OracleRuntime {
    on_chain: OracleOnChain,
}

#[async_trait]
impl Service for OracleRuntime {
    fn name(&self) -> &'static str {
        "oracle"
    }

    async fn run(&self, ctx: RunContext) -> Result<(), ServiceError> {
        let mut shutdown = ctx.shutdown.receiver();
        let chain = self.on_chain.chain();
        // While the runtime is down after a failure the oracle cannot work either: /ready shows
        // it restarting with the runtime's class; it runs as soon as the runtime's next run
        // starts.
        if let Some(class) = chain.last_failure() {
            ctx.health.failed(class);
        }
        let Some(attached) = chain.attach(&mut shutdown).await else {
            return Ok(());
        };
        let service = self
            .on_chain
            .attach(attached)
            .await
            .map_err(to_service_error)?;
        ctx.health.running();
        service.run(shutdown).await.map_err(to_service_error)
    }
}

/// The class `/ready` shows for an oracle error.
fn class_of(e: &OracleError) -> ErrorClass {
    match e {
        OracleError::Store(_) | OracleError::Batch(_) => ErrorClass::Store,
        OracleError::Config(_) => ErrorClass::Config,
        OracleError::Oracle(_) | OracleError::Rpc(_) => ErrorClass::Chain,
        // The runtime's own class: a store gone under the runtime shows as `store`.
        OracleError::Runtime { class, .. } => *class,
    }
}

fn to_service_error(e: OracleError) -> ServiceError {
    ServiceError::new(class_of(&e), e)
}

/// This node's name in work claims when `oracle.instance` is not set: `<host>:<data dir>`, the
/// same across restarts (one process per data directory: the vault locks it).
fn instance_name(data_dir: &std::path::Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    format!("{host}:{}", dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oracle_errors_map_to_classes_without_their_text() {
        let config = OracleError::Config("oracle.node_key: not a valid WIF".into());
        assert_eq!(class_of(&config), ErrorClass::Config);
        let batch = OracleError::Batch("pool timed out".into());
        assert_eq!(class_of(&batch), ErrorClass::Store);
        let store = OracleError::Store(nsl_store::StoreError::Corrupt("row 7".into()));
        assert_eq!(class_of(&store), ErrorClass::Store);
        assert_eq!(to_service_error(store).class.as_str(), "store");
        let rpc = OracleError::Rpc(neo_rpc::Error::Timeout {
            method: "getblockcount".into(),
            timeout: std::time::Duration::from_secs(5),
        });
        assert_eq!(class_of(&rpc), ErrorClass::Chain);
        let runtime = OracleError::Runtime {
            class: ErrorClass::Store,
            message: "chain store: pool timed out".into(),
        };
        assert_eq!(class_of(&runtime), ErrorClass::Store);
    }
}
