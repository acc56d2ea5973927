//! Secrets service: per-account versioned secrets, envelope-encrypted under the vault's master key.
//!
//! # What it offers
//!
//! - [`SecretsService`]: [`SecretsService::put`] (a new version per write),
//!   [`SecretsService::get_for_execution`] (decrypt for a function run, audited as `secret.read`),
//!   [`SecretsService::list`] / [`SecretsService::meta`] (metadata, never values),
//!   [`SecretsService::delete`], [`SecretsService::rotate_master`] (online master key rotation).
//! - [`router`]: `PUT/GET/DELETE /v1/secrets/{name}`, `GET /v1/secrets`, mounted with
//!   `nsl_api::router_with`; [`SecretsApiDoc`] describes them (OpenAPI).
//! - [`open_node_vault`]: the node's software vault in `<data_dir>/vault`.
//!
//! # Flow
//!
//! ```text
//! put(account, name, value)
//!   validate name/size -> version = latest + 1
//!   -> seal_secret (fresh DEK, AES-256-GCM, AAD = account|name|version; DEK wrapped by the
//!      vault's current master key)             [spawn_blocking]
//!   -> INSERT secret_versions (conflict: a concurrent writer took the version, retry)
//!   -> prune to the newest 5 versions -> audit secret.write
//! get_for_execution(account, name, function)
//!   -> newest row -> open_secret [spawn_blocking] -> audit secret.read -> SecretBytes
//! rotate_master
//!   -> vault.rotate_master_key -> barrier on in-flight writes
//!   -> batches: rows with key_version != new -> rewrap DEK -> compare-and-set UPDATE
//!   -> no row left under an old version -> retire old versions
//! ```
//!
//! # Invariants
//!
//! - A value is never stored in clear, logged, audited, returned by the HTTP API, or shown by
//!   `Debug` (of requests, rows, errors); only [`SecretsService::get_for_execution`] returns it.
//! - A row copied to another account, name or version does not decrypt (AAD).
//! - Accounts are isolated: every query is keyed by the caller's account; another account's
//!   secret is "not found".
//! - Reads and writes keep working during a rotation; a master key version is retired only once
//!   no row references it.

mod admin;
mod error;
mod http;
mod service;
mod store;

pub use error::{SecretsError, SecretsResult};
pub use http::{PutSecretRequest, SecretList, SecretView, SecretWritten, SecretsApiDoc, router};
pub use nsl_enclave::SecretBytes;
pub use service::{
    Actor, MAX_NAME_LEN, MAX_VALUE_LEN, REWRAP_BATCH, RotationReport, SecretInfo, SecretsService,
    VAULT_DIR, VERSIONS_KEPT, node_vault_config, open_node_vault, validate_name,
};
pub use store::{SecretMeta, SecretStore, SecretVersion};

/// The service's tables (`migrations/`: 0002 `secret_versions`).
/// Composed with the other crates' sets by the node (`nsl_store::compose`); see docs/storage.md.
pub static MIGRATIONS: nsl_store::MigrationSet = nsl_store::MigrationSet {
    owner: "nsl-secrets",
    sqlite: sqlx::migrate!("./migrations/sqlite"),
    postgres: sqlx::migrate!("./migrations/postgres"),
};
