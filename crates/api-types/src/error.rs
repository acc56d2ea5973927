//! The one error format of the API.
//!
//! Every error response, whoever produced it (a handler, an extractor rejection, the body limit, the
//! router's fallback, the timeout or the panic guard), leaves the server as
//!
//! ```json
//! {"code": "not_found", "message": "no such API key", "request_id": "5f0c..."}
//! ```
//!
//! Handlers return [`ApiError`]; its `IntoResponse` attaches an [`ErrorPayload`] extension to the
//! response and the outermost middleware ([`crate::middleware`]) renders the body with the request id.
//! Responses with an error status but no payload (rejections of foreign layers) are rewritten there
//! from their status alone, so no plain-text body ever leaks out.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

/// Stable, machine-readable error codes (snake_case on the wire). Clients branch on these, never on
/// messages; a code is never renamed once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request is malformed (bad path or query parameter, bad header).
    BadRequest,
    /// 400: the body is not syntactically valid JSON.
    InvalidJson,
    /// 415: the body is not declared as `application/json`.
    UnsupportedMediaType,
    /// 422: JSON of the wrong shape, or values that break a rule.
    ValidationFailed,
    /// 401: no credentials, or credentials that are invalid, expired or revoked.
    Unauthorized,
    /// 403: authenticated, but the role or scope does not allow this.
    Forbidden,
    /// 404: no such route or resource (also: a resource owned by another account).
    NotFound,
    /// 405: the route exists but not with this method.
    MethodNotAllowed,
    /// 409: the request conflicts with the current state (duplicate, already used).
    Conflict,
    /// 401: the wallet login challenge is unknown, already used or expired; ask for a new one.
    ChallengeInvalid,
    /// 401: the signed wallet login message is malformed or not bound to this deployment and
    /// challenge (domain, URI, version, network, address, nonce, times).
    LoginMessageInvalid,
    /// 403: wallet login of an address without an account while open sign-up is off.
    SignupClosed,
    /// 413: the body exceeds `[api] body_limit_bytes`.
    PayloadTooLarge,
    /// 429: a rate limit bucket is empty; see the `Retry-After` header.
    RateLimited,
    /// 403: an account quota is used up (functions, versions, secrets, stored bytes); the
    /// message starts with the quota's name. Deleting something frees it.
    QuotaExceeded,
    /// 429: the account has too many executions running or started in the last minute; see the
    /// `Retry-After` header. The message starts with the quota's name.
    ExecutionQuotaExceeded,
    /// 504: the request did not finish within `[api] request_timeout_ms`.
    Timeout,
    /// 503: a dependency (the database) is not available.
    Unavailable,
    /// 500: a bug or an unexpected failure; details are in the server log only.
    Internal,
}

impl ErrorCode {
    /// The HTTP status this code is sent with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest | Self::InvalidJson => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized | Self::ChallengeInvalid | Self::LoginMessageInvalid => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden | Self::SignupClosed => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited | Self::ExecutionQuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            Self::QuotaExceeded => StatusCode::FORBIDDEN,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code used for an error response that carries only a status (a foreign layer's rejection).
    pub fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::BAD_REQUEST => Self::BadRequest,
            StatusCode::UNAUTHORIZED => Self::Unauthorized,
            StatusCode::FORBIDDEN => Self::Forbidden,
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::CONFLICT => Self::Conflict,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => Self::ValidationFailed,
            StatusCode::TOO_MANY_REQUESTS => Self::RateLimited,
            StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => Self::Timeout,
            StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable,
            s if s.is_client_error() => Self::BadRequest,
            _ => Self::Internal,
        }
    }

    /// The generic message for a code, used when nothing more specific is known.
    pub fn default_message(self) -> &'static str {
        match self {
            Self::BadRequest => "bad request",
            Self::InvalidJson => "the request body is not valid JSON",
            Self::UnsupportedMediaType => "expected a request with Content-Type: application/json",
            Self::ValidationFailed => "the request failed validation",
            Self::Unauthorized => "authentication required",
            Self::Forbidden => "not allowed",
            Self::NotFound => "not found",
            Self::MethodNotAllowed => "method not allowed on this route",
            Self::Conflict => "conflict with the current state",
            Self::ChallengeInvalid => "unknown, used or expired challenge; ask for a new one",
            Self::LoginMessageInvalid => "the login message is not valid for this deployment",
            Self::SignupClosed => "this node does not create accounts on wallet login",
            Self::PayloadTooLarge => "the request body is too large",
            Self::RateLimited => "rate limit exceeded, retry later",
            Self::QuotaExceeded => "an account quota is used up",
            Self::ExecutionQuotaExceeded => "too many executions for this account, retry later",
            Self::Timeout => "the request timed out",
            Self::Unavailable => "a dependency is unavailable, retry later",
            Self::Internal => "internal error",
        }
    }
}

/// The JSON body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Human-readable explanation; never contains secrets or internal details.
    pub message: String,
    /// The request id (also in the `x-request-id` response header); quote it in bug reports.
    pub request_id: String,
}

/// Code and message of an error response, carried as a response extension until the outer
/// middleware renders the body with the request id.
#[derive(Debug, Clone)]
pub struct ErrorPayload {
    /// The code.
    pub code: ErrorCode,
    /// The public message.
    pub message: String,
}

impl ErrorPayload {
    /// Render the final response body for this payload.
    pub fn into_response_with_id(
        self,
        request_id: &str,
        retry_after: Option<HeaderValue>,
    ) -> Response {
        let status = self.code.status();
        let body = ErrorBody {
            code: self.code,
            message: self.message,
            request_id: request_id.to_owned(),
        };
        let json =
            serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"code\":\"internal\"}".to_vec());
        let mut res = (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response();
        if let Some(v) = retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

/// An API error: what went wrong, mapped to one [`ErrorCode`]. Messages of client errors are
/// returned as they are; server-side causes are logged (without secrets) and replaced by a generic
/// message on the wire.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request (parameters, headers).
    #[error("{0}")]
    BadRequest(String),
    /// The body is not valid JSON.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// The body is not declared as JSON.
    #[error("expected a request with Content-Type: application/json")]
    UnsupportedMediaType,
    /// The body has the wrong shape or breaks a rule.
    #[error("{0}")]
    Validation(String),
    /// Missing, invalid, expired or revoked credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource (or not the caller's).
    #[error("{0}")]
    NotFound(String),
    /// Conflicts with current state.
    #[error("{0}")]
    Conflict(String),
    /// A client error with its own specific code (e.g. `challenge_invalid`, `signup_closed`).
    #[error("{1}")]
    Coded(ErrorCode, String),
    /// Body too large.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// A rate limit bucket is empty.
    #[error("rate limit exceeded, retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a token is available (the `Retry-After` header).
        retry_after_secs: u64,
    },
    /// An account quota is used up (403 `quota_exceeded`).
    #[error("{0}")]
    QuotaExceeded(String),
    /// The account's execution quota is used up for now (429 `execution_quota_exceeded`).
    #[error("{message}")]
    ExecutionQuota {
        /// Which quota and the figures.
        message: String,
        /// Seconds to wait (the `Retry-After` header).
        retry_after_secs: u64,
    },
    /// The request timed out.
    #[error("the request timed out")]
    Timeout,
    /// A dependency is unavailable; the message is public, so it must not carry error text of the
    /// dependency (use [`ApiError::Database`] for that).
    #[error("{0}")]
    Unavailable(String),
    /// The database is unavailable; the detail (driver error text) is logged, never sent: the
    /// body has code `unavailable` and a generic message.
    #[error("database unavailable: {0}")]
    Database(String),
    /// An unexpected failure; the string is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadRequest(_) => ErrorCode::BadRequest,
            Self::InvalidJson(_) => ErrorCode::InvalidJson,
            Self::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            Self::Validation(_) => ErrorCode::ValidationFailed,
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::Coded(code, _) => *code,
            Self::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::QuotaExceeded(_) => ErrorCode::QuotaExceeded,
            Self::ExecutionQuota { .. } => ErrorCode::ExecutionQuotaExceeded,
            Self::Timeout => ErrorCode::Timeout,
            Self::Unavailable(_) | Self::Database(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Shorthand for a validation error.
    pub fn validation(msg: impl Into<String>) -> Self {
        Self::Validation(msg.into())
    }

    /// Shorthand for an authentication failure.
    pub fn unauthorized(msg: impl Into<String>) -> Self {
        Self::Unauthorized(msg.into())
    }

    /// Shorthand for a missing (or foreign) resource.
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }

    /// Shorthand for an unexpected failure (logged, never sent).
    pub fn internal(msg: impl std::fmt::Display) -> Self {
        Self::Internal(msg.to_string())
    }

    fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => ErrorCode::Internal.default_message().to_owned(),
            Self::Database(_) => ErrorCode::Unavailable.default_message().to_owned(),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(detail) => tracing::error!(error = %detail, "internal error"),
            Self::Unavailable(detail) => tracing::warn!(error = %detail, "dependency unavailable"),
            Self::Database(detail) => tracing::warn!(error = %detail, "database unavailable"),
            _ => {}
        }
        let payload = ErrorPayload {
            code: self.code(),
            message: self.public_message(),
        };
        let mut res = payload.clone().into_response_with_id("", None);
        if let Self::RateLimited { retry_after_secs }
        | Self::ExecutionQuota {
            retry_after_secs, ..
        } = self
        {
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs.max(1)),
            );
        }
        res.extensions_mut().insert(payload);
        res
    }
}

impl From<nsl_store::StoreError> for ApiError {
    fn from(e: nsl_store::StoreError) -> Self {
        use nsl_store::StoreError as S;
        match e {
            S::Conflict { .. } => Self::Conflict("the resource already exists".into()),
            S::NotFound(what) => Self::NotFound(format!("{what} not found")),
            S::Database(sqlx_err) if is_unavailable(&sqlx_err) => {
                Self::Database(sqlx_err.to_string())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Database errors that mean "not reachable right now" rather than a bug.
fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
    )
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match &r {
            JsonRejection::JsonSyntaxError(_) => Self::InvalidJson(r.body_text()),
            JsonRejection::JsonDataError(_) => Self::Validation(r.body_text()),
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType,
            _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            _ => Self::BadRequest(r.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::BadRequest(r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::BadRequest(r.body_text())
    }
}

/// `Json` extractor and response whose rejections use the API error format.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Self(v))
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `Path` extractor whose rejections use the API error format.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(v) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(v))
    }
}

/// `Query` extractor whose rejections use the API error format.
#[derive(Debug, Clone, Copy)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(v) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_never_reach_the_wire() {
        let e = ApiError::internal("db password=hunter2 failed");
        assert_eq!(e.public_message(), "internal error");
        assert_eq!(e.code().status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn database_errors_never_reach_the_wire() {
        let e = ApiError::from(nsl_store::StoreError::Database(sqlx::Error::PoolClosed));
        assert_eq!(e.code(), ErrorCode::Unavailable);
        assert_eq!(e.public_message(), ErrorCode::Unavailable.default_message());
        assert!(!e.public_message().contains("pool"));
    }

    #[test]
    fn codes_are_snake_case_on_the_wire() {
        let v = serde_json::to_value(ErrorCode::PayloadTooLarge).unwrap();
        assert_eq!(v, "payload_too_large");
        let v = serde_json::to_value(ErrorCode::ValidationFailed).unwrap();
        assert_eq!(v, "validation_failed");
    }

    #[test]
    fn foreign_statuses_map_to_codes() {
        assert_eq!(
            ErrorCode::from_status(StatusCode::PAYLOAD_TOO_LARGE),
            ErrorCode::PayloadTooLarge
        );
        assert_eq!(
            ErrorCode::from_status(StatusCode::REQUEST_TIMEOUT),
            ErrorCode::Timeout
        );
        assert_eq!(
            ErrorCode::from_status(StatusCode::IM_A_TEAPOT),
            ErrorCode::BadRequest
        );
        assert_eq!(
            ErrorCode::from_status(StatusCode::BAD_GATEWAY),
            ErrorCode::Internal
        );
    }
}
