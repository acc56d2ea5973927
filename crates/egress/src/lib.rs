//! The one outbound HTTP client: SSRF guard at connect time, redirect, size and time caps.
