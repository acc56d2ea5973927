//! The OpenAPI 3.1 document, generated from the handlers' annotations (utoipa).

use std::sync::OnceLock;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorCode};
use crate::routes::{apikeys, audit, contracts, me, ops, session};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Neo Service Layer API",
        description = "Off-chain services for Neo N3 contracts. Errors: {code, message, request_id}.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        ops::health, ops::ready, ops::metrics, ops::openapi, ops::docs,
        session::challenge, session::login, session::refresh, session::logout,
        me::me,
        apikeys::create, apikeys::list, apikeys::read, apikeys::revoke, apikeys::rotate,
        audit::list, audit::verify,
        contracts::register, contracts::list, contracts::remove,
    ),
    components(schemas(ErrorBody, ErrorCode)),
    modifiers(&Security),
    tags(
        (name = "ops", description = "Liveness, readiness, metrics, this document"),
        (name = "auth", description = "Neo wallet login, token refresh with rotation, logout"),
        (name = "account", description = "The caller's account"),
        (name = "apikeys", description = "API keys of the caller's account"),
        (name = "audit", description = "Hash-chained audit log (admins)"),
        (name = "contracts", description = "Contracts the caller registers as its own, to see their on-chain requests"),
    ),
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A JWT access token from /v1/auth/login, or an API key (nsl_...)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "An API key (nsl_...)",
            ))),
        );
    }
}

/// The document of this crate, with `extra` (another component's paths and schemas) merged in.
pub fn document(extra: Option<utoipa::openapi::OpenApi>) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    if let Some(extra) = extra {
        doc.merge(extra);
    }
    doc
}

/// The document as JSON text (built once).
pub fn json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| document(None).to_json().unwrap_or_else(|_| "{}".to_owned()))
}

/// The served document (a request extension set by [`crate::router_with_openapi`]).
#[derive(Debug, Clone)]
pub(crate) struct ServedDoc(pub(crate) std::sync::Arc<str>);
