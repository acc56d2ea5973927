//! End-to-end tests of the operator commands (`nsl config`, `nsl migrate`, `nsl admin`,
//! `nsl audit`) running the real binary against a temp data dir (SQLite).
//!
//! Tampering is done with the `sqlite3` command-line tool, the way an attacker with file access
//! would; the test fails with a clear message if the tool is missing.

use crate::common::{PgDb, output_within_a_minute, psql};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A temp directory removed on drop (also when the test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "nsl-cli-platform-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The vault key-encryption key of the test nodes (32 bytes, hex).
const TEST_KEK: &str = "6b6579206f6620746865206e736c2074657374207661756c742c2066616b6521";

/// `nsl` in `dir`, with the data dir inside it and no inherited NSL_ variables.
fn nsl(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nsl"));
    cmd.current_dir(dir).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("NSL_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("NSL_NODE__DATA_DIR", dir.join("data"));
    // A production-style vault key (from the environment, not beside the vault state).
    cmd.env("NSL_VAULT_KEK", TEST_KEK);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run nsl")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn sqlite3(db: &Path, sql: &str) {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .unwrap_or_else(|e| {
            panic!("this test needs the sqlite3 command-line tool (apt-get install sqlite3): {e}")
        });
    assert!(
        out.status.success(),
        "sqlite3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn config_check_accepts_defaults_and_rejects_unknown_keys() {
    let dir = TempDir::new();
    let ok = nsl(dir.path(), &["config", "check"], &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("ok"), "{}", stdout(&ok));

    let file = dir.path().join("nsl.toml");
    std::fs::write(
        &file,
        "[api]\nlisten = \"127.0.0.1:9999\"\nbogus_knob = 1\n",
    )
    .unwrap();
    let bad = nsl(
        dir.path(),
        &["config", "check", "--config", file.to_str().unwrap()],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("bogus_knob"), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("line 3"), "{}", stderr(&bad));

    // The same through NSL_CONFIG, and an unknown environment override.
    let bad = nsl(
        dir.path(),
        &["config", "check"],
        &[("NSL_CONFIG", file.to_str().unwrap())],
    );
    assert_eq!(bad.status.code(), Some(2));
    let bad = nsl(
        dir.path(),
        &["config", "check"],
        &[("NSL_API__LISTN", "0.0.0.0:1")],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("NSL_API__LISTN"), "{}", stderr(&bad));

    // Invalid values name the key.
    let bad = nsl(
        dir.path(),
        &["config", "check"],
        &[("NSL_API__LISTEN", "nowhere")],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("api.listen"), "{}", stderr(&bad));
}

#[test]
fn config_refuses_secrets_in_the_file() {
    let dir = TempDir::new();
    let file = dir.path().join("nsl.toml");
    std::fs::write(
        &file,
        "[auth]\njwt_secret = \"file-secret-0123456789abcdef0123456789\"\n",
    )
    .unwrap();
    let out = nsl(
        dir.path(),
        &["config", "check", "--config", file.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("NSL_AUTH__JWT_SECRET"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("file-secret"), "{}", stderr(&out));
}

#[test]
fn config_show_redacts_secrets_from_env() {
    let dir = TempDir::new();
    let secret = "env-secret-value-0123456789abcdef0123456789";
    let env = [
        ("NSL_AUTH__JWT_SECRET", secret),
        (
            "NSL_DATABASE__URL",
            "postgres://nsl:db-password-42@db.internal:5432/nsl",
        ),
        ("NSL_API__LISTEN", "0.0.0.0:8099"),
    ];
    for args in [&["config", "show"][..], &["--json", "config", "show"][..]] {
        let out = nsl(dir.path(), args, &env);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(!text.contains(secret), "{text}");
        assert!(!text.contains("db-password-42"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
        assert!(
            text.contains("0.0.0.0:8099"),
            "the override is shown: {text}"
        );
    }
}

/// Value of `key` in the human `key  value` output.
fn field(output: &str, key: &str) -> String {
    output
        .lines()
        .find_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next() == Some(key)).then(|| parts.next().unwrap_or("").to_string())
        })
        .unwrap_or_else(|| panic!("no {key} in {output}"))
}

/// The migration numbers shipped for a backend, as `nsl migrate` prints them on an empty database:
/// every crate's files (`crates/*/migrations/<backend>/NNNN_name.sql` and
/// `crates/services/*/migrations/<backend>/...`), read from the tree, so a crate whose set the
/// node does not list fails here.
fn shipped_migrations(backend: &str) -> String {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates");
    let mut dirs = Vec::new();
    for parent in [crates.clone(), crates.join("services")] {
        for entry in std::fs::read_dir(&parent).expect("crates dir") {
            let dir = entry
                .expect("crate dir")
                .path()
                .join("migrations")
                .join(backend);
            if dir.is_dir() {
                dirs.push(dir);
            }
        }
    }
    let mut versions: Vec<i64> = dirs
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).expect("migrations dir"))
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.split('_').next()?.parse().ok()
        })
        .collect();
    versions.sort_unstable();
    assert!(
        versions.len() >= 12,
        "migrations found in {dirs:?}: {versions:?}"
    );
    serde_json::to_string(&versions).expect("json")
}

#[test]
fn migrate_create_account_and_verify_audit() {
    let dir = TempDir::new();
    let first = nsl(dir.path(), &["migrate"], &[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(
        field(&stdout(&first), "applied"),
        shipped_migrations("sqlite")
    );
    let again = nsl(dir.path(), &["migrate"], &[]);
    assert_eq!(
        field(&stdout(&again), "applied"),
        "[]",
        "migrations are idempotent"
    );
    assert!(dir.path().join("data/nsl.db").exists());

    let created = nsl(
        dir.path(),
        &[
            "admin",
            "create-account",
            "--name",
            "ops",
            "--role",
            "admin",
        ],
        &[],
    );
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    let id = field(&stdout(&created), "id");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(field(&stdout(&created), "role"), "admin");

    let verify = nsl(dir.path(), &["audit", "verify"], &[]);
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
    assert_eq!(stdout(&verify).trim(), "ok, 1 entries");

    let list = nsl(dir.path(), &["audit", "list"], &[]);
    assert!(stdout(&list).contains("account.create") && stdout(&list).contains(&id));

    let bad = nsl(
        dir.path(),
        &["admin", "create-account", "--name", "x", "--role", "root"],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn audit_verify_detects_tampering_with_the_file() {
    let dir = TempDir::new();
    for name in ["a", "b", "c", "d"] {
        let out = nsl(
            dir.path(),
            &["admin", "create-account", "--name", name],
            &[],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let ok = nsl(dir.path(), &["audit", "verify"], &[]);
    assert_eq!(stdout(&ok).trim(), "ok, 4 entries");
    let db = dir.path().join("data/nsl.db");

    sqlite3(
        &db,
        "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2;",
    );
    let out = nsl(dir.path(), &["audit", "verify"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("entry 2 was modified"),
        "{}",
        stderr(&out)
    );

    sqlite3(&db, "DELETE FROM audit_log WHERE seq = 2;");
    let out = nsl(dir.path(), &["audit", "verify"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("entry 2 was deleted"),
        "{}",
        stderr(&out)
    );

    sqlite3(&db, "DELETE FROM audit_log WHERE seq >= 3;");
    let out = nsl(dir.path(), &["audit", "verify"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("entry 2 and all later entries were deleted"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn operator_commands_on_postgres() {
    let dir = TempDir::new();
    let pg = PgDb::create();
    let env = [("NSL_DATABASE__URL", pg.url.as_str())];
    let migrated = nsl(dir.path(), &["migrate"], &env);
    assert_eq!(migrated.status.code(), Some(0), "{}", stderr(&migrated));
    assert_eq!(field(&stdout(&migrated), "backend"), "postgres");
    assert_eq!(
        field(&stdout(&migrated), "applied"),
        shipped_migrations("postgres")
    );

    for name in ["ops", "dapp"] {
        let out = nsl(
            dir.path(),
            &["admin", "create-account", "--name", name],
            &env,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let ok = nsl(dir.path(), &["audit", "verify"], &env);
    assert_eq!(stdout(&ok).trim(), "ok, 2 entries", "{}", stderr(&ok));
    assert!(
        !dir.path().join("data/nsl.db").exists(),
        "no SQLite file when PostgreSQL is configured"
    );

    psql(
        &pg.url,
        "UPDATE audit_log SET detail = '{\"name\":\"evil\"}' WHERE seq = 2",
    );
    let bad = nsl(dir.path(), &["audit", "verify"], &env);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("entry 2 was modified"),
        "{}",
        stderr(&bad)
    );
}

/// SQL that rewrites the whole audit chain as someone with only database access can: entry 2's
/// actor changed and every hash recomputed with plain SHA-256 (no audit key), the head moved to
/// the new last hash. `postgres` selects the bytea literal syntax.
fn recompute_chain_without_key(db_url: &str, postgres: bool) -> String {
    use nsl_store::{AuditFilter, AuditStore as _, CanonicalFields, GENESIS_HASH, entry_hash};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut entries = rt.block_on(async {
        let store = nsl_store::Store::connect_url(db_url, 1, Duration::from_secs(10))
            .await
            .expect("open store");
        let page = store
            .list_audit(&AuditFilter {
                limit: 1000,
                ..AuditFilter::default()
            })
            .await
            .expect("list audit");
        store.close().await;
        page.entries
    });
    entries.reverse();
    let bytes = |h: &[u8; 32]| {
        if postgres {
            format!("decode('{}', 'hex')", hex_of(h))
        } else {
            format!("X'{}'", hex_of(h))
        }
    };
    let mut prev = GENESIS_HASH;
    let mut sql = String::new();
    for e in &mut entries {
        if e.seq == 2 {
            e.actor = "someone-else".into();
        }
        let detail = serde_json::to_string(&e.detail).expect("detail");
        let hash = entry_hash(
            &prev,
            &CanonicalFields {
                seq: e.seq,
                ts: e.ts,
                actor: &e.actor,
                action: &e.action,
                target: e.target.as_deref(),
                ip: e.ip.as_deref(),
                detail: &detail,
            },
        );
        sql.push_str(&format!(
            "UPDATE audit_log SET actor = '{}', prev_hash = {}, entry_hash = {} WHERE seq = {};\n",
            e.actor,
            bytes(&prev),
            bytes(&hash),
            e.seq
        ));
        prev = hash;
    }
    sql.push_str(&format!(
        "UPDATE audit_head SET head_hash = {} WHERE id = 1;\n",
        bytes(&prev)
    ));
    sql
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Issue #9 item 5 on SQLite: the chain is keyed (HMAC under a key sealed by the vault), so a
/// row edited and the whole chain recomputed with plain SHA-256 is detected; marking the chain
/// unkeyed as well is detected too, and `nsl serve` refuses to start on it.
#[test]
fn audit_verify_detects_a_chain_recomputed_without_the_key() {
    let dir = TempDir::new();
    for name in ["a", "b", "c"] {
        let out = nsl(
            dir.path(),
            &["admin", "create-account", "--name", name],
            &[],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let ok = nsl(dir.path(), &["audit", "verify"], &[]);
    assert_eq!(stdout(&ok).trim(), "ok, 3 entries", "{}", stderr(&ok));
    let vault = dir.path().join("data/vault");
    assert!(vault.join("audit.key").exists(), "the sealed audit key");
    assert!(
        !vault.join("vault.kek").exists(),
        "no key file beside the vault"
    );
    let db = dir.path().join("data/nsl.db");
    let url = format!("sqlite://{}", db.display());

    sqlite3(&db, &recompute_chain_without_key(&url, false));
    let out = nsl(dir.path(), &["audit", "verify"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("audit chain is broken"),
        "{}",
        stderr(&out)
    );

    // Downgrade: the head says "not keyed" (the pre-0010 format) and carries no MAC.
    sqlite3(
        &db,
        "UPDATE audit_head SET keyed = 0, head_mac = NULL WHERE id = 1;",
    );
    let out = nsl(dir.path(), &["audit", "verify"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("not keyed"), "{}", stderr(&out));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nsl"));
    cmd.current_dir(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("NSL_NODE__DATA_DIR", dir.path().join("data"))
        .env("NSL_VAULT_KEK", TEST_KEK);
    for (k, _) in std::env::vars() {
        if k.starts_with("NSL_") && k != "NSL_VAULT_KEK" && k != "NSL_NODE__DATA_DIR" {
            cmd.env_remove(k);
        }
    }
    let serve = output_within_a_minute(&mut cmd);
    assert_eq!(serve.status.code(), Some(1), "{}", stdout(&serve));
    assert!(
        stderr(&serve).contains("audit chain is not keyed"),
        "{}",
        stderr(&serve)
    );
}

/// Issue #9 item 5 on PostgreSQL: the same recomputation without the key is detected.
#[test]
fn audit_verify_detects_a_chain_recomputed_without_the_key_on_postgres() {
    let dir = TempDir::new();
    let pg = PgDb::create();
    let env = [("NSL_DATABASE__URL", pg.url.as_str())];
    for name in ["a", "b", "c"] {
        let out = nsl(
            dir.path(),
            &["admin", "create-account", "--name", name],
            &env,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let ok = nsl(dir.path(), &["audit", "verify"], &env);
    assert_eq!(stdout(&ok).trim(), "ok, 3 entries", "{}", stderr(&ok));
    psql(&pg.url, &recompute_chain_without_key(&pg.url, true));
    let out = nsl(dir.path(), &["audit", "verify"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("audit chain is broken"),
        "{}",
        stderr(&out)
    );
    psql(
        &pg.url,
        "UPDATE audit_head SET keyed = 0, head_mac = NULL WHERE id = 1",
    );
    let out = nsl(dir.path(), &["audit", "verify"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not keyed"), "{}", stderr(&out));
}
