//! The five endpoints of the contract, as axum handlers.
//!
//! Each handler authenticates the caller, checks that the path workspace is
//! the caller's, parses its body leniently (so every malformed input gets the
//! contract's validation envelope rather than a framework message), and
//! hands over to the [`Orchestrator`]. Errors become the contract's
//! envelopes through [`ApiError`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use todovault_core::api::{
    ImportStatusResponse, StartImportRequest, StartImportResponse, VaultDiscoverResponse,
    VaultImportRequest, VaultImportResponse, VaultSyncResponse,
};
use todovault_core::error::{NamedError, ValidationEnvelope};
use todovault_core::orchestrator::parse_workspace;
use todovault_core::{Error, Orchestrator, WorkspaceId};

use crate::auth::Authenticator;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Orchestrator,
    /// Who is calling.
    pub auth: Arc<dyn Authenticator>,
    /// Largest accepted JSON body.
    pub body_limit: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
}

/// A core error on its way to the wire.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %self.0.detail(), "request failed");
        }
        (status, Json(self.0.to_wire())).into_response()
    }
}

/// A response with an arbitrary status and the contract's validation
/// envelope (used for 413, where the error table has no row of its own).
pub(crate) fn envelope_response(
    status: StatusCode,
    property: Option<&str>,
    message: String,
) -> Response {
    let err = Error::validation(property, message);
    (status, Json(err.to_wire())).into_response()
}

/// The authenticated caller, after checking the path workspace is theirs.
pub struct CallerWorkspace(pub WorkspaceId);

impl<S> FromRequestParts<S> for CallerWorkspace
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let caller = app.auth.authenticate(parts).await?;
        let params = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::validation(["workspaceID"], "the path has no workspaceID"))?;
        let raw = params
            .get("workspaceID")
            .ok_or_else(|| Error::validation(["workspaceID"], "the path has no workspaceID"))?;
        let ws = parse_workspace(raw)?;
        if ws != caller.workspace {
            return Err(
                Error::forbidden(format!("The caller may not act for workspace {ws}")).into(),
            );
        }
        Ok(CallerWorkspace(ws))
    }
}

/// A JSON body parsed leniently: an empty body is `{}`; anything that is not
/// a JSON object is a validation error; oversized bodies are refused with 413.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
    AppState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = AppState::from_ref(state).body_limit;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                envelope_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    None,
                    format!("the request body is larger than {limit} bytes"),
                )
            } else {
                envelope_response(
                    StatusCode::BAD_REQUEST,
                    None,
                    "the request body could not be read".to_owned(),
                )
            }
        })?;
        let value: serde_json::Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            serde_json::Value::Object(Default::default())
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                envelope_response(
                    StatusCode::BAD_REQUEST,
                    None,
                    format!("the request body is not valid JSON: {e}"),
                )
            })?
        };
        if !value.is_object() {
            return Err(envelope_response(
                StatusCode::BAD_REQUEST,
                None,
                "the request body must be a JSON object".to_owned(),
            ));
        }
        serde_json::from_value(value).map(JsonBody).map_err(|e| {
            envelope_response(
                StatusCode::BAD_REQUEST,
                None,
                format!("the request body is not valid: {e}"),
            )
        })
    }
}

/// Start a repository import into the workspace.
#[utoipa::path(
    post,
    path = "/api/v1/workspaces/{workspaceID}/orchestration/import",
    tag = "Import Jobs",
    params(("workspaceID" = String, Path, description = "The target workspace ID")),
    request_body = StartImportRequest,
    responses(
        (status = 200, description = "The import was started (or an active import of the same repository is returned)", body = StartImportResponse),
        (status = 400, description = "Invalid input", body = ValidationEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = NamedError),
        (status = 403, description = "The workspace is not the caller's", body = NamedError),
    ),
    security(("bearer" = []))
)]
pub async fn start_import(
    State(state): State<AppState>,
    CallerWorkspace(ws): CallerWorkspace,
    JsonBody(body): JsonBody<StartImportRequest>,
) -> Result<Json<StartImportResponse>, ApiError> {
    Ok(Json(state.engine.start_import(ws.as_str(), body).await?))
}

/// Get the current status of a previously-started import job.
#[utoipa::path(
    get,
    path = "/api/v1/workspaces/{workspaceID}/orchestration/import/{jobID}",
    tag = "Import Jobs",
    params(
        ("workspaceID" = String, Path, description = "The workspace ID"),
        ("jobID" = String, Path, description = "The import job ID returned by the start-import call"),
    ),
    responses(
        (status = 200, description = "The job's status", body = ImportStatusResponse),
        (status = 401, description = "Missing or invalid credentials", body = NamedError),
        (status = 403, description = "The workspace is not the caller's", body = NamedError),
        (status = 404, description = "Import job not found", body = NamedError),
    ),
    security(("bearer" = []))
)]
pub async fn import_status(
    State(state): State<AppState>,
    CallerWorkspace(ws): CallerWorkspace,
    Path((_, job_id)): Path<(String, String)>,
) -> Result<Json<ImportStatusResponse>, ApiError> {
    Ok(Json(
        state.engine.import_status(ws.as_str(), &job_id).await?,
    ))
}

/// Sync the local Master TODO snapshot for the workspace to the vault.
#[utoipa::path(
    post,
    path = "/api/v1/workspaces/{workspaceID}/orchestration/vault/sync",
    tag = "Vault Sync & Import",
    params(("workspaceID" = String, Path, description = "The workspace whose snapshot should be synced")),
    responses(
        (status = 200, description = "The vault holds the workspace's current Master TODO", body = VaultSyncResponse),
        (status = 400, description = "Workspace not eligible for vault sync", body = ValidationEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = NamedError),
        (status = 403, description = "The workspace is not the caller's", body = NamedError),
        (status = 409, description = "The vault holds a newer version", body = NamedError),
    ),
    security(("bearer" = []))
)]
pub async fn vault_sync(
    State(state): State<AppState>,
    CallerWorkspace(ws): CallerWorkspace,
) -> Result<Json<VaultSyncResponse>, ApiError> {
    Ok(Json(state.engine.vault_sync(ws.as_str()).await?))
}

/// Discover all Master TODOs currently stored in the vault.
#[utoipa::path(
    get,
    path = "/api/v1/workspaces/{workspaceID}/orchestration/vault/discover",
    tag = "Vault Sync & Import",
    params(("workspaceID" = String, Path, description = "The workspace performing the discovery")),
    responses(
        (status = 200, description = "Every Master TODO in the vault, newest first", body = VaultDiscoverResponse),
        (status = 401, description = "Missing or invalid credentials", body = NamedError),
        (status = 403, description = "The workspace is not the caller's", body = NamedError),
    ),
    security(("bearer" = []))
)]
pub async fn vault_discover(
    State(state): State<AppState>,
    CallerWorkspace(ws): CallerWorkspace,
) -> Result<Json<VaultDiscoverResponse>, ApiError> {
    Ok(Json(state.engine.vault_discover(ws.as_str()).await?))
}

/// Import a Master TODO from the vault into a local workspace.
#[utoipa::path(
    post,
    path = "/api/v1/workspaces/{workspaceID}/orchestration/vault/import",
    tag = "Vault Sync & Import",
    params(("workspaceID" = String, Path, description = "The authenticated workspace performing the import")),
    request_body = VaultImportRequest,
    responses(
        (status = 200, description = "The snapshot was merged into the target", body = VaultImportResponse),
        (status = 400, description = "Invalid input", body = ValidationEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = NamedError),
        (status = 403, description = "The workspace is not the caller's, or the policy forbids this import", body = NamedError),
        (status = 404, description = "No vault snapshot for the source workspace", body = NamedError),
    ),
    security(("bearer" = []))
)]
pub async fn vault_import(
    State(state): State<AppState>,
    CallerWorkspace(ws): CallerWorkspace,
    JsonBody(body): JsonBody<VaultImportRequest>,
) -> Result<Json<VaultImportResponse>, ApiError> {
    Ok(Json(state.engine.vault_import(ws.as_str(), body).await?))
}
