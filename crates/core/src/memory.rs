//! In-memory stores: for unit tests, examples and hosts that need no
//! durability. Each method holds one lock for its whole read-modify-write, so
//! the stores are exactly as atomic as the trait contracts demand, and they
//! pass the same conformance suites as the durable backends.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use crate::document::{MasterTodo, Timestamp, now_millis};
use crate::error::{Error, Result};
use crate::ids::{ImportJobId, WorkspaceId};
use crate::jobs::{
    AttemptOutcome, AttemptRecord, CANCELLED, Finish, Heartbeat, ImportJob, Inserted, JobState,
    JobStore, Lease, NewJob, WORKER_LOST,
};
use crate::todos::{TodoStore, check_put, version_conflict};
use crate::vault::{
    PutOutcome, Snapshot, SnapshotMeta, SnapshotUpload, VaultStore, decide_put, todo_id_from_key,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these maps half-updated:
    // every method computes first and writes last.
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn after(now: Timestamp, d: Duration) -> Timestamp {
    now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Import jobs in memory.
#[derive(Debug, Default)]
pub struct MemoryJobStore {
    state: Mutex<Jobs>,
}

/// The jobs and their attempt histories, under one lock.
#[derive(Debug, Default)]
struct Jobs {
    jobs: HashMap<ImportJobId, ImportJob>,
    attempts: HashMap<ImportJobId, Vec<AttemptRecord>>,
}

/// Closes the open attempt `attempt` of `job` with `outcome` at `at`.
fn end_attempt(
    attempts: &mut HashMap<ImportJobId, Vec<AttemptRecord>>,
    job: ImportJobId,
    attempt: u32,
    at: Timestamp,
    outcome: AttemptOutcome,
) {
    let open = attempts.get_mut(&job).and_then(|records| {
        records
            .iter_mut()
            .rev()
            .find(|a| a.attempt == attempt && a.ended_at.is_none())
    });
    if let Some(open) = open {
        open.ended_at = Some(at);
        open.outcome = Some(outcome);
    }
}

impl MemoryJobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn fenced<'a>(
        jobs: &'a mut HashMap<ImportJobId, ImportJob>,
        lease: &Lease,
    ) -> Option<&'a mut ImportJob> {
        jobs.get_mut(&lease.job_id).filter(|j| {
            j.state == JobState::Running
                && j.attempt == lease.attempt
                && j.lease_owner.as_deref() == Some(lease.owner.as_str())
        })
    }
}

#[async_trait]
impl JobStore for MemoryJobStore {
    async fn insert(&self, new: NewJob) -> Result<Inserted> {
        let mut state = lock(&self.state);
        let jobs = &mut state.jobs;
        if let Some(existing) = jobs.values().find(|j| {
            !j.state.is_terminal()
                && j.workspace_id == new.workspace_id
                && j.repo_url == new.repo_url
        }) {
            return Ok(Inserted::Existing(existing.clone()));
        }
        let now = now_millis();
        let job = ImportJob {
            id: new.id,
            workspace_id: new.workspace_id,
            todo_id: new.todo_id,
            repo_url: new.repo_url,
            state: JobState::Queued,
            progress: 0,
            error: None,
            attempt: 0,
            max_attempts: new.max_attempts.max(1),
            lease_owner: None,
            lease_expires_at: None,
            run_at: now,
            cancel_requested: false,
            created_at: now,
            updated_at: now,
        };
        if jobs.contains_key(&job.id) {
            return Err(Error::conflict(format!(
                "import job {} already exists",
                job.id
            )));
        }
        jobs.insert(job.id, job.clone());
        Ok(Inserted::Created(job))
    }

    async fn get(&self, workspace: &WorkspaceId, id: &ImportJobId) -> Result<Option<ImportJob>> {
        Ok(lock(&self.state)
            .jobs
            .get(id)
            .filter(|j| j.workspace_id == *workspace)
            .cloned())
    }

    async fn claim(&self, worker: &str, lease_for: Duration) -> Result<Option<ImportJob>> {
        let mut guard = lock(&self.state);
        let Jobs { jobs, attempts } = &mut *guard;
        let now = now_millis();
        let due = jobs
            .values_mut()
            .filter(|j| {
                matches!(j.state, JobState::Queued | JobState::RetryWait) && j.run_at <= now
            })
            .min_by_key(|j| (j.run_at, j.id));
        let Some(job) = due else { return Ok(None) };
        job.state = JobState::Running;
        job.attempt += 1;
        job.lease_owner = Some(worker.to_owned());
        job.lease_expires_at = Some(after(now, lease_for));
        job.updated_at = now;
        attempts.entry(job.id).or_default().push(AttemptRecord {
            job_id: job.id,
            attempt: job.attempt,
            worker: worker.to_owned(),
            claimed_at: now,
            ended_at: None,
            outcome: None,
        });
        Ok(Some(job.clone()))
    }

    async fn heartbeat(
        &self,
        lease: &Lease,
        progress: u8,
        lease_for: Duration,
    ) -> Result<Heartbeat> {
        let mut state = lock(&self.state);
        let jobs = &mut state.jobs;
        let now = now_millis();
        let Some(job) = Self::fenced(jobs, lease) else {
            return Ok(Heartbeat::Lost);
        };
        if job.lease_expires_at.is_some_and(|t| t < now) {
            // Expired but not yet reaped: the lease is gone all the same.
            return Ok(Heartbeat::Lost);
        }
        job.lease_expires_at = Some(after(now, lease_for));
        job.progress = job.progress.max(progress.min(100));
        job.updated_at = now;
        Ok(Heartbeat::Renewed {
            cancel_requested: job.cancel_requested,
        })
    }

    async fn finish(&self, lease: &Lease, outcome: Finish) -> Result<bool> {
        let mut guard = lock(&self.state);
        let Jobs { jobs, attempts } = &mut *guard;
        let now = now_millis();
        let Some(job) = Self::fenced(jobs, lease) else {
            return Ok(false);
        };
        job.lease_owner = None;
        job.lease_expires_at = None;
        job.updated_at = now;
        match &outcome {
            Finish::Completed => {
                job.state = JobState::Completed;
                job.progress = 100;
                job.error = None;
            }
            Finish::Failed { error } => {
                job.state = JobState::Failed;
                job.error = Some(error.clone());
            }
            Finish::Retry { error, delay } => {
                job.error = Some(error.clone());
                if job.attempt >= job.max_attempts {
                    job.state = JobState::Failed;
                } else {
                    job.state = JobState::RetryWait;
                    job.run_at = after(now, *delay);
                }
            }
            Finish::Cancelled => {
                job.state = JobState::Cancelled;
                job.error = Some(CANCELLED.to_owned());
            }
            Finish::Released => {
                job.state = JobState::Queued;
                job.attempt = job.attempt.saturating_sub(1);
                job.run_at = now;
            }
        }
        let recorded = outcome.attempt_outcome(job.state == JobState::Failed);
        end_attempt(attempts, lease.job_id, lease.attempt, now, recorded);
        Ok(true)
    }

    async fn request_cancel(
        &self,
        workspace: &WorkspaceId,
        id: &ImportJobId,
    ) -> Result<Option<ImportJob>> {
        let mut state = lock(&self.state);
        let jobs = &mut state.jobs;
        let Some(job) = jobs.get_mut(id).filter(|j| j.workspace_id == *workspace) else {
            return Ok(None);
        };
        match job.state {
            JobState::Queued | JobState::RetryWait => {
                job.state = JobState::Cancelled;
                job.error = Some(CANCELLED.to_owned());
                job.updated_at = now_millis();
            }
            JobState::Running => {
                job.cancel_requested = true;
                job.updated_at = now_millis();
            }
            JobState::Completed | JobState::Failed | JobState::Cancelled => {}
        }
        Ok(Some(job.clone()))
    }

    async fn reap_expired(&self) -> Result<Vec<ImportJobId>> {
        let mut guard = lock(&self.state);
        let Jobs { jobs, attempts } = &mut *guard;
        let now = now_millis();
        let mut reaped = Vec::new();
        for job in jobs.values_mut() {
            let expired =
                job.state == JobState::Running && job.lease_expires_at.is_some_and(|t| t < now);
            if !expired {
                continue;
            }
            job.lease_owner = None;
            job.lease_expires_at = None;
            job.updated_at = now;
            end_attempt(attempts, job.id, job.attempt, now, AttemptOutcome::Lost);
            if job.cancel_requested {
                job.state = JobState::Cancelled;
                job.error = Some(CANCELLED.to_owned());
            } else if job.attempt >= job.max_attempts {
                job.state = JobState::Failed;
                job.error = Some(WORKER_LOST.to_owned());
            } else {
                job.state = JobState::RetryWait;
                job.error = Some(WORKER_LOST.to_owned());
                job.run_at = now;
            }
            reaped.push(job.id);
        }
        Ok(reaped)
    }

    async fn prune(&self, older_than: Duration, limit: usize) -> Result<u64> {
        let mut guard = lock(&self.state);
        let Jobs { jobs, attempts } = &mut *guard;
        let cutoff =
            now_millis() - chrono::Duration::from_std(older_than).unwrap_or(chrono::Duration::MAX);
        let doomed: Vec<ImportJobId> = jobs
            .values()
            .filter(|j| j.state.is_terminal() && j.updated_at < cutoff)
            .map(|j| j.id)
            .take(limit)
            .collect();
        for id in &doomed {
            jobs.remove(id);
            attempts.remove(id);
        }
        Ok(doomed.len() as u64)
    }

    async fn attempt_history(&self, job_id: &ImportJobId) -> Result<Vec<AttemptRecord>> {
        Ok(lock(&self.state)
            .attempts
            .get(job_id)
            .cloned()
            .unwrap_or_default())
    }
}

/// Master TODOs in memory, with a bounded history of replaced versions.
#[derive(Debug)]
pub struct MemoryTodoStore {
    docs: Mutex<HashMap<WorkspaceId, (MasterTodo, Vec<MasterTodo>)>>,
    history_limit: usize,
}

impl Default for MemoryTodoStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryTodoStore {
    /// An empty store keeping the last 50 replaced versions per workspace.
    pub fn new() -> Self {
        Self::with_history_limit(50)
    }

    /// An empty store keeping the last `limit` replaced versions.
    pub fn with_history_limit(limit: usize) -> Self {
        Self {
            docs: Mutex::new(HashMap::new()),
            history_limit: limit,
        }
    }
}

#[async_trait]
impl TodoStore for MemoryTodoStore {
    async fn get(&self, workspace: &WorkspaceId) -> Result<Option<MasterTodo>> {
        Ok(lock(&self.docs).get(workspace).map(|(doc, _)| doc.clone()))
    }

    async fn put(&self, doc: &MasterTodo, expected_version: Option<u64>) -> Result<()> {
        check_put(doc, expected_version)?;
        let mut docs = lock(&self.docs);
        let actual = docs.get(&doc.workspace_id).map(|(d, _)| d.version);
        if actual != expected_version {
            return Err(version_conflict(
                &doc.workspace_id,
                expected_version,
                actual,
            ));
        }
        match docs.get_mut(&doc.workspace_id) {
            Some((current, history)) => {
                let old = std::mem::replace(current, doc.clone());
                history.insert(0, old);
                history.truncate(self.history_limit);
            }
            None => {
                docs.insert(doc.workspace_id.clone(), (doc.clone(), Vec::new()));
            }
        }
        Ok(())
    }

    async fn history(&self, workspace: &WorkspaceId, limit: usize) -> Result<Vec<MasterTodo>> {
        Ok(lock(&self.docs)
            .get(workspace)
            .map(|(_, h)| h.iter().take(limit).cloned().collect())
            .unwrap_or_default())
    }
}

/// Bytes, owning workspace and write time of one stored snapshot.
type StoredObject = (Vec<u8>, WorkspaceId, Timestamp);

/// A vault in memory.
#[derive(Debug, Default)]
pub struct MemoryVaultStore {
    objects: Mutex<BTreeMap<String, StoredObject>>,
}

impl MemoryVaultStore {
    /// An empty vault.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl VaultStore for MemoryVaultStore {
    async fn put(&self, upload: &SnapshotUpload) -> Result<PutOutcome> {
        if todo_id_from_key(&upload.key).is_none() {
            return Err(Error::validation(
                ["key"],
                format!("{:?} is not a vault snapshot key", upload.key),
            ));
        }
        let mut objects = lock(&self.objects);
        let existing = objects.get(&upload.key).map(|(b, _, _)| b.as_slice());
        let outcome = decide_put(upload, existing)?;
        if outcome == PutOutcome::Written {
            objects.insert(
                upload.key.clone(),
                (
                    upload.bytes.clone(),
                    upload.workspace_id.clone(),
                    now_millis(),
                ),
            );
        }
        Ok(outcome)
    }

    async fn get(&self, key: &str) -> Result<Option<Snapshot>> {
        Ok(lock(&self.objects)
            .get(key)
            .map(|(bytes, ws, at)| Snapshot {
                meta: SnapshotMeta {
                    key: key.to_owned(),
                    workspace_id: ws.clone(),
                    size_bytes: bytes.len() as u64,
                    updated_at: *at,
                },
                bytes: bytes.clone(),
            }))
    }

    async fn list(&self) -> Result<Vec<SnapshotMeta>> {
        Ok(lock(&self.objects)
            .iter()
            .map(|(key, (bytes, ws, at))| SnapshotMeta {
                key: key.clone(),
                workspace_id: ws.clone(),
                size_bytes: bytes.len() as u64,
                updated_at: *at,
            })
            .collect())
    }
}
