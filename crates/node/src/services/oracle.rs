//! `oracle`: its request routes always; with `[oracle] enabled`, the chain runtime (follower,
//! workers, sender) as the supervised service `oracle`, which also answers the gateway service
//! types of the handlers registered before it.
//!
//! Wrapped through the oracle's public API: each run is `OracleService::from_config` +
//! `run(shutdown)`. A configuration error at start is exit 2; a store or chain failure, at start
//! or later, is a failed run that the supervisor restarts.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use nsl_oracle::service::{GatewayHandler, OracleService, ServiceError as OracleError};
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
        let mut cfg = ctx.config.oracle.clone();
        if cfg.instance.trim().is_empty() {
            cfg.instance = instance_name(&ctx.config.node.data_dir);
        }
        let runtime = OracleRuntime {
            cfg,
            chain: ctx.config.chain.clone(),
            store: ctx.store.clone(),
            handlers: wiring.gateway_handlers.clone(),
            warnings: ctx.ready_warnings.clone(),
            first: Mutex::new(None),
        };
        // Build once now: a configuration error stops `nsl serve` (exit 2); an unreachable store
        // or chain does not (the supervisor retries).
        match runtime.build().await {
            Ok(service) => *runtime.first.lock().unwrap_or_else(|e| e.into_inner()) = Some(service),
            Err(OracleError::Config(msg)) => return Err(CliError::bad_input(msg)),
            Err(e) => tracing::warn!(error = %e, class = class_of(&e).as_str(),
                "oracle: cannot start yet; the supervisor retries"),
        }
        wiring.services.push(Arc::new(runtime));
        Ok(())
    })
}

/// The oracle runtime as a supervised service.
struct OracleRuntime {
    cfg: nsl_config::OracleConfig,
    /// `[chain]`: the RPC endpoints (failover) the oracle follows and sends to.
    chain: nsl_config::ChainConfig,
    store: nsl_store::Store,
    handlers: Vec<Arc<dyn GatewayHandler>>,
    warnings: nsl_api::ReadyWarnings,
    /// The instance built at registration, used by the first run.
    first: Mutex<Option<OracleService>>,
}

impl std::fmt::Debug for OracleRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OracleRuntime")
            .field("instance", &self.cfg.instance)
            .finish_non_exhaustive()
    }
}

impl OracleRuntime {
    async fn build(&self) -> Result<OracleService, OracleError> {
        OracleService::from_config(
            &self.cfg,
            &self.chain,
            Arc::new(self.store.clone()),
            self.handlers.clone(),
            Some(self.warnings.clone()),
        )
        .await
    }
}

#[async_trait]
impl Service for OracleRuntime {
    fn name(&self) -> &'static str {
        "oracle"
    }

    async fn run(&self, ctx: RunContext) -> Result<(), ServiceError> {
        let first = self.first.lock().unwrap_or_else(|e| e.into_inner()).take();
        let service = match first {
            Some(s) => s,
            None => self.build().await.map_err(to_service_error)?,
        };
        ctx.health.running();
        service
            .run(ctx.shutdown.receiver())
            .await
            .map_err(to_service_error)
    }
}

/// The class `/ready` shows for an oracle error.
fn class_of(e: &OracleError) -> ErrorClass {
    match e {
        OracleError::Store(_) | OracleError::Batch(_) => ErrorClass::Store,
        OracleError::Config(_) => ErrorClass::Config,
        OracleError::Oracle(_) | OracleError::Rpc(_) => ErrorClass::Chain,
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
    }
}
