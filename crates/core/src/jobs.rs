//! Durable import jobs: the [`JobStore`] trait and the job record.
//!
//! A job moves `queued → running → completed | failed | cancelled`, with
//! `retry_wait` between attempts. Every change is one atomic compare-and-set
//! in the store. A worker owns a running job through a [`Lease`] (owner,
//! attempt, expiry on the *store's* clock) and every write it makes after the
//! claim is fenced on that lease: if the lease was lost (expired and reaped,
//! or reclaimed), the write touches nothing and the worker stops.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::api::{ImportStatusResponse, WireJobStatus};
use crate::document::Timestamp;
use crate::error::Result;
use crate::ids::{ImportJobId, TodoId, WorkspaceId};

/// The message a job fails with when its workers kept disappearing.
pub const WORKER_LOST: &str =
    "worker lost: the import was interrupted on every attempt; start it again";

/// The `error` a cancelled job shows.
pub const CANCELLED: &str = "cancelled";

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker.
    Queued,
    /// Owned by a worker holding a lease.
    Running,
    /// Failed transiently; waits until `run_at` for another attempt.
    RetryWait,
    /// Done.
    Completed,
    /// Gave up; `error` says why.
    Failed,
    /// Stopped on request.
    Cancelled,
}

impl JobState {
    /// Completed, failed or cancelled: nothing will change it again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Failed | JobState::Cancelled
        )
    }

    /// The lowercase name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::RetryWait => "retry_wait",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Parses [`JobState::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "retry_wait" => JobState::RetryWait,
            "completed" => JobState::Completed,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            _ => return None,
        })
    }
}

/// A stored import job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportJob {
    /// The job's id.
    pub id: ImportJobId,
    /// The workspace importing.
    pub workspace_id: WorkspaceId,
    /// The Master TODO the import merges into.
    pub todo_id: TodoId,
    /// The repository, credentials redacted.
    pub repo_url: String,
    /// Where the job is.
    pub state: JobState,
    /// 0–100, never lower than before.
    pub progress: u8,
    /// Why the last attempt failed (shown to pollers only once `failed`).
    pub error: Option<String>,
    /// Attempts claimed so far.
    pub attempt: u32,
    /// The bound on attempts.
    pub max_attempts: u32,
    /// The worker holding the lease, while running.
    pub lease_owner: Option<String>,
    /// When the lease runs out, on the store's clock.
    pub lease_expires_at: Option<Timestamp>,
    /// Not claimable before this time.
    pub run_at: Timestamp,
    /// Set by a cancel request while running.
    pub cancel_requested: bool,
    /// When the job was started.
    pub created_at: Timestamp,
    /// When the job last changed.
    pub updated_at: Timestamp,
}

impl ImportJob {
    /// What a poller sees: queued and retry-waiting show as `running`,
    /// cancelled as `failed` with error `cancelled`.
    pub fn to_status(&self) -> ImportStatusResponse {
        let (status, error) = match self.state {
            JobState::Queued | JobState::Running | JobState::RetryWait => {
                (WireJobStatus::Running, String::new())
            }
            JobState::Completed => (WireJobStatus::Completed, String::new()),
            JobState::Failed => (
                WireJobStatus::Failed,
                self.error
                    .clone()
                    .filter(|e| !e.is_empty())
                    .unwrap_or_else(|| "the import failed".to_owned()),
            ),
            JobState::Cancelled => (WireJobStatus::Failed, CANCELLED.to_owned()),
        };
        let progress = if self.state == JobState::Completed {
            100
        } else {
            self.progress.min(100)
        };
        ImportStatusResponse {
            id: self.id,
            status,
            progress,
            error,
        }
    }

    /// The lease a worker holds after claiming this job.
    pub fn lease(&self) -> Option<Lease> {
        self.lease_owner.as_ref().map(|owner| Lease {
            job_id: self.id,
            owner: owner.clone(),
            attempt: self.attempt,
        })
    }
}

/// What [`JobStore::insert`] is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// The new job's id.
    pub id: ImportJobId,
    /// The workspace importing.
    pub workspace_id: WorkspaceId,
    /// The Master TODO to merge into.
    pub todo_id: TodoId,
    /// The repository, credentials already redacted.
    pub repo_url: String,
    /// The bound on attempts (at least 1).
    pub max_attempts: u32,
}

/// The result of [`JobStore::insert`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// A new job was stored.
    Created(ImportJob),
    /// An active job for the same workspace and repository already exists;
    /// it is returned instead.
    Existing(ImportJob),
}

impl Inserted {
    /// The job, new or existing.
    pub fn job(&self) -> &ImportJob {
        match self {
            Inserted::Created(j) | Inserted::Existing(j) => j,
        }
    }
}

/// A worker's claim on a running job; every later write is fenced on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The job.
    pub job_id: ImportJobId,
    /// The worker.
    pub owner: String,
    /// The attempt the claim started.
    pub attempt: u32,
}

/// The result of [`JobStore::heartbeat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// The lease was renewed.
    Renewed {
        /// Someone asked for the job to stop.
        cancel_requested: bool,
    },
    /// The lease is no longer this worker's; stop without writing.
    Lost,
}

/// How an attempt ended, for [`JobStore::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Success; progress becomes 100.
    Completed,
    /// Permanent failure with a sentence for the user.
    Failed {
        /// Shown to pollers.
        error: String,
    },
    /// Transient failure: wait `delay`, then another attempt. Stores turn
    /// this into `Failed` when the attempts are used up.
    Retry {
        /// Shown to pollers if no attempt is left.
        error: String,
        /// Backoff before the next attempt.
        delay: Duration,
    },
    /// Stopped on request.
    Cancelled,
    /// Given back unfinished (graceful shutdown): queued again, and the
    /// attempt does not count.
    Released,
}

impl Finish {
    /// How the attempt ended, for the attempt history, given whether the
    /// job is `failed` afterwards: a retry with no attempt left failed it.
    pub fn attempt_outcome(&self, job_failed: bool) -> AttemptOutcome {
        match self {
            Finish::Completed => AttemptOutcome::Completed,
            Finish::Failed { .. } => AttemptOutcome::Failed,
            Finish::Retry { .. } if job_failed => AttemptOutcome::Failed,
            Finish::Retry { .. } => AttemptOutcome::Retry,
            Finish::Cancelled => AttemptOutcome::Cancelled,
            Finish::Released => AttemptOutcome::Released,
        }
    }
}

/// How one attempt at a job ended, as a store's attempt history records it.
///
/// Stores that keep an attempt history (one row per claim) close each row with
/// one of these, so tests and operators can check afterwards that no job ran on
/// two workers at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// The worker finished the job.
    Completed,
    /// The worker failed the job for good (or used up the attempts).
    Failed,
    /// The worker failed transiently and asked for another attempt. When
    /// none was left the job failed, and the attempt is recorded as
    /// [`AttemptOutcome::Failed`] instead.
    Retry,
    /// The worker stopped on a cancel request.
    Cancelled,
    /// The worker gave the job back unfinished (shutdown); the attempt does
    /// not count.
    Released,
    /// The lease ran out and the reaper took the job back.
    Lost,
}

impl AttemptOutcome {
    /// The lowercase name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Completed => "completed",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Retry => "retry",
            AttemptOutcome::Cancelled => "cancelled",
            AttemptOutcome::Released => "released",
            AttemptOutcome::Lost => "lost",
        }
    }

    /// Parses [`AttemptOutcome::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "completed" => AttemptOutcome::Completed,
            "failed" => AttemptOutcome::Failed,
            "retry" => AttemptOutcome::Retry,
            "cancelled" => AttemptOutcome::Cancelled,
            "released" => AttemptOutcome::Released,
            "lost" => AttemptOutcome::Lost,
            _ => return None,
        })
    }
}

/// One claim of a job and how it ended, as kept in a store's attempt history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The job.
    pub job_id: ImportJobId,
    /// The job's attempt number the claim started (a released attempt's
    /// number is used again by the next claim).
    pub attempt: u32,
    /// The worker that held the lease.
    pub worker: String,
    /// When the claim took the job, on the store's clock.
    pub claimed_at: Timestamp,
    /// When the attempt ended, on the store's clock; `None` while it runs.
    pub ended_at: Option<Timestamp>,
    /// How it ended; `None` while it runs.
    pub outcome: Option<AttemptOutcome>,
}

/// Durable storage of import jobs. Every method is one atomic operation.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Stores a queued job, unless an active (queued, running or
    /// retry-waiting) job exists for the same workspace and repository, which
    /// is then returned instead.
    async fn insert(&self, job: NewJob) -> Result<Inserted>;

    /// The job with this id in this workspace, if any.
    async fn get(&self, workspace: &WorkspaceId, id: &ImportJobId) -> Result<Option<ImportJob>>;

    /// Claims the due job (queued or retry-waiting with `run_at` passed) that
    /// has waited longest: state `running`, `attempt + 1`, lease to `worker`
    /// until now + `lease_for`. `None` when nothing is due.
    async fn claim(&self, worker: &str, lease_for: Duration) -> Result<Option<ImportJob>>;

    /// Renews the lease until now + `lease_for` and raises the stored progress
    /// to `progress` (never lowers it).
    async fn heartbeat(
        &self,
        lease: &Lease,
        progress: u8,
        lease_for: Duration,
    ) -> Result<Heartbeat>;

    /// Ends the attempt. Returns `false` (and changes nothing) when the lease
    /// was lost.
    async fn finish(&self, lease: &Lease, outcome: Finish) -> Result<bool>;

    /// Asks a job to stop: queued and retry-waiting jobs are cancelled at
    /// once, running ones are flagged for their worker. Returns the job as it
    /// is afterwards, `None` if there is no such job.
    async fn request_cancel(
        &self,
        workspace: &WorkspaceId,
        id: &ImportJobId,
    ) -> Result<Option<ImportJob>>;

    /// Finds running jobs whose lease expired: they wait for another attempt,
    /// or fail with [`WORKER_LOST`] when none is left (cancelled if a cancel
    /// was requested). Returns the jobs it changed. Never touches a job that
    /// is not `running`.
    async fn reap_expired(&self) -> Result<Vec<ImportJobId>>;

    /// Deletes up to `limit` terminal jobs last changed more than `older_than`
    /// ago. Returns how many were deleted.
    async fn prune(&self, older_than: Duration, limit: usize) -> Result<u64>;

    /// Every claim of the job and how it ended, oldest first: the worker,
    /// when it claimed the job, and, once the attempt is over, when and with
    /// which [`AttemptOutcome`]. Empty for an unknown (or pruned) job. A
    /// released attempt's number is used again by the next claim.
    async fn attempt_history(&self, job_id: &ImportJobId) -> Result<Vec<AttemptRecord>>;

    /// Waits until a job may have become claimable (for example because
    /// another host queued one) or `timeout` passes. Idle workers wait here
    /// between claims. Stores that can push notifications (PostgreSQL's
    /// LISTEN/NOTIFY) override it; the default simply sleeps, which makes
    /// idle workers poll every `timeout`.
    async fn wait_for_work(&self, timeout: Duration) {
        tokio::time::sleep(timeout).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_outcomes_round_trip_through_their_stored_names() {
        use AttemptOutcome::*;
        for outcome in [Completed, Failed, Retry, Cancelled, Released, Lost] {
            assert_eq!(AttemptOutcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(AttemptOutcome::parse("Completed"), None);
        assert_eq!(AttemptOutcome::parse(""), None);
    }
}
