//! `nsl-api-types`: what a service's HTTP routes need from the API platform, without the server
//! (no accept loop, rate limiter, sessions, JWT or key caches).
//!
//! ```text
//! error       ApiError (+ ErrorCode, ErrorBody, ErrorPayload), Json / Path / Query extractors
//!             whose rejections are ApiErrors: the one error format {code, message, request_id}
//! auth        Principal (account, role, credential, scopes), SCOPE_*, ServiceState (the state
//!             services' routers run on: store + the node's Authenticate)
//! requesters  requesters_of (an account's on-chain requesters), parse_script_hash
//! rfc3339     timestamps on the wire
//! ```
//!
//! `nsl-api` re-exports all of it at its old paths (`nsl_api::error`, `nsl_api::auth::Principal`,
//! `nsl_api::requesters`, `nsl_api::rfc3339`); a service's router is generic over its state
//! (`Router<S>` where `ServiceState: FromRef<S>`) and `nsl-api` mounts it as `Router<AppState>`
//! with `router_with` / `router_with_openapi`.

pub mod auth;
pub mod error;
pub mod requesters;

pub use auth::{Authenticate, Principal, ServiceState};
pub use error::{ApiError, ErrorBody, ErrorCode};

/// Unix milliseconds as RFC 3339 UTC with millisecond precision (`2026-01-02T03:04:05.678Z`).
pub fn rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => {
            let fmt = time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            );
            t.format(&fmt).unwrap_or_else(|_| ms.to_string())
        }
        Err(_) => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_formats_millis() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::rfc3339(1_767_323_045_678),
            "2026-01-02T03:04:05.678Z"
        );
    }
}
