//! The local Master TODO of each workspace: the [`TodoStore`] trait.
//!
//! Writes are compare-and-set on the document's `version`, so two writers
//! never silently overwrite each other: the loser gets [`Error::Conflict`]
//! and retries on fresh state. Stores keep the versions a write replaced, so
//! nothing an import or a merge replaced is lost.

use async_trait::async_trait;

use crate::document::MasterTodo;
use crate::error::{Error, Result};
use crate::ids::WorkspaceId;

/// Durable storage of each workspace's Master TODO.
#[async_trait]
pub trait TodoStore: Send + Sync {
    /// The workspace's current Master TODO, if it has one.
    async fn get(&self, workspace: &WorkspaceId) -> Result<Option<MasterTodo>>;

    /// Stores `doc` as its workspace's Master TODO if the current version is
    /// `expected_version` (`None`: the workspace must have none yet).
    /// `doc.version` must be `expected_version + 1` (or 1). A mismatch is
    /// [`Error::Conflict`]; the replaced version goes to the history.
    async fn put(&self, doc: &MasterTodo, expected_version: Option<u64>) -> Result<()>;

    /// Versions that were replaced, newest first, at most `limit`.
    async fn history(&self, workspace: &WorkspaceId, limit: usize) -> Result<Vec<MasterTodo>>;
}

/// Checks what every [`TodoStore::put`] must check before touching storage:
/// the document is valid and its version follows `expected_version`.
///
/// ```
/// use todovault_core::{MasterTodo, TodoId, WorkspaceId, todos::check_put};
///
/// let doc = MasterTodo::new(TodoId::new(), WorkspaceId::parse("ws").unwrap());
/// assert!(check_put(&doc, None).is_ok());
/// assert!(check_put(&doc, Some(1)).is_err()); // version 1 cannot follow 1
/// ```
pub fn check_put(doc: &MasterTodo, expected_version: Option<u64>) -> Result<()> {
    doc.validate()
        .map_err(|e| Error::validation(["document"], format!("invalid Master TODO: {e}")))?;
    let wanted = expected_version.map_or(1, |v| v.saturating_add(1));
    if doc.version != wanted {
        return Err(Error::validation(
            ["document"],
            format!(
                "Master TODO version {} cannot follow version {}",
                doc.version,
                expected_version.map_or_else(|| "none".to_owned(), |v| v.to_string())
            ),
        ));
    }
    Ok(())
}

/// The conflict every store reports when `expected_version` is stale.
pub fn version_conflict(
    workspace: &WorkspaceId,
    expected: Option<u64>,
    actual: Option<u64>,
) -> Error {
    let show = |v: Option<u64>| v.map_or_else(|| "none".to_owned(), |v| v.to_string());
    Error::conflict(format!(
        "the Master TODO of workspace {workspace} changed concurrently (expected version {}, found {})",
        show(expected),
        show(actual)
    ))
}
