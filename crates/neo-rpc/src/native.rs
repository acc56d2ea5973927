//! Layer 4: native contracts: hashes and wrappers for Policy, RoleManagement, Oracle and
//! ContractManagement (GAS and NEO are [`crate::Nep17`] tokens).

use neo::{Arg, PublicKey, ScriptBuilder, UInt160};

use crate::actor::{Actor, TxOutcome};
use crate::client::RpcClient;
use crate::error::{Error, Result};
use crate::invoker::Invoker;
use crate::types::ContractState;

/// Parse 40 hex digits (big-endian, as displayed) at compile time.
const fn h160(s: &str) -> UInt160 {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("not a hex digit"),
        }
    }
    let b = s.as_bytes();
    assert!(b.len() == 40, "a UInt160 has 40 hex digits");
    let mut le = [0u8; 20];
    let mut i = 0;
    while i < 20 {
        le[19 - i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    UInt160::from_bytes_le(le)
}

/// ContractManagement (same hash on every network).
pub const CONTRACT_MANAGEMENT: UInt160 = h160("fffdc93764dbaddd97c48f252a53ea4643faa3fd");
/// StdLib.
pub const STD_LIB: UInt160 = h160("acce6fd80d44e1796aa0c2c625e9e4e0ce39efc0");
/// CryptoLib.
pub const CRYPTO_LIB: UInt160 = h160("726cb6e0cd8628a1350a611384688911ab75f51b");
/// Ledger.
pub const LEDGER: UInt160 = h160("da65b600f7124ce6c79950c1772a36403104f2be");
/// NEO token.
pub const NEO: UInt160 = h160("ef4073a0f2b305a38ec4050e4d3d28bc40ea63f5");
/// GAS token.
pub const GAS: UInt160 = h160("d2a4cff31913016155e38e474a2c06d08be276cf");
/// Policy.
pub const POLICY: UInt160 = h160("cc5e4edd9f5f8dba8bb65734541df7a1c081c67b");
/// RoleManagement.
pub const ROLE_MANAGEMENT: UInt160 = h160("49cf4e5378ffcd4dec034fd98a174c5491e395e2");
/// OracleContract.
pub const ORACLE: UInt160 = h160("fe924b7cfe89ddd271abaf7210a80a7e11178758");
/// Notary (neo-go with P2PSigExtensions; C# Neo 3.8+).
pub const NOTARY: UInt160 = h160("c1e14f19c3e60d0b9244d06dd7ba9b113135ec3b");

/// Policy: fee and price parameters set by the committee.
#[derive(Debug, Clone)]
pub struct Policy {
    invoker: Invoker,
}

impl Policy {
    /// Policy through `rpc`.
    pub fn new(rpc: RpcClient) -> Self {
        Self {
            invoker: Invoker::new(rpc),
        }
    }

    async fn int(&self, method: &str) -> Result<i64> {
        Ok(self
            .invoker
            .call_item(&POLICY, method, &[])
            .await?
            .as_i64()?)
    }

    /// `getFeePerByte`: network fee per transaction byte (GAS fractions).
    pub async fn fee_per_byte(&self) -> Result<i64> {
        self.int("getFeePerByte").await
    }

    /// `getExecFeeFactor`: multiplier of opcode prices.
    pub async fn exec_fee_factor(&self) -> Result<i64> {
        self.int("getExecFeeFactor").await
    }

    /// `getStoragePrice`: GAS fractions per stored byte.
    pub async fn storage_price(&self) -> Result<i64> {
        self.int("getStoragePrice").await
    }
}

/// Node roles of RoleManagement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Role {
    /// State root validators.
    StateValidator = 4,
    /// Oracle nodes: only their m-of-n multisig may answer OracleContract requests.
    Oracle = 8,
    /// NeoFS alphabet nodes.
    NeoFsAlphabetNode = 16,
    /// P2P notary nodes.
    P2pNotary = 32,
}

/// RoleManagement: which keys hold which node role from which height.
#[derive(Debug, Clone)]
pub struct RoleManagement {
    invoker: Invoker,
}

impl RoleManagement {
    /// RoleManagement through `rpc`.
    pub fn new(rpc: RpcClient) -> Self {
        Self {
            invoker: Invoker::new(rpc),
        }
    }

    /// `getDesignatedByRole(role, index)`: the keys designated for `role` as of block `index`.
    pub async fn designated_by_role(&self, role: Role, index: u32) -> Result<Vec<PublicKey>> {
        let args = [Arg::Int((role as u8).into()), Arg::Int(index.into())];
        let item = self
            .invoker
            .call_item(&ROLE_MANAGEMENT, "getDesignatedByRole", &args)
            .await?;
        item.as_array()?
            .iter()
            .map(|k| Ok(k.as_public_key()?))
            .collect()
    }

    /// `designateAsRole(role, keys)`: committee only, so `actor` must sign as the committee
    /// account. The designation takes effect from the next block.
    pub async fn designate_as_role(
        &self,
        actor: &Actor,
        role: Role,
        keys: &[PublicKey],
    ) -> Result<TxOutcome> {
        let keys = keys.iter().map(|k| Arg::PublicKey(*k)).collect();
        let args = [Arg::Int((role as u8).into()), Arg::Array(keys)];
        actor
            .call(&ROLE_MANAGEMENT, "designateAsRole", &args)
            .await?
            .into_halt()
    }
}

/// OracleContract.
#[derive(Debug, Clone)]
pub struct Oracle {
    invoker: Invoker,
}

impl Oracle {
    /// OracleContract through `rpc`.
    pub fn new(rpc: RpcClient) -> Self {
        Self {
            invoker: Invoker::new(rpc),
        }
    }

    /// `getPrice`: GAS fractions a request costs.
    pub async fn price(&self) -> Result<i64> {
        Ok(self
            .invoker
            .call_item(&ORACLE, "getPrice", &[])
            .await?
            .as_i64()?)
    }
}

/// ContractManagement: deploy and update contracts, compute their hashes.
#[derive(Debug, Clone)]
pub struct ContractManagement {
    rpc: RpcClient,
}

/// The result of a deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployed {
    /// The new contract's hash.
    pub hash: UInt160,
    /// The deploy transaction's outcome (HALT).
    pub outcome: TxOutcome,
}

impl ContractManagement {
    /// ContractManagement through `rpc`.
    pub fn new(rpc: RpcClient) -> Self {
        Self { rpc }
    }

    /// `deploy(nef, manifest, data)` signed by `actor`; waits for the transaction and checks it
    /// halted and emitted `Deploy` for the expected hash ([`contract_hash`] of the sender, the
    /// NEF checksum and the manifest name). Deploying the same contract from the same sender twice
    /// FAULTs (the hash exists).
    pub async fn deploy(
        &self,
        actor: &Actor,
        nef: &[u8],
        manifest: &str,
        data: Arg,
    ) -> Result<Deployed> {
        let name = manifest_name(manifest)?;
        let expected = contract_hash(&actor.sender(), nef_checksum(nef)?, &name);
        let args = [
            Arg::Bytes(nef.to_vec()),
            Arg::String(manifest.to_owned()),
            data,
        ];
        let outcome = actor
            .call(&CONTRACT_MANAGEMENT, "deploy", &args)
            .await?
            .into_halt()?;
        let announced = outcome
            .events(&CONTRACT_MANAGEMENT, "Deploy")
            .filter_map(|n| n.state.as_array().ok()?.first().cloned())
            .map(|item| item.as_hash160().map_err(Error::from))
            .collect::<Result<Vec<_>>>()?;
        if !announced.contains(&expected) {
            return Err(Error::invalid(
                "deploy",
                format!("expected a Deploy event for {expected}, got {announced:?}"),
            ));
        }
        Ok(Deployed {
            hash: expected,
            outcome,
        })
    }

    /// Update `contract` to a new NEF and manifest by calling its own `update(nef, manifest,
    /// data)` method (ContractManagement.update only updates the contract that calls it, so a
    /// contract must expose such a method and check the caller's witness itself).
    pub async fn update(
        &self,
        actor: &Actor,
        contract: &UInt160,
        nef: &[u8],
        manifest: &str,
        data: Arg,
    ) -> Result<TxOutcome> {
        let args = [
            Arg::Bytes(nef.to_vec()),
            Arg::String(manifest.to_owned()),
            data,
        ];
        actor.call(contract, "update", &args).await?.into_halt()
    }

    /// The deployed contract's state (`getcontractstate`).
    pub async fn get_contract(&self, contract: &UInt160) -> Result<ContractState> {
        self.rpc.get_contract_state(contract).await
    }
}

/// The hash a contract gets when `sender` deploys it: hash160 of the script
/// `ABORT, PUSH sender, PUSH nef_checksum, PUSH name` (neo-go `state.CreateContractHash`,
/// C# `Helper.GetContractHash`).
pub fn contract_hash(sender: &UInt160, nef_checksum: u32, name: &str) -> UInt160 {
    let mut sb = ScriptBuilder::new();
    sb.emit(neo::OpCode::ABORT);
    sb.push_hash160(sender);
    sb.push_int(i64::from(nef_checksum));
    sb.push_string(name);
    UInt160::from_script(sb.as_bytes())
}

/// The checksum field of a NEF file (its last 4 bytes, little-endian).
pub fn nef_checksum(nef: &[u8]) -> Result<u32> {
    // magic(4) + compiler(64) + source(>=1) + reserved(1) + tokens(>=1) + reserved(2)
    // + script(>=1) + checksum(4)
    const MIN_NEF: usize = 78;
    if nef.len() < MIN_NEF || nef.get(..4) != Some(&0x3346_454Eu32.to_le_bytes()[..]) {
        return Err(Error::InvalidArgument("not a NEF file".into()));
    }
    let tail: [u8; 4] = nef
        .get(nef.len() - 4..)
        .and_then(|t| t.try_into().ok())
        .ok_or_else(|| Error::InvalidArgument("truncated NEF file".into()))?;
    let checksum = u32::from_le_bytes(tail);
    let body = nef.get(..nef.len() - 4).unwrap_or_default();
    let h = neo::hash256(body);
    if u32::from_le_bytes([h[0], h[1], h[2], h[3]]) != checksum {
        return Err(Error::InvalidArgument("NEF checksum mismatch".into()));
    }
    Ok(checksum)
}

fn manifest_name(manifest: &str) -> Result<String> {
    let v: serde_json::Value = serde_json::from_str(manifest)
        .map_err(|e| Error::InvalidArgument(format!("manifest is not JSON: {e}")))?;
    v.get("name")
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .ok_or_else(|| Error::InvalidArgument("manifest has no name".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_hashes_display_as_documented() {
        assert_eq!(
            GAS.to_string(),
            "0xd2a4cff31913016155e38e474a2c06d08be276cf"
        );
        assert_eq!(
            ROLE_MANAGEMENT.to_string(),
            "0x49cf4e5378ffcd4dec034fd98a174c5491e395e2"
        );
    }

    #[test]
    fn native_hashes_are_contract_hashes_of_zero_sender() {
        // Native contracts are "deployed" by the zero sender with checksum 0 under their names.
        assert_eq!(contract_hash(&UInt160::ZERO, 0, "GasToken"), GAS);
        assert_eq!(contract_hash(&UInt160::ZERO, 0, "NeoToken"), NEO);
        assert_eq!(
            contract_hash(&UInt160::ZERO, 0, "ContractManagement"),
            CONTRACT_MANAGEMENT
        );
        assert_eq!(contract_hash(&UInt160::ZERO, 0, "OracleContract"), ORACLE);
    }

    #[test]
    fn nef_checksum_is_checked() {
        let mut nef = Vec::new();
        nef.extend_from_slice(&0x3346_454Eu32.to_le_bytes());
        nef.extend_from_slice(&[0u8; 64]);
        nef.extend_from_slice(&[0, 0, 0, 0, 0]); // source "", reserved, tokens [], reserved u16
        nef.extend_from_slice(&[1, 0x40]); // script: RET
        let h = neo::hash256(&nef);
        nef.extend_from_slice(&h[..4]);
        assert_eq!(
            nef_checksum(&nef).unwrap(),
            u32::from_le_bytes([h[0], h[1], h[2], h[3]])
        );
        let last = nef.len() - 1;
        nef[last] ^= 1;
        assert!(nef_checksum(&nef).is_err());
        assert!(nef_checksum(&[1, 2, 3]).is_err());
    }
}
