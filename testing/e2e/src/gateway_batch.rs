//! A privnet with the gateway, one registered node and several example consumers (each deployed
//! by its own account), for the batched-answer tests (`tests/gateway_batch.rs`) and the
//! `gateway-batch-bench` binary.

use neo::{Arg, PrivateKey, StackItem, UInt160};
use neo_rpc::{Account, Actor, ContractManagement, Invoker, Nep17, ONE_GAS, SentTx};
use nsl_devchain::{ChainConfig, DevChain};
use nsl_oracle::gateway::fulfill_signer;

/// Request record fields (docs/gateway.md).
pub mod rec {
    /// 11: 0 pending, 1 fulfilled, 2 cancelled.
    pub const STATUS: usize = 11;
    /// 12: response code, -1 until fulfilled.
    pub const CODE: usize = 12;
    /// 14: whether the callback returned normally.
    pub const CALLBACK_OK: usize = 14;
    /// 16: the request's GAS budget.
    pub const GAS_BUDGET: usize = 16;
    /// 17: the fees charged to the request.
    pub const RESPONSE_FEES: usize = 17;
    /// 18: the sender of the fulfilling transaction.
    pub const ANSWERED_BY: usize = 18;
}

/// One example consumer and the account that deployed (and owns) it.
pub struct Consumer {
    /// The consumer contract.
    pub hash: UInt160,
    /// Its owner (may call `requestValue`, `setGasBudget`).
    pub owner: Actor,
}

/// The chain, the gateway, a registered node (signing as [`fulfill_signer`]) and consumers.
pub struct BatchEnv {
    /// The privnet.
    pub chain: DevChain,
    /// The gateway contract.
    pub gateway: UInt160,
    /// The gateway's owner.
    pub owner: Actor,
    /// The node's actor, signer `Allow And(CalledByEntry, ScriptHash(gateway))`.
    pub node: Actor,
    /// The consumers.
    pub consumers: Vec<Consumer>,
}

async fn funded(chain: &DevChain, gas: i64) -> (PrivateKey, Actor) {
    let key = chain
        .new_funded_account(gas * ONE_GAS)
        .await
        .expect("funding");
    let actor = Actor::new(chain.rpc().clone(), vec![Account::single(key.clone())])
        .await
        .expect("actor");
    (key, actor)
}

impl BatchEnv {
    /// Start a chain with `config`, deploy the gateway (the source `nsl dev` embeds) and
    /// `consumers` example consumers, each with `deposit` GAS fractions at the gateway; register a
    /// node key holding `node_gas` GAS.
    pub async fn start(config: ChainConfig, consumers: usize, deposit: i64, node_gas: i64) -> Self {
        let (chain, gateway_contract, consumer_contract) = tokio::join!(
            crate::start_chain_with(config),
            crate::compile_gateway(),
            crate::compile_repo_contract("examples/contracts/gateway_consumer/gateway_consumer.py"),
        );
        let rpc = chain.rpc().clone();
        let (_, owner) = funded(&chain, 100).await;
        let (node_key, _) = funded(&chain, node_gas / ONE_GAS + 1).await;
        let cm = ContractManagement::new(rpc.clone());
        let gateway = cm
            .deploy(
                &owner,
                &gateway_contract.nef,
                &gateway_contract.manifest,
                Arg::Null,
            )
            .await
            .expect("gateway deploys")
            .hash;
        owner
            .call(
                &gateway,
                "addNode",
                &[Arg::PublicKey(node_key.public_key())],
            )
            .await
            .expect("addNode")
            .into_halt()
            .expect("addNode halts");
        let node = Actor::with_signers(
            rpc.clone(),
            vec![neo_rpc::SignerAccount::with_signer(
                Account::single(node_key.clone()),
                fulfill_signer(node_key.script_hash(), gateway),
            )],
        )
        .await
        .expect("node actor");

        let mut list = Vec::new();
        for _ in 0..consumers {
            let (_, user) = funded(&chain, deposit / ONE_GAS + 50).await;
            let hash = cm
                .deploy(
                    &user,
                    &consumer_contract.nef,
                    &consumer_contract.manifest,
                    Arg::Hash160(gateway),
                )
                .await
                .expect("consumer deploys")
                .hash;
            Nep17::gas(rpc.clone())
                .transfer(&user, &gateway, deposit, Arg::Hash160(hash))
                .await
                .expect("deposit")
                .into_halt()
                .expect("deposit halts");
            list.push(Consumer { hash, owner: user });
        }
        BatchEnv {
            chain,
            gateway,
            owner,
            node,
            consumers: list,
        }
    }

    /// A read-only call.
    pub async fn read(&self, contract: &UInt160, method: &str, args: &[Arg]) -> StackItem {
        Invoker::new(self.chain.rpc().clone())
            .call_item(contract, method, args)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// A gateway deposit.
    pub async fn deposit_of(&self, account: &UInt160) -> i64 {
        self.read(&self.gateway, "balanceOf", &[Arg::Hash160(*account)])
            .await
            .as_i64()
            .expect("integer balance")
    }

    /// The gateway's record of request `id`.
    pub async fn record(&self, id: u64) -> Vec<StackItem> {
        self.read(&self.gateway, "getRequest", &[Arg::Int(id.into())])
            .await
            .as_array()
            .expect("record array")
            .to_vec()
    }

    /// Consumer `i` asks for a value (sent, not waited for).
    pub async fn send_request(&self, i: usize) -> SentTx {
        let c = &self.consumers[i];
        let script = neo_rpc::call_script(
            &c.hash,
            "requestValue",
            &[
                Arg::String("https://x.example".into()),
                Arg::String("$.x".into()),
            ],
        )
        .expect("script");
        // Requests sent in one block see other request ids than their test run (an id one byte
        // longer costs a little more storage): a margin over the test run.
        let test = c
            .owner
            .invoker()
            .invoke_script(&script)
            .await
            .expect("requestValue test run")
            .into_halt()
            .expect("requestValue test run halts");
        c.owner
            .send_unchecked(&script, test.gasconsumed + ONE_GAS / 100)
            .await
            .expect("requestValue sent")
    }

    /// Consumer `i` asks for a value; returns the gateway's request id.
    pub async fn request(&self, i: usize) -> u64 {
        let sent = self.send_request(i).await;
        self.request_id(i, &sent).await
    }

    /// The request id of a `requestValue` sent by consumer `i`, once included.
    pub async fn request_id(&self, i: usize, sent: &SentTx) -> u64 {
        let owner = &self.consumers[i].owner;
        let out = owner
            .wait(sent, owner.wait_timeout())
            .await
            .expect("requestValue included")
            .into_halt()
            .expect("requestValue halts");
        out.stack[0].as_u64().expect("request id")
    }

    /// Deploy `testing/e2e/contracts/hostile_consumer.py` (by consumer 0's owner) with a 5 GAS
    /// deposit, and open one `burn` request: its callback is cheap in a test run and loops until
    /// out of GAS in a block. Returns (contract, request id).
    pub async fn hostile_burn_request(&self) -> (UInt160, u64) {
        let contract =
            crate::compile_repo_contract("testing/e2e/contracts/hostile_consumer.py").await;
        let user = &self.consumers[0].owner;
        let rpc = self.chain.rpc().clone();
        let hostile = ContractManagement::new(rpc.clone())
            .deploy(
                user,
                &contract.nef,
                &contract.manifest,
                Arg::Hash160(self.gateway),
            )
            .await
            .expect("deploy the hostile consumer")
            .hash;
        Nep17::gas(rpc)
            .transfer(user, &self.gateway, 5 * ONE_GAS, Arg::Hash160(hostile))
            .await
            .expect("deposit")
            .into_halt()
            .expect("deposit halts");
        let id = user
            .call(&hostile, "burn", &[Arg::String("https://x.example".into())])
            .await
            .expect("burn")
            .into_halt()
            .expect("burn halts")
            .stack[0]
            .as_u64()
            .expect("request id");
        (hostile, id)
    }

    /// Consumer `i`'s owner sets the GAS budget of its next requests.
    pub async fn set_budget(&self, i: usize, budget: i64) {
        let c = &self.consumers[i];
        c.owner
            .call(&c.hash, "setGasBudget", &[Arg::Int(budget.into())])
            .await
            .expect("setGasBudget")
            .into_halt()
            .expect("setGasBudget halts");
    }
}
