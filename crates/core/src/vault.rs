//! Portable snapshots in object storage: the [`VaultStore`] trait.
//!
//! A snapshot is a Master TODO document stored at `vault/todo/<ULID>.json`,
//! where the ULID is that of the document's `todo_` id. A key belongs to one
//! workspace forever (a vault import gives the target a new todo id), so
//! listings may cache key → workspace. Stores never let an older version
//! overwrite a newer one and never upload unchanged content again.

use async_trait::async_trait;

use crate::document::{MasterTodo, Timestamp};
use crate::error::{Error, Result};
use crate::ids::{TodoId, WorkspaceId};

/// The folder of the vault every snapshot key lives in.
pub const KEY_PREFIX: &str = "vault/todo/";

/// The key of a todo's snapshot, e.g. `vault/todo/01HF8Z3Q5K3VCD7Y7N8PQRSTA5.json`.
///
/// ```
/// use todovault_core::{TodoId, vault::{key_for, todo_id_from_key}};
///
/// let id: TodoId = "todo_01HF8Z3Q5K3VCD7Y7N8PQRSTA5".parse().unwrap();
/// let key = key_for(&id);
/// assert_eq!(key, "vault/todo/01HF8Z3Q5K3VCD7Y7N8PQRSTA5.json");
/// assert_eq!(todo_id_from_key(&key), Some(id));
/// ```
pub fn key_for(todo: &TodoId) -> String {
    format!("{KEY_PREFIX}{}.json", todo.ulid())
}

/// The todo id a key names, or `None` for a key that is not a snapshot key.
pub fn todo_id_from_key(key: &str) -> Option<TodoId> {
    let ulid = key.strip_prefix(KEY_PREFIX)?.strip_suffix(".json")?;
    if ulid.len() != 26 {
        return None;
    }
    ulid::Ulid::from_string(ulid).ok().map(TodoId::from_ulid)
}

/// A snapshot ready to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotUpload {
    /// Where it goes.
    pub key: String,
    /// The workspace it belongs to (stored as object metadata where possible).
    pub workspace_id: WorkspaceId,
    /// The document's version: an upload never replaces a higher one.
    pub version: u64,
    /// The document's JSON.
    pub bytes: Vec<u8>,
}

impl SnapshotUpload {
    /// Serialises a document for upload.
    pub fn from_document(doc: &MasterTodo) -> Result<Self> {
        let bytes = doc.to_json_vec().map_err(Error::internal)?;
        Ok(Self {
            key: key_for(&doc.id),
            workspace_id: doc.workspace_id.clone(),
            version: doc.version,
            bytes,
        })
    }
}

/// What [`VaultStore::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The snapshot was written.
    Written,
    /// The vault already held exactly these bytes; nothing was uploaded.
    Unchanged,
}

/// A snapshot as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotMeta {
    /// Its key.
    pub key: String,
    /// The workspace that produced it.
    pub workspace_id: WorkspaceId,
    /// Stored size.
    pub size_bytes: u64,
    /// When it was last written.
    pub updated_at: Timestamp,
}

/// A snapshot as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Its listing data.
    pub meta: SnapshotMeta,
    /// The document's JSON.
    pub bytes: Vec<u8>,
}

/// Object storage holding portable snapshots.
#[async_trait]
pub trait VaultStore: Send + Sync {
    /// Uploads a snapshot. Identical bytes already stored: `Unchanged`, no
    /// upload. A stored snapshot with a higher version, with the same version
    /// but other bytes, or of another workspace: [`Error::Conflict`] and
    /// nothing written. Concurrent puts never lose an update.
    async fn put(&self, snapshot: &SnapshotUpload) -> Result<PutOutcome>;

    /// Reads a snapshot; `None` if the key holds nothing.
    async fn get(&self, key: &str) -> Result<Option<Snapshot>>;

    /// Lists every snapshot (any order). Objects that are not snapshots are
    /// skipped.
    async fn list(&self) -> Result<Vec<SnapshotMeta>>;
}

/// Reads just the `version` and `workspace_id` of stored snapshot bytes, for
/// stores deciding whether an upload may replace them. `None` when the bytes
/// are not a readable document (they may then be replaced).
pub fn stored_version(bytes: &[u8]) -> Option<(u64, Option<WorkspaceId>)> {
    #[derive(serde::Deserialize)]
    struct Head {
        version: u64,
        workspace_id: Option<WorkspaceId>,
    }
    serde_json::from_slice::<Head>(bytes)
        .ok()
        .map(|h| (h.version, h.workspace_id))
}

/// The decision every store makes before writing `upload` over what it
/// holds (`existing` bytes, if any): write, skip as unchanged, or refuse.
pub fn decide_put(upload: &SnapshotUpload, existing: Option<&[u8]>) -> Result<PutOutcome> {
    let Some(existing) = existing else {
        return Ok(PutOutcome::Written);
    };
    if existing == upload.bytes.as_slice() {
        return Ok(PutOutcome::Unchanged);
    }
    match stored_version(existing) {
        None => Ok(PutOutcome::Written),
        Some((_, Some(ws))) if ws != upload.workspace_id => Err(Error::conflict(format!(
            "vault key {} belongs to another workspace",
            upload.key
        ))),
        Some((version, _)) if version >= upload.version => Err(Error::conflict(format!(
            "the vault holds version {version} of {}, which is not older than version {}",
            upload.key, upload.version
        ))),
        Some(_) => Ok(PutOutcome::Written),
    }
}
