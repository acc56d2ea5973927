//! HTTP API: auth, rate limits, audit, errors, metrics, OpenAPI.
