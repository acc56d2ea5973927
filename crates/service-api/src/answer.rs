//! [`Answer`]: what a service puts on chain for one request.

use crate::code::{ResponseCode, code_name};

/// The outcome of one request: what goes into the response (transaction attribute or
/// `fulfill` call).
#[derive(Clone, PartialEq, Eq)]
pub struct Answer {
    /// The response code.
    pub code: ResponseCode,
    /// The result bytes: at most [`crate::MAX_RESULT_SIZE`] bytes. Oracle answers carry a result
    /// only with `Success`; other services may explain an error in it (e.g. `{"error":"timeout"}`).
    pub result: Vec<u8>,
    /// Why the code is not `Success` (for logs and records, never sent on chain). No query
    /// strings or header values.
    pub detail: Option<String>,
}

impl Answer {
    /// A successful answer carrying `result`.
    pub fn success(result: Vec<u8>) -> Self {
        Self {
            code: ResponseCode::Success,
            result,
            detail: None,
        }
    }

    /// A failed answer: `code` with an empty result.
    pub fn failure(code: ResponseCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            result: Vec::new(),
            detail: Some(detail.into()),
        }
    }
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("code", &code_name(self.code))
            .field("result_len", &self.result.len())
            .field("detail", &self.detail)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_result_bytes() {
        let a = Answer::success(b"secret-ish".to_vec());
        let s = format!("{a:?}");
        assert!(s.contains("result_len: 10") && !s.contains("secret"), "{s}");
        let f = Answer::failure(ResponseCode::Timeout, "slow");
        assert!(f.result.is_empty() && f.detail.as_deref() == Some("slow"));
    }
}
