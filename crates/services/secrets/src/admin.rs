//! `POST /v1/admin/secrets/rotate-master`: master key rotation by the running node (admin role
//! and `admin` scope). The vault belongs to the process that opened it, so an online rotation is
//! done by that process; `nsl secrets rotate-master` calls this route when the node is running.

use std::sync::Arc;

use axum::extract::Extension;
use nsl_api_types::ApiError;
use nsl_api_types::auth::Principal;
use nsl_api_types::error::{ErrorBody, Json};

use crate::service::{RotationReport, SecretsService};

/// Rotate the vault master key now: every data key is re-wrapped under a new master key
/// version while reads and writes go on; old versions are retired. One rotation at a time (a
/// second request waits for the first). Audited as `secret.rotate_master`.
#[utoipa::path(post, path = "/v1/admin/secrets/rotate-master", tag = "secrets",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "rotation done", body = RotationReport),
        (status = 401, body = ErrorBody),
        (status = 403, description = "not an admin account, or no `admin` scope", body = ErrorBody),
    ))]
pub(crate) async fn rotate_master(
    Extension(svc): Extension<Arc<SecretsService>>,
    p: Principal,
) -> Result<Json<RotationReport>, ApiError> {
    p.require_admin()?;
    let report = svc.rotate_master().await?;
    tracing::info!(
        previous = report.previous_version,
        new = report.new_version,
        rewrapped = report.rewrapped,
        "master key rotated through the API"
    );
    Ok(Json(report))
}
