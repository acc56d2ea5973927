//! Helpers shared by the `nsl` binary's real-process tests.

use std::process::{Command, Output};

/// Run `cmd` to its end, but kill it after 60 s (a `nsl serve` that should have refused to start
/// would otherwise run until the test harness gives up).
pub(crate) fn output_within_a_minute(cmd: &mut Command) -> Output {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn nsl");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let out = child.wait_with_output().expect("wait");
        let _ = tx.send(());
        out
    });
    if rx.recv_timeout(std::time::Duration::from_secs(60)).is_err() {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        let out = waiter.join().expect("waiter");
        panic!(
            "nsl did not exit within 60 s (it should have refused to start): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    waiter.join().expect("waiter")
}

/// A fresh PostgreSQL database for one test, created and dropped with `psql`
/// (`NSL_TEST_PG_URL` overrides the server, default postgres://root@127.0.0.1:5432/postgres).
pub(crate) struct PgDb {
    /// The server's admin URL (`NSL_TEST_PG_URL`).
    pub(crate) admin_url: String,
    /// The database's name.
    pub(crate) name: String,
    /// URL of the test's database.
    pub(crate) url: String,
}

impl PgDb {
    pub(crate) fn create() -> PgDb {
        let admin_url = std::env::var("NSL_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/postgres".into());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("nsl_t_cli_{}_{nanos}", std::process::id());
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        let (base, _) = admin_url.split_once('?').unwrap_or((&admin_url, ""));
        let server = base.rsplit_once('/').map(|(s, _)| s).unwrap_or(base);
        let url = format!("{server}/{name}");
        PgDb {
            admin_url,
            name,
            url,
        }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([&self.admin_url, "-v", "ON_ERROR_STOP=1", "-qc"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

pub(crate) fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .unwrap_or_else(|e| panic!("this test needs the psql tool and PostgreSQL: {e}"));
    assert!(
        out.status.success(),
        "PostgreSQL at {url} refused {sql:?} (is it running? scripts/prepare starts it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
