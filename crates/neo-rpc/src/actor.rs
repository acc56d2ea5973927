//! Layer 3: build, sign, send and follow transactions.
//!
//! ```text
//! script ─▶ invokescript as the signers ──FAULT──▶ Error::Fault(exception)
//!             │ HALT: system fee = gasconsumed
//!             ▼
//!   tx { nonce, sysfee, validUntilBlock = height + MaxValidUntilBlockIncrement, signers }
//!   ─▶ placeholder witnesses ─▶ calculatenetworkfee ─▶ sign (magic || hash) per account
//!   ─▶ sendrawtransaction ─▶ poll gettransactionheight ─▶ getapplicationlog ─▶ TxOutcome
//! ```

use std::time::{Duration, Instant};

use neo::tx::{Signer, Transaction, WitnessScope};
use neo::{Arg, UInt160, UInt256};

use crate::account::Account;
use crate::client::RpcClient;
use crate::error::{Error, Result, codes};
use crate::invoker::{Invoker, call_script};
use crate::types::{Notification, VmState};
use neo::StackItem;

/// Default time to wait for a sent transaction to be included.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// The generic "unknown" code of nodes older than NEP-23.
const RPC_UNKNOWN_LEGACY: i64 = -100;

/// A signer account and the scope of its witness.
#[derive(Debug, Clone)]
pub struct SignerAccount {
    /// The account (and its keys).
    pub account: Account,
    /// The transaction signer (account hash, scopes, allowed contracts...).
    pub signer: Signer,
}

impl SignerAccount {
    /// `account` with the `CalledByEntry` scope.
    pub fn called_by_entry(account: Account) -> Self {
        let signer = Signer::new(account.script_hash(), WitnessScope::CALLED_BY_ENTRY);
        Self { account, signer }
    }

    /// `account` with the given signer (its `account` field is set to the account's hash).
    pub fn with_signer(account: Account, mut signer: Signer) -> Self {
        signer.account = account.script_hash();
        Self { account, signer }
    }
}

/// A transaction that was accepted by the node (not yet included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentTx {
    /// The transaction hash.
    pub hash: UInt256,
    /// The last block that may include it.
    pub valid_until_block: u32,
    /// The system fee paid (GAS fractions).
    pub system_fee: i64,
    /// The network fee paid (GAS fractions).
    pub network_fee: i64,
}

/// What happened to an included transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct TxOutcome {
    /// The transaction hash.
    pub hash: UInt256,
    /// Height of the block that included it.
    pub block_index: u32,
    /// HALT or FAULT. A FAULTed transaction is included and pays its fees, but changes nothing.
    pub vm_state: VmState,
    /// The VM exception text when FAULT.
    pub exception: Option<String>,
    /// GAS consumed by the script (fractions).
    pub gas_consumed: i64,
    /// System fee the transaction paid (fractions).
    pub system_fee: i64,
    /// Network fee the transaction paid (fractions).
    pub network_fee: i64,
    /// Notifications, in order.
    pub notifications: Vec<Notification>,
    /// The result stack.
    pub stack: Vec<StackItem>,
}

impl TxOutcome {
    /// Whether the script halted.
    pub fn is_halt(&self) -> bool {
        self.vm_state.is_halt()
    }

    /// `Ok(self)` on HALT, else [`Error::Fault`] with the exception.
    pub fn into_halt(self) -> Result<Self> {
        if self.is_halt() {
            Ok(self)
        } else {
            Err(Error::Fault {
                exception: self
                    .exception
                    .unwrap_or_else(|| format!("VM state {}", self.vm_state)),
            })
        }
    }

    /// Notifications named `event` emitted by `contract`.
    pub fn events<'a>(
        &'a self,
        contract: &'a UInt160,
        event: &'a str,
    ) -> impl Iterator<Item = &'a Notification> + 'a {
        self.notifications
            .iter()
            .filter(move |n| &n.contract == contract && n.eventname == event)
    }
}

/// Chain values for [`Actor::make_tx_local`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalFees {
    /// Current block index (transactions are valid until `height + MaxValidUntilBlockIncrement`).
    pub height: u32,
    /// Policy `getFeePerByte`.
    pub fee_per_byte: i64,
    /// Policy `getExecFeeFactor`.
    pub exec_fee_factor: i64,
}

/// Sends transactions signed by one or more accounts; the first pays the fees.
#[derive(Debug, Clone)]
pub struct Actor {
    invoker: Invoker,
    accounts: Vec<SignerAccount>,
    magic: u32,
    max_increment: u32,
    poll: Duration,
    wait_timeout: Duration,
}

impl Actor {
    /// An actor for `accounts` (each with `CalledByEntry`), reading the network magic,
    /// MaxValidUntilBlockIncrement and block time from `getversion`.
    pub async fn new(rpc: RpcClient, accounts: Vec<Account>) -> Result<Self> {
        let accounts = accounts
            .into_iter()
            .map(SignerAccount::called_by_entry)
            .collect();
        Self::with_signers(rpc, accounts).await
    }

    /// An actor with explicit signers (scopes, allowed contracts).
    pub async fn with_signers(rpc: RpcClient, accounts: Vec<SignerAccount>) -> Result<Self> {
        if accounts.is_empty() {
            return Err(Error::InvalidArgument(
                "an actor needs at least one account".into(),
            ));
        }
        for (i, a) in accounts.iter().enumerate() {
            if accounts
                .iter()
                .skip(i + 1)
                .any(|b| b.signer.account == a.signer.account)
            {
                return Err(Error::InvalidArgument(format!(
                    "account {} is given twice; each signer may appear once",
                    a.account.address()
                )));
            }
        }
        let version = rpc.get_version().await?;
        let p = version.protocol;
        let poll = Duration::from_millis((p.msperblock / 4).clamp(20, 1000));
        let signers = accounts.iter().map(|a| a.signer.clone()).collect();
        Ok(Self {
            invoker: Invoker::with_signers(rpc, signers),
            accounts,
            magic: p.network,
            max_increment: p.maxvaliduntilblockincrement,
            poll,
            wait_timeout: DEFAULT_WAIT,
        })
    }

    /// Change how long [`Actor::run`] waits for inclusion.
    pub fn with_wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// The RPC client.
    pub fn rpc(&self) -> &RpcClient {
        self.invoker.rpc()
    }

    /// An invoker with this actor's signers.
    pub fn invoker(&self) -> &Invoker {
        &self.invoker
    }

    /// The network magic transactions are signed for.
    pub fn network_magic(&self) -> u32 {
        self.magic
    }

    /// The paying account (first signer).
    pub fn sender(&self) -> UInt160 {
        self.accounts
            .first()
            .map(|a| a.account.script_hash())
            .unwrap_or_default()
    }

    /// Build and sign a transaction running `script`; FAULT in the test run is an error.
    pub async fn make_tx(&self, script: &[u8]) -> Result<Transaction> {
        let test = self.invoker.invoke_script(script).await?.into_halt()?;
        self.make_tx_unchecked(script, test.gasconsumed).await
    }

    /// Build and sign a transaction running `script` with the given system fee, without a test
    /// run: the transaction may FAULT on chain (it is still included and pays its fees).
    pub async fn make_tx_unchecked(&self, script: &[u8], system_fee: i64) -> Result<Transaction> {
        let height = self.rpc().get_block_count().await?.saturating_sub(1);
        let mut tx = self.unsigned_tx(script, system_fee, height);
        tx.network_fee = self.rpc().calculate_network_fee(&tx.to_bytes()).await?;
        self.sign(&mut tx)?;
        Ok(tx)
    }

    /// Build and sign a transaction without any RPC call: `valid_until_block` from `fees.height`
    /// and the network fee computed locally ([`Account::verification_gas`] plus the size fee).
    /// For services that build many transactions per block and track the chain's height and
    /// fee policy themselves; check the result against [`Actor::make_tx_unchecked`] once
    /// (`calculatenetworkfee`) before relying on it.
    pub fn make_tx_local(
        &self,
        script: &[u8],
        system_fee: i64,
        fees: &LocalFees,
    ) -> Result<Transaction> {
        let mut tx = self.make_unsigned_local(script, system_fee, fees);
        self.sign(&mut tx)?;
        Ok(tx)
    }

    /// [`Actor::make_tx_local`] without the signatures (placeholder witnesses): the fees are
    /// final, so a caller can check them against a ceiling before anything is signed, then
    /// [`Actor::sign`].
    pub fn make_unsigned_local(
        &self,
        script: &[u8],
        system_fee: i64,
        fees: &LocalFees,
    ) -> Transaction {
        let mut tx = self.unsigned_tx(script, system_fee, fees.height);
        let size = i64::try_from(tx.to_bytes().len()).unwrap_or(i64::MAX);
        tx.network_fee = self
            .accounts
            .iter()
            .map(|a| a.account.verification_gas(fees.exec_fee_factor))
            .sum::<i64>()
            .saturating_add(size.saturating_mul(fees.fee_per_byte));
        tx
    }

    /// The Policy values [`Actor::make_tx_local`] needs, read now (`height` is the current
    /// block index).
    pub async fn local_fees(&self) -> Result<LocalFees> {
        let policy = crate::native::Policy::new(self.rpc().clone());
        let (count, fee_per_byte, exec_fee_factor) = tokio::try_join!(
            self.rpc().get_block_count(),
            policy.fee_per_byte(),
            policy.exec_fee_factor()
        )?;
        Ok(LocalFees {
            height: count.saturating_sub(1),
            fee_per_byte,
            exec_fee_factor,
        })
    }

    /// A transaction from this actor's signers running `script`, valid until `height` +
    /// MaxValidUntilBlockIncrement, with placeholder witnesses (sized for fee calculation) and no
    /// network fee yet.
    fn unsigned_tx(&self, script: &[u8], system_fee: i64, height: u32) -> Transaction {
        Transaction {
            version: 0,
            nonce: rand_nonce(),
            system_fee,
            network_fee: 0,
            valid_until_block: height.saturating_add(self.max_increment),
            signers: self.accounts.iter().map(|a| a.signer.clone()).collect(),
            attributes: Vec::new(),
            script: script.to_vec(),
            witnesses: self
                .accounts
                .iter()
                .map(|a| a.account.placeholder_witness())
                .collect(),
        }
    }

    /// Replace the witnesses of `tx` with this actor's signatures (in signer order).
    pub fn sign(&self, tx: &mut Transaction) -> Result<()> {
        let data = tx.signing_data(self.magic);
        tx.witnesses = self
            .accounts
            .iter()
            .map(|a| a.account.witness(&data))
            .collect::<Result<_>>()?;
        Ok(())
    }

    /// Build, sign and send a transaction running `script`.
    pub async fn send(&self, script: &[u8]) -> Result<SentTx> {
        let tx = self.make_tx(script).await?;
        self.send_tx(&tx).await
    }

    /// Like [`Actor::send`] with an explicit system fee and no test run (see
    /// [`Actor::make_tx_unchecked`]).
    pub async fn send_unchecked(&self, script: &[u8], system_fee: i64) -> Result<SentTx> {
        let tx = self.make_tx_unchecked(script, system_fee).await?;
        self.send_tx(&tx).await
    }

    /// Send a signed transaction.
    pub async fn send_tx(&self, tx: &Transaction) -> Result<SentTx> {
        let hash = self.rpc().send_raw_transaction(&tx.to_bytes()).await?;
        tracing::debug!(target: "neo_rpc", %hash, sysfee = tx.system_fee, netfee = tx.network_fee, "sent");
        Ok(SentTx {
            hash,
            valid_until_block: tx.valid_until_block,
            system_fee: tx.system_fee,
            network_fee: tx.network_fee,
        })
    }

    /// Send `script` and wait for its inclusion (up to the actor's wait timeout).
    pub async fn run(&self, script: &[u8]) -> Result<TxOutcome> {
        let sent = self.send(script).await?;
        self.wait(&sent, self.wait_timeout).await
    }

    /// Send `contract.method(args)` (CallFlags::ALL) and wait for its inclusion.
    pub async fn call(&self, contract: &UInt160, method: &str, args: &[Arg]) -> Result<TxOutcome> {
        self.run(&call_script(contract, method, args)?).await
    }

    /// The wait timeout [`Actor::run`] uses.
    pub fn wait_timeout(&self) -> Duration {
        self.wait_timeout
    }

    /// Wait until `sent` is in a block and read its execution from the application log.
    pub async fn wait(&self, sent: &SentTx, timeout: Duration) -> Result<TxOutcome> {
        wait_for(self.rpc(), sent, timeout, self.poll).await
    }
}

/// Poll until `sent` is included, then read its application log.
pub async fn wait_for(
    rpc: &RpcClient,
    sent: &SentTx,
    timeout: Duration,
    poll: Duration,
) -> Result<TxOutcome> {
    let started = Instant::now();
    let block_index = loop {
        match rpc.get_transaction_height(&sent.hash).await {
            Ok(h) => break h,
            Err(e)
                if matches!(
                    e.rpc_code(),
                    Some(
                        RPC_UNKNOWN_LEGACY
                            | codes::UNKNOWN_TRANSACTION
                            | codes::UNKNOWN_SCRIPT_CONTAINER
                    )
                ) => {}
            Err(e) if e.is_transport() && started.elapsed() < timeout => {
                tracing::debug!(target: "neo_rpc", error = %e, "retrying after a transport error");
            }
            Err(e) => return Err(e),
        }
        if started.elapsed() >= timeout {
            return Err(Error::NotIncluded {
                hash: sent.hash,
                waited: started.elapsed(),
            });
        }
        if let Ok(count) = rpc.get_block_count().await
            && count.saturating_sub(1) > sent.valid_until_block
        {
            return Err(Error::Expired {
                hash: sent.hash,
                valid_until_block: sent.valid_until_block,
            });
        }
        tokio::time::sleep(poll).await;
    };
    let log = rpc.get_application_log(&sent.hash).await?;
    let exec = log
        .executions
        .into_iter()
        .find(|e| e.trigger.eq_ignore_ascii_case("Application"))
        .ok_or_else(|| Error::invalid("getapplicationlog", "no Application execution"))?;
    Ok(TxOutcome {
        hash: sent.hash,
        block_index,
        vm_state: exec.vmstate,
        exception: exec.exception,
        gas_consumed: exec.gasconsumed,
        system_fee: sent.system_fee,
        network_fee: sent.network_fee,
        notifications: exec.notifications,
        stack: exec.stack,
    })
}

/// A random transaction nonce.
fn rand_nonce() -> u32 {
    rand::random()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn duplicate_and_missing_accounts_are_refused_before_any_call() {
        // Port 9 (discard) is never contacted: validation comes first.
        let rpc = RpcClient::new("http://127.0.0.1:9").unwrap();
        let key = neo::PrivateKey::generate();
        let twice = vec![Account::single(key.clone()), Account::single(key)];
        assert!(matches!(
            Actor::new(rpc.clone(), twice).await,
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            Actor::new(rpc, Vec::new()).await,
            Err(Error::InvalidArgument(_))
        ));
    }
}
