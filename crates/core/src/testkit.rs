//! Conformance suites every store backend runs against itself, and small
//! fixtures for tests (feature `testkit`).
//!
//! A backend crate adds `todovault-core = { features = ["testkit"] }` to its
//! dev-dependencies and calls the suite for each trait it implements with a
//! fresh store:
//!
//! ```
//! # async fn demo() {
//! use std::sync::Arc;
//! use todovault_core::{memory::*, testkit};
//!
//! testkit::job_store_suite(Arc::new(MemoryJobStore::new())).await;
//! testkit::todo_store_suite(Arc::new(MemoryTodoStore::new())).await;
//! testkit::vault_store_suite(Arc::new(MemoryVaultStore::new())).await;
//! # }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo());
//! ```
//!
//! Each case uses its own workspaces, so one store serves the whole suite.
//! A failing case panics with the case's name and what it expected.
//!
//! Beside the suites: fixtures ([`sample_document`], [`new_job`],
//! [`TagExtractor`]), a check of a store's attempt history
//! ([`check_completed_attempts`]), and a harness for tests that run their
//! own binary as child processes ([`process`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::document::{CreatedBy, Entry, EntryStatus, MasterTodo, Priority, now_millis};
use crate::error::Error;
use crate::extract::{Extractor, WorkItem, WorkItemKind};
use crate::ids::{EntryId, ImportJobId, TodoId, WorkspaceId};
use crate::jobs::{
    AttemptOutcome, AttemptRecord, Finish, Heartbeat, ImportJob, Inserted, JobState, JobStore,
    Lease, NewJob, WORKER_LOST,
};
use crate::memory::MemoryVaultStore;
use crate::orchestrator::Orchestrator;
use crate::policy::{Policy, UrlPolicy};
use crate::runner::RunnerConfig;
use crate::source::{FixtureSource, ImportError, RepoSnapshot};
use crate::todos::TodoStore;
use crate::vault::{PutOutcome, SnapshotUpload, VaultStore};

pub mod process;

/// A workspace id unique to this process run, so suites never collide in a
/// shared database.
pub fn unique_workspace(label: &str) -> WorkspaceId {
    let id = format!("{label}-{}", ulid::Ulid::new()).to_ascii_lowercase();
    WorkspaceId::parse(&id).unwrap_or_else(|e| panic!("bad test workspace {id}: {e}"))
}

/// A minimal extractor for tests: every line containing `TODO:` or
/// `FIXME:` becomes an item, and `- [ ] `/`- [x] ` lines become tasks. It
/// knows nothing of comments or strings; the real extractor is the scanner.
#[derive(Debug, Clone, Copy, Default)]
pub struct TagExtractor;

impl Extractor for TagExtractor {
    fn extract(
        &self,
        snapshot: &dyn RepoSnapshot,
        progress: &(dyn Fn(f64) + Sync),
        cancel: &AtomicBool,
    ) -> Result<Vec<WorkItem>, ImportError> {
        let mut items = Vec::new();
        let total = snapshot.len();
        for i in 0..total {
            if cancel.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(ImportError::Cancelled);
            }
            let path = snapshot.path(i).to_owned();
            let bytes = snapshot
                .read(i)
                .map_err(|e| ImportError::Transient(format!("could not read {path}: {e}")))?;
            let text = String::from_utf8_lossy(&bytes);
            let mut seen: std::collections::HashMap<(String, String), u32> = Default::default();
            for (n, line) in text.lines().enumerate() {
                let found = ["TODO:", "FIXME:"]
                    .iter()
                    .find_map(|tag| {
                        line.find(tag)
                            .map(|at| (tag.trim_end_matches(':'), at + tag.len()))
                    })
                    .map(|(tag, after)| {
                        (
                            WorkItemKind::Comment,
                            tag.to_owned(),
                            line[after..].trim().to_owned(),
                            None,
                        )
                    })
                    .or_else(|| {
                        let t = line.trim_start();
                        let checked = if t.starts_with("- [ ] ") {
                            Some(false)
                        } else if t.starts_with("- [x] ") {
                            Some(true)
                        } else {
                            None
                        };
                        checked.map(|c| {
                            (
                                WorkItemKind::Task,
                                "TASK".to_owned(),
                                t[6..].trim().to_owned(),
                                Some(c),
                            )
                        })
                    });
                let Some((kind, tag, body, checked)) = found else {
                    continue;
                };
                let occurrence = seen.entry((tag.clone(), body.clone())).or_insert(0);
                let fingerprint = format!("{tag}|{body}|{path}|{occurrence}");
                *occurrence += 1;
                items.push(WorkItem {
                    kind,
                    priority: if tag == "FIXME" {
                        Priority::High
                    } else {
                        Priority::Medium
                    },
                    tag,
                    text: body,
                    path: path.clone(),
                    line: n as u32 + 1,
                    author: None,
                    issue: None,
                    checked,
                    parent: None,
                    fingerprint,
                });
            }
            progress((i + 1) as f64 / total.max(1) as f64);
        }
        Ok(items)
    }
}

/// A new job for `ws` and `repo`.
pub fn new_job(ws: &WorkspaceId, repo: &str, max_attempts: u32) -> NewJob {
    NewJob {
        id: ImportJobId::new(),
        workspace_id: ws.clone(),
        todo_id: TodoId::new(),
        repo_url: repo.to_owned(),
        max_attempts,
    }
}

/// The default policy, except that hosts on private and loopback addresses
/// are allowed: tests never resolve names, so no lookup leaves the machine.
pub fn test_policy() -> Policy {
    Policy::default().with_urls(UrlPolicy {
        allow_private_hosts: true,
        ..UrlPolicy::default()
    })
}

/// An engine for tests on one `store` that keeps both jobs and Master TODOs,
/// with an in-memory vault, `source`, the [`TagExtractor`] and
/// [`test_policy`].
pub fn test_engine<S>(
    store: Arc<S>,
    source: FixtureSource,
    runner: RunnerConfig,
) -> Result<Orchestrator, Error>
where
    S: JobStore + TodoStore + 'static,
{
    Orchestrator::builder()
        .job_store(store.clone())
        .todo_store(store)
        .vault_store(Arc::new(MemoryVaultStore::new()))
        .source(Arc::new(source))
        .extractor(Arc::new(TagExtractor))
        .policy(test_policy())
        .runner(runner)
        .build()
}

/// A small valid document with one user entry.
pub fn sample_document(ws: &WorkspaceId, version: u64) -> MasterTodo {
    let mut doc = MasterTodo::new(TodoId::new(), ws.clone());
    doc.version = version;
    let now = now_millis();
    doc.entries.push(Entry {
        id: EntryId::new(),
        seq: 1,
        kind: "task".into(),
        content: format!("entry of version {version}"),
        status: EntryStatus::Pending,
        priority: Priority::Medium,
        depends_on: vec![],
        children: vec![],
        phase_id: None,
        created_by: CreatedBy::User,
        created_at: now,
        updated_at: now,
        assigned_to: None,
        session_ids: vec![],
        origin: None,
        extra: Default::default(),
    });
    doc
}

/// Checks the attempt history of a job that has completed (oldest attempt
/// first, as a store with an attempt history returns it) and says what is
/// wrong with it:
///
/// - there is at least one attempt, and every attempt is closed with an
///   outcome, no earlier than it was claimed;
/// - no attempt was claimed before the one ahead of it ended, so the job
///   never ran on two workers at once;
/// - each attempt's number is one more than the counted attempts (all but
///   released ones) before it, and at most `max_attempts` were counted;
/// - exactly one attempt completed the job, and it is the last.
pub fn check_completed_attempts(
    records: &[AttemptRecord],
    max_attempts: u32,
) -> Result<(), String> {
    let Some(last) = records.last() else {
        return Err("the job has no attempts".to_owned());
    };
    let mut counted = 0u32;
    for (i, a) in records.iter().enumerate() {
        let (Some(ended), Some(_)) = (a.ended_at, a.outcome) else {
            return Err(format!("attempt left open after the job ended: {a:?}"));
        };
        if ended < a.claimed_at {
            return Err(format!("attempt ended before it was claimed: {a:?}"));
        }
        if let Some(next) = records.get(i + 1)
            && next.claimed_at < ended
        {
            return Err(format!(
                "the job ran on two workers at once: {a:?} overlaps {next:?}"
            ));
        }
        if a.attempt != counted + 1 {
            return Err(format!(
                "attempt numbered {} after {counted} counted attempts: {records:?}",
                a.attempt
            ));
        }
        if a.outcome != Some(AttemptOutcome::Released) {
            counted += 1;
        }
    }
    if counted > max_attempts {
        return Err(format!(
            "{counted} attempts counted, more than the bound of {max_attempts}: {records:?}"
        ));
    }
    let completed = records
        .iter()
        .filter(|a| a.outcome == Some(AttemptOutcome::Completed))
        .count();
    if completed != 1 || last.outcome != Some(AttemptOutcome::Completed) {
        return Err(format!(
            "exactly one attempt, the last, must complete the job; {completed} did: {records:?}"
        ));
    }
    Ok(())
}

/// Inserts a job that must be new and returns it.
async fn insert_new(
    store: &dyn JobStore,
    ws: &WorkspaceId,
    repo: &str,
    max_attempts: u32,
) -> ImportJob {
    store
        .insert(new_job(ws, repo, max_attempts))
        .await
        .unwrap_or_else(|e| panic!("insert {repo}: {e}"))
        .job()
        .clone()
}

/// The lease of a job this worker just claimed.
fn lease_of(job: &ImportJob) -> Lease {
    job.lease()
        .unwrap_or_else(|| panic!("claimed job {} has no lease", job.id))
}

const SHORT_LEASE: Duration = Duration::from_millis(400);
const LONG_LEASE: Duration = Duration::from_secs(60);

/// Runs every [`JobStore`] case against `store`.
pub async fn job_store_suite(store: Arc<dyn JobStore>) {
    job_insert_get_and_dedup(&*store).await;
    job_claim_heartbeat_finish(&*store).await;
    job_fencing(&*store).await;
    job_retry_and_attempt_bound(&*store).await;
    job_cancel(&*store).await;
    job_lease_expires_mid_job(&*store).await;
    job_release_does_not_count(&*store).await;
    job_attempt_history(&*store).await;
    job_racing_claims(Arc::clone(&store)).await;
    job_prune(&*store).await;
}

async fn claim_one(
    store: &dyn JobStore,
    worker: &str,
    lease: Duration,
    id: ImportJobId,
) -> crate::jobs::ImportJob {
    // Other cases' jobs may be due too; claim until ours comes up, giving the
    // others back untouched.
    for _ in 0..1000 {
        let job = store
            .claim(worker, lease)
            .await
            .unwrap_or_else(|e| panic!("claim failed: {e}"))
            .unwrap_or_else(|| panic!("claim found nothing due; expected job {id}"));
        if job.id == id {
            return job;
        }
        let lease = job
            .lease()
            .unwrap_or_else(|| panic!("claimed job without lease"));
        store
            .finish(&lease, Finish::Released)
            .await
            .unwrap_or_else(|e| panic!("release failed: {e}"));
    }
    panic!("job {id} never came up for claiming");
}

async fn job_insert_get_and_dedup(store: &dyn JobStore) {
    let ws = unique_workspace("jobs-insert");
    let other = unique_workspace("jobs-insert-other");
    let new = new_job(&ws, "https://example.com/a.git", 3);
    let created = store
        .insert(new.clone())
        .await
        .unwrap_or_else(|e| panic!("insert: {e}"));
    let Inserted::Created(job) = created else {
        panic!("first insert must create")
    };
    assert_eq!(job.state, JobState::Queued, "insert: new jobs are queued");
    assert_eq!(job.attempt, 0);
    assert_eq!(job.progress, 0);
    assert_eq!(job.max_attempts, 3);

    let again = store
        .insert(new_job(&ws, "https://example.com/a.git", 3))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    match again {
        Inserted::Existing(existing) => {
            assert_eq!(existing.id, job.id, "dedup: the active job is returned");
            assert_eq!(existing.todo_id, job.todo_id, "dedup: with its todo id");
        }
        Inserted::Created(_) => {
            panic!("dedup: an active job for the same workspace and repo must be returned")
        }
    }
    let elsewhere = store
        .insert(new_job(&other, "https://example.com/a.git", 3))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(elsewhere, Inserted::Created(_)),
        "dedup is per workspace"
    );
    let other_repo = store
        .insert(new_job(&ws, "https://example.com/b.git", 3))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(other_repo, Inserted::Created(_)),
        "dedup is per repository"
    );

    let got = store
        .get(&ws, &job.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        got.as_ref().map(|j| j.id),
        Some(job.id),
        "get returns the job"
    );
    assert_eq!(
        got.map(|j| j.repo_url),
        Some("https://example.com/a.git".to_owned())
    );
    assert!(
        store
            .get(&other, &job.id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none(),
        "get is scoped to the workspace"
    );
    assert!(
        store
            .get(&ws, &ImportJobId::new())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none()
    );

    // Clean up so later cases' claims are not disturbed.
    for j in [job.id, elsewhere.job().id, other_repo.job().id] {
        let w = if j == elsewhere.job().id { &other } else { &ws };
        store
            .request_cancel(w, &j)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let after_cancel = store
        .insert(new_job(&ws, "https://example.com/a.git", 3))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(after_cancel, Inserted::Created(_)),
        "dedup only considers active jobs"
    );
    store
        .request_cancel(&ws, &after_cancel.job().id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

async fn job_claim_heartbeat_finish(store: &dyn JobStore) {
    let ws = unique_workspace("jobs-claim");
    let job = insert_new(store, &ws, "https://example.com/c.git", 3).await;
    let claimed = claim_one(store, "w1", LONG_LEASE, job.id).await;
    assert_eq!(claimed.state, JobState::Running);
    assert_eq!(claimed.attempt, 1, "claim starts attempt 1");
    assert_eq!(claimed.lease_owner.as_deref(), Some("w1"));
    assert!(
        claimed.lease_expires_at.is_some_and(|t| t > now_millis()),
        "lease in the future"
    );
    let lease = lease_of(&claimed);

    let hb = store
        .heartbeat(&lease, 40, LONG_LEASE)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        hb,
        Heartbeat::Renewed {
            cancel_requested: false
        }
    );
    assert_eq!(
        store
            .get(&ws, &job.id)
            .await
            .ok()
            .flatten()
            .map(|j| j.progress),
        Some(40)
    );
    store
        .heartbeat(&lease, 20, LONG_LEASE)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        store
            .get(&ws, &job.id)
            .await
            .ok()
            .flatten()
            .map(|j| j.progress),
        Some(40),
        "progress never goes backwards"
    );
    assert!(
        store
            .finish(&lease, Finish::Completed)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    let done = store
        .get(&ws, &job.id)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("job vanished"));
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(done.progress, 100);
    assert_eq!(done.lease_owner, None, "finish clears the lease");
    assert_eq!(
        store
            .heartbeat(&lease, 50, LONG_LEASE)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        Heartbeat::Lost,
        "a finished job has no lease"
    );
}

async fn job_fencing(store: &dyn JobStore) {
    let ws = unique_workspace("jobs-fence");
    let job = insert_new(store, &ws, "https://example.com/f.git", 3).await;
    let claimed = claim_one(store, "owner", LONG_LEASE, job.id).await;
    let lease = lease_of(&claimed);
    let mut wrong_owner = lease.clone();
    wrong_owner.owner = "intruder".into();
    let mut wrong_attempt = lease.clone();
    wrong_attempt.attempt += 1;
    for (what, l) in [("owner", &wrong_owner), ("attempt", &wrong_attempt)] {
        assert_eq!(
            store
                .heartbeat(l, 10, LONG_LEASE)
                .await
                .unwrap_or_else(|e| panic!("{e}")),
            Heartbeat::Lost,
            "fencing: heartbeat with the wrong {what} touches nothing"
        );
        assert!(
            !store
                .finish(l, Finish::Completed)
                .await
                .unwrap_or_else(|e| panic!("{e}")),
            "fencing: finish with the wrong {what} touches nothing"
        );
    }
    let still = store
        .get(&ws, &job.id)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("job vanished"));
    assert_eq!(
        still.state,
        JobState::Running,
        "fenced writes changed the job"
    );
    assert_eq!(still.progress, 0);
    assert!(
        store
            .finish(
                &lease,
                Finish::Failed {
                    error: "the repository is gone".into()
                }
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    let failed = store
        .get(&ws, &job.id)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("job vanished"));
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.error.as_deref(), Some("the repository is gone"));
    assert!(
        !store
            .finish(&lease, Finish::Completed)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        "a failed job cannot be completed"
    );
}

async fn job_retry_and_attempt_bound(store: &dyn JobStore) {
    let ws = unique_workspace("jobs-retry");
    let job = insert_new(store, &ws, "https://example.com/r.git", 2).await;
    let first = claim_one(store, "w", LONG_LEASE, job.id).await;
    let lease = lease_of(&first);
    let retry = Finish::Retry {
        error: "network down".into(),
        delay: Duration::from_millis(300),
    };
    assert!(
        store
            .finish(&lease, retry.clone())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    let waiting = store
        .get(&ws, &job.id)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("job vanished"));
    assert_eq!(waiting.state, JobState::RetryWait);
    assert!(waiting.run_at > now_millis(), "retry waits for its backoff");
    assert_eq!(
        waiting.to_status().status,
        crate::api::WireJobStatus::Running,
        "retry-waiting shows as running"
    );
    // Not due yet: our job must not be claimable.
    if let Some(other) = store
        .claim("w", LONG_LEASE)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    {
        assert_ne!(other.id, job.id, "a job was claimed before its run_at");
        let l = lease_of(&other);
        store
            .finish(&l, Finish::Released)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    tokio::time::sleep(Duration::from_millis(350)).await;
    let second = claim_one(store, "w", LONG_LEASE, job.id).await;
    assert_eq!(second.attempt, 2);
    let lease = lease_of(&second);
    assert!(
        store
            .finish(&lease, retry)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    let failed = store
        .get(&ws, &job.id)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("job vanished"));
    assert_eq!(failed.state, JobState::Failed, "attempts are bounded");
    assert_eq!(
        failed.error.as_deref(),
        Some("network down"),
        "the last failure says why"
    );
}

async fn job_cancel(store: &dyn JobStore) {
    let ws = unique_workspace("jobs-cancel");
    let queued = insert_new(store, &ws, "https://example.com/q.git", 3).await;
    let after = store
        .request_cancel(&ws, &queued.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("job vanished"));
    assert_eq!(
        after.state,
        JobState::Cancelled,
        "a queued job is cancelled at once"
    );
    let status = after.to_status();
    assert_eq!(status.status, crate::api::WireJobStatus::Failed);
    assert_eq!(status.error, "cancelled");

    let running = insert_new(store, &ws, "https://example.com/run.git", 3).await;
    let claimed = claim_one(store, "w", LONG_LEASE, running.id).await;
    let lease = lease_of(&claimed);
    let flagged = store
        .request_cancel(&ws, &running.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("job vanished"));
    assert_eq!(
        flagged.state,
        JobState::Running,
        "a running job is flagged, not stopped"
    );
    assert_eq!(
        store
            .heartbeat(&lease, 10, LONG_LEASE)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        Heartbeat::Renewed {
            cancel_requested: true
        },
        "the worker learns of the cancel through its heartbeat"
    );
    assert!(
        store
            .finish(&lease, Finish::Cancelled)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    assert_eq!(
        store
            .get(&ws, &running.id)
            .await
            .ok()
            .flatten()
            .map(|j| j.state),
        Some(JobState::Cancelled)
    );
    assert!(
        store
            .request_cancel(&ws, &ImportJobId::new())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none()
    );
    let other = unique_workspace("jobs-cancel-other");
    assert!(
        store
            .request_cancel(&other, &running.id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none(),
        "cancel is scoped to the workspace"
    );
}

async fn job_lease_expires_mid_job(store: &dyn JobStore) {
    let ws = unique_workspace("jobs-expire");
    let job = insert_new(store, &ws, "https://example.com/e.git", 2).await;
    let first = claim_one(store, "dies", SHORT_LEASE, job.id).await;
    let dead_lease = lease_of(&first);
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(300)).await;
    let reaped = store.reap_expired().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(reaped.contains(&job.id), "an expired lease is reaped");
    let waiting = store
        .get(&ws, &job.id)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("job vanished"));
    assert_eq!(
        waiting.state,
        JobState::RetryWait,
        "a reaped job waits for another attempt"
    );
    assert_eq!(
        store
            .heartbeat(&dead_lease, 50, LONG_LEASE)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        Heartbeat::Lost,
        "the dead worker's lease is gone"
    );

    let second = claim_one(store, "rescuer", SHORT_LEASE, job.id).await;
    assert_eq!(second.attempt, 2);
    assert!(
        !store
            .finish(&dead_lease, Finish::Completed)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        "the dead worker cannot finish the rescued job"
    );
    let rescuer = lease_of(&second);
    assert!(
        store
            .finish(&rescuer, Finish::Completed)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(300)).await;
    let reaped = store.reap_expired().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !reaped.contains(&job.id),
        "the reaper never touches a finished job"
    );
    assert_eq!(
        store
            .get(&ws, &job.id)
            .await
            .ok()
            .flatten()
            .map(|j| j.state),
        Some(JobState::Completed)
    );

    // Last attempt lost: the job fails and says why.
    let doomed = insert_new(store, &ws, "https://example.com/d.git", 1).await;
    claim_one(store, "dies", SHORT_LEASE, doomed.id).await;
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(300)).await;
    store.reap_expired().await.unwrap_or_else(|e| panic!("{e}"));
    let failed = store
        .get(&ws, &doomed.id)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("job vanished"));
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.error.as_deref(), Some(WORKER_LOST));
}

/// The attempt history of `id` as (attempt, worker, outcome) triples,
/// after checking that every record belongs to the job and that ended
/// attempts say when.
async fn attempt_summary(
    store: &dyn JobStore,
    id: ImportJobId,
) -> Vec<(u32, String, Option<AttemptOutcome>)> {
    let history = store
        .attempt_history(&id)
        .await
        .unwrap_or_else(|e| panic!("attempt history of {id}: {e}"));
    for a in &history {
        assert_eq!(a.job_id, id, "a record of another job: {a:?}");
        assert_eq!(
            a.ended_at.is_some(),
            a.outcome.is_some(),
            "an attempt ends with both a time and an outcome: {a:?}"
        );
    }
    history
        .into_iter()
        .map(|a| (a.attempt, a.worker, a.outcome))
        .collect()
}

/// Every claim is recorded with its worker and closed with how it ended;
/// the running attempt is open; a completed job's history passes
/// [`check_completed_attempts`].
async fn job_attempt_history(store: &dyn JobStore) {
    use AttemptOutcome::{Cancelled, Completed, Failed, Lost, Released, Retry};
    let ws = unique_workspace("jobs-history");
    let job = insert_new(store, &ws, "https://example.com/hist.git", 3).await;
    assert!(
        attempt_summary(store, job.id).await.is_empty(),
        "not claimed yet"
    );

    // Attempt 1 dies (lease expires, reaped); attempt 2 is released;
    // attempt 2 again completes.
    let dying = claim_one(store, "dies", SHORT_LEASE, job.id).await;
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(300)).await;
    assert_eq!(
        store
            .heartbeat(&lease_of(&dying), 5, LONG_LEASE)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        Heartbeat::Lost,
        "an expired lease cannot be renewed, even before it is reaped"
    );
    let reaped = store.reap_expired().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(reaped.contains(&job.id));
    let second = claim_one(store, "gives-back", LONG_LEASE, job.id).await;
    assert!(
        store
            .finish(&lease_of(&second), Finish::Released)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    let third = claim_one(store, "finisher", LONG_LEASE, job.id).await;
    assert_eq!(
        attempt_summary(store, job.id).await.last(),
        Some(&(2, "finisher".to_owned(), None)),
        "the running attempt is open"
    );
    assert!(
        store
            .finish(&lease_of(&third), Finish::Completed)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    let words =
        |rows: &[(u32, &str, AttemptOutcome)]| -> Vec<(u32, String, Option<AttemptOutcome>)> {
            rows.iter()
                .map(|&(n, w, o)| (n, w.to_owned(), Some(o)))
                .collect()
        };
    assert_eq!(
        attempt_summary(store, job.id).await,
        words(&[
            (1, "dies", Lost),
            (2, "gives-back", Released),
            (2, "finisher", Completed)
        ])
    );
    let history = store
        .attempt_history(&job.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    check_completed_attempts(&history, job.max_attempts)
        .unwrap_or_else(|e| panic!("job {}: {e}", job.id));

    // A retry is recorded as such; the retry that uses up the attempts
    // fails the job and is recorded as a failure.
    let flaky = insert_new(store, &ws, "https://example.com/flaky.git", 2).await;
    for worker in ["w1", "w2"] {
        let claimed = claim_one(store, worker, LONG_LEASE, flaky.id).await;
        let retry = Finish::Retry {
            error: "network down".into(),
            delay: Duration::ZERO,
        };
        assert!(
            store
                .finish(&lease_of(&claimed), retry)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        );
    }
    assert_eq!(
        attempt_summary(store, flaky.id).await,
        words(&[(1, "w1", Retry), (2, "w2", Failed)])
    );

    // A worker that stops on a cancel request ends its attempt cancelled.
    let stopped = insert_new(store, &ws, "https://example.com/stop.git", 3).await;
    let claimed = claim_one(store, "w", LONG_LEASE, stopped.id).await;
    store
        .request_cancel(&ws, &stopped.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        store
            .finish(&lease_of(&claimed), Finish::Cancelled)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    assert_eq!(
        attempt_summary(store, stopped.id).await,
        words(&[(1, "w", Cancelled)])
    );

    assert!(
        attempt_summary(store, ImportJobId::new()).await.is_empty(),
        "an unknown job has no history"
    );
}

async fn job_release_does_not_count(store: &dyn JobStore) {
    let ws = unique_workspace("jobs-release");
    let job = insert_new(store, &ws, "https://example.com/rel.git", 1).await;
    let claimed = claim_one(store, "w", LONG_LEASE, job.id).await;
    let lease = lease_of(&claimed);
    assert!(
        store
            .finish(&lease, Finish::Released)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    let queued = store
        .get(&ws, &job.id)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("job vanished"));
    assert_eq!(
        queued.state,
        JobState::Queued,
        "a released job is queued again"
    );
    assert_eq!(queued.attempt, 0, "a released attempt does not count");
    let again = claim_one(store, "w2", LONG_LEASE, job.id).await;
    assert_eq!(again.attempt, 1);
    let lease2 = lease_of(&again);
    assert!(
        !store
            .finish(&lease, Finish::Completed)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        "the old lease is dead"
    );
    assert!(
        store
            .finish(&lease2, Finish::Completed)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
}

async fn job_racing_claims(store: Arc<dyn JobStore>) {
    let ws = unique_workspace("jobs-race");
    let mut ids = HashSet::new();
    for n in 0..20 {
        let job = store
            .insert(new_job(&ws, &format!("https://example.com/race{n}.git"), 3))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        ids.insert(job.job().id);
    }
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(job) = store
                .claim(&format!("racer{w}"), LONG_LEASE)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
            {
                mine.push(job);
            }
            mine
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap_or_else(|e| panic!("racer panicked: {e}")));
    }
    let ours: Vec<_> = claimed.iter().filter(|j| ids.contains(&j.id)).collect();
    let unique: HashSet<_> = ours.iter().map(|j| j.id).collect();
    assert_eq!(
        unique.len(),
        ours.len(),
        "racing claims: a job was claimed twice"
    );
    assert_eq!(unique, ids, "racing claims: every due job was claimed");
    for job in &claimed {
        let lease = lease_of(job);
        store
            .finish(&lease, Finish::Completed)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

async fn job_prune(store: &dyn JobStore) {
    let ws = unique_workspace("jobs-prune");
    let done = insert_new(store, &ws, "https://example.com/p1.git", 3).await;
    store
        .request_cancel(&ws, &done.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let finished = insert_new(store, &ws, "https://example.com/p3.git", 3).await;
    let claimed = claim_one(store, "w", LONG_LEASE, finished.id).await;
    assert!(
        store
            .finish(&lease_of(&claimed), Finish::Completed)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    let active = insert_new(store, &ws, "https://example.com/p2.git", 3).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let pruned = store
        .prune(Duration::from_millis(10), 10_000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(pruned >= 1, "prune deletes old terminal jobs");
    assert!(
        store
            .get(&ws, &done.id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none(),
        "the old cancelled job is gone"
    );
    assert!(
        store
            .get(&ws, &finished.id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none(),
        "the old completed job is gone"
    );
    assert!(
        store
            .attempt_history(&finished.id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty(),
        "a pruned job's attempts go with it"
    );
    assert!(
        store
            .get(&ws, &active.id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_some(),
        "prune never deletes active jobs"
    );
    let none = store
        .prune(Duration::from_secs(3600), 10_000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = none; // other suites' fresh jobs may or may not be terminal; only ours are asserted
    store
        .request_cancel(&ws, &active.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Runs every [`TodoStore`] case against `store`.
pub async fn todo_store_suite(store: Arc<dyn TodoStore>) {
    todo_put_get_and_history(&*store).await;
    todo_refuses_invalid_and_stale(&*store).await;
    todo_preserves_unknown_fields(&*store).await;
    todo_racing_compare_and_set(Arc::clone(&store)).await;
}

async fn todo_put_get_and_history(store: &dyn TodoStore) {
    let ws = unique_workspace("todo-basic");
    assert!(
        store
            .get(&ws)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none(),
        "a new workspace has no Master TODO"
    );
    let v1 = sample_document(&ws, 1);
    store
        .put(&v1, None)
        .await
        .unwrap_or_else(|e| panic!("create: {e}"));
    assert_eq!(
        store.get(&ws).await.unwrap_or_else(|e| panic!("{e}")),
        Some(v1.clone()),
        "get returns what was put"
    );
    let mut v2 = v1.clone();
    v2.version = 2;
    v2.entries[0].content = "changed".into();
    store
        .put(&v2, Some(1))
        .await
        .unwrap_or_else(|e| panic!("update: {e}"));
    let mut v3 = v2.clone();
    v3.version = 3;
    v3.project_context = "three".into();
    store
        .put(&v3, Some(2))
        .await
        .unwrap_or_else(|e| panic!("update: {e}"));
    assert_eq!(
        store.get(&ws).await.ok().flatten().map(|d| d.version),
        Some(3)
    );
    let history = store
        .history(&ws, 10)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        history.iter().map(|d| d.version).collect::<Vec<_>>(),
        vec![2, 1],
        "history holds replaced versions, newest first"
    );
    assert_eq!(history[1], v1, "history keeps replaced versions whole");
    assert_eq!(
        store
            .history(&ws, 1)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .len(),
        1,
        "history honours the limit"
    );
}

async fn todo_refuses_invalid_and_stale(store: &dyn TodoStore) {
    let ws = unique_workspace("todo-refuse");
    let v1 = sample_document(&ws, 1);
    store.put(&v1, None).await.unwrap_or_else(|e| panic!("{e}"));
    let err = store.put(&v1, None).await.err();
    assert!(
        matches!(err, Some(Error::Conflict { .. })),
        "create over an existing document is a conflict, got {err:?}"
    );
    let mut stale = v1.clone();
    stale.version = 3;
    let err = store.put(&stale, Some(2)).await.err();
    assert!(
        matches!(err, Some(Error::Conflict { .. })),
        "a stale expected version is a conflict, got {err:?}"
    );
    let mut skip = v1.clone();
    skip.version = 5;
    let err = store.put(&skip, Some(1)).await.err();
    assert!(
        matches!(err, Some(Error::Validation { .. })),
        "a version that does not follow is refused, got {err:?}"
    );
    let mut dangling = v1.clone();
    dangling.version = 2;
    dangling.entries[0].depends_on.push(EntryId::new());
    let err = store.put(&dangling, Some(1)).await.err();
    assert!(
        matches!(err, Some(Error::Validation { .. })),
        "an invalid document is refused, got {err:?}"
    );
    assert_eq!(
        store.get(&ws).await.unwrap_or_else(|e| panic!("{e}")),
        Some(v1),
        "refused writes change nothing"
    );
}

async fn todo_preserves_unknown_fields(store: &dyn TodoStore) {
    let ws = unique_workspace("todo-unknown");
    let mut doc = sample_document(&ws, 1);
    doc.extra.insert(
        "written_by_a_newer_version".into(),
        serde_json::json!({"keep": [1, 2]}),
    );
    doc.entries[0]
        .extra
        .insert("entry_extension".into(), serde_json::json!("x"));
    store
        .put(&doc, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let back = store
        .get(&ws)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("document vanished"));
    assert_eq!(
        back.extra.get("written_by_a_newer_version"),
        Some(&serde_json::json!({"keep": [1, 2]})),
        "unknown fields survive storage"
    );
    assert_eq!(
        back.entries[0].extra.get("entry_extension"),
        Some(&serde_json::json!("x"))
    );
}

async fn todo_racing_compare_and_set(store: Arc<dyn TodoStore>) {
    let ws = unique_workspace("todo-race");
    let base = sample_document(&ws, 1);
    store
        .put(&base, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = Arc::clone(&store);
        let mut doc = base.clone();
        doc.version = 2;
        doc.project_context = format!("writer {n}");
        tasks.push(tokio::spawn(async move { store.put(&doc, Some(1)).await }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap_or_else(|e| panic!("writer panicked: {e}")) {
            Ok(()) => won += 1,
            Err(Error::Conflict { .. }) => {}
            Err(e) => panic!("racing compare-and-set: unexpected error {e}"),
        }
    }
    assert_eq!(won, 1, "racing compare-and-set: exactly one writer wins");
    assert_eq!(
        store
            .history(&ws, 10)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .len(),
        1
    );
}

/// Runs every [`VaultStore`] case against `store`. The vault should be empty
/// or hold only this suite's earlier runs.
pub async fn vault_store_suite(store: Arc<dyn VaultStore>) {
    vault_put_get_list(&*store).await;
    vault_never_older_over_newer(&*store).await;
    vault_key_belongs_to_one_workspace(&*store).await;
    vault_racing_puts(Arc::clone(&store)).await;
}

async fn vault_put_get_list(store: &dyn VaultStore) {
    let ws = unique_workspace("vault-basic");
    let doc = sample_document(&ws, 1);
    let upload = SnapshotUpload::from_document(&doc).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        store
            .get(&upload.key)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none()
    );
    assert_eq!(
        store
            .put(&upload)
            .await
            .unwrap_or_else(|e| panic!("put: {e}")),
        PutOutcome::Written
    );
    assert_eq!(
        store
            .put(&upload)
            .await
            .unwrap_or_else(|e| panic!("put: {e}")),
        PutOutcome::Unchanged,
        "unchanged content is not uploaded again"
    );
    let got = store
        .get(&upload.key)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("snapshot vanished"));
    assert_eq!(got.bytes, upload.bytes, "get returns the bytes put");
    assert_eq!(got.meta.workspace_id, ws);
    assert_eq!(got.meta.size_bytes, upload.bytes.len() as u64);
    let listed = store.list().await.unwrap_or_else(|e| panic!("{e}"));
    let mine = listed
        .iter()
        .find(|m| m.key == upload.key)
        .unwrap_or_else(|| panic!("list misses {}", upload.key));
    assert_eq!(mine.workspace_id, ws, "list names the workspace");
    assert_eq!(
        mine.size_bytes,
        upload.bytes.len() as u64,
        "list gives the size"
    );
    assert!(
        (now_millis() - mine.updated_at).num_seconds().abs() < 300,
        "list gives the write time"
    );
}

async fn vault_never_older_over_newer(store: &dyn VaultStore) {
    let ws = unique_workspace("vault-order");
    let mut doc = sample_document(&ws, 2);
    let v2 = SnapshotUpload::from_document(&doc).unwrap_or_else(|e| panic!("{e}"));
    store.put(&v2).await.unwrap_or_else(|e| panic!("{e}"));
    doc.version = 1;
    doc.project_context = "older".into();
    let v1 = SnapshotUpload::from_document(&doc).unwrap_or_else(|e| panic!("{e}"));
    let err = store.put(&v1).await.err();
    assert!(
        matches!(err, Some(Error::Conflict { .. })),
        "an older version over a newer one is a conflict, got {err:?}"
    );
    doc.version = 2;
    doc.project_context = "same version, other content".into();
    let same = SnapshotUpload::from_document(&doc).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(store.put(&same).await, Err(Error::Conflict { .. })),
        "same version with other bytes is a conflict"
    );
    doc.version = 3;
    let v3 = SnapshotUpload::from_document(&doc).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        store.put(&v3).await.unwrap_or_else(|e| panic!("{e}")),
        PutOutcome::Written,
        "a newer version replaces an older one"
    );
    let got = store
        .get(&v3.key)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("snapshot vanished"));
    assert_eq!(got.bytes, v3.bytes);
}

async fn vault_key_belongs_to_one_workspace(store: &dyn VaultStore) {
    let ws = unique_workspace("vault-owner");
    let thief = unique_workspace("vault-thief");
    let doc = sample_document(&ws, 1);
    let upload = SnapshotUpload::from_document(&doc).unwrap_or_else(|e| panic!("{e}"));
    store.put(&upload).await.unwrap_or_else(|e| panic!("{e}"));
    let mut stolen = doc.clone();
    stolen.workspace_id = thief;
    stolen.version = 9;
    let hijack = SnapshotUpload::from_document(&stolen).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(store.put(&hijack).await, Err(Error::Conflict { .. })),
        "a key never changes workspace"
    );
    let got = store
        .get(&upload.key)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("snapshot vanished"));
    assert_eq!(got.bytes, upload.bytes);
}

async fn vault_racing_puts(store: Arc<dyn VaultStore>) {
    let ws = unique_workspace("vault-race");
    let base = sample_document(&ws, 1);
    let first = SnapshotUpload::from_document(&base).unwrap_or_else(|e| panic!("{e}"));
    store.put(&first).await.unwrap_or_else(|e| panic!("{e}"));
    // Two hosts sync different version-2 documents at once: exactly one wins,
    // and the vault holds the winner's bytes whole.
    let mut tasks = Vec::new();
    for n in 0..6 {
        let store = Arc::clone(&store);
        let mut doc = base.clone();
        doc.version = 2;
        doc.project_context = format!("host {n}");
        let upload = SnapshotUpload::from_document(&doc).unwrap_or_else(|e| panic!("{e}"));
        tasks.push(tokio::spawn(
            async move { (store.put(&upload).await, upload) },
        ));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (result, upload) = t.await.unwrap_or_else(|e| panic!("writer panicked: {e}"));
        match result {
            Ok(PutOutcome::Written) => winners.push(upload),
            Ok(PutOutcome::Unchanged) => panic!("racing puts: distinct content reported unchanged"),
            Err(Error::Conflict { .. }) => {}
            Err(e) => panic!("racing puts: unexpected error {e}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "racing puts: exactly one writer of version 2 wins"
    );
    let got = store
        .get(&first.key)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("snapshot vanished"));
    assert_eq!(
        got.bytes, winners[0].bytes,
        "racing puts: the vault holds the winner's document"
    );
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    /// Attempts of one job, each claimed at `claimed` seconds and ended one
    /// second later with `outcome`.
    fn history(attempts: &[(u32, i64, AttemptOutcome)]) -> Vec<AttemptRecord> {
        let job_id = ImportJobId::new();
        let start = now_millis();
        attempts
            .iter()
            .map(|&(attempt, claimed, outcome)| AttemptRecord {
                job_id,
                attempt,
                worker: format!("w{claimed}"),
                claimed_at: start + TimeDelta::seconds(claimed),
                ended_at: Some(start + TimeDelta::seconds(claimed + 1)),
                outcome: Some(outcome),
            })
            .collect()
    }

    fn problem(records: &[AttemptRecord], max_attempts: u32) -> String {
        match check_completed_attempts(records, max_attempts) {
            Ok(()) => panic!("the check passed a bad history: {records:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_sound_history_passes() {
        use AttemptOutcome::*;
        let records = history(&[(1, 0, Released), (1, 2, Lost), (2, 4, Completed)]);
        assert_eq!(check_completed_attempts(&records, 2), Ok(()));
        assert_eq!(
            check_completed_attempts(&history(&[(1, 0, Completed)]), 1),
            Ok(())
        );
    }

    #[test]
    fn each_broken_promise_is_named() {
        use AttemptOutcome::*;
        assert!(problem(&[], 3).contains("no attempts"));

        let mut open = history(&[(1, 0, Completed)]);
        open[0].ended_at = None;
        assert!(problem(&open, 3).contains("left open"));

        let overlapping = history(&[(1, 0, Lost), (2, 0, Completed)]);
        assert!(problem(&overlapping, 3).contains("two workers at once"));

        let mut backwards = history(&[(1, 0, Completed)]);
        backwards[0].ended_at = Some(backwards[0].claimed_at - TimeDelta::seconds(1));
        assert!(problem(&backwards, 3).contains("ended before it was claimed"));

        let skipped = history(&[(1, 0, Lost), (3, 2, Completed)]);
        assert!(problem(&skipped, 3).contains("numbered 3 after 1"));

        let too_many = history(&[(1, 0, Retry), (2, 2, Retry), (3, 4, Completed)]);
        assert!(problem(&too_many, 2).contains("more than the bound of 2"));

        let unfinished = history(&[(1, 0, Failed)]);
        assert!(problem(&unfinished, 3).contains("0 did"));

        let mut twice = history(&[(1, 0, Completed), (2, 2, Completed)]);
        assert!(problem(&twice, 3).contains("2 did"));
        twice[1].outcome = Some(Lost);
        assert!(problem(&twice, 3).contains("1 did"), "completed, not last");
    }
}
