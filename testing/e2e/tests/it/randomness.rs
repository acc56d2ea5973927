//! End to end: verifiable randomness through the gateway (service type `vrf`) on a real neo-go
//! privnet, answered by the oracle runtime with the node's `vrf` handler over a real software
//! vault.
//!
//! Setup: the gateway (with the vault's VRF key registered by its owner), the example dice
//! consumer (`examples/contracts/dice`) with a deposit, and the example gateway consumer.
//!
//! Checked: before any node runs, hostile answers to a pending request FAULT on chain (a
//! signature by a key that is not a node's, a proof of another alpha signed by the node, an
//! error code), a request for 17 words FAULTs and charges nothing, a `vrf` request cannot be
//! cancelled before its expiry; after it no answer is accepted and the cancel refunds fee and budget (so
//! nothing is locked forever). With the node running: a request in block N is answered (the gap is printed);
//! the test recomputes alpha from chain data (request id, requester, seed, hash of block N),
//! verifies the proof of the RandomnessFulfilled event with `nsl_vrf::verify` against the key
//! the gateway publishes, and checks that the dice contract stored exactly the words derived from
//! beta; the node's record (`GET /v1/randomness/{id}` data) is the same; a second, valid fulfil
//! of the answered request FAULTs on chain.

use std::sync::Arc;
use std::time::{Duration, Instant};

use neo::{Arg, PrivateKey, StackItem, UInt160};
use neo_rpc::types::VmState;
use neo_rpc::{
    Account, Actor, ContractManagement, Invoker, Nep17, ONE_GAS, SignerAccount, TxOutcome,
};
use nsl_e2e::{OracleChain, OracleChainConfig, compile_repo_contract, test_block_time};
use nsl_egress::{Egress, EgressPolicy};
use nsl_oracle::service::{NodeKey, OracleService, ServiceConfig};
use nsl_randomness::vrf;
use nsl_store::Store;
use tokio::sync::watch;

const SEED: &[u8] = b"table 7, round 1";

struct Env {
    oc: OracleChain,
    dice: UInt160,
    vault: Arc<nsl_enclave::SoftwareVault>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    store: Store,
}

impl Env {
    async fn read(&self, contract: &UInt160, method: &str, args: &[Arg]) -> StackItem {
        Invoker::new(self.oc.rpc().clone())
            .call_item(contract, method, args)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    async fn deposit_of(&self, account: &UInt160) -> i64 {
        self.read(&self.oc.gateway, "balanceOf", &[Arg::Hash160(*account)])
            .await
            .as_i64()
            .unwrap()
    }

    /// `dice.roll(seed, dice)` signed by the user, on chain whatever its test run says.
    async fn roll(&self, seed: &[u8], dice: i64) -> TxOutcome {
        let script = neo_rpc::call_script(
            &self.dice,
            "roll",
            &[Arg::Bytes(seed.to_vec()), Arg::Int(dice.into())],
        )
        .unwrap();
        let sent = self
            .oc
            .user
            .send_unchecked(&script, 2 * ONE_GAS)
            .await
            .expect("send roll");
        self.oc
            .user
            .wait(&sent, Duration::from_secs(60))
            .await
            .expect("roll included")
    }

    /// The node's account, signing as the runtime does (CalledByEntry AND the gateway).
    async fn node_actor(&self, key: &PrivateKey) -> Actor {
        let signer = nsl_oracle::gateway::fulfill_signer(key.script_hash(), self.oc.gateway);
        Actor::with_signers(
            self.oc.rpc().clone(),
            vec![SignerAccount::with_signer(
                Account::single(key.clone()),
                signer,
            )],
        )
        .await
        .expect("node actor")
    }

    /// `gateway.fulfill(id, code, result)` sent by `key`'s account without a test run.
    async fn fulfill_on_chain(
        &self,
        key: &PrivateKey,
        id: i64,
        code: u8,
        result: &[u8],
    ) -> TxOutcome {
        let script = neo_rpc::call_script(
            &self.oc.gateway,
            "fulfill",
            &[
                Arg::Int(id.into()),
                Arg::Int(code.into()),
                Arg::Bytes(result.to_vec()),
            ],
        )
        .unwrap();
        let actor = self.node_actor(key).await;
        let sent = actor
            .send_unchecked(&script, 3 * ONE_GAS)
            .await
            .expect("send fulfill");
        actor
            .wait(&sent, Duration::from_secs(60))
            .await
            .expect("fulfill included")
    }

    /// alpha of request `id` recomputed from chain data only.
    async fn alpha_from_chain(
        &self,
        id: i64,
        requester: &UInt160,
        seed: &[u8],
        block: u32,
    ) -> [u8; 32] {
        let hash: neo::UInt256 = self
            .oc
            .rpc()
            .call("getblockhash", serde_json::json!([block]))
            .await
            .expect("getblockhash");
        vrf::chain_alpha(
            u64::try_from(id).unwrap(),
            &requester.to_bytes_le(),
            seed,
            &hash.to_bytes_le(),
        )
    }
}

fn assert_fault(out: &TxOutcome, text: &str) {
    assert_eq!(
        out.vm_state,
        VmState::Fault,
        "expected a FAULT with {text:?}: {out:?}"
    );
    let exception = out.exception.as_deref().unwrap_or_default();
    assert!(
        exception.contains(text),
        "exception {exception:?}, expected {text:?}"
    );
}

async fn setup() -> Env {
    let oc = OracleChain::start(OracleChainConfig::with_block_time(test_block_time())).await;
    let rpc = oc.rpc().clone();
    let vault_dir = tempfile::tempdir().expect("vault dir");
    let vault = Arc::new(
        nsl_enclave::SoftwareVault::open(nsl_enclave::SoftwareVaultConfig {
            data_dir: vault_dir.path().join("vault"),
            kek: nsl_enclave::KekSource::Key(nsl_enclave::Kek::generate().expect("kek")),
        })
        .expect("vault"),
    );
    let vrf_key = nsl_enclave::Vault::vrf_public_key(&*vault).expect("vrf key");
    nsl_devchain::register_vrf_key(&oc.owner, &oc.gateway, &vrf_key)
        .await
        .expect("setVrfKey");
    let dice_c = compile_repo_contract("examples/contracts/dice/dice.py").await;
    let dice = ContractManagement::new(rpc.clone())
        .deploy(
            &oc.user,
            &dice_c.nef,
            &dice_c.manifest,
            Arg::Hash160(oc.gateway),
        )
        .await
        .expect("deploy dice")
        .hash;
    Nep17::gas(rpc.clone())
        .transfer(&oc.user, &oc.gateway, 10 * ONE_GAS, Arg::Hash160(dice))
        .await
        .and_then(TxOutcome::into_halt)
        .expect("deposit for dice");
    let db_dir = tempfile::tempdir().expect("db dir");
    let url = format!("sqlite://{}", db_dir.path().join("nsl.db").display());
    let store = Store::connect_url(&url, 4, Duration::from_secs(10))
        .await
        .expect("store");
    store.migrate(nsl_node::MIGRATIONS).await.expect("migrate");
    Env {
        oc,
        dice,
        vault,
        _dirs: (vault_dir, db_dir),
        store,
    }
}

#[tokio::test]
async fn dice_gets_verifiable_randomness_and_nobody_can_choose_or_reroll_it() {
    let env = setup().await;
    let gateway = env.oc.gateway;
    let published = env.read(&gateway, "vrfKey", &[]).await.as_bytes().unwrap();
    let vrf_pk = nsl_vrf::PublicKey::from_sec1(&published).expect("the gateway's VRF key");
    assert_eq!(
        vrf_pk.to_compressed(),
        nsl_enclave::Vault::vrf_public_key(&*env.vault).unwrap()
    );

    // 17 words: refused on chain at request time, nothing charged.
    let before = env.deposit_of(&env.dice).await;
    let hostile = env.roll(b"greedy", 17).await;
    assert_fault(&hostile, "vrf word count must be 1..16");
    assert_eq!(env.deposit_of(&env.dice).await, before, "nothing charged");
    let zero = env.roll(b"", 0).await;
    assert_fault(&zero, "vrf word count must be 1..16");

    // A pending request (no node runs yet) and hostile answers to it.
    let pending = env.roll(SEED, 2).await.into_halt().expect("roll");
    let p_id = pending.stack[0].as_i64().unwrap();
    let p_block = env
        .oc
        .rpc()
        .get_transaction_height(&pending.hash)
        .await
        .unwrap();
    let record = env
        .read(&gateway, "getRequest", &[Arg::Int(p_id.into())])
        .await;
    let record = record.as_array().unwrap();
    assert_eq!(
        record[19].as_i64().unwrap(),
        i64::from(p_block),
        "the request's block is stored"
    );
    let alpha = env.alpha_from_chain(p_id, &env.dice, SEED, p_block).await;
    let on_chain_alpha = env
        .read(&gateway, "vrfAlpha", &[Arg::Int(p_id.into())])
        .await;
    assert_eq!(
        on_chain_alpha.as_bytes().unwrap(),
        alpha,
        "vrfAlpha = the recomputed alpha"
    );
    let good = nsl_enclave::Vault::vrf_prove(&*env.vault, &alpha).unwrap();
    let node = env.oc.node_key.clone();
    let p_uid = u64::try_from(p_id).unwrap();
    // (a) the right output, signed by a key that is not a registered node: the witness check.
    let stranger = PrivateKey::generate();
    env.oc
        .chain
        .fund(&stranger.script_hash(), 10 * ONE_GAS)
        .await
        .unwrap();
    let sig = stranger.sign(&vrf::signed_message(p_uid, &alpha, &good.beta));
    let out = env
        .fulfill_on_chain(
            &stranger,
            p_id,
            0,
            &vrf::answer_bytes(&good.beta, &good.proof, &sig),
        )
        .await;
    assert_fault(&out, "caller is not a registered node");
    // (b) the node's transaction with a signature by another key.
    let out = env
        .fulfill_on_chain(
            &node,
            p_id,
            0,
            &vrf::answer_bytes(&good.beta, &good.proof, &sig),
        )
        .await;
    assert_fault(&out, "invalid vrf signature");
    // (c) the node proves and signs ANOTHER alpha (a ground input): refused.
    let mut ground = alpha;
    ground[0] ^= 0x80;
    let other = nsl_enclave::Vault::vrf_prove(&*env.vault, &ground).unwrap();
    let sig = node.sign(&vrf::signed_message(p_uid, &ground, &other.beta));
    let out = env
        .fulfill_on_chain(
            &node,
            p_id,
            0,
            &vrf::answer_bytes(&other.beta, &other.proof, &sig),
        )
        .await;
    assert_fault(&out, "invalid vrf signature");
    // (d) an error code instead of an output.
    let out = env.fulfill_on_chain(&node, p_id, 0xff, b"").await;
    assert_fault(&out, "vrf answers carry code 0");
    // (e) no cancel: a vrf request's alpha is fixed since its block.
    let consumer = env.oc.gateway_consumer;
    let c_req = env
        .oc
        .user
        .call(
            &consumer,
            "requestService",
            &[Arg::String("vrf".into()), Arg::Bytes(b"\x01x".to_vec())],
        )
        .await
        .and_then(TxOutcome::into_halt)
        .expect("consumer vrf request");
    let c_id = c_req.stack[0].as_i64().unwrap();
    let script =
        neo_rpc::call_script(&consumer, "cancelRequest", &[Arg::Int(c_id.into())]).unwrap();
    let sent = env
        .oc
        .user
        .send_unchecked(&script, 2 * ONE_GAS)
        .await
        .unwrap();
    let out = env
        .oc
        .user
        .wait(&sent, Duration::from_secs(60))
        .await
        .unwrap();
    assert_fault(&out, "vrf requests cannot be cancelled before expiry");
    // (f) an unanswered request does not lock funds: after its expiry no answer is accepted
    // and its requester takes fee and budget back; the same request is never answered after.
    let gateway = env.oc.gateway;
    let old_expiry = env.read(&gateway, "getExpiry", &[]).await.as_i64().unwrap();
    let set_expiry = |ms: i64| {
        let owner = &env.oc.owner;
        async move {
            owner
                .call(&gateway, "setExpiry", &[Arg::Int(ms.into())])
                .await
                .and_then(TxOutcome::into_halt)
                .expect("setExpiry");
        }
    };
    set_expiry(2000).await;
    let deposit = |who: UInt160| {
        let env = &env;
        async move {
            env.read(&gateway, "balanceOf", &[Arg::Hash160(who)])
                .await
                .as_i64()
                .unwrap()
        }
    };
    let before = deposit(consumer).await;
    let f_req = env
        .oc
        .user
        .call(
            &consumer,
            "requestService",
            &[Arg::String("vrf".into()), Arg::Bytes(b"\x01y".to_vec())],
        )
        .await
        .and_then(TxOutcome::into_halt)
        .expect("consumer vrf request");
    let f_id = f_req.stack[0].as_i64().unwrap();
    assert!(
        deposit(consumer).await < before,
        "the request holds fee and budget"
    );
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let out = env.fulfill_on_chain(&node, f_id, 0, b"").await;
    assert_fault(&out, "vrf request expired");
    env.oc
        .user
        .call(&consumer, "cancelRequest", &[Arg::Int(f_id.into())])
        .await
        .and_then(TxOutcome::into_halt)
        .expect("cancel after expiry");
    assert_eq!(deposit(consumer).await, before, "fee and budget refunded");
    let out = env.fulfill_on_chain(&node, f_id, 0, b"").await;
    assert_fault(&out, "request cancelled");
    set_expiry(old_expiry).await;
    assert!(
        env.read(&env.dice, "isPending", &[Arg::Int(p_id.into())])
            .await
            .as_bool()
            .unwrap(),
        "hostile answers left the roll pending"
    );

    // The node: the oracle runtime with the `vrf` handler over the vault.
    let chain_view: Arc<dyn nsl_randomness::GatewayView> = Arc::new(
        nsl_randomness::RpcGatewayView::new(env.oc.rpc().clone(), gateway),
    );
    let service = nsl_randomness::RandomnessService::new(
        env.store.clone(),
        Arc::new(nsl_node::services::VaultProver(env.vault.clone())),
        Some(chain_view),
        &nsl_config::RandomnessConfig::default(),
    );
    let key = service.key().await.expect("key");
    assert_eq!(key.gateway, nsl_randomness::GatewayKeyStatus::Registered);
    let runtime = OracleService::new(
        Arc::new(env.store.clone()),
        env.oc.rpc().clone(),
        Egress::new(EgressPolicy::default()).expect("egress"),
        NodeKey(node.clone()),
        ServiceConfig {
            gateway: Some(gateway),
            poll_interval: test_block_time() / 2,
            start_block: Some(0),
            ..ServiceConfig::default()
        },
        vec![
            nsl_randomness::RandomnessGatewayHandler::new(service.clone(), node.clone())
                .into_handler(),
        ],
    )
    .await
    .expect("oracle service");
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(runtime.run(rx));

    // A fresh roll while the node runs: request in block N.
    let seed = b"table 7, round 2";
    let roll = env.roll(seed, 3).await.into_halt().expect("roll");
    let id = roll.stack[0].as_i64().unwrap();
    let n = env
        .oc
        .rpc()
        .get_transaction_height(&roll.hash)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let words = loop {
        let w = env
            .read(&env.dice, "getWords", &[Arg::Int(id.into())])
            .await
            .as_bytes()
            .unwrap();
        if !w.is_empty() {
            break w;
        }
        assert!(Instant::now() < deadline, "roll {id} not answered");
        tokio::time::sleep(test_block_time() / 2).await;
    };
    // The answering transaction and its block, from the node's store.
    let row = {
        let rows = nsl_oracle::service::OracleStore::list_requests(
            &env.store,
            &nsl_oracle::service::RequestFilter {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        rows.into_iter()
            .find(|r| r.request_id == id)
            .expect("the node's row")
    };
    let fulfil_hash: neo::UInt256 = loop {
        let detail = nsl_oracle::service::OracleStore::request(&env.store, &row.id)
            .await
            .unwrap()
            .unwrap();
        if let Some(h) = detail.request.response_tx_hash {
            break h.parse().unwrap();
        }
        tokio::time::sleep(test_block_time()).await;
    };
    let answered_in = env
        .oc
        .rpc()
        .get_transaction_height(&fulfil_hash)
        .await
        .unwrap();
    println!(
        "vrf request {id} in block {n}, answered in block {answered_in} (gap {}; {} ms blocks)",
        answered_in - n,
        test_block_time().as_millis()
    );
    assert!(answered_in > n);
    let record = env
        .read(&gateway, "getRequest", &[Arg::Int(id.into())])
        .await;
    let record = record.as_array().unwrap();
    assert_eq!(record[11].as_i64().unwrap(), 1, "fulfilled");
    println!(
        "vrf request {id} (3 words): response fees charged {} GAS fractions",
        record[17].as_i64().unwrap()
    );

    // Verify independently: alpha from chain data, the proof of the event with the published key.
    let alpha = env.alpha_from_chain(id, &env.dice, seed, n).await;
    let log = env
        .oc
        .rpc()
        .get_application_log(&fulfil_hash)
        .await
        .unwrap();
    let event = log
        .executions
        .iter()
        .flat_map(|e| e.notifications.iter())
        .find(|n| n.contract == gateway && n.eventname == "RandomnessFulfilled")
        .expect("RandomnessFulfilled");
    let fields = event.state.as_array().unwrap();
    assert_eq!(fields[0].as_i64().unwrap(), id);
    assert_eq!(
        fields[1].as_bytes().unwrap(),
        alpha,
        "the gateway used the chain's alpha"
    );
    let beta = fields[2].as_bytes().unwrap();
    let proof = nsl_vrf::Proof::from_bytes(&fields[3].as_bytes().unwrap()).expect("proof");
    let verified = nsl_vrf::verify(&vrf_pk, &alpha, &proof).expect("the proof verifies");
    assert_eq!(verified.to_vec(), beta);
    let expect: Vec<u8> = nsl_vrf::words(&verified, 3).concat();
    assert_eq!(words, expect, "the dice got the words of the verified beta");
    let dice = env.read(&env.dice, "getDice", &[Arg::Int(id.into())]).await;
    let dice: Vec<i64> = dice
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_i64().unwrap())
        .collect();
    let mut want = Vec::new();
    for w in nsl_vrf::words(&verified, 3) {
        // The first 8 bytes, unsigned little-endian, mod 6, + 1 (as the dice contract rolls).
        let low = u64::from_le_bytes(w[..8].try_into().unwrap());
        want.push(i64::try_from(low % 6).unwrap() + 1);
    }
    assert_eq!(dice, want);
    // The node's record (what GET /v1/randomness/{id} shows) is the same.
    let account = nsl_primitives::AccountId::new_random();
    let served = service.get(account, &id.to_string()).await.expect("record");
    assert_eq!(served.record.alpha, alpha);
    assert_eq!(served.record.beta, beta);
    assert_eq!(served.record.proof, proof.to_bytes());
    assert_eq!(served.record.block_index, Some(i64::from(n)));

    // A second, valid answer for the same request: never answered twice.
    let out_again = nsl_enclave::Vault::vrf_prove(&*env.vault, &alpha).unwrap();
    let sig = node.sign(&vrf::signed_message(
        u64::try_from(id).unwrap(),
        &alpha,
        &out_again.beta,
    ));
    let out = env
        .fulfill_on_chain(
            &node,
            id,
            0,
            &vrf::answer_bytes(&out_again.beta, &out_again.proof, &sig),
        )
        .await;
    assert_fault(&out, "already fulfilled");

    // The request made before the node ran is answered too, with its own verified output.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let w = env
            .read(&env.dice, "getWords", &[Arg::Int(p_id.into())])
            .await
            .as_bytes()
            .unwrap();
        if !w.is_empty() {
            assert_eq!(w, nsl_vrf::words(&good.beta, 2).concat());
            break;
        }
        assert!(Instant::now() < deadline, "roll {p_id} not answered");
        tokio::time::sleep(test_block_time() / 2).await;
    }

    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}
