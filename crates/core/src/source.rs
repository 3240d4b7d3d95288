//! Fetching repositories: the [`RepoSource`] trait and what it hands back.
//!
//! A source turns a repository URL into the files of one commit, as a
//! [`RepoSnapshot`] read by index (so an extractor can read files in
//! parallel, and a large repository is streamed rather than held in memory).
//! It reports progress as a fraction through [`Progress`] and checks a
//! [`CancelFlag`] often enough to stop promptly.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::policy::Limits;

/// Why an import attempt stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The cancel flag was raised (cancel request, lost lease or shutdown).
    #[error("cancelled")]
    Cancelled,
    /// Trying again will not help (missing repository, limit exceeded, …).
    /// The message is a sentence for the user.
    #[error("{0}")]
    Permanent(String),
    /// Trying again may help (network, storage). The message is a sentence
    /// for the user.
    #[error("{0}")]
    Transient(String),
}

/// What to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// The repository URL or local path, credentials included (never log it;
    /// use [`FetchRequest::display_url`]).
    pub url: String,
    /// The same with credentials redacted.
    pub display_url: String,
    /// Branch, tag or commit; the default branch when `None`.
    pub git_ref: Option<String>,
    /// Size and count limits the source must enforce while fetching.
    pub limits: Limits,
}

/// One file of a snapshot, by index.
///
/// Paths are repository-relative with `/` separators; paths that are not
/// UTF-8 are converted lossily.
pub trait RepoSnapshot: Send + Sync {
    /// The commit the files belong to.
    fn commit(&self) -> &str;
    /// How many files.
    fn len(&self) -> usize;
    /// Whether there are no files.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The path of file `index`.
    fn path(&self, index: usize) -> &str;
    /// The size of file `index`, known without reading it.
    fn size(&self, index: usize) -> u64;
    /// The contents of file `index`.
    fn read(&self, index: usize) -> std::io::Result<Cow<'_, [u8]>>;
}

/// A snapshot held in memory: fixtures, tests and small embedded uses.
///
/// ```
/// use todovault_core::source::{MemorySnapshot, RepoSnapshot};
///
/// let snap = MemorySnapshot::new("abc123", vec![("src/lib.rs".into(), b"// TODO: x".to_vec())]);
/// assert_eq!(snap.len(), 1);
/// assert_eq!(snap.path(0), "src/lib.rs");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemorySnapshot {
    commit: String,
    files: Vec<(String, Vec<u8>)>,
}

impl MemorySnapshot {
    /// A snapshot of `files` at `commit`.
    pub fn new(commit: impl Into<String>, files: Vec<(String, Vec<u8>)>) -> Self {
        Self {
            commit: commit.into(),
            files,
        }
    }

    /// The index of the file at `path`.
    pub fn find(&self, path: &str) -> Option<usize> {
        self.files.iter().position(|(p, _)| p == path)
    }
}

impl RepoSnapshot for MemorySnapshot {
    fn commit(&self) -> &str {
        &self.commit
    }
    fn len(&self) -> usize {
        self.files.len()
    }
    fn path(&self, index: usize) -> &str {
        self.files.get(index).map_or("", |(p, _)| p.as_str())
    }
    fn size(&self, index: usize) -> u64 {
        self.files.get(index).map_or(0, |(_, b)| b.len() as u64)
    }
    fn read(&self, index: usize) -> std::io::Result<Cow<'_, [u8]>> {
        self.files
            .get(index)
            .map(|(_, b)| Cow::Borrowed(b.as_slice()))
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file index"))
    }
}

/// Turns a repository URL into the files of one commit.
#[async_trait]
pub trait RepoSource: Send + Sync {
    /// Fetches the repository. Reports progress as a fraction of the fetch
    /// band through `progress`, and returns [`ImportError::Cancelled`]
    /// promptly once `cancel` is raised.
    async fn fetch(
        &self,
        request: &FetchRequest,
        progress: &Progress,
        cancel: &CancelFlag,
    ) -> Result<Box<dyn RepoSnapshot>, ImportError>;
}

/// A cooperative stop signal shared by the runner and the code it runs.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// A lowered flag.
    pub fn new() -> Self {
        Self::default()
    }
    /// Raises the flag.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether the flag was raised.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    /// The flag itself, for code that takes an `&AtomicBool`.
    pub fn as_atomic(&self) -> &AtomicBool {
        &self.0
    }
    /// `Err(Cancelled)` once raised, for `?` in loops.
    pub fn check(&self) -> Result<(), ImportError> {
        if self.is_cancelled() {
            Err(ImportError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Progress of a job as a percentage, shared between the stage doing the
/// work and the heartbeat that stores it. It only ever goes up.
///
/// Each stage gets a band of the whole (fetch 0–60, extract 60–95, merge
/// 95–100) and reports fractions of its band.
///
/// ```
/// use todovault_core::source::Progress;
///
/// let job = Progress::new();
/// let fetch = job.band(0, 60);
/// fetch.set_fraction(0.5);
/// assert_eq!(job.percent(), 30);
/// fetch.set_fraction(0.1); // never backwards
/// assert_eq!(job.percent(), 30);
/// ```
#[derive(Debug, Clone)]
pub struct Progress {
    value: Arc<AtomicU8>,
    low: u8,
    high: u8,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    /// Progress at 0 covering the whole 0–100 range.
    pub fn new() -> Self {
        Self {
            value: Arc::new(AtomicU8::new(0)),
            low: 0,
            high: 100,
        }
    }

    /// A reporter for the part `low..=high` (in percent of the whole) of
    /// this reporter's range.
    pub fn band(&self, low: u8, high: u8) -> Progress {
        let span = u32::from(self.high.saturating_sub(self.low));
        let map = |p: u8| self.low + (u32::from(p.min(100)) * span / 100) as u8;
        Progress {
            value: Arc::clone(&self.value),
            low: map(low),
            high: map(high.max(low)),
        }
    }

    /// Reports that `fraction` (0.0–1.0) of this band is done.
    pub fn set_fraction(&self, fraction: f64) {
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let span = f64::from(self.high - self.low);
        let value = self.low + (fraction * span).floor() as u8;
        self.value.fetch_max(value, Ordering::Relaxed);
    }

    /// Reports `done` of `total` units of this band.
    pub fn set_count(&self, done: u64, total: u64) {
        if total > 0 {
            self.set_fraction(done as f64 / total as f64);
        }
    }

    /// The whole job's percentage.
    pub fn percent(&self) -> u8 {
        self.value.load(Ordering::Relaxed)
    }
}

/// A [`RepoSource`] over a fixed set of snapshots by URL, for tests and
/// embedding (e.g. a host that already has the files).
///
/// ```
/// use todovault_core::source::{FixtureSource, MemorySnapshot};
///
/// let source = FixtureSource::new()
///     .with_repo("https://example.com/r.git", MemorySnapshot::new("c1", vec![]));
/// ```
#[derive(Debug, Clone, Default)]
pub struct FixtureSource {
    repos: Arc<std::sync::RwLock<std::collections::HashMap<String, MemorySnapshot>>>,
    delay: Option<Duration>,
}

impl FixtureSource {
    /// A source with no repositories.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the snapshot served for `url`.
    pub fn with_repo(self, url: impl Into<String>, snapshot: MemorySnapshot) -> Self {
        self.set_repo(url, snapshot);
        self
    }

    /// Replaces the snapshot served for `url` (e.g. a new commit).
    pub fn set_repo(&self, url: impl Into<String>, snapshot: MemorySnapshot) {
        let mut repos = match self.repos.write() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        repos.insert(url.into(), snapshot);
    }

    /// Makes every fetch take `delay` (in 10 steps, checking cancel), to test
    /// progress, leases and cancellation.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

#[async_trait]
impl RepoSource for FixtureSource {
    async fn fetch(
        &self,
        request: &FetchRequest,
        progress: &Progress,
        cancel: &CancelFlag,
    ) -> Result<Box<dyn RepoSnapshot>, ImportError> {
        if let Some(delay) = self.delay {
            for step in 1..=10u64 {
                cancel.check()?;
                tokio::time::sleep(delay / 10).await;
                progress.set_count(step, 10);
            }
        }
        cancel.check()?;
        let repos = match self.repos.read() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        let snapshot = repos.get(&request.url).cloned().ok_or_else(|| {
            ImportError::Permanent(format!(
                "repository {} was not found; check the URL and that it is accessible",
                request.display_url
            ))
        })?;
        progress.set_fraction(1.0);
        Ok(Box::new(snapshot))
    }
}
