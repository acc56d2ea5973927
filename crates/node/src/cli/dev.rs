//! `nsl dev`: the local development environment.
//!
//! ```text
//! prepare tools (neo-go, neo3-boa; cached) ─▶ privnet in <dir>/chain (1 s blocks; the node key
//!   designated as Oracle at genesis) ─▶ user and node accounts funded from the committee
//!   ─▶ gateway contract compiled from the source embedded in the binary (cached by content in the
//!      tool cache) and deployed (owner: the user), node key registered (addNode)
//!   ─▶ `nsl serve` started as a child on SQLite in <dir>/node with the oracle service enabled
//!      (dev egress policy: http and private hosts allowed, so local test servers work)
//!   ─▶ <dir>/dev.json ─▶ wait for Ctrl-C / SIGTERM ─▶ stop the node and neo-go, remove dev.json
//! ```
//!
//! `--prepare-only` stops after the first step (used by `scripts/prepare`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use neo::UInt160;
use nsl_devchain::neo::PrivateKey;
use nsl_devchain::neo_rpc::{Account, Actor, ONE_GAS};
use nsl_devchain::{ChainConfig, DevChain, ToolCache, compile_gateway, deploy_gateway};
use serde::Serialize;

use super::{CliError, CliResult, Output};

/// Most GAS the user account may ask for (the committee holds 52,000,000).
const MAX_FUND_GAS: u64 = 50_000_000;
/// GAS given to the node account (it pays the gateway `fulfill` transactions).
const NODE_GAS: i64 = 100;

/// Arguments of `nsl dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Directory for the environment's state (chain files, `dev.json`).
    #[arg(long, default_value = ".nsl/dev")]
    pub dir: PathBuf,
    /// Only fill the tool cache (neo-go, neo3-boa) and print where it is.
    #[arg(long)]
    pub prepare_only: bool,
    /// Block time of the privnet in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub block_ms: u64,
    /// GAS given to the user account.
    #[arg(long, default_value_t = 1000)]
    pub fund_gas: u64,
}

/// What `--prepare-only` prints.
#[derive(Debug, Serialize)]
struct Prepared {
    cache_dir: String,
    neogo: String,
    neo3_boa: String,
}

/// The content of `<dir>/dev.json`: what tools and tests need to use the environment.
#[derive(Debug, Serialize)]
struct DevState {
    rpc_url: String,
    api_url: String,
    contracts: DevContracts,
    node_public_key: String,
    /// The node vault's VRF public key (hex, 33 bytes), registered in the gateway (`vrfKey()`).
    vrf_public_key: String,
    network_magic: u32,
    block_time_ms: u64,
    accounts: Vec<DevAccount>,
    committee_address: String,
    chain_dir: String,
    neogo_log: String,
}

/// Contracts deployed by `nsl dev` (0x-prefixed script hashes).
#[derive(Debug, Serialize)]
struct DevContracts {
    gateway: String,
}

/// An account of the environment. The WIF is a throwaway dev key; dev.json is mode 0600.
#[derive(Serialize)]
struct DevAccount {
    name: String,
    address: String,
    script_hash: String,
    wif: String,
}

impl std::fmt::Debug for DevAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevAccount")
            .field("name", &self.name)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// The summary printed once the environment is up (no secrets: the WIF is in dev.json).
#[derive(Debug, Serialize)]
struct Summary {
    rpc_url: String,
    api_url: String,
    gateway: String,
    node_public_key: String,
    egress: &'static str,
    network_magic: u32,
    block_time_ms: u64,
    user_address: String,
    user_gas_funded: u64,
    committee_address: String,
    state_file: String,
    neogo_log: String,
    stop: &'static str,
}

pub(super) fn run(args: DevArgs, out: &Output) -> CliResult {
    if args.fund_gas > MAX_FUND_GAS {
        return Err(CliError::bad_input(format!(
            "--fund-gas {} is more than the {MAX_FUND_GAS} GAS the dev chain can give",
            args.fund_gas
        )));
    }
    let tools = ToolCache::from_env()
        .map_err(CliError::bad_input)?
        .with_progress(Arc::new(|msg: &str| progress(msg)));
    if args.prepare_only {
        let t = Instant::now();
        let prepared = tools.prepare().context("preparing the tool cache")?;
        progress(&format!("tool cache ready in {:.1?}", t.elapsed()));
        out.print(&Prepared {
            cache_dir: tools.dir().display().to_string(),
            neogo: prepared.neogo.display().to_string(),
            neo3_boa: prepared.neo3_boa.display().to_string(),
        });
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("nsl-dev")
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let mut env = DevEnvironment::start(&args, tools).await?;
        let state_file = env.write_state()?;
        out.print(&env.summary(&state_file));
        let outcome = tokio::select! {
            r = wait_for_shutdown() => r,
            died = env.watch() => Err(died),
        };
        progress("stopping");
        env.stop(&state_file);
        outcome
    })
}

fn progress(msg: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "[dev] {msg}");
}

/// The running environment: the chain and the funded user account.
struct DevEnvironment {
    chain: DevChain,
    user: PrivateKey,
    node_key: PrivateKey,
    vrf_key: [u8; 33],
    gateway: UInt160,
    node: NodeProcess,
    fund_gas: u64,
    dir: PathBuf,
    /// Held while the environment runs (`<dir>/dev.lock`).
    _lock: std::fs::File,
}

impl DevEnvironment {
    async fn start(args: &DevArgs, tools: ToolCache) -> CliResult<Self> {
        std::fs::create_dir_all(&args.dir)
            .with_context(|| format!("creating {}", args.dir.display()))?;
        let dir = std::fs::canonicalize(&args.dir)
            .with_context(|| format!("resolving {}", args.dir.display()))?;
        // One environment per directory: a second `nsl dev` on the same dir would overwrite and
        // later delete the first one's dev.json.
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("dev.lock"))
            .with_context(|| format!("opening {}", dir.join("dev.lock").display()))?;
        if let Err(std::fs::TryLockError::WouldBlock) = lock.try_lock() {
            return Err(CliError::bad_input(format!(
                "another nsl dev is running in {}",
                dir.display()
            )));
        }
        let t = Instant::now();
        let prep = tools.clone();
        tokio::task::spawn_blocking(move || prep.prepare())
            .await
            .context("preparing the tool cache")?
            .context("preparing the tool cache")?;

        progress(&format!(
            "starting a neo-go privnet ({} ms blocks) in {}",
            args.block_ms,
            dir.join("chain").display()
        ));
        let node_key = PrivateKey::generate();
        // The gateway's source is embedded in the binary (nsl_devchain::GATEWAY_SOURCE): no
        // checkout is read, so an installed `nsl` works from any directory.
        progress(
            "compiling the gateway contract (embedded source, neo3-boa; cached after the first time)",
        );
        let compile_tools = tools.clone();
        let compile = tokio::task::spawn_blocking(move || compile_gateway(&compile_tools));
        let chain = DevChain::start(ChainConfig {
            block_time: Duration::from_millis(args.block_ms),
            work_dir: Some(dir.join("chain")),
            tools: Some(tools),
            oracle_keys: vec![node_key.public_key()],
            ..ChainConfig::default()
        })
        .await
        .context("starting the privnet")?;
        progress(&format!("privnet up at {}", chain.rpc_url()));
        progress(
            "the chain is new on every start (in memory); the node's database in this directory \
             is kept, and its oracle resets its chain state when it finds another chain \
             (requests of the old chain end expired, none is sent to this one)",
        );
        let gateway_contract = compile
            .await
            .context("compiling the gateway contract")?
            .context("compiling the gateway contract")?;

        let user = PrivateKey::generate();
        progress(&format!(
            "funding user account {} with {} GAS",
            user.address(),
            args.fund_gas
        ));
        let amount = i64::try_from(args.fund_gas)
            .ok()
            .and_then(|g| g.checked_mul(ONE_GAS))
            .ok_or_else(|| CliError::bad_input("--fund-gas is too large"))?;
        chain
            .fund(&user.script_hash(), amount)
            .await
            .context("funding the user account")?;

        let owner = Actor::new(chain.rpc().clone(), vec![Account::single(user.clone())])
            .await
            .context("building the user's actor")?;
        progress(&format!(
            "funding the node account with {NODE_GAS} GAS (it pays for fulfilment transactions), \
             deploying the gateway contract (owner: the user account) and registering the node key (addNode)"
        ));
        let gateway = deploy_gateway(
            &chain,
            &gateway_contract,
            &owner,
            &node_key.public_key(),
            NODE_GAS * ONE_GAS,
        )
        .await
        .context("deploying the gateway contract and registering the node key")?;
        progress(&format!("gateway deployed at {gateway}"));

        progress(
            "starting the node (nsl serve, SQLite, oracle service on; dev egress policy allows http and private hosts)",
        );
        let node = NodeProcess::start(
            &dir.join("node"),
            chain.rpc_url(),
            &gateway,
            &node_key,
            chain.network_magic(),
        )
        .await?;
        progress(&format!("node API at {}", node.api_url));
        // The VRF key lives in the node's vault: read it from the node's public route, then
        // register it in the gateway (owner: the user account).
        let vrf_key = node_vrf_key(&node.api_url).await?;
        nsl_devchain::register_vrf_key(&owner, &gateway, &vrf_key)
            .await
            .context("registering the node's VRF key in the gateway (setVrfKey)")?;
        progress(&format!(
            "VRF key {} registered in the gateway",
            hex::encode(vrf_key)
        ));
        progress(&format!("ready in {:.1?}", t.elapsed()));
        Ok(Self {
            chain,
            user,
            node_key,
            vrf_key,
            gateway,
            node,
            fund_gas: args.fund_gas,
            dir,
            _lock: lock,
        })
    }

    /// Resolves only if neo-go dies on its own: an error with the tail of its log.
    async fn watch(&mut self) -> CliError {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if let Some(status) = self.node.exit_status() {
                return CliError::Runtime(anyhow::anyhow!(
                    "the node (nsl serve) exited unexpectedly ({status}); its log: {}",
                    self.node.log.display()
                ));
            }
            if let Some(status) = self.chain.exit_status() {
                return CliError::Runtime(anyhow::anyhow!(
                    "neo-go exited unexpectedly ({status}); last log lines:\n{}",
                    self.chain.log_tail(10)
                ));
            }
        }
    }

    fn committee_address(&self) -> String {
        self.chain.committee_hash().to_address()
    }

    /// Write `<dir>/dev.json` (mode 0600: it holds the user's WIF).
    fn write_state(&self) -> CliResult<PathBuf> {
        let state = DevState {
            rpc_url: self.chain.rpc_url().to_owned(),
            api_url: self.node.api_url.clone(),
            contracts: DevContracts {
                gateway: self.gateway.to_string(),
            },
            node_public_key: self.node_key.public_key().to_string(),
            vrf_public_key: hex::encode(self.vrf_key),
            network_magic: self.chain.network_magic(),
            block_time_ms: self.chain.block_time().as_millis() as u64,
            accounts: vec![DevAccount {
                name: "user".into(),
                address: self.user.address(),
                script_hash: self.user.script_hash().to_string(),
                wif: self.user.to_wif().to_string(),
            }],
            committee_address: self.committee_address(),
            chain_dir: self.chain.dir().display().to_string(),
            neogo_log: self.chain.log_path().display().to_string(),
        };
        let path = self.dir.join("dev.json");
        let text = serde_json::to_string_pretty(&state).context("encoding dev.json")?;
        // Written whole, then renamed: a reader polling for the file never sees it half written.
        let tmp = self.dir.join("dev.json.tmp");
        write_private(&tmp, text.as_bytes())
            .and_then(|()| std::fs::rename(&tmp, &path))
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    fn summary(&self, state_file: &Path) -> Summary {
        Summary {
            rpc_url: self.chain.rpc_url().to_owned(),
            api_url: self.node.api_url.clone(),
            gateway: self.gateway.to_string(),
            node_public_key: self.node_key.public_key().to_string(),
            egress: "development policy: http and private hosts allowed",
            network_magic: self.chain.network_magic(),
            block_time_ms: self.chain.block_time().as_millis() as u64,
            user_address: self.user.address(),
            user_gas_funded: self.fund_gas,
            committee_address: self.committee_address(),
            state_file: state_file.display().to_string(),
            neogo_log: self.chain.log_path().display().to_string(),
            stop: "Ctrl-C",
        }
    }

    fn stop(mut self, state_file: &Path) {
        self.node.stop();
        self.chain.stop();
        // The state describes a chain that no longer exists.
        let _ = std::fs::remove_file(state_file);
    }
}

/// `nsl serve` run as a child process for the dev environment.
struct NodeProcess {
    child: std::process::Child,
    api_url: String,
    log: PathBuf,
}

impl NodeProcess {
    async fn start(
        dir: &Path,
        rpc_url: &str,
        gateway: &UInt160,
        node_key: &PrivateKey,
        network_magic: u32,
    ) -> CliResult<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port for the node API")?
            .port();
        let log = dir.join("node.log");
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let exe = std::env::current_exe().context("locating the nsl binary")?;
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("serve")
            .env("NSL_NODE__DATA_DIR", dir.join("data"))
            .env("NSL_API__LISTEN", format!("127.0.0.1:{port}"))
            // Any local wallet may sign up; login messages name the privnet's magic.
            .env("NSL_AUTH__OPEN_SIGNUP", "true")
            .env("NSL_AUTH__NETWORK_MAGIC", network_magic.to_string())
            // `nsl dev` is development: the vault may keep a generated KEK beside its state.
            .env("NSL_VAULT__DEV_MODE", "true")
            .env("NSL_ORACLE__ENABLED", "true")
            .env("NSL_ORACLE__RPC_URL", rpc_url)
            .env("NSL_ORACLE__GATEWAY_HASH", gateway.to_string())
            .env("NSL_CHAIN__NODE_KEY", &*node_key.to_wif())
            .env("NSL_ORACLE__ALLOW_HTTP", "true")
            .env("NSL_ORACLE__ALLOW_PRIVATE_HOSTS", "true")
            .stdin(std::process::Stdio::null())
            .stdout(log_file.try_clone().context("opening the node log")?)
            .stderr(log_file);
        // The node must not outlive `nsl dev`, even when `nsl dev` is killed with SIGKILL.
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt as _;
            // SAFETY: only async-signal-safe calls (prctl, getppid) between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    if libc::getppid() == 1 {
                        return Err(std::io::Error::other("nsl dev exited during start"));
                    }
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().context("starting nsl serve")?;
        let mut node = Self {
            child,
            api_url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = node.exit_status() {
                return Err(CliError::Runtime(anyhow::anyhow!(
                    "the node (nsl serve) exited during start ({status}); its log: {}",
                    node.log.display()
                )));
            }
            if ready(port).await {
                return Ok(node);
            }
            if Instant::now() > deadline {
                node.stop();
                return Err(CliError::Runtime(anyhow::anyhow!(
                    "the node did not become ready within 60 s; its log: {}",
                    node.log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM (graceful shutdown), then SIGKILL after 15 s.
    fn stop(&mut self) {
        if self.exit_status().is_some() {
            return;
        }
        #[cfg(unix)]
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's pid.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if self.exit_status().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `GET /ready` on the node answers 200.
/// The node's VRF public key from its public route `GET /v1/randomness/key`.
async fn node_vrf_key(api_url: &str) -> CliResult<[u8; 33]> {
    let url = format!("{api_url}/v1/randomness/key");
    let body: serde_json::Value = reqwest::Client::new()
        .get(&url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("reading the node's VRF key ({url})"))?
        .json()
        .await
        .with_context(|| format!("decoding {url}"))?;
    body["public_key"]
        .as_str()
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| <[u8; 33]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| CliError::Runtime(anyhow::anyhow!("{url}: no 33-byte public_key")))
}

async fn ready(port: u16) -> bool {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let Ok(Ok(mut stream)) = tokio::time::timeout(
        Duration::from_secs(1),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    else {
        return false;
    };
    let req = format!("GET /ready HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(
        tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await,
        Ok(Ok(n)) if buf[..n].starts_with(b"HTTP/1.1 200")
    )
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode on open: tighten it before writing the key.
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Wait for Ctrl-C (or SIGTERM on Unix).
async fn wait_for_shutdown() -> CliResult {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}
