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

/// How often a compare-and-set is retried against concurrent writers before
/// giving up.
const CAS_RETRIES: usize = 8;

/// How a [`update_master_todo`] call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Updated {
    /// The change left the stored document's content as it was; nothing
    /// was written.
    Unchanged,
    /// A new version was stored.
    Written,
}

/// Why a [`update_master_todo`] call did not store its change.
#[derive(Debug)]
pub(crate) enum UpdateError {
    /// The store failed.
    Store(Error),
    /// `keep_going` said stop.
    Stopped,
    /// The result would hold this many entries, over the limit.
    TooManyEntries(usize),
    /// The result is not a valid document.
    Invalid(String),
    /// Other writers won every compare-and-set.
    Contended,
}

/// Read-modify-write of a workspace's Master TODO as one compare-and-set:
/// reads the current document (or starts an empty one with `new_id`),
/// applies `change`, and stores the result with the next version unless its
/// content is unchanged. A concurrent writer makes it start again on fresh
/// state, up to a bounded number of times; `keep_going` is asked before
/// every try.
pub(crate) async fn update_master_todo(
    todos: &dyn TodoStore,
    workspace: &WorkspaceId,
    new_id: crate::ids::TodoId,
    max_entries: usize,
    mut keep_going: impl FnMut() -> bool,
    mut change: impl FnMut(&mut MasterTodo, crate::document::Timestamp),
) -> std::result::Result<Updated, UpdateError> {
    for _ in 0..CAS_RETRIES {
        if !keep_going() {
            return Err(UpdateError::Stopped);
        }
        let current = todos.get(workspace).await.map_err(UpdateError::Store)?;
        let mut doc = current
            .clone()
            .unwrap_or_else(|| MasterTodo::new(new_id, workspace.clone()));
        let now = crate::document::now_millis();
        change(&mut doc, now);
        if let Some(current) = &current
            && current.same_content(&doc)
        {
            return Ok(Updated::Unchanged);
        }
        if doc.entries.len() > max_entries {
            return Err(UpdateError::TooManyEntries(doc.entries.len()));
        }
        let expected = current.as_ref().map(|c| c.version);
        doc.version = expected.map_or(1, |v| v + 1);
        doc.updated_at = now;
        doc.validate()
            .map_err(|e| UpdateError::Invalid(e.to_string()))?;
        match todos.put(&doc, expected).await {
            Ok(()) => return Ok(Updated::Written),
            Err(Error::Conflict { .. }) => continue,
            Err(e) => return Err(UpdateError::Store(e)),
        }
    }
    Err(UpdateError::Contended)
}
