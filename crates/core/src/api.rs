//! Request and response types of the five endpoints.
//!
//! Their serde forms are the contract's JSON byte for byte (camelCase, `ID`
//! suffixes as the contract spells them). Request fields accept any JSON value
//! and are checked by the orchestrator, so a missing field, `null`, a number or
//! an empty string all get the contract's message (`repoUrl must be a non-empty
//! string`) instead of a serde error.
//!
//! ```
//! use todovault_core::api::StartImportRequest;
//!
//! let req: StartImportRequest = serde_json::from_str(r#"{"repoUrl": 42}"#).unwrap();
//! assert_eq!(req.repo_url, None); // refused later with the contract's message
//! ```

use serde::{Deserialize, Deserializer, Serialize};

use crate::document::Timestamp;
use crate::ids::{ImportJobId, TodoId, WorkspaceId};

/// Reads any JSON value, keeping it only when it is a string.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    })
}

/// Body of `POST …/orchestration/import`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartImportRequest {
    /// The repository to import; `None` when absent or not a string.
    #[serde(
        rename = "repoUrl",
        default,
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "https://github.com/hoody/monorepo.git"))]
    pub repo_url: Option<String>,
}

impl StartImportRequest {
    /// A request for the given URL.
    pub fn new(repo_url: impl Into<String>) -> Self {
        Self {
            repo_url: Some(repo_url.into()),
        }
    }
}

/// Response of `POST …/orchestration/import`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartImportResponse {
    /// The job to poll.
    #[serde(rename = "importJobID")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "imp_01HF8Z3Q5K3VCD7Y7N8PQRSTA4"))]
    pub import_job_id: ImportJobId,
    /// The workspace's Master TODO the import merges into.
    #[serde(rename = "todoID")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "todo_01HF8Z3Q5K3VCD7Y7N8PQRSTA5"))]
    pub todo_id: TodoId,
}

/// The three states a poller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WireJobStatus {
    /// Queued, running or waiting to retry.
    Running,
    /// Done; the Master TODO holds the result.
    Completed,
    /// Failed or cancelled; `error` says why.
    Failed,
}

/// Response of `GET …/orchestration/import/{jobID}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportStatusResponse {
    /// The job id.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "imp_01HF8Z3Q5K3VCD7Y7N8PQRSTA4"))]
    pub id: ImportJobId,
    /// `running`, `completed` or `failed`.
    pub status: WireJobStatus,
    /// 0 to 100; never goes backwards.
    pub progress: u8,
    /// Empty unless `failed`; then a sentence a user can act on.
    pub error: String,
}

/// Response of `POST …/orchestration/vault/sync`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VaultSyncResponse {
    /// True when the vault holds the workspace's current Master TODO.
    pub synced: bool,
}

/// One Master TODO in the vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VaultTodo {
    /// `vault/todo/<ULID>.json` (under the vault's prefix, if any).
    pub key: String,
    /// The workspace that produced it.
    #[serde(rename = "workspaceID")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "ws_prod_42"))]
    pub workspace_id: WorkspaceId,
    /// Size of the stored document.
    #[serde(rename = "sizeBytes")]
    pub size_bytes: u64,
    /// When the object was last written.
    #[serde(rename = "updatedAt", with = "crate::document::timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "2026-01-12T18:24:55.812Z"))]
    pub updated_at: Timestamp,
}

/// Response of `GET …/orchestration/vault/discover`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VaultDiscoverResponse {
    /// Every Master TODO in the vault, newest first.
    pub todos: Vec<VaultTodo>,
}

/// Body of `POST …/orchestration/vault/import`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VaultImportRequest {
    /// The workspace whose snapshot to import.
    #[serde(
        rename = "sourceWorkspaceID",
        default,
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "ws_staging_07"))]
    pub source_workspace_id: Option<String>,
    /// Where to import it; the path workspace when absent.
    #[serde(
        rename = "targetWorkspaceID",
        default,
        deserialize_with = "lenient_field",
        skip_serializing_if = "Field::is_absent"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "ws_prod_42"))]
    pub target_workspace_id: Field,
}

/// An optional request field: absent, a string, or something else (refused).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Field {
    /// Not in the body.
    #[default]
    Absent,
    /// A string (possibly empty, which is refused).
    String(String),
    /// Present but not a string (`null`, a number, …), which is refused.
    NotAString,
}

impl Field {
    /// Whether the field was left out.
    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }
}

impl Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::String(v) => s.serialize_str(v),
            Field::Absent | Field::NotAString => s.serialize_none(),
        }
    }
}

fn lenient_field<'de, D: Deserializer<'de>>(d: D) -> Result<Field, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::String(s) => Field::String(s),
        _ => Field::NotAString,
    })
}

impl VaultImportRequest {
    /// A request importing `source` into the path workspace.
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            source_workspace_id: Some(source.into()),
            target_workspace_id: Field::Absent,
        }
    }

    /// Sets an explicit target workspace.
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target_workspace_id = Field::String(target.into());
        self
    }
}

/// Response of `POST …/orchestration/vault/import`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VaultImportResponse {
    /// True when the target now holds the snapshot's content.
    pub imported: bool,
    /// Where it landed.
    #[serde(rename = "targetWorkspaceID")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "ws_prod_42"))]
    pub target_workspace_id: WorkspaceId,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn responses_serialise_exactly_as_the_contract() {
        let r = StartImportResponse {
            import_job_id: "imp_01HF8Z3Q5K3VCD7Y7N8PQRSTA4".parse().unwrap(),
            todo_id: "todo_01HF8Z3Q5K3VCD7Y7N8PQRSTA5".parse().unwrap(),
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"importJobID":"imp_01HF8Z3Q5K3VCD7Y7N8PQRSTA4","todoID":"todo_01HF8Z3Q5K3VCD7Y7N8PQRSTA5"}"#
        );
        let s = ImportStatusResponse {
            id: "imp_01HF8Z3Q5K3VCD7Y7N8PQRSTA4".parse().unwrap(),
            status: WireJobStatus::Running,
            progress: 42,
            error: String::new(),
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"id":"imp_01HF8Z3Q5K3VCD7Y7N8PQRSTA4","status":"running","progress":42,"error":""}"#
        );
        assert_eq!(
            serde_json::to_string(&VaultSyncResponse { synced: true }).unwrap(),
            r#"{"synced":true}"#
        );
        let d = VaultDiscoverResponse {
            todos: vec![VaultTodo {
                key: "vault/todo/01HF8Z3Q5K3VCD7Y7N8PQRSTA5.json".into(),
                workspace_id: WorkspaceId::parse("ws_prod_42").unwrap(),
                size_bytes: 184320,
                updated_at: chrono::DateTime::parse_from_rfc3339("2026-01-12T18:24:55.812Z")
                    .unwrap()
                    .into(),
            }],
        };
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"todos":[{"key":"vault/todo/01HF8Z3Q5K3VCD7Y7N8PQRSTA5.json","workspaceID":"ws_prod_42","sizeBytes":184320,"updatedAt":"2026-01-12T18:24:55.812Z"}]})
        );
        assert_eq!(
            serde_json::to_string(&VaultImportResponse {
                imported: true,
                target_workspace_id: WorkspaceId::parse("ws_prod_42").unwrap()
            })
            .unwrap(),
            r#"{"imported":true,"targetWorkspaceID":"ws_prod_42"}"#
        );
    }

    #[test]
    fn requests_read_any_json_value_without_failing() {
        let r: VaultImportRequest =
            serde_json::from_value(json!({"sourceWorkspaceID": "a", "targetWorkspaceID": null}))
                .unwrap();
        assert_eq!(r.source_workspace_id.as_deref(), Some("a"));
        assert_eq!(r.target_workspace_id, Field::NotAString);
        let r: VaultImportRequest = serde_json::from_value(json!({})).unwrap();
        assert_eq!(r.source_workspace_id, None);
        assert_eq!(r.target_workspace_id, Field::Absent);
        let r: StartImportRequest = serde_json::from_value(json!({"repoUrl": ["x"]})).unwrap();
        assert_eq!(r.repo_url, None);
    }
}
