//! `functions` (`[functions] enabled`, default on): routes, and gateway `function` requests
//! answered through the chain runtime. Its executions run on demand (no supervised task).

use std::sync::Arc;

use anyhow::Context as _;

use super::{BuildFuture, NodeContext, Registration, Wiring};
use crate::functions_secrets::SecretsForFunctions;

pub(super) const REGISTRATION: Registration = Registration {
    name: "functions",
    mounted: |cfg| cfg.functions.enabled,
    doc: || {
        use utoipa::OpenApi as _;
        nsl_functions::FunctionsApiDoc::openapi()
    },
    build,
};

fn build<'a>(ctx: &'a NodeContext<'a>, wiring: &'a mut Wiring) -> BuildFuture<'a> {
    Box::pin(async move {
        let secrets: Arc<dyn nsl_functions::FunctionSecrets> = match &wiring.secrets {
            Some(s) => Arc::new(SecretsForFunctions::new(s.clone())),
            None => Arc::new(nsl_functions::NoFunctionSecrets),
        };
        let egress = nsl_egress::Egress::new(nsl_egress::EgressPolicy::default())
            .context("building the egress client")?;
        let functions = nsl_functions::FunctionsService::new(
            Arc::new(ctx.store.clone()),
            Arc::new(egress),
            secrets,
            nsl_functions::FunctionsConfig::from_config(&ctx.config.functions),
        );
        // Executions a previous process left queued/running are failed as `interrupted`, before
        // anything can start a new one.
        functions
            .recover()
            .await
            .context("recovering interrupted function executions")?;
        wiring.routes =
            std::mem::take(&mut wiring.routes).merge(nsl_functions::router(functions.clone()));
        wiring
            .gateway_handlers
            .push(nsl_functions::FunctionsGatewayHandler::new(functions).into_handler());
        Ok(())
    })
}
