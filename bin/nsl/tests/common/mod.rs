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
