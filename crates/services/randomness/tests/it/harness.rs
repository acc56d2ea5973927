//! Test environment: a migrated store on a throw-away database, a real ECVRF key, the routes
//! mounted with `nsl_api::router_with` and authenticated with real API keys.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use nsl_api::AppState;
use nsl_api::apikeys::{Actor, create_key};
use nsl_randomness::{GatewayView, RandomnessService, VrfOutput, VrfProver};
use nsl_store::test_utils::TestDb;
use nsl_store::{Account, AccountStore as _, Role, Store};
use serde_json::Value;
use tower::ServiceExt;

/// A VRF key held in memory (the node uses its vault).
pub(crate) struct KeyProver(pub(crate) nsl_vrf::SecretKey);

impl VrfProver for KeyProver {
    fn public_key(&self) -> Result<[u8; 33], String> {
        Ok(self.0.public_key().to_compressed())
    }
    fn prove(&self, alpha: &[u8]) -> Result<VrfOutput, String> {
        let proof = nsl_vrf::prove(&self.0, alpha);
        let beta = nsl_vrf::proof_to_hash(&proof).map_err(|e| e.to_string())?;
        Ok(VrfOutput {
            beta,
            proof: proof.to_bytes(),
        })
    }
}

/// The chain as the service reads it: fixed block hashes and a settable registered key (the
/// privnet e2e test reads the real gateway).
#[derive(Default)]
pub(crate) struct StubGateway {
    pub(crate) key: Mutex<Option<[u8; 33]>>,
}

#[async_trait]
impl GatewayView for StubGateway {
    async fn block_hash(&self, index: u32) -> Result<[u8; 32], String> {
        let mut h = [0u8; 32];
        h[..4].copy_from_slice(&index.to_le_bytes());
        h[31] = 0xbb;
        Ok(h)
    }
    async fn vrf_key(&self) -> Result<Option<[u8; 33]>, String> {
        Ok(*self.key.lock().unwrap())
    }
}

pub(crate) struct TestEnv {
    pub(crate) store: Store,
    pub(crate) secret: [u8; 32],
    pub(crate) gateway: Arc<StubGateway>,
    pub(crate) service: Arc<RandomnessService>,
    /// The same store without a gateway.
    pub(crate) offline: Arc<RandomnessService>,
    _db: TestDb,
}

impl TestEnv {
    pub(crate) async fn sqlite() -> TestEnv {
        Self::with(TestDb::sqlite(&[&nsl_randomness::MIGRATIONS]).await)
    }

    pub(crate) async fn postgres() -> TestEnv {
        Self::with(TestDb::postgres(&[&nsl_randomness::MIGRATIONS]).await)
    }

    fn with(db: TestDb) -> TestEnv {
        let store = db.store.clone();
        let secret = [0x5a; 32];
        let prover = || {
            Arc::new(KeyProver(
                nsl_vrf::SecretKey::from_bytes(&secret).expect("key"),
            ))
        };
        let gateway = Arc::new(StubGateway::default());
        let cfg = nsl_config::RandomnessConfig {
            enabled: true,
            max_words: 8,
        };
        let service = RandomnessService::new(store.clone(), prover(), Some(gateway.clone()), &cfg);
        let offline = RandomnessService::new(store.clone(), prover(), None, &cfg);
        TestEnv {
            store,
            secret,
            gateway,
            service,
            offline,
            _db: db,
        }
    }

    pub(crate) fn public_key(&self) -> nsl_vrf::PublicKey {
        nsl_vrf::SecretKey::from_bytes(&self.secret)
            .expect("key")
            .public_key()
    }

    pub(crate) fn app(&self, service: &Arc<RandomnessService>) -> Router {
        let mut cfg = nsl_config::Config::default();
        cfg.auth.jwt_secret = Some(nsl_config::Secret::new(
            "test-secret-test-secret-test-secret-0123",
        ));
        let generous = nsl_config::Bucket {
            rate_per_sec: 10_000.0,
            burst: 10_000,
        };
        cfg.rate_limit.per_ip = generous;
        cfg.rate_limit.per_api_key = generous;
        cfg.rate_limit.per_account = generous;
        let state = AppState::from_config(self.store.clone(), &cfg).expect("state");
        nsl_api::router_with(state, nsl_randomness::router(service.clone()))
    }

    pub(crate) async fn user(&self, name: &str, scopes: &[&str]) -> (Account, String) {
        let account = self.store.create_account(name, Role::User).await.unwrap();
        let key = create_key(
            &self.store,
            &account,
            "test",
            scopes.iter().map(|s| s.to_string()).collect(),
            None,
            &Actor {
                name: "test".into(),
                ip: None,
            },
        )
        .await
        .expect("api key");
        (account, key.secret)
    }
}

pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
    pub(crate) text: String,
}

pub(crate) async fn call(
    app: &Router,
    method: Method,
    path: &str,
    body: Option<String>,
    key: Option<&str>,
) -> Resp {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(k) = key {
        b = b.header("x-api-key", k);
    }
    let body = match body {
        Some(v) => {
            b = b.header("content-type", "application/json");
            Body::from(v)
        }
        None => Body::empty(),
    };
    let mut req = b.body(body).expect("request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 9], 40000))));
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Resp {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        text,
    }
}
