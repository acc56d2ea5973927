//! Neo's oracle response codes and how fetch outcomes map to them.
//!
//! The codes are Neo's `OracleResponseCode` ([`ResponseCode`], re-exported from `nsl-service-api`).
//! The mapping follows neo-go's oracle service (`pkg/services/oracle/request.go`), with one
//! deliberate difference noted on [`code_for_egress_error`].

use nsl_egress::{EgressError, ErrorKind};

// The codes, their names and the protocol limits are shared by every service
// (`nsl-service-api`); the fetch-outcome mappings below are the oracle's own.
pub use nsl_service_api::code::{MAX_RESULT_SIZE, MAX_URL_LEN, ResponseCode, code_name};

/// The response code for an HTTP status of a final (non-redirect) response, as neo-go maps it:
/// only `200` is a success; `403` Forbidden, `404` NotFound, `408` Timeout; anything else Error.
pub fn code_for_http_status(status: u16) -> ResponseCode {
    match status {
        200 => ResponseCode::Success,
        403 => ResponseCode::Forbidden,
        404 => ResponseCode::NotFound,
        408 => ResponseCode::Timeout,
        _ => ResponseCode::Error,
    }
}

/// The response code for a failed fetch through `nsl-egress`:
///
/// | egress error kind | code | why |
/// |---|---|---|
/// | `InvalidUrl` | ProtocolNotSupported | neo-go: `url.ParseRequestURI` failure |
/// | `ProtocolNotSupported` | ProtocolNotSupported | scheme other than `https` (or `http` when allowed) |
/// | `Forbidden` | Forbidden | blocked address, host not allowed, https to http redirect |
/// | `TooManyRedirects` | Forbidden | neo-go's `ErrRestrictedRedirect` |
/// | `NotFound` | NotFound | HTTP 404 |
/// | `Http` | by status: see [`code_for_http_status`] | |
/// | `Timeout` | Timeout | C# Neo's rule; neo-go answers `Error` here |
/// | `TooLarge` | ResponseTooLarge | body over 65,535 bytes |
/// | `ContentTypeNotSupported` | ContentTypeNotSupported | not in the allowed types |
/// | `Connect`, `Error` and any later kind | Error | |
pub fn code_for_egress_error(err: &EgressError) -> ResponseCode {
    match err.kind() {
        ErrorKind::InvalidUrl | ErrorKind::ProtocolNotSupported => {
            ResponseCode::ProtocolNotSupported
        }
        ErrorKind::Forbidden | ErrorKind::TooManyRedirects => ResponseCode::Forbidden,
        ErrorKind::NotFound => ResponseCode::NotFound,
        ErrorKind::Http => err
            .status()
            .map_or(ResponseCode::Error, code_for_http_status),
        ErrorKind::Timeout => ResponseCode::Timeout,
        ErrorKind::TooLarge => ResponseCode::ResponseTooLarge,
        ErrorKind::ContentTypeNotSupported => ResponseCode::ContentTypeNotSupported,
        ErrorKind::Connect | ErrorKind::Error => ResponseCode::Error,
        _ => ResponseCode::Error,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    use nsl_egress::{BlockReason, ForbiddenReason, RedactedUrl, Url, blocked_reason};

    use super::*;

    fn url() -> RedactedUrl {
        RedactedUrl::new(&Url::parse("https://example.com/x?secret=1").unwrap())
    }

    #[test]
    fn codes_have_neo_values() {
        let expect = [
            (ResponseCode::Success, 0x00),
            (ResponseCode::ProtocolNotSupported, 0x10),
            (ResponseCode::ConsensusUnreachable, 0x12),
            (ResponseCode::NotFound, 0x14),
            (ResponseCode::Timeout, 0x16),
            (ResponseCode::Forbidden, 0x18),
            (ResponseCode::ResponseTooLarge, 0x1a),
            (ResponseCode::InsufficientFunds, 0x1c),
            (ResponseCode::ContentTypeNotSupported, 0x1f),
            (ResponseCode::Error, 0xff),
        ];
        for (code, byte) in expect {
            assert_eq!(code as u8, byte, "{}", code_name(code));
            assert_eq!(ResponseCode::from_u8(byte).unwrap(), code);
        }
        assert_eq!(MAX_RESULT_SIZE, 65_535);
    }

    #[test]
    fn http_statuses_map_like_neo_go() {
        assert_eq!(code_for_http_status(200), ResponseCode::Success);
        assert_eq!(code_for_http_status(201), ResponseCode::Error);
        assert_eq!(code_for_http_status(204), ResponseCode::Error);
        assert_eq!(code_for_http_status(403), ResponseCode::Forbidden);
        assert_eq!(code_for_http_status(404), ResponseCode::NotFound);
        assert_eq!(code_for_http_status(408), ResponseCode::Timeout);
        assert_eq!(code_for_http_status(500), ResponseCode::Error);
        assert_eq!(code_for_http_status(401), ResponseCode::Error);
    }

    #[test]
    fn every_egress_error_kind_maps() {
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let reason: BlockReason = blocked_reason(loopback).unwrap();
        let cases: Vec<(EgressError, ResponseCode)> = vec![
            (
                EgressError::InvalidUrl("relative URL without a base".into()),
                ResponseCode::ProtocolNotSupported,
            ),
            (
                EgressError::ProtocolNotSupported {
                    scheme: "neofs".into(),
                },
                ResponseCode::ProtocolNotSupported,
            ),
            (
                EgressError::Forbidden {
                    url: url(),
                    reason: ForbiddenReason::BlockedAddress {
                        addr: loopback,
                        reason,
                    },
                },
                ResponseCode::Forbidden,
            ),
            (
                EgressError::Forbidden {
                    url: url(),
                    reason: ForbiddenReason::InsecureRedirect,
                },
                ResponseCode::Forbidden,
            ),
            (EgressError::NotFound { url: url() }, ResponseCode::NotFound),
            (
                EgressError::Http {
                    status: 403,
                    url: url(),
                },
                ResponseCode::Forbidden,
            ),
            (
                EgressError::Http {
                    status: 408,
                    url: url(),
                },
                ResponseCode::Timeout,
            ),
            (
                EgressError::Http {
                    status: 503,
                    url: url(),
                },
                ResponseCode::Error,
            ),
            (
                EgressError::Timeout {
                    after: Duration::from_secs(10),
                },
                ResponseCode::Timeout,
            ),
            (
                EgressError::TooLarge { limit: 65_535 },
                ResponseCode::ResponseTooLarge,
            ),
            (
                EgressError::ContentTypeNotSupported {
                    content_type: Some("text/html".into()),
                },
                ResponseCode::ContentTypeNotSupported,
            ),
            (
                EgressError::TooManyRedirects { max: 2 },
                ResponseCode::Forbidden,
            ),
            (
                EgressError::Connect {
                    url: url(),
                    message: "connection refused".into(),
                },
                ResponseCode::Error,
            ),
            (
                EgressError::Request {
                    url: url(),
                    message: "reset".into(),
                },
                ResponseCode::Error,
            ),
            (
                EgressError::InvalidHeader { name: "x".into() },
                ResponseCode::Error,
            ),
            (
                EgressError::InvalidPolicy("bad".into()),
                ResponseCode::Error,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(code_for_egress_error(&err), code, "{err}");
        }
    }
}
