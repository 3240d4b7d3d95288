//! Turning a fetched snapshot into work items: the [`Extractor`] trait.
//!
//! The engine's default extractor is the comment-aware scanner
//! (`todovault-scan`); hosts may plug their own. An extractor is synchronous
//! and CPU-bound: the engine runs it on the blocking pool, never on the async
//! workers, so heartbeats keep flowing while it works.

use std::sync::atomic::AtomicBool;

use crate::document::Priority;
use crate::source::{ImportError, RepoSnapshot};

/// What kind of thing in the repository an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkItemKind {
    /// A tagged comment (`TODO`, `FIXME`, …).
    Comment,
    /// A Markdown task item (`- [ ]`).
    Task,
}

/// One item found in a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    /// Comment or task.
    pub kind: WorkItemKind,
    /// `TODO`, `FIXME`, … or `TASK`.
    pub tag: String,
    /// The item's text, continuation lines folded in.
    pub text: String,
    /// Repository-relative path.
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// Owner named in the item.
    pub author: Option<String>,
    /// Issue reference named in the item.
    pub issue: Option<String>,
    /// For tasks: whether the box is ticked.
    pub checked: Option<bool>,
    /// For nested tasks: index of the parent item in the same list.
    pub parent: Option<usize>,
    /// Stable identity: never depends on the line number.
    pub fingerprint: String,
    /// Default priority from the tag.
    pub priority: Priority,
}

/// Turns a snapshot's files into work items.
pub trait Extractor: Send + Sync {
    /// Extracts items, reporting progress as a fraction (0.0–1.0) and
    /// returning [`ImportError::Cancelled`] soon after `cancel` is raised.
    fn extract(
        &self,
        snapshot: &dyn RepoSnapshot,
        progress: &(dyn Fn(f64) + Sync),
        cancel: &AtomicBool,
    ) -> Result<Vec<WorkItem>, ImportError>;
}
