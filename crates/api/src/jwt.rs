//! Short-lived JWT access tokens (HS256).
//!
//! Invariants of validation: the algorithm is HS256 and nothing else (a token whose header says
//! `none`, `HS512` or `RS256` is refused before its signature is looked at), the signature verifies
//! under the node's secret, `exp`, `iat`, `iss`, `aud` and `sub` are present, `iss` and `aud` equal the
//! node's values, and `exp` is in the future (5 s leeway for clock skew between nodes).
//! The secret comes only from the environment or a file (never from the config file itself) and is at
//! least 32 bytes.

use std::collections::HashSet;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Issuer claim of every token this node issues.
pub const ISSUER: &str = "nsl";
/// Audience claim of access tokens for this API.
pub const AUDIENCE: &str = "nsl-api";
/// Minimum secret length in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// Errors of the JWT module.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// The configured secret is too short.
    #[error("the JWT secret must be at least {MIN_SECRET_LEN} bytes")]
    WeakSecret,
    /// The token is expired.
    #[error("access token expired")]
    Expired,
    /// Any other reason to refuse the token (signature, algorithm, claims, format).
    #[error("invalid access token")]
    Invalid,
    /// Encoding failed (should not happen with HS256).
    #[error("could not sign the access token")]
    Encode,
}

/// Claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Account id.
    pub sub: String,
    /// Account role at issue time (`user` or `admin`).
    pub role: String,
    /// Refresh-token family this access token belongs to (logout revokes the family).
    pub sid: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Expires at (unix seconds).
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Unique token id.
    pub jti: String,
}

/// Signs and validates access tokens. `Debug` never shows the secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("secret", &"<redacted>")
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl JwtKeys {
    /// Keys for `secret`; tokens live `ttl`.
    pub fn new(secret: &[u8], ttl: Duration) -> Result<Self, JwtError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(JwtError::WeakSecret);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 5;
        validation.validate_exp = true;
        validation.validate_nbf = false;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.required_spec_claims = ["exp", "iat", "iss", "aud", "sub"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<HashSet<_>>();
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        })
    }

    /// Lifetime of new tokens.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issue a token for `sub` with `role` in refresh family `sid`, valid from `now` (unix seconds).
    pub fn issue(
        &self,
        sub: &str,
        role: &str,
        sid: &str,
        now: i64,
    ) -> Result<(String, AccessClaims), JwtError> {
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let claims = AccessClaims {
            sub: sub.to_owned(),
            role: role.to_owned(),
            sid: sid.to_owned(),
            iat: now,
            exp: now.saturating_add(ttl),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| JwtError::Encode)?;
        Ok((token, claims))
    }

    /// Validate a token and return its claims.
    pub fn validate(&self, token: &str) -> Result<AccessClaims, JwtError> {
        // Refuse anything whose header is not exactly HS256 before touching the signature.
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(JwtError::Invalid);
        }
        match jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation) {
            Ok(data) => Ok(data.claims),
            Err(e) => match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => Err(JwtError::Expired),
                _ => Err(JwtError::Invalid),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn keys() -> JwtKeys {
        JwtKeys::new(SECRET, Duration::from_secs(900)).unwrap()
    }

    #[test]
    fn round_trip() {
        let k = keys();
        let (t, c) = k.issue("acc1", "user", "fam1", now()).unwrap();
        assert_eq!(k.validate(&t).unwrap(), c);
        assert_eq!(c.exp - c.iat, 900);
    }

    #[test]
    fn short_secret_refused() {
        assert!(matches!(
            JwtKeys::new(b"short", Duration::from_secs(1)),
            Err(JwtError::WeakSecret)
        ));
    }

    #[test]
    fn alg_none_refused() {
        let k = keys();
        let (t, _) = k.issue("acc1", "admin", "f", now()).unwrap();
        let payload = t.split('.').nth(1).unwrap();
        let header = B64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(matches!(
            k.validate(&format!("{header}.{payload}.")),
            Err(JwtError::Invalid)
        ));
        assert!(matches!(
            k.validate(&format!("{header}.{payload}")),
            Err(JwtError::Invalid)
        ));
    }

    #[test]
    fn other_hmac_alg_refused_even_with_right_key() {
        let k = keys();
        let (_, c) = k.issue("acc1", "user", "f", now()).unwrap();
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &c,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert!(matches!(k.validate(&t), Err(JwtError::Invalid)));
    }

    #[test]
    fn wrong_key_refused() {
        let other =
            JwtKeys::new(b"ffffffffffffffffffffffffffffffff", Duration::from_secs(60)).unwrap();
        let (t, _) = other.issue("acc1", "admin", "f", now()).unwrap();
        assert!(matches!(keys().validate(&t), Err(JwtError::Invalid)));
    }

    #[test]
    fn expired_refused() {
        let k = keys();
        let (t, _) = k.issue("acc1", "user", "f", now() - 3600).unwrap();
        assert!(matches!(k.validate(&t), Err(JwtError::Expired)));
    }

    #[test]
    fn tampered_payload_refused() {
        let k = keys();
        let (t, c) = k.issue("acc1", "user", "f", now()).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        let mut forged = c.clone();
        forged.role = "admin".into();
        let body = B64.encode(serde_json::to_vec(&forged).unwrap());
        let t2 = format!("{}.{}.{}", parts[0], body, parts[2]);
        assert!(matches!(k.validate(&t2), Err(JwtError::Invalid)));
    }

    #[test]
    fn wrong_audience_or_issuer_refused() {
        let k = keys();
        let (_, mut c) = k.issue("acc1", "user", "f", now()).unwrap();
        c.aud = "someone-else".into();
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &c,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert!(matches!(k.validate(&t), Err(JwtError::Invalid)));
        c.aud = AUDIENCE.into();
        c.iss = "evil".into();
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &c,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert!(matches!(k.validate(&t), Err(JwtError::Invalid)));
    }

    #[test]
    fn garbage_refused() {
        let k = keys();
        for t in ["", ".", "a.b.c", "not a token", "eyJ.eyJ.sig"] {
            assert!(matches!(k.validate(t), Err(JwtError::Invalid)), "{t}");
        }
    }
}
