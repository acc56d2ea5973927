//! End-to-end test of `nsl serve`: the real binary on a real socket (free port, temp data dir,
//! SQLite), operational endpoints, an API key made with the CLI, then SIGTERM and a clean exit.

use crate::common::{PgDb, output_within_a_minute, psql};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A temp directory removed on drop (also when the test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "nsl-cli-serve-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The server process, killed on drop if the test did not stop it.
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn base_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nsl"));
    cmd.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("NSL_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.env("NSL_NODE__DATA_DIR", dir.join("data"));
    // A production-style vault key (from the environment, not beside the vault state).
    cmd.env("NSL_VAULT_KEK", TEST_KEK);
    cmd
}

/// The vault key-encryption key of the test nodes (32 bytes, hex).
const TEST_KEK: &str = "6b6579206f6620746865206e736c2074657374207661756c742c2066616b6521";

fn nsl(dir: &Path, args: &[&str]) -> Output {
    nsl_with(dir, &[], args)
}

/// [`nsl`] with extra environment (e.g. `NSL_DATABASE__URL`).
fn nsl_with(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let out = base_cmd(dir)
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run nsl");
    assert!(
        out.status.success(),
        "nsl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The value of `key` in the human `key  value` output.
fn field(out: &Output, key: &str) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some(key)).then(|| it.next().unwrap_or_default().to_owned())
        })
        .unwrap_or_else(|| panic!("no {key} in {}", String::from_utf8_lossy(&out.stdout)))
}

/// A minimal HTTP/1.1 GET: (status, headers+body text).
fn get(addr: &str, path: &str, bearer: Option<&str>) -> (u16, String) {
    request(addr, "GET", path, bearer, None)
}

/// A minimal HTTP/1.1 request with an optional JSON body: (status, headers+body text).
fn request(
    addr: &str,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    json: Option<&str>,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let auth = bearer
        .map(|b| format!("Authorization: Bearer {b}\r\n"))
        .unwrap_or_default();
    let body = json.unwrap_or_default();
    let content = json
        .map(|b| {
            format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            )
        })
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{content}Connection: close\r\n\r\n{body}"
    )
    .expect("write");
    let mut buf = String::new();
    s.read_to_string(&mut buf).expect("read");
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad response {buf}"));
    (status, buf)
}

/// Start `nsl serve` on a free port (log in `serve.log`); returns the process and `host:port`.
fn start_serve(d: &Path) -> (Server, String) {
    start_serve_with(d, &[])
}

/// As [`start_serve`], with extra `NSL_*` variables.
fn start_serve_with(d: &Path, env: &[(&str, &str)]) -> (Server, String) {
    let log = std::fs::File::create(d.join("serve.log")).expect("log file");
    let child = base_cmd(d)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .envs(env.iter().copied())
        .env("NSL_LOG__FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn nsl serve");
    let mut server = Server(Some(child));
    let stdout = server
        .0
        .as_mut()
        .and_then(|c| c.stdout.take())
        .expect("stdout");
    // Human output: `docs  http://ADDR/docs` and `listening  http://ADDR`, once the socket listens.
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = String::new();
    let addr = loop {
        let Some(Ok(line)) = lines.next() else {
            let log = std::fs::read_to_string(d.join("serve.log")).unwrap_or_default();
            panic!("no listen address in {seen:?}; log: {log}");
        };
        seen.push_str(&line);
        if line.starts_with("listening") {
            let url = line.split_whitespace().nth(1).unwrap_or_default();
            break url.trim_start_matches("http://").to_owned();
        }
    };
    (server, addr)
}

/// An account of `role` and an API key with `scopes`: (account id, key).
fn account_with_key(d: &Path, name: &str, role: &str, scopes: &str) -> (String, String) {
    account_with_key_on(d, &[], name, role, scopes)
}

/// [`account_with_key`] with extra environment (e.g. another database).
fn account_with_key_on(
    d: &Path,
    env: &[(&str, &str)],
    name: &str,
    role: &str,
    scopes: &str,
) -> (String, String) {
    let acct = nsl_with(
        d,
        env,
        &["admin", "create-account", "--name", name, "--role", role],
    );
    let account_id = field(&acct, "id");
    let key = nsl_with(
        d,
        env,
        &[
            "apikey",
            "create",
            "--account",
            &account_id,
            "--name",
            name,
            "--scopes",
            scopes,
        ],
    );
    (account_id, field(&key, "key"))
}

/// The JSON body of an HTTP response text.
fn json_body(resp: &str) -> serde_json::Value {
    let body = resp.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {resp}"))
}

#[test]
fn master_key_rotation_runs_online_through_the_running_node() {
    let dir = TempDir::new();
    let d = dir.0.as_path();
    let (_, admin_key) = account_with_key(d, "ops", "admin", "read,write,admin");
    let (_, user_key) = account_with_key(d, "dapp", "user", "read,write,grant");
    let (server, addr) = start_serve(d);

    // A secret and a function that reads it (its digest, so the value never leaves the sandbox).
    let (st, resp) = request(
        &addr,
        "PUT",
        "/v1/secrets/API_TOKEN",
        Some(&user_key),
        Some(r#"{"value":"tok-123456"}"#),
    );
    assert_eq!(st, 201, "{resp}");
    let source = r#"export default () => crypto.sha256(secrets.get(\"API_TOKEN\"));"#;
    let (st, resp) = request(
        &addr,
        "POST",
        "/v1/functions",
        Some(&user_key),
        Some(&format!(
            r#"{{"name":"digest","source":"{source}","secrets":["API_TOKEN"]}}"#
        )),
    );
    assert_eq!(st, 201, "{resp}");
    let function = json_body(&resp)["id"]
        .as_str()
        .expect("function id")
        .to_owned();
    let execute = || {
        let (st, resp) = request(
            &addr,
            "POST",
            &format!("/v1/functions/{function}/execute"),
            Some(&user_key),
            Some("{}"),
        );
        assert_eq!(st, 200, "{resp}");
        let body = json_body(&resp);
        assert_eq!(body["status"], "succeeded", "{resp}");
        body["result"].clone()
    };
    let before = execute();
    assert!(before.as_str().is_some_and(|h| h.len() == 64), "{before}");

    // The vault is held by the running node: without an admin key the CLI says what to do.
    let vault_busy = base_cmd(d)
        .args([
            "secrets",
            "rotate-master",
            "--api-url",
            &format!("http://{addr}"),
        ])
        .output()
        .expect("run nsl");
    assert_eq!(vault_busy.status.code(), Some(2), "{vault_busy:?}");
    assert!(
        String::from_utf8_lossy(&vault_busy.stderr).contains("NSL_API_KEY"),
        "{vault_busy:?}"
    );
    // A non-admin key is refused by the node.
    let refused = base_cmd(d)
        .args([
            "secrets",
            "rotate-master",
            "--api-url",
            &format!("http://{addr}"),
        ])
        .env("NSL_API_KEY", &user_key)
        .output()
        .expect("run nsl");
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("403"),
        "{refused:?}"
    );

    // With the admin key the running node rotates; twice, to see the version move on.
    for _ in 0..2 {
        let out = base_cmd(d)
            .args([
                "--json",
                "secrets",
                "rotate-master",
                "--api-url",
                &format!("http://{addr}"),
            ])
            .env("NSL_API_KEY", &admin_key)
            .output()
            .expect("run nsl");
        assert!(out.status.success(), "{out:?}");
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
        let (prev, new) = (
            report["previous_version"]
                .as_u64()
                .expect("previous_version"),
            report["new_version"].as_u64().expect("new_version"),
        );
        assert_eq!(new, prev + 1, "{report}");
        assert_eq!(report["rewrapped"], 1, "{report}");
        assert_eq!(report["retired"], serde_json::json!([prev]), "{report}");
        // The running node still decrypts the secret under the new master key.
        assert_eq!(execute(), before);
    }
    drop(server);
    let log = std::fs::read_to_string(d.join("serve.log")).unwrap_or_default();
    assert!(!log.contains("tok-123456"), "the secret value was logged");
}

#[test]
fn serve_answers_on_a_socket_and_stops_on_sigterm() {
    let dir = TempDir::new();
    let d = dir.0.as_path();

    // An account and an API key, made with the operator CLI on the same data dir.
    let acct = nsl(d, &["admin", "create-account", "--name", "svc"]);
    let account_id = field(&acct, "id");
    let key = nsl(
        d,
        &[
            "apikey",
            "create",
            "--account",
            &account_id,
            "--name",
            "e2e",
            "--scopes",
            "read",
        ],
    );
    let api_key = field(&key, "key");
    assert!(api_key.starts_with("nsl_"), "{api_key}");
    let listed = nsl(d, &["apikey", "list", "--account", &account_id]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains("e2e") && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains(&api_key[17..]), "list shows the key");

    let (mut server, addr) = start_serve(d);

    let (st, body) = get(&addr, "/health", None);
    assert_eq!(st, 200, "{body}");
    assert!(body.to_ascii_lowercase().contains("x-request-id"), "{body}");
    let (st, body) = get(&addr, "/ready", None);
    assert_eq!(st, 200, "{body}");
    let (st, body) = get(&addr, "/openapi.json", None);
    assert_eq!(st, 200);
    assert!(body.contains("\"openapi\":\"3.1.0\""), "{body}");
    // The randomness service is mounted and documented; without a gateway its key is `no_gateway`.
    assert!(
        body.contains("/v1/randomness/{id}"),
        "randomness routes documented"
    );
    let (st, vrf) = get(&addr, "/v1/randomness/key", None);
    assert_eq!(st, 200, "{vrf}");
    assert!(vrf.contains("\"gateway\":\"no_gateway\""), "{vrf}");
    let (st, body) = get(&addr, "/v1/me", None);
    assert_eq!(st, 401, "{body}");
    assert!(body.contains("\"code\":\"unauthorized\""), "{body}");
    let (st, body) = get(&addr, "/v1/me", Some(&api_key));
    assert_eq!(st, 200, "{body}");
    assert!(body.contains(&account_id), "{body}");
    let (st, body) = get(&addr, "/metrics", None);
    assert_eq!(st, 200);
    assert!(
        body.contains("nsl_http_requests_total") && body.contains("route=\"/v1/me\""),
        "{body}"
    );

    // Graceful stop on SIGTERM: exit code 0.
    let pid = server.0.as_ref().map(Child::id).expect("pid");
    let kill = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = server.0.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "nsl serve did not stop within 20 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    server.0 = None;
    let log = std::fs::read_to_string(d.join("serve.log")).unwrap_or_default();
    assert!(status.success(), "exit status {status:?}; log: {log}");
    assert!(log.contains("SIGTERM received"), "{log}");
    assert!(!log.contains(&api_key[17..]), "the API key was logged");

    // Revoke with the CLI: listed as revoked, audited with actor `cli`.
    let key_id = field(&key, "id");
    nsl(d, &["apikey", "revoke", &key_id]);
    let listed = nsl(d, &["apikey", "list", "--account", &account_id]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.contains("revoked"), "{listed}");
    let audit = nsl(d, &["audit", "list", "--action", "apikey.revoke"]);
    let audit = String::from_utf8_lossy(&audit.stdout).into_owned();
    assert!(audit.contains(&key_id) && audit.contains("cli"), "{audit}");
}

/// Read from `s` until the server closes the connection; panics if it is still open after the
/// test's 30 s safety read timeout. Returns what was read.
fn read_until_closed(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One keep-alive request on an open connection: the status and the body.
fn keep_alive_get(s: &mut TcpStream, addr: &str, path: &str) -> (u16, String) {
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("write");
    let mut reader = BufReader::new(s.try_clone().expect("clone"));
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().expect("length");
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).expect("body");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Slow clients: half a request head, or nothing at all, is cut off by the header-read and idle
/// timeouts, while a normal client is served.
#[test]
fn slow_clients_are_disconnected() {
    let dir = TempDir::new();
    let d = dir.0.as_path();
    let (_server, addr) = start_serve_with(
        d,
        &[
            ("NSL_API__HEADER_READ_TIMEOUT_MS", "300"),
            ("NSL_API__KEEP_ALIVE_TIMEOUT_MS", "300"),
        ],
    );
    // Half a header, then silence: disconnected without an answer.
    let mut half = TcpStream::connect(&addr).expect("connect");
    write!(half, "GET /health HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ").expect("write");
    let got = read_until_closed(&mut half);
    assert!(!got.contains("200 OK"), "{got}");
    // A connection that never sends anything is closed too.
    let mut idle = TcpStream::connect(&addr).expect("connect");
    read_until_closed(&mut idle);
    // A keep-alive connection is closed after its request once idle.
    let mut ka = TcpStream::connect(&addr).expect("connect");
    let (st, body) = keep_alive_get(&mut ka, &addr, "/health");
    assert_eq!(st, 200, "{body}");
    read_until_closed(&mut ka);
    // Normal clients are served all along.
    let (st, body) = get(&addr, "/health", None);
    assert_eq!(st, 200, "{body}");
}

/// The connection cap: with `max_connections` connections open, one more is answered 503
/// `unavailable` and closed, the open ones are still served, and once one closes a new client
/// gets in.
#[test]
fn connections_beyond_the_cap_are_refused() {
    let dir = TempDir::new();
    let d = dir.0.as_path();
    let (_server, addr) = start_serve_with(d, &[("NSL_API__MAX_CONNECTIONS", "2")]);
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).expect("connect");
            let (st, body) = keep_alive_get(&mut s, &addr, "/health");
            assert_eq!(st, 200, "{body}");
            s
        })
        .collect();
    let mut extra = TcpStream::connect(&addr).expect("connect");
    let refused = read_until_closed(&mut extra);
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("\"code\":\"unavailable\""), "{refused}");
    // The held connections are still served.
    for s in &mut held {
        let (st, body) = keep_alive_get(s, &addr, "/ready");
        assert_eq!(st, 200, "{body}");
    }
    // Free a slot: a new client gets in (the server notices the close asynchronously).
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut s = TcpStream::connect(&addr).expect("connect");
        write!(
            s,
            "GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .expect("write");
        let resp = read_until_closed(&mut s);
        if resp.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(resp.starts_with("HTTP/1.1 503"), "{resp}");
        assert!(Instant::now() < deadline, "no slot freed: {resp}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, metrics) = keep_alive_get(&mut held[0], &addr, "/metrics");
    assert!(
        metrics.contains("nsl_http_connections_refused_total"),
        "{metrics}"
    );
}

/// Open sign-up is off by default for `nsl serve`: an unknown wallet gets 403 `signup_closed`; a
/// wallet the operator linked with `nsl admin create-account --wallet` logs in.
#[test]
fn serve_refuses_unknown_wallets_by_default() {
    let dir = TempDir::new();
    let d = dir.0.as_path();
    let member = neo::PrivateKey::generate();
    let out = nsl(
        d,
        &[
            "admin",
            "create-account",
            "--name",
            "member",
            "--wallet",
            &member.address(),
        ],
    );
    let account_id = field(&out, "id");
    let (_server, addr) = start_serve(d);
    let login = |key: &neo::PrivateKey| {
        let (st, resp) = request(
            &addr,
            "POST",
            "/v1/auth/challenge",
            None,
            Some(&format!(r#"{{"address":"{}"}}"#, key.address())),
        );
        assert_eq!(st, 200, "{resp}");
        let ch = json_body(&resp);
        let message = ch["message"].as_str().expect("message");
        let sig = hex::encode(neo::sign_message(key, "", message));
        let body = serde_json::json!({
            "nonce": ch["nonce"], "public_key": key.public_key().to_hex(), "signature": sig,
        });
        request(
            &addr,
            "POST",
            "/v1/auth/login",
            None,
            Some(&body.to_string()),
        )
    };
    let (st, resp) = login(&neo::PrivateKey::generate());
    assert_eq!(st, 403, "{resp}");
    assert_eq!(json_body(&resp)["code"], "signup_closed", "{resp}");
    let (st, resp) = login(&member);
    assert_eq!(st, 200, "{resp}");
    assert_eq!(
        json_body(&resp)["account_id"],
        account_id.as_str(),
        "{resp}"
    );
}

/// A real `nsl serve` on PostgreSQL whose database disappears: `/ready` and a route that needs
/// the store answer with a stable code and a generic message, never the driver's error text
/// (database name, "does not exist", server messages).
#[test]
fn database_failures_do_not_leak_into_bodies() {
    let dir = TempDir::new();
    let d = dir.0.as_path();
    let db = PgDb::create();
    let (name, url) = (db.name.clone(), db.url.clone());
    let (_server, addr) = start_serve_with(d, &[("NSL_DATABASE__URL", url.as_str())]);
    let (st, body) = get(&addr, "/ready", None);
    assert_eq!(st, 200, "{body}");
    psql(&db.admin_url, &format!("DROP DATABASE {name} WITH (FORCE)"));
    let (st, ready) = get(&addr, "/ready", None);
    assert_eq!(st, 503, "{ready}");
    assert_eq!(json_body(&ready)["code"], "unavailable", "{ready}");
    let (st, challenge) = request(
        &addr,
        "POST",
        "/v1/auth/challenge",
        None,
        Some(r#"{"address":"NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6i"}"#),
    );
    assert!(st == 500 || st == 503, "{challenge}");
    for resp in [&ready, &challenge] {
        let body = json_body(resp).to_string().to_lowercase();
        for leak in [
            name.as_str(),
            "does not exist",
            "database \"",
            "sqlx",
            "error returned",
        ] {
            assert!(!body.contains(leak), "{leak:?} leaked: {resp}");
        }
    }
}

/// Item 4 of issue #9: without a configured KEK, `nsl serve` refuses to start (exit 2, a message
/// that names what to set) and writes no key file; only an explicit dev mode generates one beside
/// the state, and a production KEK never leaves a key file there.
#[test]
fn serve_without_a_vault_key_refuses_to_start_unless_dev_mode_is_explicit() {
    let dir = TempDir::new();
    let d = dir.0.as_path();
    let vault_dir = d.join("data").join("vault");

    let refused = output_within_a_minute(
        base_cmd(d)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("NSL_VAULT_KEK"),
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        stderr.contains("NSL_VAULT_KEK") && stderr.contains("vault.dev_mode"),
        "{stderr}"
    );
    assert!(
        !vault_dir.join("vault.kek").exists() && !vault_dir.join("vault.state").exists(),
        "a refused start wrote vault files"
    );

    // A KEK file inside the vault directory is refused as well (it would sit beside the state).
    std::fs::create_dir_all(&vault_dir).expect("vault dir");
    let inside = vault_dir.join("my.kek");
    std::fs::write(&inside, TEST_KEK).expect("kek file");
    let refused = output_within_a_minute(
        base_cmd(d)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("NSL_VAULT_KEK")
            .env("NSL_VAULT_KEK_FILE", &inside),
    );
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("inside the vault directory"),
        "{refused:?}"
    );
    std::fs::remove_file(&inside).expect("remove");

    // Production mode (KEK from the environment): starts, and no key file appears.
    let (server, addr) = start_serve(d);
    let (st, _) = get(&addr, "/health", None);
    assert_eq!(st, 200);
    drop(server);
    assert!(vault_dir.join("vault.state").exists());
    assert!(
        !vault_dir.join("vault.kek").exists(),
        "production mode wrote a key file beside the vault state"
    );

    // Dev mode is explicit: a fresh data dir with `vault.dev_mode` gets a generated key file.
    let dev = TempDir::new();
    let log = std::fs::File::create(dev.0.join("serve.log")).expect("log");
    let mut child = base_cmd(&dev.0)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("NSL_VAULT_KEK")
        .env("NSL_VAULT__DEV_MODE", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(Some(child));
    let started = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.starts_with("listening"));
    drop(server);
    let log = std::fs::read_to_string(dev.0.join("serve.log")).unwrap_or_default();
    assert!(started, "dev mode did not start: {log}");
    assert!(log.contains("DEV-ONLY VAULT KEY"), "{log}");
    assert!(dev.0.join("data/vault/vault.kek").exists());
}

/// A function execution cut by a crash (`nsl serve` SIGKILLed while it runs) does not stay
/// `running` for ever: the restarted node marks it `failed` with `error.kind = "interrupted"`, and
/// the function runs normally afterwards. On SQLite and on PostgreSQL.
#[test]
fn function_execution_cut_by_a_crash_ends_interrupted_on_sqlite() {
    function_execution_cut_by_a_crash(None);
}

#[test]
fn function_execution_cut_by_a_crash_ends_interrupted_on_postgres() {
    let pg = PgDb::create();
    function_execution_cut_by_a_crash(Some(&pg.url));
}

fn function_execution_cut_by_a_crash(db_url: Option<&str>) {
    let dir = TempDir::new();
    let d = dir.0.as_path();
    let env: Vec<(&str, &str)> = db_url
        .map(|url| vec![("NSL_DATABASE__URL", url)])
        .unwrap_or_default();
    let (_, key) = account_with_key_on(d, &env, "dapp", "user", "read,write");
    let (mut server, addr) = start_serve_with(d, &env);
    // A function that spins until its time budget (10 s) runs out, unless its argument says stop.
    let source =
        r#"export default (args) => { if (args && args.stop) { return 1; } for (;;) {} };"#;
    let (st, resp) = request(
        &addr,
        "POST",
        "/v1/functions",
        Some(&key),
        Some(&format!(r#"{{"name":"spin","source":"{source}"}}"#)),
    );
    assert_eq!(st, 201, "{resp}");
    let function = json_body(&resp)["id"]
        .as_str()
        .expect("function id")
        .to_owned();
    let (st, resp) = request(
        &addr,
        "POST",
        &format!("/v1/functions/{function}/execute"),
        Some(&key),
        Some(r#"{"mode":"async"}"#),
    );
    assert_eq!(st, 202, "{resp}");
    let execution = json_body(&resp)["id"]
        .as_str()
        .expect("execution id")
        .to_owned();
    let path = format!("/v1/executions/{execution}");
    // Kill the node while the execution runs (SIGKILL: no shutdown path runs).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (st, resp) = get(&addr, &path, Some(&key));
        assert_eq!(st, 200, "{resp}");
        if json_body(&resp)["status"] == "running" {
            break;
        }
        assert!(Instant::now() < deadline, "never running: {resp}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut child = server.0.take().expect("server process");
    child.kill().expect("SIGKILL nsl serve");
    let _ = child.wait();

    // The restarted node recovers the execution as interrupted before it serves.
    let (_server, addr) = start_serve_with(d, &env);
    let (st, resp) = get(&addr, &path, Some(&key));
    assert_eq!(st, 200, "{resp}");
    let body = json_body(&resp);
    assert_eq!(body["status"], "failed", "{resp}");
    assert_eq!(body["error"]["kind"], "interrupted", "{resp}");
    // The function itself is fine: a new execution runs to its end.
    let (st, resp) = request(
        &addr,
        "POST",
        &format!("/v1/functions/{function}/execute"),
        Some(&key),
        Some(r#"{"args":{"stop":true}}"#),
    );
    assert_eq!(st, 200, "{resp}");
    let body = json_body(&resp);
    assert_eq!(body["status"], "succeeded", "{resp}");
    assert_eq!(body["result"], 1, "{resp}");
}
