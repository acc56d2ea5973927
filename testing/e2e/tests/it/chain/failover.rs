//! `RpcClient` over two endpoints of one chain: a second neo-go node peered to the validator
//! (`DevChain::start_peer`), which the test kills and starts again, and the validator itself.

use std::time::{Duration, Instant};

use neo::{Arg, PrivateKey, UInt256};
use neo_rpc::ws::{Event, EventStream, StreamItem, StreamOptions, Subscription};
use neo_rpc::{Account, Actor, BreakerState, Error, FailoverConfig, Nep17, ONE_GAS, RpcClient};
use nsl_e2e::start_chain;

fn failover_config() -> FailoverConfig {
    FailoverConfig {
        breaker_threshold: 2,
        breaker_cooldown: Duration::from_millis(200),
        breaker_max_cooldown: Duration::from_secs(1),
        // Lag is not under test here (unit tests cover it): a peer briefly behind under load
        // must not reorder the endpoints.
        lag_threshold: 1_000,
        health_interval: Duration::from_millis(100),
    }
}

/// Poll `cond` until it holds; panic with `what` after `limit` (a deadline, not a measurement).
async fn eventually(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(
            started.elapsed() < limit,
            "{what} not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn calls_survive_a_killed_endpoint_and_come_back_to_it() {
    let chain = start_chain().await;
    let mut peer = chain.start_peer().await.expect("peer node");
    let urls = vec![peer.rpc_url().to_owned(), chain.rpc_url().to_owned()];
    let rpc = RpcClient::with_endpoints(urls, Duration::from_secs(5), failover_config()).unwrap();
    assert_eq!(rpc.url(), peer.rpc_url(), "the first endpoint is preferred");

    // A transfer through the peer: relayed to the validator and included.
    let committee = Actor::new(rpc.clone(), vec![chain.committee_account().unwrap()])
        .await
        .unwrap();
    let to = PrivateKey::generate().script_hash();
    let gas = Nep17::gas(rpc.clone());
    gas.transfer(&committee, &to, ONE_GAS, Arg::Null)
        .await
        .unwrap()
        .into_halt()
        .unwrap();

    // The node's JSON-RPC errors are answers, not failures: the first endpoint's breaker stays closed.
    for _ in 0..5 {
        let e = rpc
            .get_raw_transaction(&UInt256::default())
            .await
            .unwrap_err();
        assert!(e.rpc_code().is_some(), "{e}");
    }
    assert_eq!(rpc.endpoint_status()[0].state, BreakerState::Closed);
    assert_eq!(rpc.url(), peer.rpc_url());

    // A block stream on the preferred endpoint (the peer).
    let options = StreamOptions {
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        ..StreamOptions::default()
    };
    let mut stream = EventStream::connect_rpc(&rpc, vec![Subscription::blocks()], options)
        .await
        .unwrap();
    assert_eq!(
        stream.endpoint(),
        neo_rpc::ws::ws_url(peer.rpc_url()).unwrap()
    );

    peer.kill();

    // Every call keeps succeeding, a transfer included.
    let before = chain.rpc().get_block_count().await.unwrap();
    for _ in 0..20 {
        let count = rpc.get_block_count().await.expect("call after the kill");
        assert!(count >= before);
    }
    gas.transfer(&committee, &to, ONE_GAS, Arg::Null)
        .await
        .expect("transfer after the kill")
        .into_halt()
        .unwrap();
    let balance = Nep17::gas(chain.rpc().clone())
        .balance_of(&to)
        .await
        .unwrap();
    assert_eq!(balance, (2 * ONE_GAS).into());
    let status = rpc.endpoint_status();
    assert_ne!(status[0].state, BreakerState::Closed, "{status:?}");
    assert_eq!(status[1].state, BreakerState::Closed, "{status:?}");
    assert_eq!(
        rpc.url(),
        chain.rpc_url(),
        "the live endpoint is preferred now"
    );

    // The block stream moved to the validator and goes on.
    let mut moved = false;
    let mut block_after = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while let Ok(item) = tokio::time::timeout_at(deadline, stream.next()).await {
        match item {
            StreamItem::Reconnected => moved = true,
            StreamItem::Event(Event::Block(_)) if moved => {
                block_after = true;
                break;
            }
            _ => {}
        }
    }
    assert!(moved, "stream never reconnected");
    assert!(block_after, "no block after the reconnect");
    assert_eq!(
        stream.endpoint(),
        neo_rpc::ws::ws_url(chain.rpc_url()).unwrap()
    );

    // The peer comes back: a health probe closes its breaker and calls prefer it again.
    peer.restart().await.expect("peer restart");
    // (It may be marked lagging for a moment while it syncs from genesis.)
    eventually(
        "breaker closed and peer preferred again",
        Duration::from_secs(30),
        || rpc.endpoint_status()[0].state == BreakerState::Closed && rpc.url() == peer.rpc_url(),
    )
    .await;
    assert!(rpc.get_block_count().await.unwrap() >= before);
}

#[tokio::test]
async fn all_endpoints_down_is_a_clear_error_without_credentials() {
    let mut chain = start_chain().await;
    let mut peer = chain.start_peer().await.expect("peer node");
    let with_creds = |url: &str| url.replace("http://", "http://operator:s3cret@") + "/?apikey=k";
    let urls = vec![with_creds(peer.rpc_url()), with_creds(chain.rpc_url())];
    let rpc = RpcClient::with_endpoints(urls, Duration::from_secs(5), failover_config()).unwrap();
    // Credentials in the URL do not disturb the node.
    assert!(rpc.get_block_count().await.unwrap() >= 3);
    let key = PrivateKey::generate();
    let actor = Actor::new(rpc.clone(), vec![Account::single(key)])
        .await
        .unwrap();
    assert_eq!(actor.network_magic(), chain.network_magic());

    peer.kill();
    chain.stop();
    let err = rpc.get_block_count().await.unwrap_err();
    assert!(
        matches!(err, Error::AllEndpointsFailed { endpoints: 2, .. }),
        "{err}"
    );
    assert!(err.is_transport());
    let text = format!("{err} / {err:?} / {rpc:?} / {:?}", rpc.endpoint_status());
    for secret in ["operator", "s3cret", "apikey"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let host = chain.rpc_url().trim_start_matches("http://").to_owned();
    assert!(text.contains(&host), "names the endpoints: {text}");
}

/// An endpoint of another chain (here: another privnet with the same network magic, so only the
/// genesis hash differs) is found by the health check and never used, not even when the right
/// chain's endpoint is down.
#[tokio::test]
async fn an_endpoint_of_another_chain_is_never_used() {
    let (chain, other) = tokio::join!(start_chain(), start_chain());
    assert_eq!(chain.network_magic(), other.network_magic());
    let mut peer = chain.start_peer().await.expect("peer node");
    let urls = vec![peer.rpc_url().to_owned(), other.rpc_url().to_owned()];
    let rpc = RpcClient::with_endpoints(urls, Duration::from_secs(5), failover_config()).unwrap();
    eventually("other chain detected", Duration::from_secs(30), || {
        rpc.endpoint_status()[1].wrong_network
    })
    .await;
    assert!(!rpc.endpoint_status()[0].wrong_network);
    peer.kill();
    for _ in 0..5 {
        let err = rpc.get_block_count().await.unwrap_err();
        assert!(err.is_transport(), "{err}");
        assert!(
            !err.to_string().contains(other.rpc_url()),
            "the other chain was tried: {err}"
        );
    }
    assert_eq!(rpc.urls_by_preference(), [peer.rpc_url()]);
}
