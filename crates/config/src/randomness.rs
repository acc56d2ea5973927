//! `[randomness]` section: the randomness service (`nsl-randomness`) run by `nsl serve`.

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Most words one request may ask for (the gateway's limit).
pub const MAX_RANDOMNESS_WORDS: u16 = 16;

/// `[randomness]` section. Enabled by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomnessConfig {
    /// Serve `/v1/randomness` and answer gateway `vrf` requests (when the oracle service runs).
    /// Default `true`.
    pub enabled: bool,
    /// Most words an API request may ask for (1..=16). Gateway requests are bounded by the
    /// gateway (16). Default 16.
    pub max_words: u16,
}

impl Default for RandomnessConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_words: MAX_RANDOMNESS_WORDS,
        }
    }
}

impl RandomnessConfig {
    /// Checks `max_words`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_RANDOMNESS_WORDS).contains(&self.max_words) {
            return Err(ConfigError::Invalid {
                key: "randomness.max_words".into(),
                message: "must be between 1 and 16".into(),
            });
        }
        Ok(())
    }
}
