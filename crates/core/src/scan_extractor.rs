//! The engine's default [`Extractor`]: the comment-aware scanner of
//! `todovault-scan` (feature `scan`, on by default).
//!
//! It reads the snapshot's files in parallel straight from the
//! [`RepoSnapshot`] (nothing is copied up front), and honours the skip rules
//! of the scanner: binary, oversized, minified, lock, vendored and generated
//! files, `.gitattributes` and `.todovaultignore`.
//!
//! ```
//! use std::sync::atomic::AtomicBool;
//! use todovault_core::extract::Extractor;
//! use todovault_core::scan_extractor::ScanExtractor;
//! use todovault_core::source::MemorySnapshot;
//!
//! let snap = MemorySnapshot::new("c1", vec![
//!     ("src/lib.rs".into(), b"let s = \"TODO: not me\"; // TODO(alice): me\n".to_vec()),
//! ]);
//! let items = ScanExtractor::default()
//!     .extract(&snap, &|_| {}, &AtomicBool::new(false))
//!     .unwrap();
//! assert_eq!(items.len(), 1);
//! assert_eq!(items[0].text, "me");
//! assert_eq!(items[0].author.as_deref(), Some("alice"));
//! ```

use std::borrow::Cow;
use std::sync::atomic::AtomicBool;

use todovault_scan::{FileSource, ItemKind, ScanConfig, ScanError, Scanner};

use crate::document::Priority;
use crate::extract::{Extractor, WorkItem, WorkItemKind};
use crate::source::{ImportError, RepoSnapshot};

/// The scanner as an [`Extractor`].
#[derive(Debug)]
pub struct ScanExtractor {
    scanner: Scanner,
}

impl Default for ScanExtractor {
    fn default() -> Self {
        Self::new(ScanConfig::default())
    }
}

impl ScanExtractor {
    /// A scanner with the given configuration (tags, limits, threads, …).
    pub fn new(config: ScanConfig) -> Self {
        Self {
            scanner: Scanner::new(config),
        }
    }
}

/// A snapshot seen as the scanner's file source.
struct SnapshotFiles<'a>(&'a dyn RepoSnapshot);

impl FileSource for SnapshotFiles<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn path(&self, index: usize) -> &str {
        self.0.path(index)
    }
    fn size(&self, index: usize) -> u64 {
        self.0.size(index)
    }
    fn read(&self, index: usize) -> std::io::Result<Cow<'_, [u8]>> {
        self.0.read(index)
    }
}

fn priority(p: todovault_scan::Priority) -> Priority {
    match p {
        todovault_scan::Priority::Low => Priority::Low,
        todovault_scan::Priority::Medium => Priority::Medium,
        todovault_scan::Priority::High => Priority::High,
        todovault_scan::Priority::Critical => Priority::Critical,
    }
}

impl Extractor for ScanExtractor {
    fn extract(
        &self,
        snapshot: &dyn RepoSnapshot,
        progress: &(dyn Fn(f64) + Sync),
        cancel: &AtomicBool,
    ) -> Result<Vec<WorkItem>, ImportError> {
        let report = |done: usize, total: usize| {
            if total > 0 {
                progress(done as f64 / total as f64);
            }
        };
        let output = self
            .scanner
            .scan(&SnapshotFiles(snapshot), &report, cancel)
            .map_err(|e| match e {
                ScanError::Cancelled => ImportError::Cancelled,
                other => ImportError::Transient(format!("the scan could not run: {other}")),
            })?;
        tracing::info!(report = ?output.report, items = output.items.len(), "repository scanned");
        Ok(output
            .items
            .into_iter()
            .map(|item| WorkItem {
                kind: match item.kind {
                    ItemKind::Comment => WorkItemKind::Comment,
                    ItemKind::Task => WorkItemKind::Task,
                },
                tag: item.tag,
                text: item.text,
                path: item.path,
                line: item.line,
                author: item.author,
                issue: item.issue,
                checked: item.checked,
                parent: item.parent,
                fingerprint: item.fingerprint,
                priority: priority(item.priority),
            })
            .collect())
    }
}
