//! A second RPC endpoint onto a [`crate::DevChain`]: a TCP relay in front of the validator's RPC
//! port that a test can kill and start again.
//!
//! ```text
//! client ──TCP──▶ RpcRelay (own port) ──TCP──▶ neo-go RPC (HTTP and /ws)
//!                   kill():    listener and every live connection dropped (connection refused)
//!                   restart(): listening again on the same port
//! ```
//!
//! The lighter alternative to a second node ([`crate::PeerNode`]): taken away and back at once (no
//! resync), byte for byte the node's own answers, but it can never lag or differ from the node.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::error::{DevchainError, Result};

/// A killable TCP relay to a node's RPC port (see the module docs). Dropping it kills it.
pub struct RpcRelay {
    addr: SocketAddr,
    upstream: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RpcRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcRelay")
            .field("addr", &self.addr)
            .field("upstream", &self.upstream)
            .field("running", &self.task.is_some())
            .finish()
    }
}

impl RpcRelay {
    /// Listen on a free loopback port and relay every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| DevchainError::io("binding the RPC relay", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| DevchainError::io("RPC relay address", e))?;
        Ok(Self {
            addr,
            upstream,
            task: Some(tokio::spawn(serve(listener, upstream))),
        })
    }

    /// `http://127.0.0.1:<relay port>`: the node's RPC URL through the relay (`/ws` included).
    pub fn rpc_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether the relay is listening.
    pub fn is_running(&self) -> bool {
        self.task.is_some()
    }

    /// Stop listening and drop every live connection: the URL refuses connections until
    /// [`RpcRelay::restart`]. Idempotent; also done on drop.
    pub fn kill(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Listen again on the same port (after [`RpcRelay::kill`]; a running relay is restarted).
    pub async fn restart(&mut self) -> Result<()> {
        self.kill();
        // The aborted task drops its listener at its next poll; retry the bind until the port
        // is free again (std sets SO_REUSEADDR, so no TIME_WAIT delay).
        let mut last = None;
        for _ in 0..100 {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => {
                    self.task = Some(tokio::spawn(serve(listener, self.upstream)));
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Err(DevchainError::io(
            "binding the RPC relay again",
            last.unwrap_or_else(|| std::io::Error::other("no attempt")),
        ))
    }
}

impl Drop for RpcRelay {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Accept and relay until aborted; aborting drops the listener and (with the JoinSet) every
/// connection.
async fn serve(listener: TcpListener, upstream: SocketAddr) {
    let mut conns = tokio::task::JoinSet::new();
    while let Ok((mut client, _)) = listener.accept().await {
        while conns.try_join_next().is_some() {}
        conns.spawn(async move {
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn relays_bytes_refuses_when_killed_and_comes_back_on_the_same_port() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // An echo upstream.
        let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up_addr = upstream.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = upstream.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        let mut relay = RpcRelay::start(up_addr).await.unwrap();
        let addr = relay.addr;
        assert_eq!(relay.rpc_url(), format!("http://{addr}"));
        let echo = |addr: SocketAddr| async move {
            let mut s = TcpStream::connect(addr).await?;
            s.write_all(b"ping").await?;
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await?;
            Ok::<_, std::io::Error>(buf)
        };
        assert_eq!(&echo(addr).await.unwrap(), b"ping");
        // A live connection is cut by kill, and new ones are refused.
        let mut live = TcpStream::connect(addr).await.unwrap();
        relay.kill();
        let mut buf = [0u8; 1];
        let n = live.read(&mut buf).await.unwrap_or(0);
        assert_eq!(n, 0, "live connection closed");
        assert!(echo(addr).await.is_err(), "killed relay refuses");
        relay.restart().await.unwrap();
        assert!(relay.is_running());
        assert_eq!(&echo(addr).await.unwrap(), b"ping");
    }
}
