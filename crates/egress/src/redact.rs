//! URLs safe to print: user info, query string and fragment removed.
//!
//! Data-source URLs routinely carry API keys in the query string (`?apikey=...`) or in user info
//! (`https://user:token@host/`). Every URL that reaches an error message or a log line goes through
//! [`RedactedUrl`] first.

use std::fmt;

use url::Url;

/// A URL reduced to `scheme://host[:port]/path`, with `?…` in place of a query string.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RedactedUrl(String);

impl RedactedUrl {
    /// Redact a parsed URL.
    pub fn new(url: &Url) -> Self {
        let mut out = String::with_capacity(url.as_str().len().min(256));
        out.push_str(url.scheme());
        out.push_str("://");
        if let Some(host) = url.host_str() {
            out.push_str(host);
        }
        if let Some(port) = url.port() {
            out.push(':');
            out.push_str(&port.to_string());
        }
        out.push_str(url.path());
        if url.query().is_some() {
            out.push_str("?…");
        }
        Self(out)
    }

    /// The redacted text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&Url> for RedactedUrl {
    fn from(url: &Url) -> Self {
        Self::new(url)
    }
}

impl fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_userinfo_and_fragment_are_removed() {
        let url =
            Url::parse("https://alice:s3cret@api.example.com:8443/v1/price?apikey=TOPSECRET#frag")
                .unwrap();
        let r = RedactedUrl::new(&url).to_string();
        assert_eq!(r, "https://api.example.com:8443/v1/price?…");
        assert!(!r.contains("TOPSECRET"));
        assert!(!r.contains("s3cret"));
        assert!(!r.contains("alice"));
    }

    #[test]
    fn plain_urls_are_unchanged() {
        let url = Url::parse("https://example.com/a/b").unwrap();
        assert_eq!(RedactedUrl::new(&url).as_str(), "https://example.com/a/b");
        let url = Url::parse("http://[::1]:80/").unwrap();
        assert_eq!(RedactedUrl::new(&url).as_str(), "http://[::1]/");
    }
}
