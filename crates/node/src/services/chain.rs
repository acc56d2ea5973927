//! `chain`: the node's chain runtime (`nsl_chain::ChainRuntime`, docs/chain.md): one RPC client
//! (failover over `[chain] rpc_urls`), one follower (one cursor, one block stream), one
//! transaction manager (one outbox, one sender), run as the supervised service `chain`.
//!
//! Built only when a service uses the chain ([`needs_chain`]), before those services: they find
//! its handle in [`Wiring::chain`], register their sinks and transaction owners with it while
//! they are built, and attach to each of its runs.

use std::sync::Arc;

use nsl_chain::{ChainRuntime, RuntimeConfig};

use super::{BuildFuture, NodeContext, Registration, Wiring};
use crate::cli::CliError;

pub(super) const REGISTRATION: Registration = Registration {
    name: "chain",
    mounted: needs_chain,
    doc: || utoipa::openapi::OpenApiBuilder::new().build(),
    build,
};

/// Whether a service of `cfg` uses the chain: the oracle today (randomness, feeds, automation
/// add themselves here).
pub(super) fn needs_chain(cfg: &nsl_config::Config) -> bool {
    cfg.oracle.enabled
}

fn build<'a>(ctx: &'a NodeContext<'a>, wiring: &'a mut Wiring) -> BuildFuture<'a> {
    Box::pin(async move {
        let cfg = ctx.config;
        let rpc = nsl_chain::runtime::rpc_client_from_config(&cfg.chain, &cfg.oracle.rpc_url)
            .map_err(CliError::bad_input)?;
        let mut config = RuntimeConfig::from_config(&cfg.chain);
        // The node account's GAS is watched when there is a node key (services that sign need
        // one and report it missing themselves).
        config.tx.gas_account = match cfg.node_key() {
            Ok((wif, from)) => Some(
                neo::PrivateKey::from_wif(wif.expose())
                    .map_err(|_| CliError::bad_input(format!("{from}: not a valid WIF")))?
                    .script_hash(),
            ),
            Err(_) => None,
        };
        config.tx.ready_warnings = Some((ctx.ready_warnings.clone(), "chain".into()));
        let runtime = ChainRuntime::new(rpc, Arc::new(ctx.store.clone()), config);
        wiring.chain = Some(runtime.handle());
        wiring.services.push(Arc::new(runtime));
        Ok(())
    })
}
