//! Scanner configuration.

use crate::item::{Priority, TASK_TAG};
use std::collections::BTreeMap;

/// What to look for and which files to skip.
///
/// ```
/// use todovault_scan::{Priority, ScanConfig};
/// let mut config = ScanConfig::default();
/// config.tags.push("NOTE".to_string());
/// config.priorities.insert("NOTE".to_string(), Priority::Low);
/// config.threads = Some(2);
/// assert_eq!(config.priority_of("FIXME"), Priority::High);
/// assert_eq!(config.priority_of("NOTE"), Priority::Low);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanConfig {
    /// Comment tags to find: case-sensitive whole words, optionally written
    /// with a leading `@`. Default: `TODO`, `FIXME`, `HACK`, `XXX`, `BUG`.
    pub tags: Vec<String>,
    /// Tag → priority. Tags not listed get [`Priority::Medium`].
    pub priorities: BTreeMap<String, Priority>,
    /// Files larger than this many bytes are skipped (default 1 MiB).
    pub max_file_size: u64,
    /// How many following comment lines may be folded into an item's text
    /// (default 8).
    pub max_continuation_lines: usize,
    /// Worker threads for [`Scanner::scan`](crate::Scanner::scan); `None`
    /// uses all cores.
    pub threads: Option<usize>,
    /// Whether Markdown task lists become items (default true).
    pub markdown_tasks: bool,
    /// Directory names whose contents count as vendored.
    pub vendored_dirs: Vec<String>,
    /// Directory names whose contents count as generated.
    pub generated_dirs: Vec<String>,
}

impl Default for ScanConfig {
    fn default() -> Self {
        let tags = ["TODO", "FIXME", "HACK", "XXX", "BUG"];
        let priorities = [
            ("TODO", Priority::Medium),
            ("FIXME", Priority::High),
            ("BUG", Priority::High),
            ("HACK", Priority::Low),
            ("XXX", Priority::Low),
            (TASK_TAG, Priority::Medium),
        ];
        ScanConfig {
            tags: tags.iter().map(|t| t.to_string()).collect(),
            priorities: priorities
                .iter()
                .map(|(t, p)| (t.to_string(), *p))
                .collect(),
            max_file_size: 1024 * 1024,
            max_continuation_lines: 8,
            threads: None,
            markdown_tasks: true,
            vendored_dirs: ["node_modules", "vendor", "third_party", "bower_components"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            generated_dirs: ["dist", "build", "target"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

impl ScanConfig {
    /// The priority of a tag.
    pub fn priority_of(&self, tag: &str) -> Priority {
        self.priorities.get(tag).copied().unwrap_or_default()
    }
}
