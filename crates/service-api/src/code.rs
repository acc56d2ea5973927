//! Neo's oracle response codes: the one code set of every service's on-chain answers (oracle,
//! functions, and later services answering through the gateway).

pub use neo::OracleResponseCode as ResponseCode;
pub use neo::tx::MAX_ORACLE_RESULT_SIZE as MAX_RESULT_SIZE;

/// Longest URL the native OracleContract accepts, in bytes.
pub const MAX_URL_LEN: usize = 256;

/// Stable snake_case name of a code (logs, metrics, API).
pub fn code_name(code: ResponseCode) -> &'static str {
    match code {
        ResponseCode::Success => "success",
        ResponseCode::ProtocolNotSupported => "protocol_not_supported",
        ResponseCode::ConsensusUnreachable => "consensus_unreachable",
        ResponseCode::NotFound => "not_found",
        ResponseCode::Timeout => "timeout",
        ResponseCode::Forbidden => "forbidden",
        ResponseCode::ResponseTooLarge => "response_too_large",
        ResponseCode::InsufficientFunds => "insufficient_funds",
        ResponseCode::ContentTypeNotSupported => "content_type_not_supported",
        ResponseCode::Error => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_neo_values_and_names() {
        let expect = [
            (ResponseCode::Success, 0x00, "success"),
            (
                ResponseCode::ProtocolNotSupported,
                0x10,
                "protocol_not_supported",
            ),
            (
                ResponseCode::ConsensusUnreachable,
                0x12,
                "consensus_unreachable",
            ),
            (ResponseCode::NotFound, 0x14, "not_found"),
            (ResponseCode::Timeout, 0x16, "timeout"),
            (ResponseCode::Forbidden, 0x18, "forbidden"),
            (ResponseCode::ResponseTooLarge, 0x1a, "response_too_large"),
            (ResponseCode::InsufficientFunds, 0x1c, "insufficient_funds"),
            (
                ResponseCode::ContentTypeNotSupported,
                0x1f,
                "content_type_not_supported",
            ),
            (ResponseCode::Error, 0xff, "error"),
        ];
        for (code, byte, name) in expect {
            assert_eq!(code as u8, byte, "{name}");
            assert_eq!(ResponseCode::from_u8(byte).unwrap(), code);
            assert_eq!(code_name(code), name);
        }
        assert_eq!(MAX_RESULT_SIZE, 65_535);
    }
}
