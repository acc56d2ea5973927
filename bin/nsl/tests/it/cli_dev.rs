//! End-to-end test of the README's run command, `nsl dev`: the real binary starts a privnet, funds a
//! user account, deploys the gateway with the node key registered, starts the node's API, writes
//! dev.json, and stops everything cleanly on SIGTERM. It runs the way an installed binary does:
//! from a working directory outside the checkout, with the checkout hidden where the platform
//! allows it (see [`dev_command`]).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A temp directory removed on drop (also when the test fails).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `nsl dev` process, killed on drop if the test did not stop it.
struct Dev(Option<Child>);

impl Drop for Dev {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn nsl_dev_runs_a_funded_chain_and_stops_cleanly() {
    let tmp = TempDir(std::env::temp_dir().join(format!("nsl-cli-dev-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&tmp.0);
    let dir = tmp.0.join("dev");
    let cwd = tmp.0.join("elsewhere");
    std::fs::create_dir_all(&cwd).expect("create the working directory");

    let mut child = dev_command(&cwd, &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nsl dev");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let mut dev = Dev(Some(child));

    // Progress goes to stderr, the summary to stdout; collect both, wake up when the summary ends.
    let (tx, rx) = mpsc::channel::<String>();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx2.send(line);
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut seen = Vec::new();
    let state_file = dir.join("dev.json");
    while !state_file.exists() || !seen.iter().any(|l: &String| l.contains("ready")) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "nsl dev not ready in time; output so far:\n{}",
            seen.join("\n")
        );
        if let Ok(line) = rx.recv_timeout(left.min(Duration::from_millis(200))) {
            seen.push(line);
        }
        if let Some(c) = dev.0.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            panic!("nsl dev exited early with {status}:\n{}", seen.join("\n"));
        }
    }
    assert!(
        seen.iter().any(|l| l.contains("privnet up")),
        "progress lines are shown while it works: {seen:?}"
    );

    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_file).expect("read dev.json")).expect("json");
    let rpc_url = state["rpc_url"].as_str().expect("rpc_url").to_owned();
    let api_url = state["api_url"].as_str().expect("api_url").to_owned();
    assert_eq!(state["network_magic"], 56753);
    let user = &state["accounts"][0];
    let wif = user["wif"].as_str().expect("user wif");
    let address = user["address"].as_str().expect("user address");
    let key = neo::PrivateKey::from_wif(wif).expect("dev.json WIF is valid");
    let hash = neo::address_to_script_hash(address).expect("dev.json address is valid");
    assert_eq!(
        key.public_key().script_hash(),
        hash,
        "the WIF belongs to the address"
    );

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let rpc = neo_rpc::RpcClient::new(rpc_url.clone()).expect("rpc client");
        let version = rpc.get_version().await.expect("getversion");
        assert_eq!(version.protocol.network, 56753);
        let balance = neo_rpc::Nep17::gas(rpc.clone())
            .balance_of(&hash)
            .await
            .expect("GAS balance");
        // Funded with 1000 GAS; as the gateway's owner the user paid its deployment and addNode.
        assert!(
            balance < neo::BigInt::from(1000_0000_0000i64)
                && balance > neo::BigInt::from(950_0000_0000i64),
            "user funded with 1000 GAS less the gateway fees, got {balance}"
        );

        // The gateway contract is deployed and the node's key is registered with it.
        let gateway: neo::UInt160 = state["contracts"]["gateway"]
            .as_str()
            .expect("contracts.gateway")
            .parse()
            .expect("gateway hash");
        let node_key = state["node_public_key"].as_str().expect("node_public_key");
        let contract = rpc
            .get_contract_state(&gateway)
            .await
            .expect("gateway deployed");
        assert_eq!(contract.manifest["name"], "NslGateway");
        let is_node = rpc
            .invoke_function(
                &gateway,
                "isNode",
                &[serde_json::json!({"type": "PublicKey", "value": node_key})],
                &[],
            )
            .await
            .expect("isNode");
        assert!(
            is_node.stack[0].as_bool().expect("bool"),
            "node key registered with the gateway"
        );
        // The node vault's VRF key is in dev.json and registered in the gateway (`vrfKey()`).
        let vrf_key = state["vrf_public_key"].as_str().expect("vrf_public_key");
        assert_eq!(vrf_key.len(), 66, "{vrf_key}");
        let registered = rpc
            .invoke_function(&gateway, "vrfKey", &[], &[])
            .await
            .expect("vrfKey");
        assert_eq!(
            hex::encode(registered.stack[0].as_bytes().expect("bytes")),
            vrf_key
        );
    });
    assert_eq!(
        http_status(&api_url, "/ready"),
        Some(200),
        "node API is ready"
    );
    // The node's public key route reports the same key as registered.
    let (st, vrf) = http_get(&api_url, "/v1/randomness/key").expect("randomness key answered");
    assert_eq!(st, 200, "{vrf}");
    let vrf: serde_json::Value = serde_json::from_str(&vrf).expect("json");
    assert_eq!(vrf["public_key"], state["vrf_public_key"]);
    assert_eq!(vrf["gateway"], "registered");
    // `nsl dev` turns open sign-up on and binds login messages to its privnet: the funded user's
    // wallet logs in (a new account) with a message naming network 56753.
    let (st, ch) = http_post(
        &api_url,
        "/v1/auth/challenge",
        &format!(r#"{{"address":"{address}"}}"#),
    )
    .expect("challenge answered");
    assert_eq!(st, 200, "{ch}");
    let ch: serde_json::Value = serde_json::from_str(&ch).expect("json");
    let message = ch["message"].as_str().expect("message");
    assert!(message.contains("\nNetwork: 56753\n"), "{message}");
    let login = serde_json::json!({
        "nonce": ch["nonce"],
        "public_key": key.public_key().to_hex(),
        "signature": hex::encode(neo::sign_message(&key, "", message)),
    });
    let (st, body) =
        http_post(&api_url, "/v1/auth/login", &login.to_string()).expect("login answered");
    assert_eq!(st, 200, "open sign-up in nsl dev: {body}");

    // SIGTERM: exit 0, chain gone, state file removed.
    let mut child = dev.0.take().expect("child");
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: plain kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "nsl dev did not stop within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "nsl dev exits 0 on SIGTERM, got {status}");
    rt.block_on(async {
        let rpc = neo_rpc::RpcClient::with_timeout(rpc_url, Duration::from_secs(2)).expect("rpc");
        assert!(
            rpc.get_block_count().await.is_err(),
            "the privnet stopped with nsl dev"
        );
    });
    assert_eq!(
        http_status(&api_url, "/health"),
        None,
        "the node stopped with nsl dev"
    );
    assert!(
        !state_file.exists(),
        "dev.json removed when the environment stops"
    );
}

/// The source checkout (the workspace root).
fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// `nsl dev --dir <dir>` as a user of an installed binary runs it: the working directory is `cwd`
/// (outside the checkout), and where the platform lets this process make a mount namespace
/// (`unshare -rm`: root, or unprivileged user namespaces) the whole checkout is hidden under an
/// empty tmpfs for `nsl dev` and its children, the binary reached through a bind mount in `cwd`.
/// A binary that reads anything of the checkout at run time (the gateway's source) fails there.
fn dev_command(cwd: &Path, dir: &Path) -> Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_nsl"));
    let hidden = Command::new("unshare")
        .args(["-rm", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !hidden {
        eprintln!("no mount namespace here (unshare -rm failed): the checkout stays visible");
        let mut cmd = Command::new(bin);
        cmd.args(["dev", "--dir"]).arg(dir).current_dir(cwd);
        return cmd;
    }
    // `unshare` execs `sh`, which execs the binary: the child's pid is nsl dev's (SIGTERM below).
    let script = r#"set -e
touch "$2/nsl"
mount --bind "$1" "$2/nsl"
mount -t tmpfs -o ro,size=64k nsl-hidden-checkout "$3"
exec "$2/nsl" dev --dir "$4""#;
    let mut cmd = Command::new("unshare");
    cmd.args(["-rm", "sh", "-c", script, "sh"])
        .arg(bin)
        .arg(cwd)
        .arg(checkout())
        .arg(dir)
        .current_dir(cwd);
    cmd
}

/// Status code of `GET path` on `base` (`http://127.0.0.1:PORT`), or None if nothing answers.
fn http_status(base: &str, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let addr = base.strip_prefix("http://")?;
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

/// `POST path` with a JSON body on `base`: (status, body), or None if nothing answers.
fn http_post(base: &str, path: &str, json: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let addr = base.strip_prefix("http://")?;
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Some((status, body))
}

/// `GET path` on `base`: (status, body), or None if nothing answers.
fn http_get(base: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let addr = base.strip_prefix("http://")?;
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Some((status, body))
}
