//! The functions service's secrets source over the secrets service: the two crates do not
//! depend on each other; this adapter is the only place that knows both.
//!
//! ```text
//! nsl-functions: GrantedSecrets (names granted to the executing version) ──▶ dyn FunctionSecrets
//!   SecretsForFunctions::secret_for_function
//!     SecretsService::get_for_execution(account, name, function id)   decrypt + audit secret.read
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use nsl_functions::{FunctionId, FunctionSecrets};
use nsl_primitives::AccountId;
use nsl_sandbox::SecretValue;
use nsl_secrets::{SecretsError, SecretsService};

/// [`FunctionSecrets`] backed by [`SecretsService`]: granted secrets are decrypted (and audited as
/// `secret.read` with the function id) by [`SecretsService::get_for_execution`].
#[derive(Clone)]
pub struct SecretsForFunctions(Arc<SecretsService>);

impl SecretsForFunctions {
    /// The adapter over `secrets`.
    pub fn new(secrets: Arc<SecretsService>) -> Self {
        Self(secrets)
    }
}

impl std::fmt::Debug for SecretsForFunctions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsForFunctions")
    }
}

#[async_trait]
impl FunctionSecrets for SecretsForFunctions {
    async fn secret_for_function(
        &self,
        account: AccountId,
        function_id: FunctionId,
        name: &str,
    ) -> Result<Option<SecretValue>, String> {
        match self
            .0
            .get_for_execution(account, name, &function_id.to_string())
            .await
        {
            Ok(bytes) => match std::str::from_utf8(bytes.expose_secret()) {
                Ok(text) => Ok(Some(SecretValue::new(text.to_owned()))),
                // Scripts get strings; a binary secret is reported without its content.
                Err(_) => Err(format!("secret {name:?} is not UTF-8 text")),
            },
            Err(SecretsError::NotFound | SecretsError::InvalidName) => Ok(None),
            Err(e) => {
                // The error type never carries a value; details stay in the node log.
                tracing::warn!(%account, %function_id, secret = name, error = %e, "functions: secret lookup failed");
                Err("the secrets service failed".into())
            }
        }
    }
}
