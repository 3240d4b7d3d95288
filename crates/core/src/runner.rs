//! The job runner: workers that claim import jobs and run the pipeline.
//!
//! Each worker claims a due job with a lease, runs the import pipeline —
//! fetch (progress 0–60) → extract (60–95) → merge (95–100) — and renews the
//! lease with heartbeats that also carry throttled progress. A worker stops
//! cooperatively when its job is cancelled or its lease is lost (it then
//! writes nothing more). Transient failures are retried with capped
//! exponential backoff and jitter, up to `max_attempts`. A maintenance task
//! reaps expired leases, so a job whose worker died is picked up again, and
//! prunes old finished jobs. Extraction runs on tokio's blocking pool, so
//! heartbeats are never starved by CPU work.
//!
//! Merges are one compare-and-set on the todo store; a worker that lost its
//! lease just before merging can at worst repeat a merge another worker also
//! makes, which is harmless because re-importing the same commit is
//! idempotent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::document::MasterTodo;
use crate::error::{Error, Result};
use crate::extract::WorkItem;
use crate::jobs::{Finish, Heartbeat, ImportJob, Lease};
use crate::merge::{MergeReport, RepoImport, merge_repo_import};
use crate::orchestrator::{Inner, Orchestrator};
use crate::source::{CancelFlag, FetchRequest, ImportError, Progress, RepoSnapshot};
use crate::todos::{UpdateError, Updated, update_master_todo};

/// Where a repository may commit its own Master TODO, imported as it is.
pub const COMMITTED_MASTER_TODO: &str = ".todovault/master-todo.json";

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// How the runner behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerConfig {
    /// Jobs run at once by this host.
    pub workers: usize,
    /// How long a claim lasts without a heartbeat.
    pub lease: Duration,
    /// How often the lease is renewed (well under `lease`).
    pub heartbeat_every: Duration,
    /// How often changed progress is written, at most.
    pub progress_every: Duration,
    /// How often an idle worker looks for due jobs (it is also woken at
    /// once by imports started on this host).
    pub poll_every: Duration,
    /// Attempts before a job fails for good.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_cap: Duration,
    /// How often expired leases are reaped.
    pub reap_every: Duration,
    /// Finished jobs older than this are pruned.
    pub prune_after: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            lease: Duration::from_secs(30),
            heartbeat_every: Duration::from_secs(10),
            progress_every: Duration::from_millis(250),
            poll_every: Duration::from_secs(1),
            max_attempts: 3,
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(300),
            reap_every: Duration::from_secs(15),
            prune_after: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl RunnerConfig {
    /// Settings for tests: short leases and fast polling.
    pub fn fast() -> Self {
        Self {
            workers: 2,
            lease: Duration::from_millis(1500),
            heartbeat_every: Duration::from_millis(300),
            progress_every: Duration::from_millis(50),
            poll_every: Duration::from_millis(50),
            max_attempts: 3,
            backoff_base: Duration::from_millis(50),
            backoff_cap: Duration::from_millis(400),
            reap_every: Duration::from_millis(200),
            prune_after: Duration::from_secs(3600),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::validation(["runner"], m.to_owned()));
        if self.workers == 0 {
            return bad("the runner needs at least one worker");
        }
        if self.max_attempts == 0 {
            return bad("max_attempts must be at least 1");
        }
        if self.heartbeat_every.is_zero() || self.heartbeat_every * 2 > self.lease {
            return bad("heartbeat_every must be more than zero and at most half the lease");
        }
        if self.poll_every.is_zero() || self.progress_every.is_zero() || self.reap_every.is_zero() {
            return bad("poll, progress and reap intervals must be more than zero");
        }
        Ok(())
    }

    /// The delay before attempt `attempt + 1`: exponential from
    /// `backoff_base`, capped, with up to 25% jitter so retries of many jobs
    /// spread out.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.backoff_base.saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let capped = exp.min(self.backoff_cap);
        let jitter = capped.mul_f64(fastrand::f64() * 0.25);
        capped.saturating_sub(jitter)
    }
}

/// Running workers; dropping this does not stop them, [`Workers::shutdown`]
/// does.
pub struct Workers {
    shutdown: watch::Sender<bool>,
    hard_stop: CancelFlag,
    tasks: JoinSet<()>,
}

impl Workers {
    /// Stops claiming new jobs, lets running jobs finish for up to `grace`,
    /// then stops them and gives them back (queued again, the attempt not
    /// counted) for another worker or the next start.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.shutdown.send(true);
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, drain).await.is_err() {
            self.hard_stop.cancel();
            while self.tasks.join_next().await.is_some() {}
        }
    }

    /// Stops at once, abandoning running jobs without writing anything, as a
    /// crash would: their leases expire and they are picked up again.
    pub fn abort(mut self) {
        self.tasks.abort_all();
    }
}

pub(crate) fn start(engine: Orchestrator) -> Workers {
    let (tx, rx) = watch::channel(false);
    let hard_stop = CancelFlag::new();
    let mut tasks = JoinSet::new();
    let host = ulid::Ulid::new().to_string();
    for n in 0..engine.inner.runner.workers {
        let worker = format!("{host}-{n}");
        tasks.spawn(worker_loop(
            Arc::clone(&engine.inner),
            worker,
            rx.clone(),
            hard_stop.clone(),
        ));
    }
    tasks.spawn(maintenance_loop(Arc::clone(&engine.inner), rx));
    Workers {
        shutdown: tx,
        hard_stop,
        tasks,
    }
}

async fn maintenance_loop(inner: Arc<Inner>, mut shutdown: watch::Receiver<bool>) {
    let mut last_prune = tokio::time::Instant::now();
    loop {
        if *shutdown.borrow() {
            return;
        }
        match inner.jobs.reap_expired().await {
            Ok(reaped) if !reaped.is_empty() => {
                tracing::warn!(
                    count = reaped.len(),
                    "reaped import jobs whose worker was lost"
                );
                inner.wake.notify_waiters();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e.detail(), "reaping expired leases failed"),
        }
        if last_prune.elapsed() >= Duration::from_secs(3600) {
            last_prune = tokio::time::Instant::now();
            if let Err(e) = inner.jobs.prune(inner.runner.prune_after, 1000).await {
                tracing::warn!(error = %e.detail(), "pruning finished jobs failed");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(inner.runner.reap_every) => {}
            _ = shutdown.changed() => {}
        }
    }
}

async fn worker_loop(
    inner: Arc<Inner>,
    worker: String,
    mut shutdown: watch::Receiver<bool>,
    hard_stop: CancelFlag,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        match inner.jobs.claim(&worker, inner.runner.lease).await {
            Ok(Some(job)) => run_claimed(&inner, job, &hard_stop).await,
            Ok(None) => {
                tokio::select! {
                    _ = inner.wake.notified() => {}
                    _ = inner.jobs.wait_for_work(inner.runner.poll_every) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e.detail(), "claiming an import job failed");
                tokio::select! {
                    _ = tokio::time::sleep(inner.runner.poll_every) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
}

/// Why a running job was asked to stop. Neither set means the host is
/// shutting down, and the job is given back.
#[derive(Default)]
struct StopReasons {
    lease_lost: AtomicBool,
    cancel_requested: AtomicBool,
}

async fn run_claimed(inner: &Arc<Inner>, job: ImportJob, hard_stop: &CancelFlag) {
    let Some(lease) = job.lease() else {
        tracing::error!(job = %job.id, "claimed job has no lease owner");
        return;
    };
    tracing::info!(job = %job.id, attempt = job.attempt, "import attempt started");
    let cancel = CancelFlag::new();
    let progress = Progress::new();
    let reasons = Arc::new(StopReasons::default());
    let (done_tx, done_rx) = watch::channel(false);
    let heartbeat = tokio::spawn(heartbeat_loop(
        Arc::clone(inner),
        lease.clone(),
        progress.clone(),
        cancel.clone(),
        Arc::clone(&reasons),
        hard_stop.clone(),
        done_rx,
    ));

    let timeout = inner.policy.limits.job_timeout;
    let result = match tokio::time::timeout(
        timeout,
        run_pipeline(inner, &job, &progress, &cancel, &reasons),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => {
            cancel.cancel();
            Err(ImportError::Permanent(format!(
                "timed out after {}",
                human_duration(timeout)
            )))
        }
    };
    let _ = done_tx.send(true);
    let _ = heartbeat.await;

    let outcome = match result {
        Ok(()) => Some(Finish::Completed),
        Err(ImportError::Cancelled) => {
            if reasons.lease_lost.load(Ordering::SeqCst) {
                None
            } else if reasons.cancel_requested.load(Ordering::SeqCst) {
                Some(Finish::Cancelled)
            } else {
                Some(Finish::Released)
            }
        }
        Err(ImportError::Permanent(error)) => Some(Finish::Failed { error }),
        Err(ImportError::Transient(error)) => Some(Finish::Retry {
            error,
            delay: inner.runner.backoff(job.attempt),
        }),
    };
    let Some(outcome) = outcome else {
        tracing::warn!(job = %job.id, "lease lost; the job continues elsewhere");
        return;
    };
    let terminal = !matches!(outcome, Finish::Retry { .. } | Finish::Released)
        || job.attempt >= job.max_attempts && matches!(outcome, Finish::Retry { .. });
    tracing::info!(job = %job.id, attempt = job.attempt, ?outcome, "import attempt ended");
    match finish_with_retries(inner, &lease, outcome).await {
        Ok(true) => {
            if terminal {
                lock(&inner.secrets).remove(&job.id);
            }
        }
        Ok(false) => tracing::warn!(job = %job.id, "lease lost before the result was stored"),
        Err(e) => {
            tracing::error!(job = %job.id, error = %e.detail(), "storing the result failed; the lease will expire and the job run again")
        }
    }
}

async fn finish_with_retries(inner: &Inner, lease: &Lease, outcome: Finish) -> Result<bool> {
    let mut last = None;
    for attempt in 0..3u32 {
        match inner.jobs.finish(lease, outcome.clone()).await {
            Ok(applied) => return Ok(applied),
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
        }
    }
    Err(last.unwrap_or_else(|| Error::internal("finish failed")))
}

async fn heartbeat_loop(
    inner: Arc<Inner>,
    lease: Lease,
    progress: Progress,
    cancel: CancelFlag,
    reasons: Arc<StopReasons>,
    hard_stop: CancelFlag,
    mut done: watch::Receiver<bool>,
) {
    let cfg = &inner.runner;
    let mut written = 0u8;
    let mut last_renewal = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(cfg.progress_every) => {}
            _ = done.changed() => return,
        }
        if hard_stop.is_cancelled() {
            cancel.cancel();
        }
        let current = progress.percent();
        if current == written && last_renewal.elapsed() < cfg.heartbeat_every {
            continue;
        }
        match inner.jobs.heartbeat(&lease, current, cfg.lease).await {
            Ok(Heartbeat::Renewed { cancel_requested }) => {
                written = current;
                last_renewal = tokio::time::Instant::now();
                if cancel_requested {
                    reasons.cancel_requested.store(true, Ordering::SeqCst);
                    cancel.cancel();
                }
            }
            Ok(Heartbeat::Lost) => {
                reasons.lease_lost.store(true, Ordering::SeqCst);
                cancel.cancel();
                return;
            }
            Err(e) => {
                // Keep working: the lease may still be valid, and the next
                // heartbeat tries again before it runs out.
                tracing::warn!(job = %lease.job_id, error = %e.detail(), "heartbeat failed");
            }
        }
    }
}

/// Fetch → extract → merge for one attempt.
async fn run_pipeline(
    inner: &Arc<Inner>,
    job: &ImportJob,
    progress: &Progress,
    cancel: &CancelFlag,
    reasons: &StopReasons,
) -> Result<(), ImportError> {
    let raw = lock(&inner.secrets)
        .get(&job.id)
        .cloned()
        .unwrap_or_else(|| job.repo_url.clone());
    let checked = inner
        .policy
        .urls
        .check(&raw)
        .map_err(|e| ImportError::Permanent(e.to_string()))?;
    let request = FetchRequest {
        url: checked.url,
        display_url: checked.display,
        git_ref: checked.git_ref,
        limits: inner.policy.limits.clone(),
    };

    let snapshot = inner
        .source
        .fetch(&request, &progress.band(0, 60), cancel)
        .await?;
    cancel.check()?;
    let file_count = snapshot.len() as u64;
    if file_count > inner.policy.limits.max_files {
        return Err(ImportError::Permanent(format!(
            "the repository has {file_count} files, more than the limit of {}",
            inner.policy.limits.max_files
        )));
    }

    let extracted = {
        let extractor = Arc::clone(&inner.extractor);
        let band = progress.band(60, 95);
        let cancel = cancel.clone();
        tokio::task::spawn_blocking(move || extract_stage(&*snapshot, &*extractor, &band, &cancel))
            .await
            .map_err(|e| {
                ImportError::Transient(format!("the extraction stopped unexpectedly: {e}"))
            })??
    };
    cancel.check()?;

    let merge_band = progress.band(95, 100);
    let import = RepoImport {
        job_id: job.id,
        repo_url: &job.repo_url,
        commit: &extracted.commit,
        project_context: extracted.project_context.as_deref(),
        items: &extracted.items,
        committed: extracted.committed.as_ref(),
    };
    let limits = &inner.policy.limits;
    let mut report = MergeReport::default();
    let outcome = update_master_todo(
        &*inner.todos,
        &job.workspace_id,
        job.todo_id,
        limits.max_entries,
        || !cancel.is_cancelled() && !reasons.lease_lost.load(Ordering::SeqCst),
        |doc, now| report = merge_repo_import(doc, &import, now),
    )
    .await;
    match outcome {
        Ok(updated) => {
            if updated == Updated::Written {
                tracing::info!(job = %job.id, added = report.added, updated = report.updated, completed = report.completed, "Master TODO merged");
            }
            merge_band.set_fraction(1.0);
            Ok(())
        }
        Err(UpdateError::Stopped) => Err(ImportError::Cancelled),
        Err(UpdateError::Store(e)) => Err(storage(e)),
        Err(UpdateError::TooManyEntries(n)) => Err(ImportError::Permanent(format!(
            "the Master TODO would hold {n} entries, more than the limit of {}",
            limits.max_entries
        ))),
        Err(UpdateError::Invalid(e)) => Err(ImportError::Permanent(format!(
            "the merged Master TODO is invalid: {e}"
        ))),
        Err(UpdateError::Contended) => Err(ImportError::Transient(
            "the Master TODO kept changing during the merge; the import will be retried".to_owned(),
        )),
    }
}

/// `600 s`, or `300 ms` below a second.
fn human_duration(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn storage(e: Error) -> ImportError {
    tracing::warn!(error = %e.detail(), "store failed during an import");
    ImportError::Transient(
        "the engine's storage is unavailable; the import will be retried".to_owned(),
    )
}

struct Extracted {
    commit: String,
    items: Vec<WorkItem>,
    project_context: Option<String>,
    committed: Option<MasterTodo>,
}

fn extract_stage(
    snapshot: &dyn RepoSnapshot,
    extractor: &dyn crate::extract::Extractor,
    band: &Progress,
    cancel: &CancelFlag,
) -> Result<Extracted, ImportError> {
    let mut committed = None;
    let mut readme = None;
    for i in 0..snapshot.len() {
        let path = snapshot.path(i);
        if path == COMMITTED_MASTER_TODO {
            let bytes = snapshot.read(i).map_err(|e| {
                ImportError::Transient(format!("could not read {COMMITTED_MASTER_TODO}: {e}"))
            })?;
            let doc = MasterTodo::from_json(&bytes).map_err(|e| {
                ImportError::Permanent(format!(
                    "the repository's {COMMITTED_MASTER_TODO} is not a valid Master TODO: {e}"
                ))
            })?;
            committed = Some(doc);
        } else if readme.is_none() && is_root_readme(path) {
            readme = Some(i);
        }
    }
    let project_context = match readme {
        Some(i) => snapshot
            .read(i)
            .ok()
            .map(|b| first_paragraph(&String::from_utf8_lossy(&b))),
        None => None,
    };
    let report = |f: f64| band.set_fraction(f);
    let items = extractor.extract(snapshot, &report, cancel.as_atomic())?;
    Ok(Extracted {
        commit: snapshot.commit().to_owned(),
        items,
        project_context,
        committed,
    })
}

fn is_root_readme(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "readme.md" | "readme.markdown" | "readme" | "readme.txt" | "readme.rst"
    )
}

/// The first paragraph of prose in a README: headings, badges, HTML and
/// front matter are skipped; lines are joined with spaces; at most 1,000
/// characters.
pub fn first_paragraph(text: &str) -> String {
    let mut lines = text.lines().peekable();
    // YAML front matter.
    if lines.peek().is_some_and(|l| l.trim() == "---") {
        lines.next();
        for line in lines.by_ref() {
            if line.trim() == "---" {
                break;
            }
        }
    }
    let mut paragraph: Vec<&str> = Vec::new();
    let mut in_fence = false;
    for line in lines {
        let t = line.trim();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
            if !paragraph.is_empty() {
                break;
            }
            continue;
        }
        if in_fence {
            continue;
        }
        let skip = t.starts_with('#')
            || t.starts_with("[![")
            || t.starts_with("![")
            || t.starts_with('<')
            || t.starts_with("===")
            || t.starts_with("---")
            || t.starts_with('|');
        if t.is_empty() || skip {
            if !paragraph.is_empty() {
                break;
            }
            continue;
        }
        paragraph.push(t);
    }
    let joined = paragraph.join(" ");
    if joined.chars().count() > 1000 {
        let cut: String = joined.chars().take(1000).collect();
        format!("{cut}…")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters_downwards() {
        let cfg = RunnerConfig::default();
        let d1 = cfg.backoff(1);
        assert!(
            d1 <= Duration::from_secs(2) && d1 >= Duration::from_millis(1500),
            "{d1:?}"
        );
        let d3 = cfg.backoff(3);
        assert!(
            d3 <= Duration::from_secs(8) && d3 >= Duration::from_secs(6),
            "{d3:?}"
        );
        let d40 = cfg.backoff(40);
        assert!(
            d40 <= Duration::from_secs(300) && d40 >= Duration::from_secs(225),
            "{d40:?}"
        );
    }

    #[test]
    fn invalid_runner_settings_are_refused() {
        let mut cfg = RunnerConfig::fast();
        cfg.workers = 0;
        assert!(cfg.validate().is_err());
        let mut cfg = RunnerConfig::fast();
        cfg.heartbeat_every = cfg.lease;
        assert!(cfg.validate().is_err());
        assert!(RunnerConfig::default().validate().is_ok());
    }

    #[test]
    fn the_first_paragraph_skips_headings_badges_and_fences() {
        let readme = "---\ntitle: x\n---\n# Title\n[![ci](b.svg)](c)\n\n```\ncode\n```\nThe engine keeps\nthings portable.\n\nSecond paragraph.";
        assert_eq!(first_paragraph(readme), "The engine keeps things portable.");
        assert_eq!(first_paragraph("# Only a title\n"), "");
    }
}
