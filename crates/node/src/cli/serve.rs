//! `nsl serve`: run the HTTP API. Owned by the platform API work (issue 3).
//!
//! Loads the configuration (`--config FILE` or `NSL_CONFIG`, plus `NSL_*` overrides), sets up
//! logging from `[log]`, opens the store (applying migrations), builds the API router and serves it
//! until SIGINT or SIGTERM, then drains in-flight requests and exits 0. The bound address is printed
//! on stdout once the socket listens (`--listen 127.0.0.1:0` picks a free port).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;

use super::{CliError, CliResult, Output};

/// Arguments of `nsl serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML). Without it: built-in defaults plus `NSL_*` variables.
    #[arg(long, env = "NSL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen address, overriding `[api] listen` (e.g. `0.0.0.0:8080`, `127.0.0.1:0`).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

#[derive(Serialize)]
struct Listening {
    listening: String,
    docs: String,
}

pub(super) fn run(args: ServeArgs, out: &Output) -> CliResult {
    let mut cfg = nsl_config::Config::load(args.config.as_deref()).map_err(CliError::bad_input)?;
    if let Some(listen) = args.listen {
        cfg.api.listen = listen;
    }
    let addr = cfg.api.listen_addr().map_err(CliError::bad_input)?;
    nsl_api::telemetry::init_logging(&cfg.log).map_err(CliError::bad_input)?;
    let vault = super::open_vault(&cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("nsl-worker")
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let store = super::audit_key::open_store(&cfg).await?;
        // The audit key exists (this node keyed its chain): an unkeyed chain was rewritten by
        // someone without the key. Refuse to run on it.
        if !store
            .audit_chain_keyed()
            .await
            .context("reading the audit chain head")?
        {
            return Err(CliError::Runtime(anyhow::anyhow!(
                "the audit chain is not keyed although this node's audit key exists: it was \
                 rewritten without the key; run `nsl audit verify` and investigate"
            )));
        }
        let state =
            nsl_api::AppState::from_config(store.clone(), &cfg).map_err(CliError::bad_input)?;
        let secrets = std::sync::Arc::new(
            nsl_secrets::SecretsService::new(store.clone(), std::sync::Arc::new(vault))
                .with_quotas(cfg.secrets.clone()),
        );
        let egress = nsl_egress::Egress::new(nsl_egress::EgressPolicy::default())
            .context("building the egress client")?;
        // `[functions] enabled` (default): the functions routes, and gateway `function`
        // requests answered through the oracle runtime when it runs.
        let functions = if cfg.functions.enabled {
            let functions = nsl_functions::FunctionsService::new(
                std::sync::Arc::new(store.clone()),
                std::sync::Arc::new(egress),
                secrets.clone(),
                nsl_functions::FunctionsConfig::from_config(&cfg.functions),
            );
            // Executions a previous process left queued/running are failed as `interrupted`.
            functions
                .recover()
                .await
                .context("recovering interrupted function executions")?;
            Some(functions)
        } else {
            None
        };
        let mut routes = nsl_secrets::router(secrets).merge(nsl_oracle::service::api::router());
        let mut gateway_handlers = Vec::new();
        if let Some(functions) = &functions {
            routes = routes.merge(nsl_functions::router(functions.clone()));
            gateway_handlers.push(
                crate::gateway_functions::FunctionsGatewayHandler::new(functions.clone())
                    .into_handler(),
            );
        }
        let app =
            nsl_api::router_with_openapi(state.clone(), routes, services_doc(functions.is_some()));
        // `[oracle] enabled`: follower, workers and sender in a task until shutdown; it also
        // answers the gateway service types of `gateway_handlers`.
        let mut oracle_cfg = cfg.oracle.clone();
        if oracle_cfg.instance.trim().is_empty() {
            oracle_cfg.instance = instance_name(&cfg.node.data_dir);
        }
        let oracle = nsl_oracle::service::OracleHandle::spawn_from_config(
            &oracle_cfg,
            &cfg.chain,
            std::sync::Arc::new(store.clone()),
            gateway_handlers,
            Some(state.ready_warnings().clone()),
        )
        .await
        .map_err(CliError::bad_input)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let local = listener.local_addr().context("reading the bound address")?;
        tracing::info!(listen = %local, database = store.backend().as_str(), "API listening");
        out.print(&Listening {
            listening: format!("http://{local}"),
            docs: format!("http://{local}/docs"),
        });
        nsl_api::serve(listener, app, &state, shutdown_signal())
            .await
            .context("serving the API")?;
        if let Some(oracle) = oracle
            && let Err(e) = oracle.shutdown().await
        {
            tracing::error!(error = %e, "oracle service failed");
        }
        tracing::info!("shut down");
        store.close().await;
        Ok(())
    })
}

/// OpenAPI paths and schemas of the services' routes `nsl serve` mounts (merged into the API's
/// own document at `/openapi.json`).
fn services_doc(functions: bool) -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi as _;
    let mut doc = nsl_secrets::SecretsApiDoc::openapi();
    doc.merge(nsl_oracle::service::api::OracleApiDoc::openapi());
    if functions {
        doc.merge(nsl_functions::FunctionsApiDoc::openapi());
    }
    doc
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        _ = term => tracing::info!("SIGTERM received, shutting down"),
    }
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
    use super::services_doc;

    /// The document `nsl serve` serves documents every mounted service route.
    #[test]
    fn served_document_has_the_service_routes() {
        let doc = nsl_api::openapi::document(Some(services_doc(true)));
        let json: serde_json::Value =
            serde_json::from_str(&doc.to_json().expect("json")).expect("parse");
        let paths = &json["paths"];
        for (path, methods) in [
            ("/v1/functions", &["get", "post"][..]),
            ("/v1/functions/{id}", &["get", "put"]),
            ("/v1/functions/{id}/execute", &["post"]),
            ("/v1/functions/{id}/executions", &["get"]),
            ("/v1/executions", &["get"]),
            ("/v1/executions/{id}", &["get"]),
            ("/v1/secrets", &["get"]),
            ("/v1/secrets/{name}", &["get", "put", "delete"]),
            ("/v1/apikeys", &["get", "post"]),
        ] {
            for m in methods {
                assert!(paths[path][m].is_object(), "{m} {path} not documented");
            }
        }
        assert!(
            paths
                .as_object()
                .expect("paths")
                .keys()
                .any(|p| p.starts_with("/v1/oracle/")),
            "oracle routes"
        );
        // Without the functions service its routes are neither mounted nor documented.
        let doc = nsl_api::openapi::document(Some(services_doc(false)));
        let json = doc.to_json().expect("json");
        assert!(!json.contains("/v1/functions") && json.contains("/v1/secrets"));
    }
}
