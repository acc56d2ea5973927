//! Child processes that cannot outlive the process that started them.
//!
//! On Linux the child asks the kernel for `SIGKILL` when its parent goes away
//! (`prctl(PR_SET_PDEATHSIG)`). The kernel's notion of "parent" is the *thread* that forked, so
//! every child is spawned by one long-lived thread of this crate (`nsl-devchain-spawner`) that
//! lives as long as the process: a test thread or a tokio blocking thread that exits early does
//! not take the chain down with it, and a killed test process (nextest timeout, Ctrl-C, panic with
//! `abort`) takes its neo-go with it.

use std::io;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::sync::mpsc;

type Request = (Command, mpsc::Sender<io::Result<Child>>);

static SPAWNER: Mutex<Option<mpsc::Sender<Request>>> = Mutex::new(None);

/// Spawn `cmd` from the spawner thread with the parent-death signal set.
pub(crate) fn spawn_guarded(cmd: Command) -> io::Result<Child> {
    let sender = {
        let mut guard = SPAWNER.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(s) => s.clone(),
            None => {
                let (tx, rx) = mpsc::channel::<Request>();
                std::thread::Builder::new()
                    .name("nsl-devchain-spawner".into())
                    .spawn(move || {
                        for (mut cmd, reply) in rx {
                            let _ = reply.send(spawn_with_pdeathsig(&mut cmd));
                        }
                    })?;
                *guard = Some(tx.clone());
                tx
            }
        }
    };
    let (reply_tx, reply_rx) = mpsc::channel();
    sender
        .send((cmd, reply_tx))
        .map_err(|_| io::Error::other("the process spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| io::Error::other("the process spawner thread did not answer"))?
}

#[cfg(target_os = "linux")]
fn spawn_with_pdeathsig(cmd: &mut Command) -> io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and only calls the
    // async-signal-safe `prctl` and `getppid`; it allocates nothing except on the error path,
    // where `io::Error::last_os_error`/`other` build a value without touching shared locks.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody would signal us.
            if libc::getppid() as u32 != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    cmd.spawn()
}

#[cfg(not(target_os = "linux"))]
fn spawn_with_pdeathsig(cmd: &mut Command) -> io::Result<Child> {
    cmd.spawn()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawns_from_short_lived_threads() {
        // Each child is spawned from a thread that exits at once; the children must survive it.
        let mut children = Vec::new();
        for _ in 0..2 {
            let child = std::thread::spawn(|| {
                let mut cmd = Command::new("sleep");
                cmd.arg("5");
                spawn_guarded(cmd)
            })
            .join()
            .unwrap()
            .unwrap();
            children.push(child);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        for mut child in children {
            assert!(
                child.try_wait().unwrap().is_none(),
                "child died with its thread"
            );
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}
