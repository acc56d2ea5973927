//! One router per resource, merged by [`crate::router`].

pub(crate) mod apikeys;
pub(crate) mod audit;
pub(crate) mod contracts;
pub(crate) mod me;
pub(crate) mod ops;
pub(crate) mod session;

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
