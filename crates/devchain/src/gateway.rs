//! The NSL gateway contract, embedded in the binary, and the chain setup around it that `nsl dev`
//! and the end-to-end harness share.
//!
//! ```text
//! GATEWAY_SOURCE (include_str! of contracts/gateway/gateway.py at build time)
//!   ─▶ compile_gateway(&tools): <cache>/sources/<sha256>/gateway.py ─▶ compile_contract_cached
//!   ─▶ deploy_gateway(&chain, &contract, &owner, node_key, node_gas):
//!        fund the node account ─▶ deploy (owner signs and pays) ─▶ owner calls addNode(node_key)
//!   ─▶ register_vrf_key(&owner, &gateway, key): owner calls setVrfKey(key) (the vault's VRF key)
//! ```
//!
//! The source is compiled at first use (neo3-boa from the tool cache) rather than shipped as a
//! pre-built NEF: one source of truth, no build step that needs Python, and the compile cache
//! makes every later use instant. Nothing here reads the checkout at run time, so an `nsl` built
//! with `cargo install` runs `nsl dev` from any directory.

use neo::{Arg, PublicKey, UInt160};
use neo_rpc::{Actor, ContractManagement, TxOutcome};

use crate::chain::DevChain;
use crate::compile::{CompiledContract, compile_source_cached};
use crate::error::Result;
use crate::tools::ToolCache;

/// File name of the gateway's source (neo3-boa takes the module name from it).
pub const GATEWAY_FILE: &str = "gateway.py";

/// The gateway contract's source, `contracts/gateway/gateway.py` as it was when this crate was
/// built (cargo rebuilds the crate when the file changes).
pub const GATEWAY_SOURCE: &str = include_str!("../../../contracts/gateway/gateway.py");

/// Compile [`GATEWAY_SOURCE`] with neo3-boa from `cache`, cached by content (instant after the
/// first time; ~15 s of CPU the first time). Blocking.
pub fn compile_gateway(cache: &ToolCache) -> Result<CompiledContract> {
    compile_source_cached(cache, GATEWAY_FILE, GATEWAY_SOURCE)
}

/// Put a gateway on `chain` with one oracle node registered: transfer `node_gas` GAS fractions
/// from the committee to the node's account (it pays the `fulfill` transactions), deploy
/// `contract` signed by `owner` (the owner pays the deployment and becomes the gateway's owner),
/// then `addNode(node_key)` as the owner. Returns the gateway's hash.
///
/// The node key must also be designated for the Oracle role (for `nsl dev` and the harness:
/// [`crate::ChainConfig::oracle_keys`] at genesis).
pub async fn deploy_gateway(
    chain: &DevChain,
    contract: &CompiledContract,
    owner: &Actor,
    node_key: &PublicKey,
    node_gas: i64,
) -> Result<UInt160> {
    chain.fund(&node_key.script_hash(), node_gas).await?;
    let gateway = ContractManagement::new(chain.rpc().clone())
        .deploy(owner, &contract.nef, &contract.manifest, Arg::Null)
        .await?
        .hash;
    owner
        .call(&gateway, "addNode", &[Arg::PublicKey(*node_key)])
        .await
        .and_then(TxOutcome::into_halt)?;
    Ok(gateway)
}

/// Register `key` (33-byte compressed P-256 point: the nodes' VRF public key) in `gateway` with
/// `setVrfKey`, signed by the gateway's `owner`.
pub async fn register_vrf_key(owner: &Actor, gateway: &UInt160, key: &[u8; 33]) -> Result<()> {
    let key = PublicKey::from_bytes(key)
        .map_err(|e| crate::error::DevchainError::Config(format!("VRF public key: {e}")))?;
    owner
        .call(gateway, "setVrfKey", &[Arg::PublicKey(key)])
        .await
        .and_then(TxOutcome::into_halt)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_source_is_the_gateway() {
        assert!(GATEWAY_SOURCE.contains("NslGateway"), "manifest name");
        assert!(GATEWAY_SOURCE.contains("@public(name='addNode')"));
    }
}
