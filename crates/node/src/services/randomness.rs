//! `randomness` (`[randomness] enabled`, default on): routes, and gateway `vrf` requests
//! answered through the chain runtime when the oracle service runs (it holds the node key that
//! signs the answers). Proofs are the vault's operation: the VRF key never leaves it.

use std::sync::Arc;

use nsl_enclave::Vault as _;

use super::{BuildFuture, NodeContext, Registration, Wiring};
use crate::cli::CliError;

pub(super) const REGISTRATION: Registration = Registration {
    name: "randomness",
    mounted: |cfg| cfg.randomness.enabled,
    doc: || {
        use utoipa::OpenApi as _;
        nsl_randomness::RandomnessApiDoc::openapi()
    },
    build,
};

/// The node's vault as the randomness service's prover.
pub struct VaultProver(pub Arc<nsl_enclave::SoftwareVault>);

impl nsl_randomness::VrfProver for VaultProver {
    fn public_key(&self) -> Result<[u8; 33], String> {
        self.0.vrf_public_key().map_err(|e| e.to_string())
    }

    fn prove(&self, alpha: &[u8]) -> Result<nsl_randomness::VrfOutput, String> {
        let p = self.0.vrf_prove(alpha).map_err(|e| e.to_string())?;
        Ok(nsl_randomness::VrfOutput {
            beta: p.beta,
            proof: p.proof,
        })
    }
}

fn build<'a>(ctx: &'a NodeContext<'a>, wiring: &'a mut Wiring) -> BuildFuture<'a> {
    Box::pin(async move {
        let cfg = ctx.config;
        let gateway = match cfg.oracle.gateway_hash.trim() {
            "" => None,
            h => Some(
                h.parse::<neo::UInt160>()
                    .map_err(|e| CliError::bad_input(format!("oracle.gateway_hash: {e}")))?,
            ),
        };
        let chain: Option<Arc<dyn nsl_randomness::GatewayView>> = match gateway {
            None => None,
            Some(g) => {
                let rpc =
                    nsl_oracle::service::rpc_client_from_config(&cfg.chain, &cfg.oracle.rpc_url)
                        .map_err(|e| CliError::bad_input(e.to_string()))?;
                Some(Arc::new(nsl_randomness::RpcGatewayView::new(rpc, g)))
            }
        };
        let service = nsl_randomness::RandomnessService::new(
            ctx.store.clone(),
            Arc::new(VaultProver(ctx.vault.clone())),
            chain.clone(),
            &cfg.randomness,
        );
        wiring.routes =
            std::mem::take(&mut wiring.routes).merge(nsl_randomness::router(service.clone()));
        // Gateway answers are signed with the node key: only where the oracle runtime runs.
        if cfg.oracle.enabled && chain.is_some() {
            let (wif, from) = cfg.node_key().map_err(CliError::bad_input)?;
            let key = neo::PrivateKey::from_wif(wif.expose())
                .map_err(|_| CliError::bad_input(format!("{from}: not a valid WIF")))?;
            wiring
                .gateway_handlers
                .push(nsl_randomness::RandomnessGatewayHandler::new(service, key).into_handler());
        }
        Ok(())
    })
}
