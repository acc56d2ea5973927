//! `secrets`: per-account secrets under the vault's master key (routes only, no tasks).

use std::sync::Arc;

use super::{BuildFuture, NodeContext, Registration, Wiring};

pub(super) const REGISTRATION: Registration = Registration {
    name: "secrets",
    mounted: |_| true,
    doc: || {
        use utoipa::OpenApi as _;
        nsl_secrets::SecretsApiDoc::openapi()
    },
    build,
};

fn build<'a>(ctx: &'a NodeContext<'a>, wiring: &'a mut Wiring) -> BuildFuture<'a> {
    Box::pin(async move {
        let secrets = Arc::new(
            nsl_secrets::SecretsService::new(ctx.store.clone(), ctx.vault.clone())
                .with_quotas(ctx.config.secrets.clone()),
        );
        wiring.routes =
            std::mem::take(&mut wiring.routes).merge(nsl_secrets::router(secrets.clone()));
        wiring.secrets = Some(secrets);
        Ok(())
    })
}
