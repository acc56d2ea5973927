//! Layer 4: NEP-17 fungible tokens (GAS, NEO and any contract token).

use neo::{Arg, BigInt, CallFlags, OpCode, ScriptBuilder, UInt160};

use crate::actor::{Actor, TxOutcome};
use crate::client::RpcClient;
use crate::error::Result;
use crate::invoker::Invoker;
use crate::native;

/// One GAS in fractions (GAS has 8 decimals).
pub const ONE_GAS: i64 = 100_000_000;

/// A NEP-17 token contract.
#[derive(Debug, Clone)]
pub struct Nep17 {
    invoker: Invoker,
    hash: UInt160,
}

impl Nep17 {
    /// The token at `hash`.
    pub fn new(rpc: RpcClient, hash: UInt160) -> Self {
        Self {
            invoker: Invoker::new(rpc),
            hash,
        }
    }

    /// The native GAS token.
    pub fn gas(rpc: RpcClient) -> Self {
        Self::new(rpc, native::GAS)
    }

    /// The native NEO token.
    pub fn neo(rpc: RpcClient) -> Self {
        Self::new(rpc, native::NEO)
    }

    /// The token's contract hash.
    pub fn hash(&self) -> UInt160 {
        self.hash
    }

    /// `symbol()`.
    pub async fn symbol(&self) -> Result<String> {
        Ok(self
            .invoker
            .call_item(&self.hash, "symbol", &[])
            .await?
            .as_string()?)
    }

    /// `decimals()`.
    pub async fn decimals(&self) -> Result<u8> {
        let d = self
            .invoker
            .call_item(&self.hash, "decimals", &[])
            .await?
            .as_i64()?;
        u8::try_from(d).map_err(|_| {
            crate::Error::invalid("decimals", format!("{d} is not a valid decimals value"))
        })
    }

    /// `totalSupply()` in the token's smallest unit.
    pub async fn total_supply(&self) -> Result<BigInt> {
        let item = self
            .invoker
            .call_item(&self.hash, "totalSupply", &[])
            .await?;
        Ok(item.as_int()?)
    }

    /// `balanceOf(account)` in the token's smallest unit.
    pub async fn balance_of(&self, account: &UInt160) -> Result<BigInt> {
        let args = [Arg::Hash160(*account)];
        let item = self
            .invoker
            .call_item(&self.hash, "balanceOf", &args)
            .await?;
        Ok(item.as_int()?)
    }

    /// The script `transfer(from, to, amount, data)` followed by `ASSERT`, so that a transfer the
    /// token refuses (returns false: insufficient balance, missing witness) FAULTs.
    pub fn transfer_script(
        &self,
        from: &UInt160,
        to: &UInt160,
        amount: impl Into<BigInt>,
        data: Arg,
    ) -> Result<Vec<u8>> {
        let mut sb = ScriptBuilder::new();
        sb.contract_call(
            &self.hash,
            "transfer",
            CallFlags::ALL,
            &[
                Arg::Hash160(*from),
                Arg::Hash160(*to),
                Arg::Int(amount.into()),
                data,
            ],
        )?;
        sb.emit(OpCode::ASSERT);
        Ok(sb.into_bytes())
    }

    /// Transfer `amount` from the actor's sender to `to` and wait for the transaction.
    /// A refused transfer is caught by the test invocation ([`crate::Error::Fault`]).
    pub async fn transfer(
        &self,
        actor: &Actor,
        to: &UInt160,
        amount: impl Into<BigInt>,
        data: Arg,
    ) -> Result<TxOutcome> {
        let script = self.transfer_script(&actor.sender(), to, amount, data)?;
        actor.run(&script).await
    }
}
