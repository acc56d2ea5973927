//! Row types shared by the store traits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// A point in time as integer milliseconds since the Unix epoch (UTC). Both backends store
/// timestamps as `BIGINT`/`INTEGER` milliseconds.
pub type UnixMillis = i64;

/// The current time in [`UnixMillis`].
pub fn now_ms() -> UnixMillis {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A fresh random id.
            pub fn new_random() -> Self {
                Self(uuid::Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| StoreError::Corrupt(format!("{} {s:?} is not a UUID", stringify!($name))))
            }
        }

        /// The stored text form (rows decode it with `#[sqlx(try_from = "String")]`).
        impl TryFrom<String> for $name {
            type Error = StoreError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
    };
}

uuid_id!(
    /// Id of an API key.
    ApiKeyId
);
uuid_id!(
    /// Id of one refresh token.
    RefreshTokenId
);
uuid_id!(
    /// Id of a refresh token family (all tokens descending from one login).
    TokenFamilyId
);
