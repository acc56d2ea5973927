//! Layer 2: test invocations (nothing is sent; no GAS is spent) with typed stack results.

use neo::tx::Signer;
use neo::{Arg, CallFlags, ScriptBuilder, UInt160};

use crate::client::RpcClient;
use crate::error::{Error, Result};
use crate::types::{InvokeResult, VmState};
use neo::StackItem;

/// Runs scripts and contract methods with `invokescript`, as the given signers.
#[derive(Debug, Clone)]
pub struct Invoker {
    rpc: RpcClient,
    signers: Vec<Signer>,
}

impl Invoker {
    /// An invoker without signers (enough for read-only methods).
    pub fn new(rpc: RpcClient) -> Self {
        Self {
            rpc,
            signers: Vec::new(),
        }
    }

    /// An invoker whose test runs see `signers` as witnesses (`CheckWitness` succeeds for them).
    pub fn with_signers(rpc: RpcClient, signers: Vec<Signer>) -> Self {
        Self { rpc, signers }
    }

    /// The RPC client.
    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    /// The signers of test runs.
    pub fn signers(&self) -> &[Signer] {
        &self.signers
    }

    /// Test-run `script`. A FAULT is returned as a result (see [`InvokeResult::into_halt`]).
    pub async fn invoke_script(&self, script: &[u8]) -> Result<InvokeResult> {
        self.rpc.invoke_script(script, &self.signers).await
    }

    /// Test-run `contract.method(args)` with `CallFlags::ALL`. A FAULT is returned as a result.
    pub async fn call(
        &self,
        contract: &UInt160,
        method: &str,
        args: &[Arg],
    ) -> Result<InvokeResult> {
        let script = call_script(contract, method, args)?;
        self.invoke_script(&script).await
    }

    /// Test-run `contract.method(args)` and return its single result item; FAULT is an error.
    pub async fn call_item(
        &self,
        contract: &UInt160,
        method: &str,
        args: &[Arg],
    ) -> Result<StackItem> {
        self.call(contract, method, args)
            .await?
            .into_halt()?
            .into_single(method)
    }
}

/// The script `contract.method(args)` with `CallFlags::ALL`.
pub fn call_script(contract: &UInt160, method: &str, args: &[Arg]) -> Result<Vec<u8>> {
    let mut sb = ScriptBuilder::new();
    sb.contract_call(contract, method, CallFlags::ALL, args)?;
    Ok(sb.into_bytes())
}

impl InvokeResult {
    /// `Ok(self)` if the VM halted, else [`Error::Fault`] with the exception text.
    pub fn into_halt(self) -> Result<Self> {
        match self.state {
            VmState::Halt => Ok(self),
            _ => Err(Error::Fault {
                exception: self
                    .exception
                    .unwrap_or_else(|| format!("VM state {}", self.state)),
            }),
        }
    }

    /// The only item on the result stack.
    pub fn into_single(self, what: &str) -> Result<StackItem> {
        let n = self.stack.len();
        let mut stack = self.stack;
        match (stack.pop(), n) {
            (Some(item), 1) => Ok(item),
            _ => Err(Error::invalid(
                what,
                format!("expected 1 result item, got {n}"),
            )),
        }
    }
}
