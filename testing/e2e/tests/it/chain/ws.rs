//! Pushed chain events over neo-go's `/ws` (neo_rpc::ws) on a real privnet.

use std::time::Duration;

use neo::{Arg, PrivateKey};
use neo_rpc::types::VmState;
use neo_rpc::ws::{Event, EventStream, StreamItem, StreamOptions, Subscription, WsClient};
use neo_rpc::{Error, Nep17, ONE_GAS, native};
use nsl_e2e::rpc_proxy::{Match, Proxy, Trap};
use nsl_e2e::tcp_proxy::TcpProxy;
use nsl_e2e::{http_server, start_chain};

/// Generous bound for "the next event": a test that waits longer has failed (no timing claim).
const EVENT_WAIT: Duration = Duration::from_secs(30);

async fn next_event(ws: &mut WsClient) -> Event {
    tokio::time::timeout(EVENT_WAIT, ws.next_event())
        .await
        .expect("an event within 30 s")
        .expect("the socket is open")
}

async fn next_item(stream: &mut EventStream) -> StreamItem {
    tokio::time::timeout(EVENT_WAIT, stream.next())
        .await
        .expect("a stream item within 30 s")
}

#[tokio::test]
async fn block_added_events_are_consecutive_blocks_with_the_node_hashes() {
    let chain = start_chain().await;
    let mut ws = WsClient::connect(&chain.ws_url()).await.unwrap();
    ws.subscribe(&Subscription::blocks()).await.unwrap();
    let mut blocks = Vec::new();
    while blocks.len() < 5 {
        match next_event(&mut ws).await {
            Event::Block(b) => blocks.push(b),
            other => panic!("only blocks were subscribed to, got {other:?}"),
        }
    }
    for pair in blocks.windows(2) {
        assert_eq!(pair[1].index, pair[0].index + 1, "heights are consecutive");
        assert_eq!(
            pair[1].previousblockhash, pair[0].hash,
            "the blocks chain up"
        );
    }
    for b in &blocks {
        let over_http = chain.rpc().get_block(b.index).await.unwrap();
        assert_eq!(b.hash, over_http.hash, "block {}", b.index);
        assert_eq!(b.merkleroot, over_http.merkleroot);
        assert_eq!(b.time, over_http.time);
        assert_eq!(b.tx.len(), over_http.tx.len());
    }
    // The http:// RPC URL works as well (turned into ws://.../ws).
    let by_rpc_url = WsClient::connect(chain.rpc_url()).await.unwrap();
    assert_eq!(by_rpc_url.url(), chain.ws_url());
    ws.close().await;
}

#[tokio::test]
async fn notification_filter_delivers_exactly_the_matching_events_of_a_tx() {
    let chain = start_chain().await;
    let rpc = chain.rpc().clone();
    let actor = chain.committee_actor().await.unwrap();
    let alice = PrivateKey::generate().script_hash();
    // One transaction with a NEO transfer (NEO Transfer, and GAS for the sender's NEO) and a GAS
    // transfer: the GAS filter must pass only GAS Transfer events.
    let mut script = Nep17::neo(rpc.clone())
        .transfer_script(&actor.sender(), &alice, 10, Arg::Null)
        .unwrap();
    script.extend(
        Nep17::gas(rpc.clone())
            .transfer_script(&actor.sender(), &alice, 2 * ONE_GAS, Arg::Null)
            .unwrap(),
    );
    let tx = actor.make_tx(&script).await.unwrap();
    let tx_hash = tx.hash();

    let mut ws = WsClient::connect(&chain.ws_url()).await.unwrap();
    ws.subscribe(&Subscription::Notifications {
        contract: Some(native::GAS),
        name: Some("Transfer".into()),
    })
    .await
    .unwrap();
    ws.subscribe(&Subscription::Executions {
        state: None,
        container: Some(tx_hash),
    })
    .await
    .unwrap();
    ws.subscribe(&Subscription::blocks()).await.unwrap();

    let sent = actor.send_tx(&tx).await.unwrap();
    let outcome = actor.wait(&sent, EVENT_WAIT).await.unwrap();
    assert_eq!(outcome.vm_state, VmState::Halt, "{:?}", outcome.exception);

    let mut of_tx = Vec::new();
    let mut executions = Vec::new();
    loop {
        match next_event(&mut ws).await {
            Event::Notification(n) => {
                assert_eq!(n.notification.contract, native::GAS, "{n:?}");
                assert_eq!(n.notification.eventname, "Transfer", "{n:?}");
                if n.container == tx_hash {
                    of_tx.push(n.notification);
                }
            }
            Event::Execution(e) => executions.push(e),
            // A block's events come before its block_added.
            Event::Block(b) if b.index >= outcome.block_index => break,
            Event::Block(_) => {}
            Event::Missed => panic!("events were dropped"),
        }
    }
    let log = rpc.get_application_log(&tx_hash).await.unwrap();
    let all: Vec<_> = log.executions[0].notifications.clone();
    assert!(
        all.iter().any(|n| n.contract == native::NEO),
        "the tx also emitted NEO events: {all:?}"
    );
    let expected: Vec<_> = all
        .into_iter()
        .filter(|n| n.contract == native::GAS && n.eventname == "Transfer")
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        of_tx, expected,
        "exactly the tx's GAS Transfer events, in order"
    );
    // transaction_executed with a container filter: this transaction's log only.
    assert_eq!(executions.len(), 1, "{executions:?}");
    assert_eq!(executions[0].container, tx_hash);
    assert_eq!(executions[0].execution, log.executions[0]);
    ws.close().await;
}

#[tokio::test]
async fn unsubscribe_stops_block_events_on_that_socket() {
    let chain = start_chain().await;
    let mut ws = WsClient::connect(&chain.ws_url()).await.unwrap();
    let id = ws.subscribe(&Subscription::blocks()).await.unwrap();
    let Event::Block(first) = next_event(&mut ws).await else {
        panic!("a block first")
    };
    ws.unsubscribe(&id).await.unwrap();
    let at_unsubscribe = chain.rpc().get_block_count().await.unwrap() - 1;
    // Let the chain move three blocks on, then see what arrived in the meantime.
    while chain.rpc().get_block_count().await.unwrap() - 1 < at_unsubscribe + 3 {
        tokio::time::sleep(chain.block_time() / 2).await;
    }
    // A second socket still gets blocks: the node is producing them.
    let mut other = WsClient::connect(&chain.ws_url()).await.unwrap();
    other.subscribe(&Subscription::blocks()).await.unwrap();
    let Event::Block(later) = next_event(&mut other).await else {
        panic!("a block")
    };
    assert!(later.index > at_unsubscribe + 1);
    // Unsubscribing twice is an RPC error from the node, not a hang.
    let again = ws.unsubscribe(&id).await;
    assert!(matches!(again, Err(Error::Rpc { .. })), "{again:?}");
    // On the first socket only blocks sent before the unsubscribe took effect may be queued.
    other.close().await;
    let mut ws_events = Vec::new();
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(1), ws.next_event()).await {
        ws_events.push(ev);
    }
    for ev in &ws_events {
        let Event::Block(b) = ev else {
            panic!("{ev:?}")
        };
        assert!(
            b.index <= at_unsubscribe + 1 && b.index > first.index,
            "block {} after unsubscribe at {at_unsubscribe}",
            b.index
        );
    }
    ws.close().await;
}

#[tokio::test]
async fn stream_reports_the_gap_and_recovers_after_the_socket_is_cut() {
    let chain = start_chain().await;
    let upstream = chain
        .rpc_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let proxy = TcpProxy::start(upstream).await;
    let options = StreamOptions {
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        ..StreamOptions::default()
    };
    let mut stream = EventStream::connect(&proxy.http_url(), vec![Subscription::blocks()], options)
        .await
        .unwrap();
    let mut heights = Vec::new();
    while heights.len() < 2 {
        if let StreamItem::Event(Event::Block(b)) = next_item(&mut stream).await {
            heights.push(b.index);
        }
    }
    // The node goes away: the socket is cut and new connections fail while the chain moves on.
    proxy.refuse(true);
    proxy.cut();
    let mut retries = Vec::new();
    let mut blocks_after_cut = 0;
    loop {
        match next_item(&mut stream).await {
            StreamItem::Disconnected { error, retry_in } => {
                assert!(error.is_transport(), "{error}");
                retries.push(retry_in);
                if retries.len() >= 4 {
                    break;
                }
            }
            StreamItem::Event(Event::Block(b)) => {
                // Blocks already in the socket buffer before the cut.
                heights.push(b.index);
                blocks_after_cut += 1;
                assert!(blocks_after_cut < 5, "the socket was not cut");
            }
            other => panic!("{other:?}"),
        }
    }
    // Back-off grows, up to its cap.
    assert!(retries.windows(2).all(|w| w[1] >= w[0]), "{retries:?}");
    assert!(retries.iter().all(|r| *r <= Duration::from_millis(200)));
    assert!(
        retries.last().unwrap() > retries.first().unwrap(),
        "{retries:?}"
    );
    let last_seen = *heights.last().unwrap();
    assert_eq!(stream.last_block(), Some(last_seen));
    while chain.rpc().get_block_count().await.unwrap() - 1 < last_seen + 3 {
        tokio::time::sleep(chain.block_time() / 2).await;
    }
    proxy.refuse(false);
    // Reconnected, then the hole is reported before the first new block.
    let mut gaps = Vec::new();
    let mut reconnected = false;
    let mut failed_attempts = 0;
    let mut after = Vec::new();
    while after.len() < 3 {
        match next_item(&mut stream).await {
            StreamItem::Disconnected { .. } => {
                assert!(!reconnected);
                failed_attempts += 1;
                assert!(failed_attempts < 300, "never reconnected");
            }
            StreamItem::Reconnected => reconnected = true,
            StreamItem::Gap { from, to } => {
                assert!(reconnected);
                gaps.push((from, to));
            }
            StreamItem::Event(Event::Block(b)) => {
                assert!(reconnected);
                after.push(b);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    let (from, to) = gaps[0];
    assert_eq!(from, last_seen + 1);
    assert_eq!(
        to + 1,
        after[0].index,
        "the gap ends right before the next block"
    );
    assert!(
        to >= last_seen + 2,
        "the chain moved at least 3 blocks while cut"
    );
    for pair in after.windows(2) {
        assert_eq!(pair[1].index, pair[0].index + 1);
    }
    for b in &after {
        assert_eq!(chain.rpc().get_block(b.index).await.unwrap().hash, b.hash);
    }
    assert!(
        proxy.forwarded() >= 2,
        "a new connection carried the stream"
    );
    stream.close().await;
}

#[tokio::test]
async fn an_endpoint_without_websocket_is_a_documented_error() {
    // A plain HTTP server (like a node without /ws, or a proxy that only forwards POST).
    let server = http_server(Vec::new()).await;
    let err = WsClient::connect(&server.url("")).await.unwrap_err();
    match &err {
        Error::WsUnsupported { url, status } => {
            assert_eq!(*status, 404);
            assert_eq!(url, &server.url("/ws").replace("http://", "ws://"));
        }
        other => panic!("expected WsUnsupported, got {other:?}"),
    }
    assert!(
        !err.is_transport(),
        "retrying does not help: fall back to polling"
    );
    assert!(err.to_string().contains("poll over HTTP"), "{err}");
    let err = EventStream::connect(
        &server.url(""),
        vec![Subscription::blocks()],
        StreamOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::WsUnsupported { status: 404, .. }),
        "{err}"
    );

    // A real neo-go behind a proxy that forwards plain HTTP only (the upgrade is lost): neo-go
    // answers 400, and JSON-RPC over HTTP through the same proxy works.
    let chain = start_chain().await;
    let proxy = Proxy::start(
        chain.rpc_url(),
        Match::RpcMethod("no-such-method".into()),
        Trap::Hold,
    )
    .await;
    let err = WsClient::connect(&proxy.url()).await.unwrap_err();
    assert!(matches!(err, Error::WsUnsupported { .. }), "{err:?}");
    let over_http = neo_rpc::RpcClient::new(proxy.url()).unwrap();
    assert!(over_http.get_block_count().await.unwrap() > 0);

    // Nothing listening at all is a transport error (the node may come back).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = WsClient::connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WsTransport { .. }), "{err:?}");
    assert!(err.is_transport());
}

#[tokio::test]
async fn stream_recovers_after_the_node_restarts() {
    let mut chain = start_chain().await;
    let options = StreamOptions {
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        ..StreamOptions::default()
    };
    let mut stream = EventStream::connect(chain.rpc_url(), vec![Subscription::blocks()], options)
        .await
        .unwrap();
    let mut before = 0;
    while before < 2 {
        if let StreamItem::Event(Event::Block(_)) = next_item(&mut stream).await {
            before += 1;
        }
    }
    // neo-go is killed and started again on the same port (a new in-memory chain).
    chain.restart().await.unwrap();
    let mut disconnected = false;
    let mut reconnected = false;
    let mut failed_attempts = 0;
    let mut after = Vec::new();
    while after.len() < 3 {
        match next_item(&mut stream).await {
            StreamItem::Disconnected { error, .. } => {
                assert!(error.is_transport(), "{error}");
                assert!(!reconnected);
                disconnected = true;
                failed_attempts += 1;
                assert!(failed_attempts < 300, "never reconnected");
            }
            StreamItem::Reconnected => {
                assert!(disconnected);
                reconnected = true;
            }
            StreamItem::Event(Event::Block(b)) if reconnected => after.push(b),
            // Blocks of the old node still in the socket buffer, or heights of the new chain
            // above the last one seen: not what this test checks.
            StreamItem::Event(Event::Block(_)) | StreamItem::Gap { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    // The blocks are the restarted node's.
    for pair in after.windows(2) {
        assert_eq!(pair[1].index, pair[0].index + 1);
    }
    for b in &after {
        assert_eq!(chain.rpc().get_block(b.index).await.unwrap().hash, b.hash);
    }
    stream.close().await;
}
