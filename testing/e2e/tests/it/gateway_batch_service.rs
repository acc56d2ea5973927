//! The running oracle service batches gateway answers (docs/gateway.md "Batched answers",
//! `oracle.max_batch`) on a real neo-go privnet: a burst of requests is answered in fewer
//! transactions than requests, each consumer holding its own answer; a hostile consumer in the
//! burst whose callback FAULTs only on chain sinks its batch once, after which every honest
//! request is answered alone, exactly once, and the hostile one ends `failed`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use neo::{Arg, UInt160};
use neo_rpc::{ContractManagement, Invoker, Nep17, ONE_GAS, SentTx};
use nsl_e2e::{OracleChain, OracleChainConfig, PriceServer, price_server, test_block_time};
use nsl_egress::{Egress, EgressPolicy};
use nsl_oracle::service::{
    NodeKey, OracleService, OracleStore, RequestFilter, RequestRow, RequestState, ServiceConfig,
};
use nsl_store::Backend;
use nsl_store::test_utils::TestDb;
use tokio::sync::watch;

/// Requests in the burst.
const BURST: usize = 20;

struct Env {
    oc: OracleChain,
    server: PriceServer,
    db: TestDb,
}

async fn setup(backend: Backend) -> Env {
    let mut config = OracleChainConfig::with_block_time(test_block_time());
    config.deposit = 40 * ONE_GAS;
    let (oc, server, db) = tokio::join!(
        OracleChain::start(config),
        price_server(),
        TestDb::new(backend, nsl_node::MIGRATIONS)
    );
    Env { oc, server, db }
}

impl Env {
    fn price_url(&self) -> String {
        format!("http://{}/price", self.server.addr)
    }

    fn store(&self) -> Arc<dyn OracleStore> {
        Arc::new(self.db.store.clone())
    }

    async fn start(
        &self,
    ) -> (
        watch::Sender<bool>,
        tokio::task::JoinHandle<Result<(), nsl_oracle::service::ServiceError>>,
    ) {
        let egress = Egress::new(EgressPolicy {
            allow_http: true,
            allow_private_hosts: true,
            ..EgressPolicy::default()
        })
        .unwrap();
        let config = ServiceConfig {
            gateway: Some(self.oc.gateway),
            poll_interval: test_block_time() / 2,
            claim_lease: Duration::from_secs(2),
            start_block: Some(0),
            ..ServiceConfig::default()
        };
        assert!(config.max_batch > 1, "batching is on by default");
        let service = OracleService::new(
            self.store(),
            self.oc.rpc().clone(),
            egress,
            NodeKey(self.oc.node_key.clone()),
            config,
            Vec::new(),
        )
        .await
        .unwrap();
        let (tx, rx) = watch::channel(false);
        (tx, tokio::spawn(service.run(rx)))
    }

    /// `count` `requestValue` transactions of the gateway consumer, sent without waiting (they
    /// land in the same block or the next).
    async fn send_burst(&self, count: usize) -> Vec<SentTx> {
        let script = neo_rpc::call_script(
            &self.oc.gateway_consumer,
            "requestValue",
            &[
                Arg::String(self.price_url()),
                Arg::String("$.data.price".into()),
            ],
        )
        .unwrap();
        let test = self
            .oc
            .user
            .invoker()
            .invoke_script(&script)
            .await
            .unwrap()
            .into_halt()
            .unwrap();
        let mut sent = Vec::new();
        for _ in 0..count {
            // A margin: requests in one block see longer request ids than their test run.
            sent.push(
                self.oc
                    .user
                    .send_unchecked(&script, test.gasconsumed + ONE_GAS / 100)
                    .await
                    .unwrap(),
            );
        }
        sent
    }

    /// The gateway request ids of `sent`, once included.
    async fn request_ids(&self, sent: &[SentTx]) -> Vec<i64> {
        let mut ids = Vec::new();
        for s in sent {
            let out = self
                .oc
                .user
                .wait(s, self.oc.user.wait_timeout())
                .await
                .unwrap()
                .into_halt()
                .unwrap();
            ids.push(out.stack[0].as_i64().unwrap());
        }
        ids
    }

    /// Deploy the hostile consumer (callback cheap in a test run, looping until out of GAS in a
    /// block) with a deposit.
    async fn deploy_hostile(&self) -> UInt160 {
        let contract =
            nsl_e2e::compile_repo_contract("testing/e2e/contracts/hostile_consumer.py").await;
        let rpc = self.oc.rpc().clone();
        let hostile = ContractManagement::new(rpc.clone())
            .deploy(
                &self.oc.user,
                &contract.nef,
                &contract.manifest,
                Arg::Hash160(self.oc.gateway),
            )
            .await
            .unwrap()
            .hash;
        Nep17::gas(rpc)
            .transfer(
                &self.oc.user,
                &self.oc.gateway,
                5 * ONE_GAS,
                Arg::Hash160(hostile),
            )
            .await
            .unwrap()
            .into_halt()
            .unwrap();
        hostile
    }

    /// The hostile consumer's `burn` request for the price URL (not waited for).
    async fn send_hostile(&self, hostile: &UInt160) -> SentTx {
        let script =
            neo_rpc::call_script(hostile, "burn", &[Arg::String(self.price_url())]).unwrap();
        let test = self
            .oc
            .user
            .invoker()
            .invoke_script(&script)
            .await
            .unwrap()
            .into_halt()
            .unwrap();
        self.oc
            .user
            .send_unchecked(&script, test.gasconsumed + ONE_GAS / 100)
            .await
            .unwrap()
    }

    /// The gateway rows of the store by request id, once every one of `ids` is in a final
    /// state (or the timeout passes).
    async fn final_rows(&self, ids: &[i64], timeout: Duration) -> BTreeMap<i64, RequestRow> {
        let store = self.store();
        let deadline = Instant::now() + timeout;
        loop {
            let rows: BTreeMap<i64, RequestRow> = store
                .list_requests(&RequestFilter {
                    limit: 1000,
                    ..RequestFilter::default()
                })
                .await
                .unwrap()
                .into_iter()
                .filter(|r| ids.contains(&r.request_id))
                .map(|r| (r.request_id, r))
                .collect();
            let done = rows.len() == ids.len()
                && rows.values().all(|r| {
                    matches!(
                        r.state,
                        RequestState::Confirmed | RequestState::Failed | RequestState::Expired
                    )
                });
            if done || Instant::now() >= deadline {
                return rows;
            }
            tokio::time::sleep(test_block_time() / 2).await;
        }
    }

    /// `(code, result)` the gateway consumer stored for request `id`, if any.
    async fn consumer_result(&self, id: i64) -> Option<(i64, Vec<u8>)> {
        let item = Invoker::new(self.oc.rpc().clone())
            .call_item(
                &self.oc.gateway_consumer,
                "getResult",
                &[Arg::Int(id.into())],
            )
            .await
            .unwrap();
        match item.as_array() {
            Ok([code, result]) => Some((code.as_i64().ok()?, result.as_bytes().ok()?)),
            _ => None,
        }
    }

    /// The gateway's record status of request `id` (0 pending, 1 fulfilled).
    async fn status(&self, id: i64) -> i64 {
        Invoker::new(self.oc.rpc().clone())
            .call_item(&self.oc.gateway, "getRequest", &[Arg::Int(id.into())])
            .await
            .unwrap()
            .as_array()
            .unwrap()[11]
            .as_i64()
            .unwrap()
    }
}

fn answer_timeout() -> Duration {
    test_block_time() * 40
}

async fn burst_answered_in_fewer_transactions(backend: Backend) {
    let env = setup(backend).await;
    let (stop, task) = env.start().await;
    let sent = env.send_burst(BURST).await;
    let ids = env.request_ids(&sent).await;
    let rows = env.final_rows(&ids, answer_timeout()).await;
    assert_eq!(rows.len(), BURST);
    let mut hashes = BTreeSet::new();
    for id in &ids {
        let row = &rows[id];
        assert_eq!(row.state, RequestState::Confirmed, "request {id}: {row:?}");
        hashes.insert(row.response_tx_hash.clone().expect("response tx"));
        assert_eq!(
            env.consumer_result(*id).await,
            Some((0, b"[42.17]".to_vec())),
            "request {id}"
        );
        assert_eq!(env.status(*id).await, 1, "request {id} fulfilled");
    }
    eprintln!("{BURST} requests answered in {} transactions", hashes.len());
    assert!(
        hashes.len() < BURST,
        "{BURST} requests answered in {} transactions",
        hashes.len()
    );
    // Every response transaction is on chain, HALTed, and charged its requests' shares.
    for h in &hashes {
        let hash: neo::UInt256 = h.parse().unwrap();
        let log = env.oc.rpc().get_application_log(&hash).await.unwrap();
        assert!(
            nsl_chain::tx::fault_of(&log).is_none(),
            "{h} FAULTed: {:?}",
            nsl_chain::tx::fault_of(&log)
        );
    }
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_burst_of_gateway_requests_is_answered_in_fewer_transactions_sqlite() {
    burst_answered_in_fewer_transactions(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_burst_of_gateway_requests_is_answered_in_fewer_transactions_postgres() {
    burst_answered_in_fewer_transactions(Backend::Postgres).await;
}

#[tokio::test]
async fn a_callback_faulting_only_on_chain_leaves_every_honest_request_answered_once() {
    let env = setup(Backend::Sqlite).await;
    // The hostile request and the burst land together (in one block, or in blocks the service
    // reads in one catch-up: it starts once they are included), so they are gathered together.
    // The hostile request sits in the middle of the burst.
    let hostile = env.deploy_hostile().await;
    let mut sent = env.send_burst(4).await;
    let hostile_sent = env.send_hostile(&hostile).await;
    sent.extend(env.send_burst(4).await);
    let ids = env.request_ids(&sent).await;
    let hostile_out = env
        .oc
        .user
        .wait(&hostile_sent, env.oc.user.wait_timeout())
        .await
        .unwrap()
        .into_halt()
        .unwrap();
    let hostile_id = hostile_out.stack[0].as_i64().unwrap();
    let (stop, task) = env.start().await;
    let mut all = ids.clone();
    all.push(hostile_id);
    let rows = env.final_rows(&all, answer_timeout()).await;

    let hostile_row = &rows[&hostile_id];
    assert_eq!(hostile_row.requester, hostile.to_string());
    assert_eq!(
        hostile_row.state,
        RequestState::Failed,
        "the hostile request ends failed: {hostile_row:?}"
    );
    let history = env
        .store()
        .request(&hostile_row.id)
        .await
        .unwrap()
        .expect("hostile detail")
        .history;
    assert!(
        history
            .iter()
            .any(|h| h.detail.as_deref().is_some_and(|d| d.contains("FAULT"))),
        "{history:?}"
    );
    for id in &ids {
        let row = &rows[id];
        assert_eq!(row.state, RequestState::Confirmed, "request {id}: {row:?}");
        assert_eq!(
            env.consumer_result(*id).await,
            Some((0, b"[42.17]".to_vec())),
            "request {id} answered"
        );
        assert_eq!(env.status(*id).await, 1);
        // Answered exactly once: one confirmation in the row's history.
        let detail = env.store().request(&row.id).await.unwrap().unwrap();
        let confirmed = detail
            .history
            .iter()
            .filter(|h| h.state == RequestState::Confirmed.as_str())
            .count();
        assert_eq!(confirmed, 1, "request {id}: {:?}", detail.history);
    }
    // The hostile request's first answer was a batch with honest ones: that transaction
    // FAULTed, and the honest rows it carried were rebuilt and answered alone.
    let mut rebuilt = BTreeSet::new();
    for id in &ids {
        let detail = env.store().request(&rows[id].id).await.unwrap().unwrap();
        if detail.history.iter().any(|h| {
            h.detail
                .as_deref()
                .is_some_and(|d| d.contains("FAULTed") && d.contains("rebuilding"))
        }) {
            // Alone afterwards: a transaction of its own.
            assert!(
                rebuilt.insert(rows[id].response_tx_hash.clone().unwrap()),
                "request {id} shares its second transaction"
            );
        }
    }
    eprintln!(
        "{} honest requests rebuilt alone after the batch FAULT",
        rebuilt.len()
    );
    assert!(
        !rebuilt.is_empty(),
        "no honest request shared the hostile one's batch"
    );
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}
