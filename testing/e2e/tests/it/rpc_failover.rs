//! End to end: the oracle service with two RPC endpoints (`[chain] rpc_urls`), the preferred one
//! killed while gateway requests flow. Every request must be answered exactly once: counted on
//! chain, from the node's own transactions (each `ServiceResponse` of a HALTed node transaction,
//! and no FAULTed node transaction, e.g. a duplicate answer refused by the gateway).
//!
//! Endpoint 1 is a second neo-go node peered to the validator (`DevChain::start_peer`: it relays
//! the service's transactions) that the test kills; endpoint 2 is the validator.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use neo::{Arg, UInt160};
use neo_rpc::types::VmState;
use neo_rpc::{BreakerState, Invoker, SentTx};
use nsl_e2e::{OracleChain, OracleChainConfig, PriceServer, price_server, test_block_time};
use nsl_egress::{Egress, EgressPolicy};
use nsl_oracle::service::{NodeKey, OracleService, ServiceConfig};
use nsl_store::Store;
use tokio::sync::watch;

/// Requests sent before the kill, and after it.
const BEFORE: usize = 6;
const AFTER: usize = 6;

async fn send_requests(oc: &OracleChain, server: &PriceServer, n: usize) -> Vec<SentTx> {
    let mut sent = Vec::new();
    for _ in 0..n {
        let script = oc.gateway_request_script(&server.url("/price"), "$.data.price");
        sent.push(oc.user.send(&script).await.expect("send requestValue"));
    }
    sent
}

async fn request_ids(oc: &OracleChain, sent: &[SentTx]) -> Vec<i64> {
    let mut ids = Vec::new();
    for s in sent {
        let out = oc
            .user
            .wait(s, Duration::from_secs(60))
            .await
            .and_then(neo_rpc::TxOutcome::into_halt)
            .expect("requestValue included");
        ids.push(out.stack[0].as_i64().expect("request id"));
    }
    ids
}

/// Wait until the consumer holds a result for every id (a deadline, not a measurement).
async fn wait_answered(oc: &OracleChain, ids: &[i64]) {
    let invoker = Invoker::new(oc.rpc().clone());
    let deadline = Instant::now() + Duration::from_secs(120);
    for id in ids {
        loop {
            let item = invoker
                .call_item(&oc.gateway_consumer, "getResult", &[Arg::Int((*id).into())])
                .await
                .expect("getResult");
            if let Ok([code, result]) = item.as_array() {
                assert_eq!(code.as_i64().unwrap(), 0, "request {id}");
                assert_eq!(result.as_bytes().unwrap(), b"[42.17]", "request {id}");
                break;
            }
            assert!(Instant::now() < deadline, "request {id} not answered");
            tokio::time::sleep(test_block_time()).await;
        }
    }
}

/// `ServiceResponse` count per request id in the node's HALTed transactions from `from` on, and
/// the node's FAULTed transactions.
async fn responses_on_chain(
    oc: &OracleChain,
    node: &UInt160,
    from: u32,
) -> (BTreeMap<i64, usize>, Vec<String>) {
    let rpc = oc.rpc();
    let node_address = node.to_address();
    let end = rpc.get_block_count().await.unwrap();
    let mut per_id = BTreeMap::new();
    let mut faults = Vec::new();
    for index in from..end {
        let block = rpc.get_block(index).await.unwrap();
        for tx in block.tx.iter().filter(|t| t.sender == node_address) {
            let log = rpc.get_application_log(&tx.hash).await.unwrap();
            for exec in &log.executions {
                if exec.vmstate != VmState::Halt {
                    faults.push(format!("{}: {:?}", tx.hash, exec.exception));
                    continue;
                }
                for n in exec
                    .notifications
                    .iter()
                    .filter(|n| n.contract == oc.gateway && n.eventname == "ServiceResponse")
                {
                    let id = n.args()[0].as_i64().expect("requestId");
                    *per_id.entry(id).or_insert(0) += 1;
                }
            }
        }
    }
    (per_id, faults)
}

#[tokio::test]
async fn every_request_is_answered_once_when_the_preferred_endpoint_dies() {
    let (oc, server) = tokio::join!(
        OracleChain::start(OracleChainConfig::with_block_time(test_block_time())),
        price_server()
    );
    // The node's Prometheus registry (as `nsl serve` installs it), to read the failover metrics.
    let metrics = nsl_api::metrics::Metrics::install();
    let mut peer = oc.chain.start_peer().await.expect("peer node");
    let chain_cfg = nsl_config::ChainConfig {
        rpc_urls: vec![peer.rpc_url().to_owned(), oc.chain.rpc_url().to_owned()],
        breaker_threshold: 2,
        breaker_cooldown_ms: 200,
        breaker_max_cooldown_ms: 1_000,
        health_interval_ms: 100,
        // Lag is not under test: a peer briefly behind under load must not reorder endpoints.
        lag_threshold: 1_000,
        ..nsl_config::ChainConfig::default()
    };
    // The client as `nsl serve` builds it (oracle.rpc_url unused: rpc_urls is set).
    let rpc = nsl_oracle::service::rpc_client_from_config(&chain_cfg, "http://127.0.0.1:9")
        .expect("client from [chain]");
    assert_eq!(rpc.url(), peer.rpc_url(), "the peer is preferred");

    let db_dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", db_dir.path().join("nsl.db").display());
    let store = Store::connect_url(&db_url, 4, Duration::from_secs(10))
        .await
        .unwrap();
    store.migrate(nsl_node::MIGRATIONS).await.unwrap();
    let egress = Egress::new(EgressPolicy {
        allow_http: true,
        allow_private_hosts: true,
        ..EgressPolicy::default()
    })
    .unwrap();
    let from = oc.rpc().get_block_count().await.unwrap();
    let service = OracleService::new(
        Arc::new(store.clone()),
        rpc.clone(),
        egress,
        NodeKey(oc.node_key.clone()),
        ServiceConfig {
            gateway: Some(oc.gateway),
            poll_interval: test_block_time() / 2,
            claim_lease: Duration::from_secs(2),
            start_block: Some(from),
            ..ServiceConfig::default()
        },
        Vec::new(),
    )
    .await
    .expect("start the oracle service");
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(service.run(rx));

    // Requests flow; the peer dies once the first is answered, while the others are in flight.
    let first = send_requests(&oc, &server, BEFORE).await;
    let first_ids = request_ids(&oc, &first).await;
    wait_answered(&oc, &first_ids[..1]).await;
    peer.kill();
    let second = send_requests(&oc, &server, AFTER).await;
    let second_ids = request_ids(&oc, &second).await;
    let ids: Vec<i64> = first_ids.iter().chain(&second_ids).copied().collect();
    wait_answered(&oc, &ids).await;

    let status = rpc.endpoint_status();
    assert_ne!(status[0].state, BreakerState::Closed, "{status:?}");
    assert_eq!(rpc.url(), oc.chain.rpc_url(), "the node is preferred now");
    let text = metrics.render();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"))
            .to_owned()
    };
    let failovers: f64 = line("nsl_rpc_failovers_total ")
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(failovers >= 1.0, "{text}");
    let up = |url: &str| line(&format!("nsl_rpc_endpoint_up{{endpoint=\"{url}\"}} "));
    assert!(up(peer.rpc_url()).ends_with(" 0"), "{text}");
    assert!(up(oc.chain.rpc_url()).ends_with(" 1"), "{text}");

    // Let a few more blocks pass so that a late duplicate would be on chain too.
    let settle = oc.rpc().get_block_count().await.unwrap() + 5;
    while oc.rpc().get_block_count().await.unwrap() < settle {
        tokio::time::sleep(test_block_time()).await;
    }
    let node = oc.node_key.script_hash();
    let (per_id, faults) = responses_on_chain(&oc, &node, from).await;
    assert!(faults.is_empty(), "node transactions FAULTed: {faults:?}");
    let expected: BTreeMap<i64, usize> = ids.iter().map(|id| (*id, 1)).collect();
    assert_eq!(per_id, expected, "ServiceResponse per request id");

    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}
