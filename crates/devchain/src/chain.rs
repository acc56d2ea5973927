//! A single-validator neo-go privnet on free local ports.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use neo::Arg;
use neo::{Nep6Wallet, PrivateKey, PublicKey, ScryptParams, UInt160};
use neo_rpc::types::Version;
use neo_rpc::{Account, Actor, Nep17, RpcClient, TxOutcome};

use crate::error::{DevchainError, Result};
use crate::process::spawn_guarded;
use crate::relay::RpcRelay;
use crate::tools::{ToolCache, tail};

/// Network magic of chains started by this crate unless configured otherwise (0xDDB1).
pub const DEFAULT_MAGIC: u32 = 56753;
/// Password of the validator's NEP-6 wallet inside the chain directory (a throwaway dev key).
const WALLET_PASSWORD: &str = "nsl-devchain";
/// Port collisions with other processes starting at the same moment are retried this often.
const START_ATTEMPTS: usize = 3;

/// How to start a chain.
#[derive(Debug, Clone)]
pub struct ChainConfig {
    /// Block time (neo-go `TimePerBlock`). Tests use 100–250 ms, `nsl dev` 1 s.
    pub block_time: Duration,
    /// Network magic.
    pub magic: u32,
    /// Keys designated for the Oracle role at genesis (neo-go `Genesis.Roles`), so no
    /// `designateAsRole` transaction is needed. neo-go's own oracle service stays off unless
    /// [`ChainConfig::neogo_oracle`] is set.
    pub oracle_keys: Vec<PublicKey>,
    /// Run neo-go's own oracle service (`ApplicationConfiguration.Oracle`): the reference
    /// implementation answering native OracleContract requests on this chain, for parity tests and
    /// side-by-side benchmarks. `None` (default): off.
    pub neogo_oracle: Option<NeoGoOracle>,
    /// Where the wallet, config and log go. `None`: a fresh temporary directory removed on drop.
    pub work_dir: Option<PathBuf>,
    /// How long to wait for the chain to reach height 2.
    pub start_timeout: Duration,
    /// The tool cache (`None`: [`ToolCache::from_env`]).
    pub tools: Option<ToolCache>,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            block_time: Duration::from_millis(200),
            magic: DEFAULT_MAGIC,
            oracle_keys: Vec::new(),
            neogo_oracle: None,
            work_dir: None,
            start_timeout: Duration::from_secs(60),
            tools: None,
        }
    }
}

impl ChainConfig {
    /// Defaults with the given block time.
    pub fn with_block_time(block_time: Duration) -> Self {
        Self {
            block_time,
            ..Self::default()
        }
    }
}

/// neo-go's own oracle service on a [`DevChain`]. It signs with the validator key, which is then
/// designated for the Oracle role at genesis too (after [`ChainConfig::oracle_keys`]; with other
/// keys designated, a response needs their signatures as well). neo-go's oracle fetches `https`
/// URLs only (and `neofs:`, not configured here).
#[derive(Debug, Clone, Default)]
pub struct NeoGoOracle {
    /// `AllowPrivateHost`: allow loopback and private addresses (a local test server).
    pub allow_private_host: bool,
    /// PEM file of the CA certificates neo-go trusts for HTTPS instead of the system's (set as
    /// `SSL_CERT_FILE` of the neo-go process), e.g. the CA of a local test server.
    pub ca_file: Option<PathBuf>,
    /// `AllowedContentTypes`; empty: neo-go's default (every content type).
    pub allowed_content_types: Vec<String>,
    /// `MaxConcurrentRequests`: URLs neo-go's oracle fetches at once; `None`: neo-go's default
    /// (10).
    pub max_concurrent_requests: Option<u32>,
}

enum WorkDir {
    Temp(tempfile::TempDir),
    Fixed(PathBuf),
}

impl WorkDir {
    fn path(&self) -> &Path {
        match self {
            Self::Temp(t) => t.path(),
            Self::Fixed(p) => p,
        }
    }
}

/// A running single-validator neo-go privnet.
///
/// The validator key is generated here, in Rust; its 1-of-1 multisig account is the committee and
/// validators account and holds all genesis NEO (100,000,000) and GAS (52,000,000).
/// Dropping the value kills neo-go and removes the temporary directory; if the process dies
/// instead, the kernel kills neo-go (see the `process` module).
pub struct DevChain {
    child: Option<Child>,
    // Kept for its Drop (removes the temporary directory after neo-go is gone).
    dir: WorkDir,
    log_path: PathBuf,
    rpc_url: String,
    p2p_port: u16,
    rpc: RpcClient,
    version: Version,
    validator: PrivateKey,
    block_time: Duration,
    neogo: PathBuf,
    start_timeout: Duration,
    config: ChainConfig,
    peers: std::sync::atomic::AtomicU32,
}

impl std::fmt::Debug for DevChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevChain")
            .field("rpc_url", &self.rpc_url)
            .field("network_magic", &self.version.protocol.network)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl DevChain {
    /// Start a chain and wait until its height is at least 2.
    ///
    /// Fills the tool cache first if needed (neo-go download on first use).
    pub async fn start(config: ChainConfig) -> Result<Self> {
        let tools = match config.tools.clone() {
            Some(t) => t,
            None => ToolCache::from_env()?,
        };
        let neogo = blocking(move || tools.neogo()).await?;
        let neogo_path = neogo.clone();
        let dir = match &config.work_dir {
            Some(p) => {
                fs::create_dir_all(p)
                    .map_err(|e| DevchainError::io("creating the chain dir", e))?;
                WorkDir::Fixed(fs::canonicalize(p).map_err(|e| DevchainError::io("chain dir", e))?)
            }
            None => WorkDir::Temp(
                tempfile::Builder::new()
                    .prefix("nsl-devchain-")
                    .tempdir()
                    .map_err(|e| DevchainError::io("creating a temporary chain dir", e))?,
            ),
        };
        let validator = PrivateKey::generate();
        let wallet = write_wallet(dir.path(), &validator)?;

        let mut last_err = None;
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&neogo, dir.path(), &wallet, &validator, &config).await {
                Ok((child, rpc_url, p2p_port, rpc, version)) => {
                    return Ok(Self {
                        child: Some(child),
                        log_path: dir.path().join("neogo.log"),
                        dir,
                        rpc_url,
                        p2p_port,
                        rpc,
                        version,
                        validator,
                        block_time: config.block_time,
                        neogo: neogo_path,
                        start_timeout: config.start_timeout,
                        config: config.clone(),
                        peers: std::sync::atomic::AtomicU32::new(0),
                    });
                }
                Err(Attempt::PortTaken(e)) => last_err = Some(e),
                Err(Attempt::Failed(e)) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| DevchainError::Config("no start attempt made".into())))
    }

    async fn try_start(
        neogo: &Path,
        dir: &Path,
        wallet: &Path,
        validator: &PrivateKey,
        config: &ChainConfig,
    ) -> std::result::Result<(Child, String, u16, RpcClient, Version), Attempt> {
        let (rpc_port, p2p_port) = free_ports().map_err(Attempt::Failed)?;
        let protocol = dir.join("protocol.yml");
        fs::write(
            &protocol,
            protocol_yaml(
                config,
                &validator.public_key(),
                &Role::Validator { wallet },
                rpc_port,
                p2p_port,
            ),
        )
        .map_err(|e| Attempt::Failed(DevchainError::io("writing protocol.yml", e)))?;
        let log_path = dir.join("neogo.log");
        let log = File::create(&log_path)
            .map_err(|e| Attempt::Failed(DevchainError::io("creating neogo.log", e)))?;
        let log2 = log
            .try_clone()
            .map_err(|e| Attempt::Failed(DevchainError::io("neogo.log", e)))?;
        let mut cmd = Command::new(neogo);
        if let Some(ca) = config
            .neogo_oracle
            .as_ref()
            .and_then(|o| o.ca_file.as_ref())
        {
            cmd.env("SSL_CERT_FILE", ca);
        }
        cmd.arg("node")
            .arg("--config-file")
            .arg(&protocol)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let mut child = spawn_guarded(cmd).map_err(|e| {
            Attempt::Failed(DevchainError::Tool {
                tool: "neo-go node".into(),
                detail: format!("could not start {}: {e}", neogo.display()),
            })
        })?;
        let rpc_url = format!("http://127.0.0.1:{rpc_port}");
        let fail = |child: &mut Child, reason: String| {
            let _ = child.kill();
            let _ = child.wait();
            let text = fs::read_to_string(&log_path).unwrap_or_default();
            let err = DevchainError::ChainStart {
                reason,
                log: log_path.display().to_string(),
                log_tail: tail(&text, 30),
            };
            if text.contains("address already in use") {
                Attempt::PortTaken(err)
            } else {
                Attempt::Failed(err)
            }
        };
        let rpc = match RpcClient::with_timeout(&rpc_url, Duration::from_secs(5)) {
            Ok(r) => r,
            Err(e) => return Err(fail(&mut child, e.to_string())),
        };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(fail(&mut child, format!("neo-go exited ({status})")));
            }
            if started.elapsed() > config.start_timeout {
                return Err(fail(
                    &mut child,
                    format!("height 2 not reached within {:?}", config.start_timeout),
                ));
            }
            if let Ok(count) = rpc.get_block_count().await
                && count >= 3
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let version = match rpc.get_version().await {
            Ok(v) => v,
            Err(e) => return Err(fail(&mut child, format!("getversion: {e}"))),
        };
        tracing::info!(
            target: "nsl_devchain",
            rpc = %rpc_url,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "privnet up"
        );
        Ok((child, rpc_url, p2p_port, rpc, version))
    }

    /// Process id of neo-go while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `Some(status)` if neo-go has exited on its own (or was stopped), `None` while it runs.
    pub fn exit_status(&mut self) -> Option<String> {
        match self.child.as_mut() {
            None => Some("stopped".into()),
            Some(child) => match child.try_wait() {
                Ok(None) => None,
                Ok(Some(status)) => Some(status.to_string()),
                Err(e) => Some(format!("unknown ({e})")),
            },
        }
    }

    /// The node's JSON-RPC URL (`http://127.0.0.1:<port>`).
    pub fn rpc_url(&self) -> &str {
        &self.rpc_url
    }

    /// The node's WebSocket URL (`ws://127.0.0.1:<rpc port>/ws`): neo-go serves `/ws` on the
    /// RPC port whenever RPC is enabled, no extra configuration (see `neo_rpc::ws`).
    pub fn ws_url(&self) -> String {
        format!("ws{}/ws", self.rpc_url.trim_start_matches("http"))
    }

    /// A second RPC endpoint onto this chain: a TCP relay to the node's RPC port on a port of
    /// its own, which a test kills ([`RpcRelay::kill`]) to take the endpoint away while the
    /// chain goes on, and starts again ([`RpcRelay::restart`], same port).
    pub async fn start_rpc_relay(&self) -> Result<RpcRelay> {
        let port = self
            .rpc_url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| DevchainError::Config(format!("no port in {}", self.rpc_url)))?;
        RpcRelay::start(std::net::SocketAddr::from(([127, 0, 0, 1], port))).await
    }

    /// A client for the node.
    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    /// The P2P port neo-go listens on.
    pub fn p2p_port(&self) -> u16 {
        self.p2p_port
    }

    /// The network magic (from `getversion`).
    pub fn network_magic(&self) -> u32 {
        self.version.protocol.network
    }

    /// `getversion` as read at start.
    pub fn version(&self) -> &Version {
        &self.version
    }

    /// The configured block time.
    pub fn block_time(&self) -> Duration {
        self.block_time
    }

    /// The single validator's key (also the only committee member).
    pub fn validator_key(&self) -> &PrivateKey {
        &self.validator
    }

    /// Script hash of the committee/validators 1-of-1 multisig account (holds all genesis
    /// NEO and GAS; the committee signs RoleManagement and Policy changes).
    pub fn committee_hash(&self) -> UInt160 {
        // A 1-of-1 multisig of a valid key cannot fail to build.
        neo::multisig_script_hash(1, &[self.validator.public_key()]).unwrap_or_default()
    }

    /// The committee/validators 1-of-1 multisig account with the validator key.
    pub fn committee_account(&self) -> Result<Account> {
        let key = &self.validator;
        Ok(Account::multisig(
            1,
            vec![key.public_key()],
            vec![key.clone()],
        )?)
    }

    /// An actor signing as the committee account (`CalledByEntry`): pays with the genesis GAS and
    /// may call committee-only methods (RoleManagement.designateAsRole, Policy setters).
    pub async fn committee_actor(&self) -> Result<Actor> {
        Ok(Actor::new(self.rpc.clone(), vec![self.committee_account()?]).await?)
    }

    /// Transfer `amount` GAS fractions ([`neo_rpc::ONE_GAS`] = 1 GAS) from the committee account
    /// to `account` and wait until the transfer is in a block.
    pub async fn fund(&self, account: &UInt160, amount: i64) -> Result<TxOutcome> {
        let actor = self.committee_actor().await?;
        let outcome = Nep17::gas(self.rpc.clone())
            .transfer(&actor, account, amount, Arg::Null)
            .await?
            .into_halt()?;
        Ok(outcome)
    }

    /// A fresh single-key account funded with `amount` GAS fractions.
    pub async fn new_funded_account(&self, amount: i64) -> Result<PrivateKey> {
        let key = PrivateKey::generate();
        self.fund(&key.script_hash(), amount).await?;
        Ok(key)
    }

    /// The chain's working directory (wallet, protocol.yml, neogo.log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// neo-go's log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of neo-go's log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(
            &fs::read_to_string(&self.log_path).unwrap_or_default(),
            lines,
        )
    }

    /// Kill neo-go and start it again with the same configuration and ports, then wait until its
    /// height is at least 2 again. The database is in memory: the restarted node begins a new
    /// chain from the same genesis (heights start over, block hashes differ). For tests of
    /// clients that must survive a node restart.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop();
        let dir = self.dir.path().to_owned();
        let log = File::options()
            .append(true)
            .open(&self.log_path)
            .map_err(|e| DevchainError::io("opening neogo.log", e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| DevchainError::io("neogo.log", e))?;
        let mut cmd = Command::new(&self.neogo);
        cmd.arg("node")
            .arg("--config-file")
            .arg(dir.join("protocol.yml"))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let child = spawn_guarded(cmd).map_err(|e| DevchainError::Tool {
            tool: "neo-go node".into(),
            detail: format!("could not restart {}: {e}", self.neogo.display()),
        })?;
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                return Err(self.start_failed(format!("neo-go exited after restart ({status})")));
            }
            if started.elapsed() > self.start_timeout {
                return Err(self.start_failed(format!(
                    "height 2 not reached within {:?} after restart",
                    self.start_timeout
                )));
            }
            if let Ok(count) = self.rpc.get_block_count().await
                && count >= 3
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn start_failed(&mut self, reason: String) -> DevchainError {
        self.stop();
        DevchainError::ChainStart {
            reason,
            log: self.log_path.display().to_string(),
            log_tail: self.log_tail(30),
        }
    }

    /// Kill neo-go and wait for it. Idempotent; also done on drop.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A second neo-go node of a [`DevChain`]: same protocol configuration (genesis, magic, block
/// time, roles), no consensus, P2P-peered to the validator, its own JSON-RPC port (and `/ws`).
/// Transactions sent to it are relayed to the validator. A test kills it ([`PeerNode::kill`]) to
/// take an RPC endpoint away while the chain goes on, and starts it again
/// ([`PeerNode::restart`], same ports; its database is in memory, so it syncs from genesis).
pub struct PeerNode {
    child: Option<Child>,
    dir: PathBuf,
    log_path: PathBuf,
    rpc_url: String,
    rpc: RpcClient,
    neogo: PathBuf,
    start_timeout: Duration,
    validator_rpc: RpcClient,
}

impl std::fmt::Debug for PeerNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerNode")
            .field("rpc_url", &self.rpc_url)
            .field("running", &self.child.is_some())
            .finish_non_exhaustive()
    }
}

impl DevChain {
    /// Start a non-validator neo-go node on the same chain (see [`PeerNode`]) and wait until it
    /// has synced up to the validator's height at the time of the call.
    pub async fn start_peer(&self) -> Result<PeerNode> {
        let n = self
            .peers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = self.dir.path().join(format!("peer-{n}"));
        fs::create_dir_all(&dir).map_err(|e| DevchainError::io("creating the peer dir", e))?;
        let mut last_err = None;
        for _ in 0..START_ATTEMPTS {
            let (rpc_port, p2p_port) = free_ports()?;
            fs::write(
                dir.join("protocol.yml"),
                protocol_yaml(
                    &self.config,
                    &self.validator.public_key(),
                    &Role::Peer {
                        seed_port: self.p2p_port,
                    },
                    rpc_port,
                    p2p_port,
                ),
            )
            .map_err(|e| DevchainError::io("writing the peer's protocol.yml", e))?;
            let rpc_url = format!("http://127.0.0.1:{rpc_port}");
            let mut peer = PeerNode {
                child: None,
                log_path: dir.join("neogo.log"),
                dir: dir.clone(),
                rpc: RpcClient::with_timeout(&rpc_url, Duration::from_secs(5))?,
                rpc_url,
                neogo: self.neogo.clone(),
                start_timeout: self.start_timeout,
                validator_rpc: self.rpc.clone(),
            };
            match peer.launch(false).await {
                Ok(()) => return Ok(peer),
                Err(e) if peer.log_tail(30).contains("address already in use") => {
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| DevchainError::Config("no peer start attempt made".into())))
    }
}

impl PeerNode {
    async fn launch(&mut self, append: bool) -> Result<()> {
        let log = File::options()
            .create(true)
            .append(append)
            .write(true)
            .truncate(!append)
            .open(&self.log_path)
            .map_err(|e| DevchainError::io("opening the peer's neogo.log", e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| DevchainError::io("neogo.log", e))?;
        let mut cmd = Command::new(&self.neogo);
        cmd.arg("node")
            .arg("--config-file")
            .arg(self.dir.join("protocol.yml"))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let child = spawn_guarded(cmd).map_err(|e| DevchainError::Tool {
            tool: "neo-go peer node".into(),
            detail: format!("could not start {}: {e}", self.neogo.display()),
        })?;
        self.child = Some(child);
        let target = self.validator_rpc.get_block_count().await?;
        let started = Instant::now();
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                return Err(self.failed(format!("neo-go peer exited ({status})")));
            }
            if started.elapsed() > self.start_timeout {
                return Err(self.failed(format!(
                    "peer did not sync to block count {target} within {:?}",
                    self.start_timeout
                )));
            }
            if let Ok(count) = self.rpc.get_block_count().await
                && count >= target
            {
                tracing::info!(target: "nsl_devchain", rpc = %self.rpc_url,
                    elapsed_ms = started.elapsed().as_millis() as u64, "peer node synced");
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn failed(&mut self, reason: String) -> DevchainError {
        self.kill();
        DevchainError::ChainStart {
            reason,
            log: self.log_path.display().to_string(),
            log_tail: self.log_tail(30),
        }
    }

    /// The peer's JSON-RPC URL (`http://127.0.0.1:<port>`).
    pub fn rpc_url(&self) -> &str {
        &self.rpc_url
    }

    /// A client for the peer alone.
    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    /// Process id of the peer's neo-go while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kill the peer (SIGKILL) and wait for it: its RPC port refuses connections from now on.
    /// Idempotent; also done on drop.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start a killed peer again on the same ports and wait until it has synced to the
    /// validator's current height (from genesis: its database is in memory).
    pub async fn restart(&mut self) -> Result<()> {
        self.kill();
        self.launch(true).await
    }

    /// The last `lines` lines of the peer's neo-go log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(
            &fs::read_to_string(&self.log_path).unwrap_or_default(),
            lines,
        )
    }
}

impl Drop for PeerNode {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Drop for DevChain {
    fn drop(&mut self) {
        self.stop();
    }
}

enum Attempt {
    PortTaken(DevchainError),
    Failed(DevchainError),
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DevchainError::Config(format!("background task failed: {e}")))?
}

/// Two distinct free TCP ports on 127.0.0.1 (held together so they differ).
fn free_ports() -> Result<(u16, u16)> {
    let bind = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| Ok((l.local_addr()?.port(), l)))
            .map_err(|e| DevchainError::io("finding a free port", e))
    };
    let (a, la) = bind()?;
    let (b, lb) = bind()?;
    drop((la, lb));
    Ok((a, b))
}

/// Write the validator's NEP-6 wallet and return its path. Light scrypt parameters (N = 16): it
/// is a throwaway dev key in a private temporary directory, and neo-go decrypts it at every start.
fn write_wallet(dir: &Path, key: &PrivateKey) -> Result<PathBuf> {
    let wallet = dir.join("validator.json");
    let scrypt = ScryptParams { n: 16, r: 1, p: 1 };
    Nep6Wallet::single_account(key, WALLET_PASSWORD, scrypt, Some("validator".into()))
        .and_then(|w| w.save(&wallet))
        .map_err(|e| DevchainError::Config(format!("writing the validator wallet: {e}")))?;
    Ok(wallet)
}

/// A YAML double-quoted string.
fn yaml_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// What a neo-go node of the chain does.
enum Role<'a> {
    /// The single consensus node, signing with the wallet.
    Validator { wallet: &'a Path },
    /// A non-validator node syncing over P2P from the validator's port.
    Peer { seed_port: u16 },
}

fn protocol_yaml(
    config: &ChainConfig,
    validator: &PublicKey,
    role: &Role<'_>,
    rpc_port: u16,
    p2p_port: u16,
) -> String {
    let ms = config.block_time.as_millis().max(1);
    let mut y = String::new();
    let _ = writeln!(y, "ProtocolConfiguration:");
    let _ = writeln!(y, "  Magic: {}", config.magic);
    let _ = writeln!(y, "  TimePerBlock: {ms}ms");
    let _ = writeln!(y, "  Genesis:");
    let _ = writeln!(y, "    TimePerBlock: {ms}ms");
    let mut oracle_keys = config.oracle_keys.clone();
    if config.neogo_oracle.is_some() {
        oracle_keys.push(*validator);
    }
    if !oracle_keys.is_empty() {
        let _ = writeln!(y, "    Roles:");
        let _ = writeln!(y, "      Oracle:");
        for k in &oracle_keys {
            let _ = writeln!(y, "        - {}", k.to_hex());
        }
    }
    let _ = writeln!(y, "  StandbyCommittee:");
    let _ = writeln!(y, "    - {}", validator.to_hex());
    let _ = writeln!(y, "  ValidatorsCount: 1");
    let _ = writeln!(y, "  VerifyTransactions: true");
    if let Role::Peer { seed_port } = role {
        let _ = writeln!(y, "  SeedList:");
        let _ = writeln!(y, "    - \"127.0.0.1:{seed_port}\"");
    }
    let _ = writeln!(y, "ApplicationConfiguration:");
    // Announce the full-node capability and relay transactions: without it a peer keeps the
    // transactions sent to it in its own memory pool (neo-go only relays to relaying peers).
    let _ = writeln!(y, "  Relay: true");
    let _ = writeln!(y, "  DBConfiguration:");
    let _ = writeln!(y, "    Type: inmemory");
    let _ = writeln!(y, "  P2P:");
    let _ = writeln!(y, "    Addresses: [\"127.0.0.1:{p2p_port}\"]");
    // The validator needs nobody; a peer connects only while below MinPeers.
    let min_peers = u8::from(matches!(role, Role::Peer { .. }));
    let _ = writeln!(y, "    MinPeers: {min_peers}");
    // neo-go leaves these zero when unset and panics on its first peer's ticker; the 1 s ping
    // also carries heights, so a peer learns of the validator's blocks within a second.
    let _ = writeln!(y, "    DialTimeout: 3s");
    let _ = writeln!(y, "    ProtoTickInterval: 1s");
    let _ = writeln!(y, "    PingInterval: 1s");
    let _ = writeln!(y, "    PingTimeout: 10s");
    let _ = writeln!(y, "  RPC:");
    let _ = writeln!(y, "    Enabled: true");
    let _ = writeln!(y, "    Addresses: [\"127.0.0.1:{rpc_port}\"]");
    let _ = writeln!(y, "    SessionEnabled: true");
    let _ = writeln!(y, "    MaxGasInvoke: 100");
    let Role::Validator { wallet } = role else {
        return y;
    };
    let _ = writeln!(y, "  Consensus:");
    let _ = writeln!(y, "    Enabled: true");
    let _ = writeln!(y, "    UnlockWallet:");
    let _ = writeln!(y, "      Path: {}", yaml_str(&wallet.display().to_string()));
    let _ = writeln!(y, "      Password: \"{WALLET_PASSWORD}\"");
    if let Some(oracle) = &config.neogo_oracle {
        let _ = writeln!(y, "  Oracle:");
        let _ = writeln!(y, "    Enabled: true");
        let _ = writeln!(y, "    AllowPrivateHost: {}", oracle.allow_private_host);
        if let Some(n) = oracle.max_concurrent_requests {
            let _ = writeln!(y, "    MaxConcurrentRequests: {n}");
        }
        if !oracle.allowed_content_types.is_empty() {
            let _ = writeln!(y, "    AllowedContentTypes:");
            for t in &oracle.allowed_content_types {
                let _ = writeln!(y, "      - {}", yaml_str(t));
            }
        }
        let _ = writeln!(y, "    UnlockWallet:");
        let _ = writeln!(y, "      Path: {}", yaml_str(&wallet.display().to_string()));
        let _ = writeln!(y, "      Password: \"{WALLET_PASSWORD}\"");
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_yaml_has_roles_only_when_asked() {
        let key = PrivateKey::generate().public_key();
        let mut cfg = ChainConfig::default();
        let y = protocol_yaml(
            &cfg,
            &key,
            &Role::Validator {
                wallet: Path::new("/w.json"),
            },
            1,
            2,
        );
        assert!(!y.contains("Roles"));
        assert!(y.contains("TimePerBlock: 200ms"));
        assert!(y.contains(&key.to_hex()));
        assert!(!y.contains("Oracle"));
        cfg.oracle_keys = vec![key];
        let y = protocol_yaml(
            &cfg,
            &key,
            &Role::Validator {
                wallet: Path::new("/w.json"),
            },
            1,
            2,
        );
        assert!(y.contains("Roles:\n      Oracle:\n        - "));
        assert!(
            !y.contains("  Oracle:\n    Enabled: true"),
            "neo-go's oracle stays off"
        );
    }

    #[test]
    fn protocol_yaml_runs_neo_gos_oracle_when_asked() {
        let validator = PrivateKey::generate().public_key();
        let cfg = ChainConfig {
            neogo_oracle: Some(NeoGoOracle {
                allow_private_host: true,
                ca_file: None,
                allowed_content_types: vec!["application/json".into()],
                max_concurrent_requests: None,
            }),
            ..ChainConfig::default()
        };
        let validator_role = Role::Validator {
            wallet: Path::new("/w.json"),
        };
        let y = protocol_yaml(&cfg, &validator, &validator_role, 1, 2);
        assert!(!y.contains("MaxConcurrentRequests"), "neo-go's default");
        let mut wider = cfg.clone();
        if let Some(o) = wider.neogo_oracle.as_mut() {
            o.max_concurrent_requests = Some(64);
        }
        let wide = protocol_yaml(&wider, &validator, &validator_role, 1, 2);
        assert!(
            wide.contains("    AllowPrivateHost: true\n    MaxConcurrentRequests: 64\n"),
            "{wide}"
        );
        // The validator key is designated and neo-go's service signs with its wallet.
        assert!(y.contains(&format!(
            "Roles:\n      Oracle:\n        - {}",
            validator.to_hex()
        )));
        assert!(y.contains(
            "  Oracle:\n    Enabled: true\n    AllowPrivateHost: true\n    AllowedContentTypes:\n      - \"application/json\"\n    UnlockWallet:\n      Path: \"/w.json\""
        ), "{y}");
    }

    /// A stand-in for neo-go whose node dies at once.
    fn failing_neogo(cache: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let dir = cache.join(format!("neo-go-{}", crate::tools::NEOGO_VERSION));
        fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("neogo");
        fs::write(
            &bin,
            "#!/bin/sh\nif [ \"$1\" = node ]; then echo 'FATAL: simulated start failure'; exit 3; fi\nexit 0\n",
        )
        .unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[tokio::test]
    async fn failed_start_reports_the_log_tail() {
        let cache = tempfile::tempdir().unwrap();
        failing_neogo(cache.path());
        let err = DevChain::start(ChainConfig {
            tools: Some(ToolCache::new(cache.path())),
            ..ChainConfig::default()
        })
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, DevchainError::ChainStart { .. }), "{text}");
        assert!(text.contains("neo-go exited"), "{text}");
        assert!(text.contains("FATAL: simulated start failure"), "{text}");
    }

    #[test]
    fn peer_yaml_has_the_same_protocol_no_consensus_and_the_seed() {
        let key = PrivateKey::generate().public_key();
        let cfg = ChainConfig {
            oracle_keys: vec![key],
            neogo_oracle: Some(NeoGoOracle::default()),
            ..ChainConfig::default()
        };
        let v = protocol_yaml(
            &cfg,
            &key,
            &Role::Validator {
                wallet: Path::new("/w.json"),
            },
            1,
            2,
        );
        let p = protocol_yaml(&cfg, &key, &Role::Peer { seed_port: 2 }, 3, 4);
        let protocol = |y: &str| y[..y.find("ApplicationConfiguration").unwrap()].to_owned();
        assert_eq!(
            protocol(&p),
            format!("{}  SeedList:\n    - \"127.0.0.1:2\"\n", protocol(&v)),
            "same genesis and settings, plus the validator as seed"
        );
        assert!(
            !p.contains("Consensus") && !p.contains("UnlockWallet"),
            "{p}"
        );
        assert!(
            !p.contains("\n  Oracle:\n"),
            "no neo-go oracle service: {p}"
        );
        assert!(p.contains("Addresses: [\"127.0.0.1:3\"]"), "{p}");
        assert!(p.contains("Addresses: [\"127.0.0.1:4\"]"), "{p}");
        for y in [&v, &p] {
            assert!(y.contains("  Relay: true"), "both relay transactions: {y}");
            assert!(y.contains("    PingInterval: 1s"), "{y}");
        }
        assert!(p.contains("MinPeers: 1") && v.contains("MinPeers: 0"));
    }

    #[test]
    fn free_ports_differ() {
        let (a, b) = free_ports().unwrap();
        assert_ne!(a, b);
    }
}
