//! `nsl-egress`: the one outbound HTTP client of the node.
//!
//! Every request the node makes to the internet (oracle fetches, `fetch` from JavaScript functions,
//! price sources) goes through [`Egress`]. It exists so that a URL chosen by a user, a contract or a
//! script can never make the node reach its own network (server-side request forgery): loopback,
//! private ranges, cloud metadata at `169.254.169.254`, and their IPv6 and embedded-IPv4 disguises.
//!
//! # Flow of one fetch
//!
//! ```text
//! url ──parse (WHATWG: 0x7f000001, 2130706433, 0177.0.0.1, 127.1 → 127.0.0.1)
//!     ──check_url: scheme (https; http only if allowed) · host allowlist (per call)
//!                  · IP-literal host → address classification
//!     ──HTTP client ── name host → GuardedResolver: resolve, refuse if ANY address is not public
//!                   │                 (the connector dials only what the resolver returned)
//!                   └─ IP literal  → dialled as checked above
//!     ──3xx? → check_redirect (never https→http, then check_url again), ≤ max_redirects hops
//!     ──status: 404 → NotFound, other non-2xx → Http(status)
//!     ──Content-Type allowlist · Content-Length > cap → TooLarge
//!     ──body streamed, stop at cap+1 → TooLarge
//! all of it inside ONE total timeout (DNS, connect, TLS, headers, body, every hop) → Timeout
//! ```
//!
//! # Invariants
//!
//! - The address that was checked is the address that is dialled: names are checked after
//!   resolution, inside the resolver the connector uses, so there is no DNS-rebinding window.
//! - No proxy from the environment is used; redirects are never followed by the HTTP library.
//! - A response body is never buffered beyond the cap.
//! - Errors and logs never contain a query string, user info or header value ([`RedactedUrl`]).
//! - The defaults ([`EgressPolicy::default`]) are the production policy: HTTPS only, public
//!   addresses only, 2 redirects, 1 MiB, 10 s, JSON or plain text.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), nsl_egress::EgressError> {
//! use nsl_egress::{Egress, EgressPolicy, RequestOptions};
//! let egress = Egress::new(EgressPolicy::default())?;
//! let resp = egress.get("https://api.example.com/price?pair=NEO-USD", &RequestOptions::default()).await?;
//! println!("{} bytes", resp.body.len());
//! # Ok(()) }
//! ```

mod client;
mod error;
pub mod ip;
mod policy;
mod redact;
mod resolve;

pub use client::{Egress, Response};
pub use error::{EgressError, ErrorKind, ForbiddenReason};
pub use http::Method;
pub use ip::{BlockReason, BlockedClass, IpNetwork, blocked_reason, is_public};
pub use policy::{
    DEFAULT_MAX_REDIRECTS, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT_MS, EgressPolicy,
    RequestOptions,
};
pub use redact::RedactedUrl;
pub use url::Url;
