//! The sandbox's hosts for one execution: `fetch` through `nsl-egress`, `secrets.get` through a
//! [`FunctionSecrets`] source. Both are built per execution, bound to the executing version's
//! allowlist and grants, and called on the sandbox's blocking thread.

use std::sync::Arc;
use std::time::Instant;

use crate::FunctionId;
use async_trait::async_trait;
use nsl_egress::{Egress, EgressError, ErrorKind, Method, RequestOptions};
use nsl_primitives::AccountId;
use nsl_sandbox::{ExecutionScope, FetchHost, FetchRequest, FetchResponse, HostError};
use nsl_sandbox::{SecretValue, SecretsHost};
use tokio::runtime::Handle;

/// Where granted secrets come from. The node implements it over `nsl-secrets` (decrypt + audit);
/// it is only ever asked for names granted to the executing function.
#[async_trait]
pub trait FunctionSecrets: Send + Sync {
    /// The value of `account`'s secret `name` for an execution of `function_id`; `Ok(None)` when
    /// it does not exist. Errors must not contain secret values.
    async fn secret_for_function(
        &self,
        account: AccountId,
        function_id: FunctionId,
        name: &str,
    ) -> Result<Option<SecretValue>, String>;
}

/// A [`FunctionSecrets`] without any secrets (nodes without a secrets service).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFunctionSecrets;

#[async_trait]
impl FunctionSecrets for NoFunctionSecrets {
    async fn secret_for_function(
        &self,
        _: AccountId,
        _: FunctionId,
        _: &str,
    ) -> Result<Option<SecretValue>, String> {
        Ok(None)
    }
}

/// The sandbox's [`SecretsHost`] for one execution: refuses names not granted to the version
/// (the sandbox checks that too), then asks the [`FunctionSecrets`] source.
pub struct GrantedSecrets {
    source: Arc<dyn FunctionSecrets>,
    account: AccountId,
    function_id: FunctionId,
    granted: Vec<String>,
    handle: Handle,
}

impl GrantedSecrets {
    /// Bind `source` to one execution of `function_id` owned by `account`.
    pub fn new(
        source: Arc<dyn FunctionSecrets>,
        account: AccountId,
        function_id: FunctionId,
        granted: Vec<String>,
        handle: Handle,
    ) -> Self {
        Self {
            source,
            account,
            function_id,
            granted,
            handle,
        }
    }
}

impl SecretsHost for GrantedSecrets {
    fn get(&self, _scope: &ExecutionScope, name: &str) -> Result<Option<SecretValue>, HostError> {
        if !self.granted.iter().any(|g| g == name) {
            return Ok(None);
        }
        self.handle
            .block_on(
                self.source
                    .secret_for_function(self.account, self.function_id, name),
            )
            .map_err(|_| HostError::Failed("the secrets service is unavailable".into()))
    }
}

/// The sandbox's [`FetchHost`] for one execution: every request goes through [`Egress`] (SSRF
/// guard, size and time caps) with the version's host allowlist.
pub struct EgressFetch {
    egress: Arc<Egress>,
    allowed_hosts: Vec<String>,
    handle: Handle,
}

impl EgressFetch {
    /// A fetch host limited to `allowed_hosts`, running requests on the runtime of `handle`.
    pub fn new(egress: Arc<Egress>, allowed_hosts: Vec<String>, handle: Handle) -> Self {
        Self {
            egress,
            allowed_hosts,
            handle,
        }
    }
}

/// The error a function sees: the tenant-safe text of the egress error (no resolved or internal
/// addresses); the full error goes to the operator log.
fn host_error(e: &EgressError) -> HostError {
    tracing::debug!(error = %e, "function fetch refused or failed");
    match e.kind() {
        ErrorKind::Forbidden | ErrorKind::ProtocolNotSupported | ErrorKind::InvalidUrl => {
            HostError::Refused(e.public_message())
        }
        ErrorKind::Timeout => HostError::Timeout,
        _ => HostError::Failed(e.public_message()),
    }
}

impl FetchHost for EgressFetch {
    fn fetch(
        &self,
        _scope: &ExecutionScope,
        request: &FetchRequest,
    ) -> Result<FetchResponse, HostError> {
        let remaining = request.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(HostError::Timeout);
        }
        let method = Method::from_bytes(request.method.as_bytes()).map_err(|_| {
            HostError::Refused(format!("method {} is not supported", request.method))
        })?;
        let opts = RequestOptions {
            allowed_hosts: Some(self.allowed_hosts.clone()),
            headers: request.headers.clone(),
            max_response_bytes: Some(u64::try_from(request.max_response_bytes).unwrap_or(u64::MAX)),
            timeout: Some(remaining),
            accept_error_status: true,
        };
        let body = (!request.body.is_empty()).then(|| bytes::Bytes::from(request.body.clone()));
        let response = self
            .handle
            .block_on(self.egress.send(method, request.url.as_str(), body, &opts))
            .map_err(|e| {
                if e.kind() == ErrorKind::TooLarge {
                    HostError::ResponseTooLarge {
                        limit: request.max_response_bytes,
                    }
                } else {
                    host_error(&e)
                }
            })?;
        let headers = response
            .headers
            .iter()
            .filter_map(|(name, value)| {
                value
                    .to_str()
                    .ok()
                    .map(|v| (name.as_str().to_string(), v.to_string()))
            })
            .collect();
        Ok(FetchResponse {
            status: response.status,
            headers,
            body: response.body.to_vec(),
        })
    }
}
