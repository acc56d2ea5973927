//! End-to-end tests of the nsl node against a real neo-go privnet and PostgreSQL.
//!
//! The tests live in `tests/` (one binary per area: `chain`, later `gateway`); this library holds
//! what they share: starting a chain with the test block time and locating test contracts.
//! Every test starts its own chain (nextest runs each test in its own process); the chain and its
//! temporary directory go away when the [`DevChain`] is dropped or the process dies.

#![warn(missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

pub mod gateway_batch;
pub mod rpc_proxy;
pub mod tcp_proxy;

pub use nsl_devchain::{ChainConfig, DevChain, compile_contract, compile_contract_cached};

/// Block time of test chains: `$NSL_E2E_BLOCK_MS` or 100 ms.
pub fn test_block_time() -> Duration {
    let ms = std::env::var("NSL_E2E_BLOCK_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|ms| *ms >= 10)
        .unwrap_or(100);
    Duration::from_millis(ms)
}

/// Start a privnet for one test, with [`test_block_time`]. Logs go to the test output
/// (`RUST_LOG` filters them).
pub async fn start_chain() -> DevChain {
    start_chain_with(ChainConfig::with_block_time(test_block_time())).await
}

/// Start a privnet with a custom config; panics with the harness error (which includes the tail
/// of neo-go's log) if it does not come up.
pub async fn start_chain_with(config: ChainConfig) -> DevChain {
    init_tracing();
    match DevChain::start(config).await {
        Ok(chain) => chain,
        Err(e) => panic!("privnet did not start: {e}"),
    }
}

/// Path of a test contract in `testing/e2e/contracts/`.
pub fn contract_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("contracts")
        .join(file)
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_test_writer()
        .try_init();
}

/// JSON document served at `/price` by [`price_server`].
pub const PRICE_BODY: &str = r#"{"pair":"NEO-USD","data":{"price":42.17,"sources":["a","b"]}}"#;

/// What a route of a [`PriceServer`] answers.
#[derive(Debug, Clone)]
pub struct Route {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type` header value.
    pub content_type: String,
    /// Response body.
    pub body: Vec<u8>,
    /// Pause before the response is written (a slow source).
    pub delay: Duration,
    /// When set, the response is written only once the gate holds `true` ([`Route::gated`]).
    pub gate: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Route {
    /// `200 OK` with this content type and body, at once.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::status(200, content_type, body)
    }

    /// Any status with this content type and body, at once.
    pub fn status(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            content_type: content_type.to_owned(),
            body: body.into(),
            delay: Duration::ZERO,
            gate: None,
        }
    }

    /// The same answer held back until `gate` holds `true` (the test decides when a source
    /// answers, without timing).
    pub fn gated(mut self, gate: tokio::sync::watch::Receiver<bool>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// The same answer written only after `delay`.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A tiny HTTP/1.1 server on loopback for oracle tests: `/price` answers [`PRICE_BODY`] as
/// `application/json`, routes given to [`http_server`] answer what they say, anything else `404`
/// as `text/plain`. The query string is ignored when matching routes. Aborted (with every open
/// connection) when dropped, also when the test fails.
pub struct PriceServer {
    /// Where it listens (`127.0.0.1:<free port>`).
    pub addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl PriceServer {
    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for PriceServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Start a [`PriceServer`] on a free loopback port (only `/price`).
pub async fn price_server() -> PriceServer {
    http_server(Vec::new()).await
}

/// Start a [`PriceServer`] with `routes` (path without query, e.g. `/html`) besides `/price`.
pub async fn http_server(routes: Vec<(&str, Route)>) -> PriceServer {
    use std::collections::HashMap;
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let mut table: HashMap<String, Route> = routes
        .into_iter()
        .map(|(path, route)| (path.to_owned(), route))
        .collect();
    table
        .entry("/price".to_owned())
        .or_insert_with(|| Route::ok("application/json", PRICE_BODY));
    let table = Arc::new(table);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the test HTTP server");
    let addr = listener.local_addr().expect("test HTTP server address");
    let task = tokio::spawn(async move {
        // Connections live in this set: aborting the accept task drops (aborts) them too.
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((mut sock, _)) = listener.accept().await {
            while connections.try_join_next().is_some() {}
            let table = table.clone();
            connections.spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut n = 0;
                while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => n += k,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let target = head.split_whitespace().nth(1).unwrap_or("/");
                let path = target.split('?').next().unwrap_or(target);
                let route = table
                    .get(path)
                    .cloned()
                    .unwrap_or_else(|| Route::status(404, "text/plain", "no such page"));
                if !route.delay.is_zero() {
                    tokio::time::sleep(route.delay).await;
                }
                if let Some(mut gate) = route.gate.clone() {
                    let _ = gate.wait_for(|open| *open).await;
                }
                let reason = match route.status {
                    200 => "OK",
                    404 => "Not Found",
                    _ => "Status",
                };
                let head = format!(
                    "HTTP/1.1 {} {reason}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    route.status,
                    route.content_type,
                    route.body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&route.body).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    PriceServer { addr, task }
}

/// Compile a contract of this repository (path relative to the repository root), with the tool
/// cache of the environment, on a blocking thread. The output is cached in the tool cache, keyed
/// by the source (neo3-boa takes ~15 s of CPU for the gateway: a test's setup under load would
/// otherwise take dozens of blocks).
pub async fn compile_repo_contract(relative: &'static str) -> nsl_devchain::CompiledContract {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative);
    tokio::task::spawn_blocking(move || {
        compile_contract_cached(&nsl_devchain::ToolCache::from_env()?, &source)
    })
    .await
    .expect("compile task")
    .unwrap_or_else(|e| panic!("compiling {relative}: {e}"))
}

/// The gateway contract as `nsl dev` deploys it: the source embedded in `nsl-devchain`
/// ([`nsl_devchain::GATEWAY_SOURCE`], `contracts/gateway/gateway.py` at build time), compiled
/// on a blocking thread through the tool cache's compile cache.
pub async fn compile_gateway() -> nsl_devchain::CompiledContract {
    tokio::task::spawn_blocking(|| {
        nsl_devchain::compile_gateway(&nsl_devchain::ToolCache::from_env()?)
    })
    .await
    .expect("compile task")
    .unwrap_or_else(|e| panic!("compiling the gateway: {e}"))
}

/// Amounts of GAS for an [`OracleChain`] (in GAS fractions, [`neo_rpc::ONE_GAS`] = 1 GAS).
#[derive(Debug, Clone)]
pub struct OracleChainConfig {
    /// Block time of the privnet.
    pub block_time: Duration,
    /// GAS of the user account (pays requests: 0.5 + gasForResponse per native request).
    pub user_gas: i64,
    /// GAS of the node account (pays the gateway `fulfill` transactions).
    pub node_gas: i64,
    /// The gateway consumer's deposit at the gateway (0.1 GAS per oracle request by default).
    pub deposit: i64,
    /// Run neo-go's own oracle service instead of designating `node_key`: the validator key is
    /// then the only Oracle-role key (native requests are answered by neo-go, not by a service
    /// started with [`OracleChain::service`]). `None` (default): `node_key` is designated.
    pub neogo_oracle: Option<nsl_devchain::NeoGoOracle>,
}

impl OracleChainConfig {
    /// Enough GAS for a few dozen requests, with `block_time`.
    pub fn with_block_time(block_time: Duration) -> Self {
        Self {
            block_time,
            user_gas: 200 * neo_rpc::ONE_GAS,
            node_gas: 50 * neo_rpc::ONE_GAS,
            deposit: 20 * neo_rpc::ONE_GAS,
            neogo_oracle: None,
        }
    }
}

/// A privnet ready for the oracle service: `node_key` is designated for the Oracle role at
/// genesis, funded, and registered with the gateway (`addNode`); the gateway, the example
/// gateway consumer (its deposit funded) and the example native-oracle consumer are deployed,
/// both consumers owned by `user`.
pub struct OracleChain {
    /// The privnet.
    pub chain: DevChain,
    /// The oracle node's key.
    pub node_key: neo::PrivateKey,
    /// Owner of both consumers; pays the requests.
    pub user: neo_rpc::Actor,
    /// Owner of the gateway (registers nodes and the VRF key).
    pub owner: neo_rpc::Actor,
    /// The gateway contract.
    pub gateway: neo::UInt160,
    /// `examples/contracts/gateway_consumer`.
    pub gateway_consumer: neo::UInt160,
    /// `examples/contracts/oracle_consumer` (Neo's native OracleContract).
    pub native_consumer: neo::UInt160,
}

impl OracleChain {
    /// Start the privnet, compile and deploy the contracts, fund and register the node.
    pub async fn start(config: OracleChainConfig) -> Self {
        use neo::Arg;
        use neo_rpc::{Account, Actor, ContractManagement, Nep17};

        let node_key = neo::PrivateKey::generate();
        let chain_config = ChainConfig {
            oracle_keys: if config.neogo_oracle.is_some() {
                Vec::new()
            } else {
                vec![node_key.public_key()]
            },
            neogo_oracle: config.neogo_oracle.clone(),
            ..ChainConfig::with_block_time(config.block_time)
        };
        let (chain, gateway_c, gateway_consumer_c, native_consumer_c) = tokio::join!(
            start_chain_with(chain_config),
            compile_gateway(),
            compile_repo_contract("examples/contracts/gateway_consumer/gateway_consumer.py"),
            compile_repo_contract("examples/contracts/oracle_consumer/oracle_consumer.py"),
        );
        let rpc = chain.rpc().clone();
        let actor = |key: neo::PrivateKey| Actor::new(rpc.clone(), vec![Account::single(key)]);
        let (owner, user) = tokio::join!(
            chain.new_funded_account(200 * neo_rpc::ONE_GAS),
            chain.new_funded_account(config.user_gas)
        );
        let owner = actor(owner.expect("fund the gateway owner"))
            .await
            .expect("owner actor");
        let user = actor(user.expect("fund the user"))
            .await
            .expect("user actor");
        // The same setup as `nsl dev`: fund the node, deploy the gateway, addNode.
        let gateway = nsl_devchain::deploy_gateway(
            &chain,
            &gateway_c,
            &owner,
            &node_key.public_key(),
            config.node_gas,
        )
        .await
        .unwrap_or_else(|e| panic!("deploy the gateway and register the node: {e}"));
        let cm = ContractManagement::new(rpc.clone());
        let (gateway_consumer, native_consumer) = tokio::join!(
            cm.deploy(
                &user,
                &gateway_consumer_c.nef,
                &gateway_consumer_c.manifest,
                Arg::Hash160(gateway),
            ),
            cm.deploy(
                &user,
                &native_consumer_c.nef,
                &native_consumer_c.manifest,
                Arg::Null,
            )
        );
        let gateway_consumer = gateway_consumer.expect("deploy the gateway consumer").hash;
        let native_consumer = native_consumer.expect("deploy the native consumer").hash;
        Nep17::gas(rpc.clone())
            .transfer(
                &user,
                &gateway,
                config.deposit,
                Arg::Hash160(gateway_consumer),
            )
            .await
            .and_then(neo_rpc::TxOutcome::into_halt)
            .expect("deposit for the gateway consumer");
        Self {
            chain,
            node_key,
            user,
            owner,
            gateway,
            gateway_consumer,
            native_consumer,
        }
    }

    /// The chain's RPC client.
    pub fn rpc(&self) -> &neo_rpc::RpcClient {
        self.chain.rpc()
    }

    /// The oracle service for this chain (gateway configured, started at block 0), with
    /// `config`'s other settings.
    pub async fn service(
        &self,
        rpc: neo_rpc::RpcClient,
        store: std::sync::Arc<dyn nsl_oracle::service::OracleStore>,
        egress: nsl_egress::Egress,
        config: nsl_oracle::service::ServiceConfig,
    ) -> nsl_oracle::service::OracleService {
        nsl_oracle::service::OracleService::new(
            store,
            rpc,
            egress,
            nsl_oracle::service::NodeKey(self.node_key.clone()),
            nsl_oracle::service::ServiceConfig {
                gateway: Some(self.gateway),
                start_block: Some(config.start_block.unwrap_or(0)),
                ..config
            },
            Vec::new(),
        )
        .await
        .expect("start the oracle service")
    }

    /// Script of `gatewayConsumer.requestValue(url, filter)`.
    pub fn gateway_request_script(&self, url: &str, filter: &str) -> Vec<u8> {
        neo_rpc::call_script(
            &self.gateway_consumer,
            "requestValue",
            &[
                neo::Arg::String(url.into()),
                neo::Arg::String(filter.into()),
            ],
        )
        .expect("requestValue script")
    }

    /// Script of `nativeConsumer.requestData(url, filter, gasForResponse)`.
    pub fn native_request_script(&self, url: &str, filter: &str, gas_for_response: i64) -> Vec<u8> {
        neo_rpc::call_script(
            &self.native_consumer,
            "requestData",
            &[
                neo::Arg::String(url.into()),
                neo::Arg::String(filter.into()),
                neo::Arg::Int(gas_for_response.into()),
            ],
        )
        .expect("requestData script")
    }

    /// Ask the gateway consumer for `url` with `filter`; waits for the block and returns the
    /// gateway's request id.
    pub async fn gateway_request(&self, url: &str, filter: &str) -> i64 {
        let out = self
            .user
            .run(&self.gateway_request_script(url, filter))
            .await
            .and_then(neo_rpc::TxOutcome::into_halt)
            .expect("requestValue");
        out.stack[0].as_i64().expect("request id")
    }

    /// Ask Neo's OracleContract (through the native consumer) for `url` with `filter` and
    /// 0.2 GAS for the response; waits for the block and returns the OracleContract's request id.
    pub async fn native_request(&self, url: &str, filter: &str) -> u64 {
        let out = self
            .user
            .run(&self.native_request_script(url, filter, neo_rpc::ONE_GAS / 5))
            .await
            .and_then(neo_rpc::TxOutcome::into_halt)
            .expect("requestData");
        let event = out
            .events(&neo_rpc::native::ORACLE, "OracleRequest")
            .next()
            .expect("OracleRequest event");
        event.args()[0].as_u64().expect("request id")
    }

    /// `(code, result)` the gateway consumer stored for request `id` (`getResult`), waiting up
    /// to `timeout` for it; `None` if it did not arrive.
    pub async fn gateway_result(&self, id: i64, timeout: Duration) -> Option<(i64, Vec<u8>)> {
        let invoker = neo_rpc::Invoker::new(self.rpc().clone());
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let item = invoker
                .call_item(
                    &self.gateway_consumer,
                    "getResult",
                    &[neo::Arg::Int(id.into())],
                )
                .await
                .expect("getResult");
            if let Ok([code, result]) = item.as_array() {
                return Some((code.as_i64().ok()?, result.as_bytes().ok()?));
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(self.chain.block_time()).await;
        }
    }
}
