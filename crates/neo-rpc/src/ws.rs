//! Pushed chain events over neo-go's WebSocket endpoint (`/ws` on the RPC port).
//!
//! ```text
//! WsClient      one socket: subscribe / unsubscribe (JSON-RPC over the socket), typed events,
//!               clean close; a lost socket ends the event stream (next_event → None)
//!    ▲
//! EventStream   a WsClient that reconnects with back-off and subscribes again; reports
//!               Disconnected / Reconnected and the block heights it did not see (Gap)
//! ```
//!
//! The protocol (neo-go `docs/notifications.md`): `subscribe` with a stream name and an optional
//! filter object answers a subscription id; the node then sends JSON-RPC notifications whose
//! `method` is the stream name (`block_added`, `notification_from_execution`,
//! `transaction_executed`) or `event_missed` when it dropped events for a slow client. Events are
//! sent in chain order: a block's executions and notifications come before its `block_added`.
//!
//! Missed-event safety: nothing is replayed after a reconnect or an `event_missed`. Every block
//! event carries its height; [`EventStream`] turns a jump in heights into [`StreamItem::Gap`] so
//! the consumer backfills those blocks over HTTP (`getblock`, `getapplicationlog`).
//!
//! A node without the endpoint (C# Neo without a WebSocket plugin, a proxy that only forwards
//! POST) answers the upgrade with a plain HTTP status: that is [`Error::WsUnsupported`], and the
//! caller should poll instead.

use std::collections::HashMap;
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use neo::{UInt160, UInt256};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::error::{Error, Result};
use crate::types::{Block, Execution, Notification, VmState};

/// How long a `subscribe` / `unsubscribe` waits for the node's answer, and a clean close for the
/// node's close frame.
pub const WS_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Events buffered between the socket and the consumer; when full, events are dropped and the
/// consumer gets [`Event::Missed`] (as if the node had sent `event_missed`).
const EVENT_BUFFER: usize = 4096;
/// Frames larger than this are refused (a 100 MB block cannot be sent by a Neo node anyway).
const MAX_MESSAGE: usize = 64 << 20;

/// The WebSocket URL of a node given its JSON-RPC URL: `http://h:p` → `ws://h:p/ws`,
/// `https://h:p` → `wss://h:p/ws`; a `ws://` or `wss://` URL is used as given.
pub fn ws_url(rpc_url: &str) -> Result<String> {
    let url = rpc_url.trim();
    if url.starts_with("ws://") || url.starts_with("wss://") {
        return Ok(url.to_owned());
    }
    let rest = if let Some(r) = url.strip_prefix("http://") {
        ("ws://", r)
    } else if let Some(r) = url.strip_prefix("https://") {
        ("wss://", r)
    } else {
        return Err(Error::InvalidArgument(format!(
            "node URL must start with http://, https://, ws:// or wss://, got {:?}",
            redact(url)
        )));
    };
    Ok(format!("{}{}/ws", rest.0, rest.1.trim_end_matches('/')))
}

/// A URL without user info, query or fragment, for errors and logs (credentials never printed).
fn redact(url: &str) -> String {
    crate::failover::redact_url(url)
}

/// What to subscribe to, with neo-go's filters (all optional; given ones must all match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    /// `block_added`: every new block, after it is persisted.
    Blocks {
        /// Only blocks from this height on.
        since: Option<u32>,
    },
    /// `notification_from_execution`: events emitted by contracts (in transactions and in the
    /// blocks' OnPersist/PostPersist runs, e.g. GAS minted to the validator).
    Notifications {
        /// Only this contract's events.
        contract: Option<UInt160>,
        /// Only events of this name (e.g. `Transfer`).
        name: Option<String>,
    },
    /// `transaction_executed`: the application log of each transaction and block run.
    Executions {
        /// Only executions that ended in this state (HALT or FAULT).
        state: Option<VmState>,
        /// Only the execution of this transaction (or block).
        container: Option<UInt256>,
    },
}

impl Subscription {
    /// Every block.
    pub fn blocks() -> Self {
        Self::Blocks { since: None }
    }

    /// neo-go's stream name.
    pub fn stream(&self) -> &'static str {
        match self {
            Self::Blocks { .. } => "block_added",
            Self::Notifications { .. } => "notification_from_execution",
            Self::Executions { .. } => "transaction_executed",
        }
    }

    /// The filter object, `None` when there is no filter.
    fn filter(&self) -> Option<Value> {
        let mut f = serde_json::Map::new();
        match self {
            Self::Blocks { since } => {
                if let Some(s) = since {
                    f.insert("since".into(), json!(s));
                }
            }
            Self::Notifications { contract, name } => {
                if let Some(c) = contract {
                    f.insert("contract".into(), json!(c.to_string()));
                }
                if let Some(n) = name {
                    f.insert("name".into(), json!(n));
                }
            }
            Self::Executions { state, container } => {
                if let Some(s) = state {
                    f.insert("state".into(), json!(s.to_string()));
                }
                if let Some(c) = container {
                    f.insert("container".into(), json!(c.to_string()));
                }
            }
        }
        (!f.is_empty()).then_some(Value::Object(f))
    }

    fn params(&self) -> Value {
        match self.filter() {
            Some(f) => json!([self.stream(), f]),
            None => json!([self.stream()]),
        }
    }
}

/// A contract event with the transaction (or block) whose execution emitted it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainedNotification {
    /// The transaction hash (or block hash for OnPersist/PostPersist events).
    pub container: UInt256,
    /// The event.
    pub notification: Notification,
}

/// One execution's application log with its transaction (or block) hash.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutedContainer {
    /// The transaction hash (or block hash for OnPersist/PostPersist runs).
    pub container: UInt256,
    /// The execution (trigger, VM state, GAS, stack, notifications).
    pub execution: Execution,
}

/// A pushed event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `block_added`: a new block (as a verbose `getblock` without `size`, `confirmations`).
    Block(Box<Block>),
    /// `notification_from_execution`.
    Notification(ContainedNotification),
    /// `transaction_executed`.
    Execution(Box<ExecutedContainer>),
    /// `event_missed`: the node (or this client's buffer) dropped events; backfill by polling.
    Missed,
}

impl Event {
    /// Decode a JSON-RPC notification from the node; `Ok(None)` for streams this client does not
    /// know (newer nodes may add some).
    fn decode(method: &str, params: Value) -> Result<Option<Self>> {
        let first = || match &params {
            Value::Array(a) if !a.is_empty() => Ok(a[0].clone()),
            _ => Err(Error::invalid(method, "event without parameters")),
        };
        let bad = |e: serde_json::Error| Error::invalid(method, e.to_string());
        Ok(Some(match method {
            "block_added" => Self::Block(Box::new(serde_json::from_value(first()?).map_err(bad)?)),
            "notification_from_execution" => {
                let v = first()?;
                let container = container_of(method, &v)?;
                let notification = serde_json::from_value(v).map_err(bad)?;
                Self::Notification(ContainedNotification {
                    container,
                    notification,
                })
            }
            "transaction_executed" => {
                let v = first()?;
                let container = container_of(method, &v)?;
                let execution = serde_json::from_value(v).map_err(bad)?;
                Self::Execution(Box::new(ExecutedContainer {
                    container,
                    execution,
                }))
            }
            "event_missed" => Self::Missed,
            _ => return Ok(None),
        }))
    }
}

fn container_of(method: &str, v: &Value) -> Result<UInt256> {
    let s = v
        .get("container")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid(method, "no container hash"))?;
    UInt256::from_hex_be(s).map_err(|e| Error::invalid(method, format!("container: {e}")))
}

/// A subscription id as the node returned it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubscriptionId(pub String);

type Pending = HashMap<u64, oneshot::Sender<Result<Value>>>;

enum Command {
    Call {
        method: &'static str,
        params: Value,
        reply: oneshot::Sender<Result<Value>>,
    },
    Close,
}

/// One WebSocket connection to a node: subscriptions and their events.
///
/// The socket is served by a background task (it answers the node's pings); dropping the client
/// stops it. Events arrive in the node's order through [`WsClient::next_event`], which returns
/// `None` once the socket is gone (closed by either side or lost).
pub struct WsClient {
    url: String,
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::Receiver<Event>,
    task: JoinHandle<()>,
    timeout: Duration,
}

impl std::fmt::Debug for WsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsClient")
            .field("url", &redact(&self.url))
            .finish_non_exhaustive()
    }
}

impl WsClient {
    /// Connect to a node: `url` is its JSON-RPC URL (`http://127.0.0.1:30333`, see [`ws_url`])
    /// or its WebSocket URL. Fails with [`Error::WsUnsupported`] when the node answers the
    /// upgrade with a plain HTTP status (no WebSocket endpoint), with [`Error::WsTransport`] when
    /// it cannot be reached, and with [`Error::Timeout`] after [`WS_REQUEST_TIMEOUT`].
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with_timeout(url, WS_REQUEST_TIMEOUT).await
    }

    /// [`WsClient::connect`] with another timeout for the handshake and for requests.
    pub async fn connect_with_timeout(url: &str, timeout: Duration) -> Result<Self> {
        let url = ws_url(url)?;
        let config = tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let connect =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true);
        let (socket, _) = match tokio::time::timeout(timeout, connect).await {
            Err(_) => {
                return Err(Error::Timeout {
                    method: "websocket connect".into(),
                    timeout,
                });
            }
            Ok(Err(tungstenite::Error::Http(resp))) => {
                return Err(Error::WsUnsupported {
                    url: redact(&url),
                    status: resp.status().as_u16(),
                });
            }
            // A URL tungstenite cannot use (above all `wss://`: no TLS stack is built in) is the
            // caller's to fix, not worth retrying.
            Ok(Err(tungstenite::Error::Url(e))) => {
                return Err(Error::InvalidArgument(format!(
                    "websocket URL {}: {e}",
                    redact(&url)
                )));
            }
            Ok(Err(e)) => return Err(transport(&url, e)),
            Ok(Ok(s)) => s,
        };
        let (commands, rx) = mpsc::unbounded_channel();
        let (tx, events) = mpsc::channel(EVENT_BUFFER);
        let task = tokio::spawn(serve(socket, rx, tx, url.clone()));
        Ok(Self {
            url,
            commands,
            events,
            task,
            timeout,
        })
    }

    /// The WebSocket URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn call(&self, method: &'static str, params: Value) -> Result<Value> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Call {
                method,
                params,
                reply,
            })
            .map_err(|_| self.closed())?;
        match tokio::time::timeout(self.timeout, answer).await {
            Err(_) => Err(Error::Timeout {
                method: method.into(),
                timeout: self.timeout,
            }),
            Ok(Err(_)) => Err(self.closed()),
            Ok(Ok(r)) => r,
        }
    }

    fn closed(&self) -> Error {
        Error::WsClosed {
            url: redact(&self.url),
        }
    }

    /// Subscribe; events of this subscription follow through [`WsClient::next_event`].
    /// A filter the node rejects is an [`Error::Rpc`].
    pub async fn subscribe(&self, sub: &Subscription) -> Result<SubscriptionId> {
        let v = self.call("subscribe", sub.params()).await?;
        match v {
            Value::String(id) => Ok(SubscriptionId(id)),
            other => Err(Error::invalid(
                "subscribe",
                format!("expected a subscription id, got {other}"),
            )),
        }
    }

    /// Cancel a subscription (events already on their way may still arrive).
    pub async fn unsubscribe(&self, id: &SubscriptionId) -> Result<()> {
        match self.call("unsubscribe", json!([id.0])).await? {
            Value::Bool(true) => Ok(()),
            other => Err(Error::invalid(
                "unsubscribe",
                format!("expected true, got {other}"),
            )),
        }
    }

    /// The next event; `None` once the socket is closed or lost.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// Close the socket cleanly (close frame, then wait for the node's close up to the timeout).
    pub async fn close(mut self) {
        let _ = self.commands.send(Command::Close);
        if tokio::time::timeout(self.timeout, &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

impl Drop for WsClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn transport(url: &str, e: tungstenite::Error) -> Error {
    Error::WsTransport {
        url: redact(url),
        source: Box::new(e),
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The socket task: writes requests, routes answers to their callers and events to the consumer.
async fn serve(
    mut socket: Socket,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::Sender<Event>,
    url: String,
) {
    let mut pending = Pending::new();
    let mut next_id: u64 = 1;
    let mut missed = false;
    let mut closing = false;
    loop {
        tokio::select! {
            cmd = commands.recv(), if !closing => match cmd {
                Some(Command::Call { method, params, reply }) => {
                    let id = next_id;
                    next_id += 1;
                    let req = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
                    if let Err(e) = socket.send(Message::text(req.to_string())).await {
                        let _ = reply.send(Err(transport(&url, e)));
                        break;
                    }
                    pending.insert(id, reply);
                }
                // Close asked, or the client dropped: send our close frame, wait for theirs.
                Some(Command::Close) | None => {
                    closing = true;
                    if socket.close(None).await.is_err() {
                        break;
                    }
                }
            },
            msg = socket.next() => match msg {
                None | Some(Err(_)) => break,
                Some(Ok(Message::Text(text))) => {
                    route(text.as_str(), &mut pending, &events, &mut missed);
                }
                Some(Ok(Message::Close(_))) => {
                    // tungstenite answers the close frame; the stream then ends.
                }
                // Pings are answered by tungstenite on the next read or write.
                Some(Ok(_)) => {}
            },
        }
    }
    for (_, reply) in pending.drain() {
        let _ = reply.send(Err(Error::WsClosed { url: redact(&url) }));
    }
}

fn route(text: &str, pending: &mut Pending, events: &mpsc::Sender<Event>, missed: &mut bool) {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        tracing::warn!(target: "neo_rpc::ws", "non-JSON message from the node, ignored");
        return;
    };
    if let Some(id) = v.get("id").and_then(Value::as_u64) {
        let Some(reply) = pending.remove(&id) else {
            return;
        };
        let method = "websocket call";
        let answer = if let Some(err) = v.get("error") {
            Err(Error::Rpc {
                method: method.into(),
                code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: err
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                data: err.get("data").and_then(Value::as_str).map(str::to_owned),
            })
        } else {
            Ok(v.get("result").cloned().unwrap_or(Value::Null))
        };
        let _ = reply.send(answer);
        return;
    }
    let Some(method) = v.get("method").and_then(Value::as_str) else {
        return;
    };
    let params = v.get("params").cloned().unwrap_or(Value::Null);
    let event = match Event::decode(method, params) {
        Ok(Some(e)) => e,
        Ok(None) => return,
        Err(e) => {
            // The consumer must learn that something was not delivered.
            tracing::warn!(target: "neo_rpc::ws", error = %e, "undecodable event");
            Event::Missed
        }
    };
    if *missed {
        if events.try_send(Event::Missed).is_err() {
            return;
        }
        *missed = false;
    }
    if events.try_send(event).is_err() {
        *missed = true;
    }
}

/// Reconnection settings of an [`EventStream`].
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// First delay before reconnecting; doubled after each failed attempt.
    pub backoff_min: Duration,
    /// Longest delay between attempts.
    pub backoff_max: Duration,
    /// Handshake and subscribe timeout.
    pub timeout: Duration,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
            timeout: WS_REQUEST_TIMEOUT,
        }
    }
}

/// What an [`EventStream`] yields.
#[derive(Debug)]
pub enum StreamItem {
    /// An event from the node.
    Event(Event),
    /// Block heights `from..=to` were never delivered (the socket was down, or the node skipped
    /// them): read them over HTTP. Reported just before the block after the hole.
    Gap {
        /// First missing height.
        from: u32,
        /// Last missing height.
        to: u32,
    },
    /// The socket was lost or could not be opened; the next attempt follows after `retry_in`.
    Disconnected {
        /// Why.
        error: Error,
        /// Delay before the next attempt.
        retry_in: Duration,
    },
    /// Connected again and subscribed again. Events in between were not delivered: block
    /// heights show which blocks (a [`StreamItem::Gap`] follows with the next block); other
    /// events must be backfilled from those blocks.
    Reconnected,
}

/// A subscription set that survives lost sockets: it reconnects with exponential back-off,
/// subscribes again, and reports the block heights it missed.
pub struct EventStream {
    url: String,
    /// Set by [`EventStream::connect_rpc`]: reconnects follow the client's endpoint preference.
    rpc: Option<crate::RpcClient>,
    subs: Vec<Subscription>,
    options: StreamOptions,
    client: Option<WsClient>,
    backoff: Duration,
    last_block: Option<u32>,
    held: Option<Event>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("url", &redact(&self.url))
            .field("subs", &self.subs)
            .field("last_block", &self.last_block)
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// Connect and subscribe. The first connection must succeed: an error here (above all
    /// [`Error::WsUnsupported`]) tells the caller to poll instead. Later losses are retried.
    pub async fn connect(
        url: &str,
        subs: Vec<Subscription>,
        options: StreamOptions,
    ) -> Result<Self> {
        let url = ws_url(url)?;
        let client = open(&url, &subs, options.timeout).await?;
        Ok(Self {
            url,
            rpc: None,
            backoff: options.backoff_min,
            subs,
            options,
            client: Some(client),
            last_block: None,
            held: None,
        })
    }

    /// Like [`EventStream::connect`] over the endpoints of `rpc`: each (re)connection goes to
    /// the first endpoint, in the client's current preference order (failing and lagging
    /// endpoints last), that accepts the socket and the subscriptions. When the socket's
    /// endpoint dies the stream moves to the next one.
    pub async fn connect_rpc(
        rpc: &crate::RpcClient,
        subs: Vec<Subscription>,
        options: StreamOptions,
    ) -> Result<Self> {
        let (url, client) = open_any(rpc, &subs, options.timeout).await?;
        Ok(Self {
            url,
            rpc: Some(rpc.clone()),
            backoff: options.backoff_min,
            subs,
            options,
            client: Some(client),
            last_block: None,
            held: None,
        })
    }

    /// The WebSocket URL of the endpoint the stream uses (or last used), redacted.
    pub fn endpoint(&self) -> String {
        redact(&self.url)
    }

    /// The height of the last block event delivered.
    pub fn last_block(&self) -> Option<u32> {
        self.last_block
    }

    /// The next item. Never ends: a lost socket yields [`StreamItem::Disconnected`], then
    /// attempts after a growing delay until one succeeds ([`StreamItem::Reconnected`]).
    pub async fn next(&mut self) -> StreamItem {
        if let Some(ev) = self.held.take() {
            return self.deliver(ev);
        }
        let Some(client) = self.client.as_mut() else {
            tokio::time::sleep(self.backoff).await;
            let opened = match &self.rpc {
                Some(rpc) => open_any(rpc, &self.subs, self.options.timeout).await,
                None => open(&self.url, &self.subs, self.options.timeout)
                    .await
                    .map(|c| (self.url.clone(), c)),
            };
            return match opened {
                Ok((url, c)) => {
                    if url != self.url {
                        tracing::info!(target: "neo_rpc", from = %redact(&self.url), to = %redact(&url),
                            "event stream moved to another endpoint");
                    }
                    self.url = url;
                    self.client = Some(c);
                    self.backoff = self.options.backoff_min;
                    StreamItem::Reconnected
                }
                Err(error) => {
                    let retry_in = self.grow_backoff();
                    StreamItem::Disconnected { error, retry_in }
                }
            };
        };
        let Some(ev) = client.next_event().await else {
            self.client = None;
            return StreamItem::Disconnected {
                error: Error::WsClosed {
                    url: redact(&self.url),
                },
                retry_in: self.backoff,
            };
        };
        if let Event::Block(b) = &ev
            && let Some(last) = self.last_block
            && b.index > last.saturating_add(1)
        {
            let gap = StreamItem::Gap {
                from: last + 1,
                to: b.index - 1,
            };
            self.last_block = Some(b.index);
            self.held = Some(ev);
            return gap;
        }
        self.deliver(ev)
    }

    fn deliver(&mut self, ev: Event) -> StreamItem {
        if let Event::Block(b) = &ev {
            self.last_block = Some(b.index);
        }
        StreamItem::Event(ev)
    }

    fn grow_backoff(&mut self) -> Duration {
        self.backoff = (self.backoff * 2).min(self.options.backoff_max);
        self.backoff
    }

    /// Close the socket cleanly (the node drops the subscriptions with it).
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            client.close().await;
        }
    }
}

/// Open on the first of `rpc`'s endpoints (by preference) that accepts; the last error if none.
async fn open_any(
    rpc: &crate::RpcClient,
    subs: &[Subscription],
    timeout: Duration,
) -> Result<(String, WsClient)> {
    let mut last = None;
    for url in rpc.urls_by_preference() {
        let url = ws_url(url)?;
        match open(&url, subs, timeout).await {
            Ok(c) => return Ok((url, c)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::InvalidArgument("no RPC endpoint".into())))
}

async fn open(url: &str, subs: &[Subscription], timeout: Duration) -> Result<WsClient> {
    let client = WsClient::connect_with_timeout(url, timeout).await?;
    for s in subs {
        client.subscribe(s).await?;
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_url_from_rpc_url() {
        assert_eq!(
            ws_url("http://127.0.0.1:30333").unwrap(),
            "ws://127.0.0.1:30333/ws"
        );
        assert_eq!(
            ws_url("https://node.example/").unwrap(),
            "wss://node.example/ws"
        );
        assert_eq!(ws_url("ws://h:1/ws").unwrap(), "ws://h:1/ws");
        assert!(matches!(ws_url("ftp://h"), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn redact_drops_credentials_and_query() {
        assert_eq!(
            redact("wss://user:secret@node.example:443/ws?key=secret"),
            "wss://node.example:443/ws"
        );
        assert_eq!(redact("ws://h:1/ws"), "ws://h:1/ws");
        let err = ws_url("ftp://user:secret@h").unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn subscription_params_as_neo_go_reads_them() {
        assert_eq!(Subscription::blocks().params(), json!(["block_added"]));
        assert_eq!(
            Subscription::Blocks { since: Some(7) }.params(),
            json!(["block_added", {"since": 7}])
        );
        let gas = crate::native::GAS;
        assert_eq!(
            Subscription::Notifications {
                contract: Some(gas),
                name: Some("Transfer".into())
            }
            .params(),
            json!(["notification_from_execution",
                {"contract": "0xd2a4cff31913016155e38e474a2c06d08be276cf", "name": "Transfer"}])
        );
        assert_eq!(
            Subscription::Executions {
                state: Some(VmState::Fault),
                container: None
            }
            .params(),
            json!(["transaction_executed", {"state": "FAULT"}])
        );
    }

    #[test]
    fn unknown_streams_are_skipped_and_bad_events_are_errors() {
        assert!(
            Event::decode("mempool_event", json!([{}]))
                .unwrap()
                .is_none()
        );
        assert_eq!(
            Event::decode("event_missed", json!([])).unwrap(),
            Some(Event::Missed)
        );
        assert!(Event::decode("block_added", json!([])).is_err());
        assert!(Event::decode("notification_from_execution", json!([{"contract": "x"}])).is_err());
    }

    /// No TLS stack is compiled in: a `wss://` node is refused, never silently spoken to in clear.
    #[tokio::test]
    async fn wss_is_refused_without_tls() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let err = WsClient::connect(&format!("https://127.0.0.1:{port}"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        assert!(!err.is_transport(), "not worth retrying");
        assert!(err.to_string().contains("TLS"), "{err}");
    }

    #[test]
    fn a_full_buffer_turns_into_missed() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut pending = Pending::new();
        let mut missed = false;
        let ev = r#"{"jsonrpc":"2.0","method":"event_missed","params":[]}"#;
        route(ev, &mut pending, &tx, &mut missed);
        assert!(!missed);
        route(ev, &mut pending, &tx, &mut missed);
        assert!(missed, "second event did not fit");
        assert_eq!(rx.try_recv().unwrap(), Event::Missed);
        route(ev, &mut pending, &tx, &mut missed);
        // The marker went first; the event itself did not fit and is marked missed again.
        assert_eq!(rx.try_recv().unwrap(), Event::Missed);
        assert!(missed);
    }
}
