//! [`FunctionSecrets`] over `nsl-secrets`: granted secrets are decrypted (and audited as
//! `secret.read` with the function id) by [`SecretsService::get_for_execution`].

use async_trait::async_trait;
use nsl_primitives::AccountId;
use nsl_sandbox::SecretValue;
use nsl_secrets::{SecretsError, SecretsService};
use nsl_store::FunctionId;

use crate::hosts::FunctionSecrets;

#[async_trait]
impl FunctionSecrets for SecretsService {
    async fn secret_for_function(
        &self,
        account: AccountId,
        function_id: FunctionId,
        name: &str,
    ) -> Result<Option<SecretValue>, String> {
        match self
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
