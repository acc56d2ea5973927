//! Layer 1: the raw JSON-RPC client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use neo::tx::Signer;
use neo::{UInt160, UInt256};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{Error, Result, codes};
use crate::failover::{
    Endpoint, EndpointStatus, FailoverConfig, preference, redact_url, update_lag, update_network,
};
use crate::types::{
    ApplicationLog, Block, BlockId, ContractState, FoundStorage, InvokeResult, Nep17Balances,
    RawTransaction, Version,
};

/// Default per-call timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A JSON-RPC 2.0 client for one Neo N3 node, or for several serving the same chain with
/// failover. Cheap to clone (shared connection pool, shared endpoint health).
///
/// Every method is one HTTP POST with its own timeout ([`RpcClient::with_timeout`] sets the
/// default; [`RpcClient::call_with_timeout`] overrides it per call). With several endpoints
/// ([`RpcClient::with_endpoints`]) a call that meets a transport failure (connection, timeout,
/// HTTP 5xx or 429) moves to the next endpoint; see the `failover` module docs in `docs/rpc.md`.
#[derive(Clone)]
pub struct RpcClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoints: Vec<Endpoint>,
    failover: FailoverConfig,
    /// The chain all endpoints must serve (fixed by the first health check that reads it).
    network: std::sync::OnceLock<crate::failover::ChainId>,
    timeout: Duration,
    next_id: AtomicU64,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<&str> = self
            .inner
            .endpoints
            .iter()
            .map(|e| e.redacted.as_str())
            .collect();
        f.debug_struct("RpcClient")
            .field("endpoints", &urls)
            .field("timeout", &self.inner.timeout)
            .finish()
    }
}

/// One attempt's failure that moves a call to the next endpoint.
fn is_failover(e: &Error) -> bool {
    match e {
        Error::Transport { .. } | Error::Timeout { .. } => true,
        Error::Http { status, .. } => *status >= 500 || *status == 429,
        _ => false,
    }
}

impl RpcClient {
    /// A client for the node at `url` (e.g. `http://127.0.0.1:30333`) with [`DEFAULT_TIMEOUT`].
    pub fn new(url: impl Into<String>) -> Result<Self> {
        Self::with_timeout(url, DEFAULT_TIMEOUT)
    }

    /// A client whose calls time out after `timeout` unless a call says otherwise.
    pub fn with_timeout(url: impl Into<String>, timeout: Duration) -> Result<Self> {
        Self::with_endpoints(vec![url.into()], timeout, FailoverConfig::default())
    }

    /// A client over several endpoints of the same chain, preferred in the given order.
    ///
    /// With more than one endpoint each gets a circuit breaker, and a background task (started
    /// when a Tokio runtime is current, ended when the last clone is dropped) checks
    /// `getblockcount` on every endpoint each [`FailoverConfig::health_interval`]. With one
    /// endpoint there is nothing to fail over to: no breaker, no health check, errors as they
    /// come.
    pub fn with_endpoints(
        urls: Vec<String>,
        timeout: Duration,
        failover: FailoverConfig,
    ) -> Result<Self> {
        if urls.is_empty() {
            return Err(Error::InvalidArgument("no RPC endpoint given".into()));
        }
        for url in &urls {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Error::InvalidArgument(format!(
                    "RPC URL must start with http:// or https://, got {:?}",
                    redact_url(url)
                )));
            }
        }
        let http = reqwest::Client::builder()
            .build()
            .map_err(|source| Error::Transport {
                method: "client setup".into(),
                source: source.without_url(),
            })?;
        let endpoints: Vec<Endpoint> = urls
            .into_iter()
            .map(|u| Endpoint::new(u, &failover))
            .collect();
        let multi = endpoints.len() > 1;
        if multi {
            for e in &endpoints {
                e.publish_up(true);
            }
        }
        let client = Self {
            inner: Arc::new(Inner {
                http,
                endpoints,
                failover,
                network: std::sync::OnceLock::new(),
                timeout,
                next_id: AtomicU64::new(1),
            }),
        };
        if multi
            && !client.inner.failover.health_interval.is_zero()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(health_loop(Arc::downgrade(&client.inner)));
        }
        Ok(client)
    }

    /// The URL of the endpoint calls go to first now (the first configured endpoint that is
    /// neither failing nor lagging). May carry credentials: do not log it, see
    /// [`redact_url`].
    pub fn url(&self) -> &str {
        let i = self.preferred_order()[0];
        &self.inner.endpoints[i].url
    }

    /// Every endpoint's URL, in the order a call would try them now (may carry credentials).
    /// WebSocket users ([`crate::EventStream::connect_rpc`]) connect to the first that answers.
    pub fn urls_by_preference(&self) -> Vec<&str> {
        self.preferred_order()
            .into_iter()
            .map(|i| self.inner.endpoints[i].url.as_str())
            .collect()
    }

    /// Breaker state, lag and last block count of every endpoint, in configured order, URLs
    /// redacted.
    pub fn endpoint_status(&self) -> Vec<EndpointStatus> {
        let now = Instant::now();
        self.inner.endpoints.iter().map(|e| e.status(now)).collect()
    }

    fn preferred_order(&self) -> Vec<usize> {
        if self.inner.endpoints.len() == 1 {
            return vec![0];
        }
        preference(&self.inner.endpoints, Instant::now())
    }

    /// Call `method` with positional `params` and decode the `result`.
    pub async fn call<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T> {
        self.call_with_timeout(method, params, self.inner.timeout)
            .await
    }

    /// Like [`RpcClient::call`] with an explicit timeout (per endpoint tried).
    pub async fn call_with_timeout<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<T> {
        self.call_tracked(method, &params, timeout).await.0
    }

    /// A call with failover; also says whether an earlier endpoint failed in transport first
    /// (the request may have reached it).
    async fn call_tracked<T: DeserializeOwned>(
        &self,
        method: &str,
        params: &Value,
        timeout: Duration,
    ) -> (Result<T>, bool) {
        let eps = &self.inner.endpoints;
        if eps.len() == 1 {
            return (self.post(&eps[0], method, params, timeout).await, false);
        }
        let order = self.preferred_order();
        let usable = order.len();
        let mut failures: Vec<(usize, Error)> = Vec::new();
        let mut skipped = Vec::new();
        for i in order {
            if !eps[i].try_acquire(Instant::now(), timeout) {
                skipped.push(i);
                continue;
            }
            match self
                .attempt(i, method, params, timeout, !failures.is_empty())
                .await
            {
                Ok(r) => return (r, !failures.is_empty()),
                Err(e) => failures.push((i, e)),
            }
        }
        // Every usable endpoint failed: try the ones the breakers keep out before giving up.
        for i in skipped {
            match self
                .attempt(i, method, params, timeout, !failures.is_empty())
                .await
            {
                Ok(r) => return (r, !failures.is_empty()),
                Err(e) => failures.push((i, e)),
            }
        }
        let detail = failures
            .iter()
            .map(|(i, e)| format!("{}: {e}", eps[*i].redacted))
            .collect::<Vec<_>>()
            .join("; ");
        (
            Err(Error::AllEndpointsFailed {
                method: method.to_owned(),
                endpoints: usable,
                detail,
            }),
            true,
        )
    }

    /// One attempt on endpoint `i`: `Ok(result)` unless the failure moves the call on.
    async fn attempt<T: DeserializeOwned>(
        &self,
        i: usize,
        method: &str,
        params: &Value,
        timeout: Duration,
        after_failover: bool,
    ) -> std::result::Result<Result<T>, Error> {
        let ep = &self.inner.endpoints[i];
        if after_failover {
            metrics::counter!("nsl_rpc_failovers_total").increment(1);
            tracing::debug!(target: "neo_rpc", endpoint = %ep.redacted, method, "call moved to the next RPC endpoint");
        }
        match self.post(ep, method, params, timeout).await {
            Err(e) if is_failover(&e) => {
                ep.record_failure(Instant::now(), &e);
                Err(e)
            }
            r => {
                ep.record_success();
                Ok(r)
            }
        }
    }

    /// One HTTP POST to one endpoint.
    async fn post<T: DeserializeOwned>(
        &self,
        ep: &Endpoint,
        method: &str,
        params: &Value,
        timeout: Duration,
    ) -> Result<T> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        // Errors drop the URL: it may carry credentials.
        let transport = |source: reqwest::Error| {
            if source.is_timeout() {
                Error::Timeout {
                    method: method.to_owned(),
                    timeout,
                }
            } else {
                Error::Transport {
                    method: method.to_owned(),
                    source: source.without_url(),
                }
            }
        };
        let resp = self
            .inner
            .http
            .post(&ep.url)
            .timeout(timeout)
            .json(&body)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        let text = resp.text().await.map_err(transport)?;
        let value: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                if !status.is_success() {
                    return Err(Error::Http {
                        method: method.to_owned(),
                        status: status.as_u16(),
                        body: text.chars().take(200).collect(),
                    });
                }
                return Err(Error::invalid(method, format!("body is not JSON: {e}")));
            }
        };
        decode_response(method, value)
    }

    /// One health check: `getblockcount` on every endpoint whose breaker lets a call through,
    /// at once; breakers and lag marks updated.
    async fn check_health(&self) {
        let eps = &self.inner.endpoints;
        let timeout = self.inner.timeout.min(
            self.inner
                .failover
                .health_interval
                .max(Duration::from_secs(2)),
        );
        let checks = eps.iter().map(|ep| async move {
            if ep.wrong_network.load(Ordering::Relaxed) || !ep.try_acquire(Instant::now(), timeout)
            {
                return;
            }
            if ep.chain_id.get().is_none() {
                let id = async {
                    let v: crate::types::Version =
                        self.post(ep, "getversion", &json!([]), timeout).await?;
                    let genesis: String =
                        self.post(ep, "getblockhash", &json!([0]), timeout).await?;
                    Ok::<_, Error>((v.protocol.network, genesis))
                };
                match id.await {
                    Ok(id) => {
                        let _ = ep.chain_id.set(id);
                    }
                    Err(e) if is_failover(&e) => {
                        ep.record_failure(Instant::now(), &e);
                        return;
                    }
                    Err(_) => {}
                }
            }
            match self
                .post::<u32>(ep, "getblockcount", &json!([]), timeout)
                .await
            {
                Ok(count) => {
                    ep.block_count.store(count, Ordering::Relaxed);
                    ep.record_success();
                }
                Err(e) if is_failover(&e) => {
                    ep.block_count.store(0, Ordering::Relaxed);
                    ep.record_failure(Instant::now(), &e);
                }
                // The node answered, but not with a height: leave its breaker alone.
                Err(_) => ep.record_success(),
            }
        });
        futures::future::join_all(checks).await;
        update_network(eps, &self.inner.network);
        update_lag(eps, self.inner.failover.lag_threshold);
    }

    /// `getversion`: node and protocol settings (network magic, address version, block time,
    /// MaxValidUntilBlockIncrement).
    pub async fn get_version(&self) -> Result<Version> {
        self.call("getversion", json!([])).await
    }

    /// `getblockcount`: the current height + 1.
    pub async fn get_block_count(&self) -> Result<u32> {
        self.call("getblockcount", json!([])).await
    }

    /// `getblock` (verbose) by height or hash.
    pub async fn get_block(&self, id: impl Into<BlockId>) -> Result<Block> {
        let id = match id.into() {
            BlockId::Index(i) => json!(i),
            BlockId::Hash(h) => json!(h.to_string()),
        };
        self.call("getblock", json!([id, 1])).await
    }

    /// `getrawtransaction` (verbose). Fails with RPC error -103 for unknown transactions.
    pub async fn get_raw_transaction(&self, hash: &UInt256) -> Result<RawTransaction> {
        self.call("getrawtransaction", json!([hash.to_string(), 1]))
            .await
    }

    /// `gettransactionheight`: the height of the block that included a transaction. Fails with
    /// RPC error -100 while the transaction is unknown or still in the mempool.
    pub async fn get_transaction_height(&self, hash: &UInt256) -> Result<u32> {
        self.call("gettransactionheight", json!([hash.to_string()]))
            .await
    }

    /// `sendrawtransaction`: broadcast a signed transaction (its wire bytes); returns its hash.
    /// A transaction the node refuses fails with [`Error::Rpc`] and a [`codes`] value, e.g.
    /// -508 for a bad witness signature, -507 for a bad attribute, -501 for a duplicate.
    pub async fn send_raw_transaction(&self, tx: &[u8]) -> Result<UInt256> {
        #[derive(serde::Deserialize)]
        struct Sent {
            hash: UInt256,
        }
        let (sent, failed_over) = self
            .call_tracked::<Sent>(
                "sendrawtransaction",
                &json!([B64.encode(tx)]),
                self.inner.timeout,
            )
            .await;
        match sent {
            Ok(sent) => Ok(sent.hash),
            // An endpoint that failed in transport may have taken (and relayed) it before the
            // next one was asked: the duplicate is this transaction, sent.
            Err(e)
                if failed_over
                    && matches!(
                        e.rpc_code(),
                        Some(codes::ALREADY_EXISTS | codes::ALREADY_IN_POOL)
                    ) =>
            {
                Ok(neo::tx::Transaction::from_bytes(tx)?.hash())
            }
            Err(e) => Err(e),
        }
    }

    /// `getapplicationlog` of a transaction. Fails with an RPC error while the transaction is
    /// not yet in a block.
    pub async fn get_application_log(&self, hash: &UInt256) -> Result<ApplicationLog> {
        self.call("getapplicationlog", json!([hash.to_string()]))
            .await
    }

    /// `invokefunction`: test-run `method` of `contract` with JSON contract parameters
    /// (`{"type": "Integer", "value": "1"}` ...) and signers.
    pub async fn invoke_function(
        &self,
        contract: &UInt160,
        method: &str,
        params: &[Value],
        signers: &[Signer],
    ) -> Result<InvokeResult> {
        self.call(
            "invokefunction",
            json!([contract.to_string(), method, params, signers]),
        )
        .await
    }

    /// `invokescript`: test-run a script with signers (whose witnesses are assumed valid).
    pub async fn invoke_script(&self, script: &[u8], signers: &[Signer]) -> Result<InvokeResult> {
        self.call("invokescript", json!([B64.encode(script), signers]))
            .await
    }

    /// `calculatenetworkfee`: the network fee (GAS fractions) a transaction needs, given its wire
    /// bytes with placeholder or real witnesses (the verification scripts matter).
    pub async fn calculate_network_fee(&self, tx: &[u8]) -> Result<i64> {
        #[derive(serde::Deserialize)]
        struct Fee {
            #[serde(deserialize_with = "crate::types::de_i64")]
            networkfee: i64,
        }
        let fee: Fee = self
            .call("calculatenetworkfee", json!([B64.encode(tx)]))
            .await?;
        Ok(fee.networkfee)
    }

    /// `getstorage`: the value under `key` in `contract`'s storage, `None` when absent.
    pub async fn get_storage(&self, contract: &UInt160, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let method = "getstorage";
        let res: Result<Option<String>> = self
            .call(method, json!([contract.to_string(), B64.encode(key)]))
            .await;
        match res {
            Ok(Some(b64)) => B64
                .decode(b64.as_bytes())
                .map(Some)
                .map_err(|e| Error::invalid(method, format!("value is not base64: {e}"))),
            Ok(None) => Ok(None),
            Err(e) if e.rpc_code() == Some(codes::UNKNOWN_STORAGE_ITEM) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `findstorage`: one page of `contract`'s storage entries whose key starts with `prefix`,
    /// starting at entry `start`.
    pub async fn find_storage(
        &self,
        contract: &UInt160,
        prefix: &[u8],
        start: u64,
    ) -> Result<FoundStorage> {
        self.call(
            "findstorage",
            json!([contract.to_string(), B64.encode(prefix), start]),
        )
        .await
    }

    /// `getcontractstate` of a deployed contract.
    pub async fn get_contract_state(&self, contract: &UInt160) -> Result<ContractState> {
        self.call("getcontractstate", json!([contract.to_string()]))
            .await
    }

    /// `getnep17balances` of an account.
    pub async fn get_nep17_balances(&self, account: &UInt160) -> Result<Nep17Balances> {
        self.call("getnep17balances", json!([account.to_address()]))
            .await
    }

    /// `getnativecontracts`: the native contracts' states.
    pub async fn get_native_contracts(&self) -> Result<Vec<ContractState>> {
        self.call("getnativecontracts", json!([])).await
    }
}

/// The health check of a multi-endpoint client: runs while a clone of the client exists.
/// The first round runs at once (it also learns every endpoint's network).
async fn health_loop(inner: std::sync::Weak<Inner>) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let interval = strong.failover.health_interval;
        RpcClient { inner: strong }.check_health().await;
        tokio::time::sleep(interval).await;
    }
}

/// Turn a JSON-RPC response object into the result or an [`Error::Rpc`].
fn decode_response<T: DeserializeOwned>(method: &str, mut value: Value) -> Result<T> {
    if let Some(err) = value.get("error").filter(|e| !e.is_null()) {
        let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("(no message)")
            .to_owned();
        let data = match err.get("data") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        return Err(Error::Rpc {
            method: method.to_owned(),
            code,
            message,
            data,
        });
    }
    let result = value
        .get_mut("result")
        .map(Value::take)
        .ok_or_else(|| Error::invalid(method, "neither result nor error in the response"))?;
    serde_json::from_value(result).map_err(|e| Error::invalid(method, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_error_carries_code_and_message() {
        let v = json!({"jsonrpc":"2.0","id":1,"error":{"code":-508,"message":"Invalid signature","data":"witness check failed"}});
        let e = decode_response::<u32>("sendrawtransaction", v).unwrap_err();
        assert_eq!(e.rpc_code(), Some(codes::INVALID_SIGNATURE));
        assert!(!e.is_transport());
        let text = e.to_string();
        assert!(
            text.contains("-508") && text.contains("Invalid signature"),
            "{text}"
        );
        assert!(text.contains("witness check failed"), "{text}");
    }

    #[test]
    fn result_is_decoded() {
        let v = json!({"jsonrpc":"2.0","id":1,"result":42});
        assert_eq!(decode_response::<u32>("getblockcount", v).unwrap(), 42);
        let v = json!({"jsonrpc":"2.0","id":1,"result":"x"});
        assert!(matches!(
            decode_response::<u32>("getblockcount", v),
            Err(Error::InvalidResponse { .. })
        ));
        let v = json!({"jsonrpc":"2.0","id":1});
        assert!(decode_response::<u32>("getblockcount", v).is_err());
    }

    #[test]
    fn rejects_non_http_urls() {
        assert!(matches!(
            RpcClient::new("127.0.0.1:1"),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[tokio::test]
    async fn transport_errors_are_distinct() {
        // Bind then drop a listener: connecting to its port is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = RpcClient::new(format!("http://127.0.0.1:{port}")).unwrap();
        let e = c.get_block_count().await.unwrap_err();
        assert!(e.is_transport(), "{e}");
        assert_eq!(e.rpc_code(), None);
    }

    #[tokio::test]
    async fn all_endpoints_down_is_one_clear_error_without_credentials() {
        let refused = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let urls = vec![
            format!("http://alice:s3cret@127.0.0.1:{}/?apikey=k1", refused()),
            format!("http://bob:hunter2@127.0.0.1:{}", refused()),
        ];
        let cfg = FailoverConfig {
            health_interval: Duration::ZERO,
            ..FailoverConfig::default()
        };
        let c = RpcClient::with_endpoints(urls, Duration::from_secs(2), cfg).unwrap();
        let e = c.get_block_count().await.unwrap_err();
        assert!(
            matches!(e, Error::AllEndpointsFailed { endpoints: 2, .. }),
            "{e}"
        );
        assert!(e.is_transport());
        let text = format!("{e} {e:?} {c:?}");
        for secret in ["alice", "s3cret", "apikey", "bob", "hunter2"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("http://127.0.0.1:"), "{text}");
        // Three calls open both breakers; a fourth still tries them (last resort) and fails
        // the same way instead of being refused untried.
        for _ in 0..3 {
            let _ = c.get_block_count().await;
        }
        assert!(
            c.endpoint_status()
                .iter()
                .all(|s| s.state == crate::BreakerState::Open),
            "{:?}",
            c.endpoint_status()
        );
        assert!(matches!(
            c.get_block_count().await,
            Err(Error::AllEndpointsFailed { .. })
        ));
    }

    #[test]
    fn bad_endpoint_lists_are_refused_without_echoing_credentials() {
        let e = RpcClient::with_endpoints(Vec::new(), DEFAULT_TIMEOUT, FailoverConfig::default())
            .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)));
        let e = RpcClient::with_endpoints(
            vec!["http://h:1".into(), "ftp://u:pw@h:2".into()],
            DEFAULT_TIMEOUT,
            FailoverConfig::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("ftp://h:2") && !e.contains("pw"), "{e}");
    }

    #[tokio::test]
    async fn timeout_is_reported() {
        // A listener that accepts and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let mut conns = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                conns.push(s);
            }
        });
        let c =
            RpcClient::with_timeout(format!("http://{addr}"), Duration::from_millis(200)).unwrap();
        let e = c.get_block_count().await.unwrap_err();
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
        hold.abort();
    }
}
