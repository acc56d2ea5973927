//! The DNS resolver handed to the HTTP client: it resolves a name and refuses it if ANY resolved
//! address is not allowed by the policy. The connector dials only the addresses returned from here,
//! so the address that was checked is the address that is dialled (no DNS-rebinding window).

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::ip::BlockReason;
use crate::policy::EgressPolicy;

/// A name that resolved to a refused address. Travels inside the HTTP client's error chain and is
/// recognised by downcasting (see `client::map_transport_error`).
#[derive(Debug)]
pub(crate) struct BlockedResolution {
    pub(crate) host: String,
    pub(crate) addr: IpAddr,
    pub(crate) reason: BlockReason,
}

impl fmt::Display for BlockedResolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "host `{}` resolves to {}, a {}",
            self.host, self.addr, self.reason
        )
    }
}

impl StdError for BlockedResolution {}

/// A name with no address at all.
#[derive(Debug)]
struct NoAddresses(String);

impl fmt::Display for NoAddresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host `{}` has no address", self.0)
    }
}

impl StdError for NoAddresses {}

/// System resolver (`getaddrinfo` on the blocking pool) filtered by the policy.
pub(crate) struct GuardedResolver {
    pub(crate) policy: Arc<EgressPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| Box::new(e) as Box<dyn StdError + Send + Sync>)?
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(NoAddresses(host)) as Box<dyn StdError + Send + Sync>);
            }
            for a in &addrs {
                if let Err(reason) = policy.check_address(a.ip()) {
                    tracing::debug!(%host, addr = %a.ip(), %reason, "egress: resolved address refused");
                    return Err(Box::new(BlockedResolution {
                        host,
                        addr: a.ip(),
                        reason,
                    }) as Box<dyn StdError + Send + Sync>);
                }
            }
            tracing::trace!(%host, count = addrs.len(), "egress: resolved");
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}
