//! Layer 1: the raw JSON-RPC client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use neo::tx::Signer;
use neo::{UInt160, UInt256};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{Error, Result, codes};
use crate::types::{
    ApplicationLog, Block, BlockId, ContractState, FoundStorage, InvokeResult, Nep17Balances,
    RawTransaction, Version,
};

/// Default per-call timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A JSON-RPC 2.0 client for one Neo N3 node. Cheap to clone (shared connection pool).
///
/// Every method is one HTTP POST with its own timeout ([`RpcClient::with_timeout`] sets the
/// default; [`RpcClient::call_with_timeout`] overrides it per call).
#[derive(Clone)]
pub struct RpcClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    url: String,
    timeout: Duration,
    next_id: AtomicU64,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient")
            .field("url", &self.inner.url)
            .field("timeout", &self.inner.timeout)
            .finish()
    }
}

impl RpcClient {
    /// A client for the node at `url` (e.g. `http://127.0.0.1:30333`) with [`DEFAULT_TIMEOUT`].
    pub fn new(url: impl Into<String>) -> Result<Self> {
        Self::with_timeout(url, DEFAULT_TIMEOUT)
    }

    /// A client whose calls time out after `timeout` unless a call says otherwise.
    pub fn with_timeout(url: impl Into<String>, timeout: Duration) -> Result<Self> {
        let url = url.into();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::InvalidArgument(format!(
                "RPC URL must start with http:// or https://, got {url:?}"
            )));
        }
        let http = reqwest::Client::builder()
            .build()
            .map_err(|source| Error::Transport {
                method: "client setup".into(),
                source,
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                url,
                timeout,
                next_id: AtomicU64::new(1),
            }),
        })
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Call `method` with positional `params` and decode the `result`.
    pub async fn call<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T> {
        self.call_with_timeout(method, params, self.inner.timeout)
            .await
    }

    /// Like [`RpcClient::call`] with an explicit timeout.
    pub async fn call_with_timeout<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<T> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let transport = |source: reqwest::Error| {
            if source.is_timeout() {
                Error::Timeout {
                    method: method.to_owned(),
                    timeout,
                }
            } else {
                Error::Transport {
                    method: method.to_owned(),
                    source,
                }
            }
        };
        let resp = self
            .inner
            .http
            .post(&self.inner.url)
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
        let sent: Sent = self
            .call("sendrawtransaction", json!([B64.encode(tx)]))
            .await?;
        Ok(sent.hash)
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
