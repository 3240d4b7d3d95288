//! [`JobStore`] on PostgreSQL, and the attempt history.
//!
//! Every trait method is one statement (insert's dedup read aside), so each
//! is atomic without explicit transactions and holds row locks only for the
//! moment it runs:
//!
//! - **claim** picks the oldest due job with `FOR UPDATE SKIP LOCKED` and
//!   updates it in the same statement, so concurrent hosts never wait on or
//!   double-claim a row; it also opens the attempt's history row.
//! - **heartbeat / finish** are fenced on (id, lease owner, attempt,
//!   `state = 'running'`): a worker whose lease was lost touches nothing.
//!   Heartbeats also refuse an expired lease. Finish closes the attempt's
//!   history row in the same statement.
//! - **reap** moves only rows that are still `running` with an expired lease,
//!   re-checked after the row lock is taken, so a job that finished (or
//!   renewed its lease) a moment earlier is never moved back.
//! - **prune** deletes a bounded batch per call.
//!
//! Times written are the database's `clock_timestamp()`, read after the row
//! lock is held: one job's attempt history is therefore ordered by the
//! database's own clock, and one attempt always ends before the next begins.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use todovault_core::document::{Timestamp, truncate_millis};
use todovault_core::jobs::{
    AttemptOutcome, AttemptRecord, CANCELLED, Finish, Heartbeat, ImportJob, Inserted, JobState,
    JobStore, Lease, NewJob, WORKER_LOST,
};
use todovault_core::{Error, ImportJobId, Result, TodoId, WorkspaceId};
use tokio_postgres::Row;

use crate::error::is_unique_violation;
use crate::{PostgresStore, micros};

const JOB_COLUMNS: &str = "id, workspace_id, todo_id, repo_url, state, progress, error, attempt, \
    max_attempts, lease_owner, lease_expires_at, run_at, cancel_requested, created_at, updated_at";

/// How many expired leases one reap handles; the next reap takes the rest.
const REAP_BATCH: i64 = 1000;

/// Statements with the schema filled in, built once per store.
pub(crate) struct Sql {
    insert: String,
    active: String,
    get: String,
    claim: String,
    heartbeat: String,
    finish: String,
    cancel: String,
    reap: String,
    prune: String,
    attempts: String,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        let active = "state IN ('queued', 'running', 'retry_wait')";
        Self {
            insert: format!(
                "INSERT INTO {s}.import_jobs (id, workspace_id, todo_id, repo_url, state, progress, \
                     attempt, max_attempts, run_at, cancel_requested, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, 'queued', 0, 0, $5, clock_timestamp(), false, \
                     clock_timestamp(), clock_timestamp())
                 ON CONFLICT (workspace_id, repo_url) WHERE {active} DO NOTHING
                 RETURNING {JOB_COLUMNS}"
            ),
            active: format!(
                "SELECT {JOB_COLUMNS} FROM {s}.import_jobs
                 WHERE workspace_id = $1 AND repo_url = $2 AND {active}"
            ),
            get: format!(
                "SELECT {JOB_COLUMNS} FROM {s}.import_jobs WHERE id = $1 AND workspace_id = $2"
            ),
            claim: format!(
                "WITH next AS (
                     SELECT id FROM {s}.import_jobs
                     WHERE state IN ('queued', 'retry_wait') AND run_at <= now()
                     ORDER BY run_at, id
                     LIMIT 1
                     FOR UPDATE SKIP LOCKED
                 ), claimed AS (
                     UPDATE {s}.import_jobs j
                     SET state = 'running',
                         attempt = j.attempt + 1,
                         lease_owner = $1,
                         lease_expires_at = clock_timestamp() + $2::bigint * interval '1 microsecond',
                         updated_at = clock_timestamp()
                     FROM next
                     WHERE j.id = next.id AND j.state IN ('queued', 'retry_wait')
                     RETURNING j.*
                 ), opened AS (
                     INSERT INTO {s}.job_attempts (job_id, attempt, worker, claimed_at)
                     SELECT id, attempt, lease_owner, updated_at FROM claimed
                 )
                 SELECT {JOB_COLUMNS} FROM claimed"
            ),
            heartbeat: format!(
                "UPDATE {s}.import_jobs
                 SET lease_expires_at = clock_timestamp() + $4::bigint * interval '1 microsecond',
                     progress = GREATEST(progress, $5::smallint),
                     updated_at = clock_timestamp()
                 WHERE id = $1 AND lease_owner = $2 AND attempt = $3 AND state = 'running'
                   AND lease_expires_at >= clock_timestamp()
                 RETURNING cancel_requested"
            ),
            // $4 is the outcome: completed | failed | retry | cancelled | released;
            // $7 how the attempt is recorded should the job end up failed
            // (`Finish::attempt_outcome`: a retry with no attempt left).
            finish: format!(
                "WITH done AS (
                     UPDATE {s}.import_jobs j
                     SET state = CASE $4::text
                             WHEN 'completed' THEN 'completed'
                             WHEN 'failed' THEN 'failed'
                             WHEN 'cancelled' THEN 'cancelled'
                             WHEN 'retry' THEN CASE WHEN j.attempt >= j.max_attempts
                                                    THEN 'failed' ELSE 'retry_wait' END
                             ELSE 'queued' END,
                         progress = CASE WHEN $4::text = 'completed' THEN 100 ELSE j.progress END,
                         error = CASE $4::text
                             WHEN 'completed' THEN NULL
                             WHEN 'cancelled' THEN '{CANCELLED}'
                             WHEN 'released' THEN j.error
                             ELSE $5::text END,
                         attempt = CASE WHEN $4::text = 'released'
                                        THEN GREATEST(j.attempt - 1, 0) ELSE j.attempt END,
                         run_at = CASE
                             WHEN $4::text = 'released' THEN clock_timestamp()
                             WHEN $4::text = 'retry' AND j.attempt < j.max_attempts
                                 THEN clock_timestamp() + $6::bigint * interval '1 microsecond'
                             ELSE j.run_at END,
                         lease_owner = NULL,
                         lease_expires_at = NULL,
                         updated_at = clock_timestamp()
                     WHERE j.id = $1 AND j.lease_owner = $2 AND j.attempt = $3 AND j.state = 'running'
                     RETURNING j.id, j.updated_at, j.state
                 ), closed AS (
                     UPDATE {s}.job_attempts a
                     SET ended_at = done.updated_at,
                         outcome = CASE WHEN done.state = 'failed' THEN $7::text
                                        ELSE $4::text END
                     FROM done
                     WHERE a.job_id = done.id AND a.ended_at IS NULL
                 )
                 SELECT count(*) FROM done"
            ),
            cancel: format!(
                "UPDATE {s}.import_jobs
                 SET state = CASE WHEN state = 'running' THEN state ELSE 'cancelled' END,
                     error = CASE WHEN state = 'running' THEN error ELSE '{CANCELLED}' END,
                     cancel_requested = cancel_requested OR state = 'running',
                     updated_at = clock_timestamp()
                 WHERE id = $1 AND workspace_id = $2 AND {active}
                 RETURNING {JOB_COLUMNS}"
            ),
            reap: format!(
                "WITH expired AS (
                     SELECT id FROM {s}.import_jobs
                     WHERE state = 'running' AND lease_expires_at < now()
                     ORDER BY lease_expires_at
                     LIMIT {REAP_BATCH}
                     FOR UPDATE SKIP LOCKED
                 ), reaped AS (
                     UPDATE {s}.import_jobs j
                     SET state = CASE WHEN j.cancel_requested THEN 'cancelled'
                                      WHEN j.attempt >= j.max_attempts THEN 'failed'
                                      ELSE 'retry_wait' END,
                         error = CASE WHEN j.cancel_requested THEN '{CANCELLED}' ELSE $1::text END,
                         run_at = CASE WHEN NOT j.cancel_requested AND j.attempt < j.max_attempts
                                       THEN clock_timestamp() ELSE j.run_at END,
                         lease_owner = NULL,
                         lease_expires_at = NULL,
                         updated_at = clock_timestamp()
                     FROM expired
                     -- Re-checked on the locked row: a job that finished or
                     -- renewed its lease meanwhile is left alone.
                     WHERE j.id = expired.id AND j.state = 'running'
                       AND j.lease_expires_at < clock_timestamp()
                     RETURNING j.id, j.updated_at
                 ), closed AS (
                     UPDATE {s}.job_attempts a
                     SET ended_at = reaped.updated_at, outcome = 'lost'
                     FROM reaped
                     WHERE a.job_id = reaped.id AND a.ended_at IS NULL
                 )
                 SELECT id FROM reaped"
            ),
            prune: format!(
                "WITH gone AS (
                     DELETE FROM {s}.import_jobs WHERE id IN (
                         SELECT id FROM {s}.import_jobs
                         WHERE state IN ('completed', 'failed', 'cancelled')
                           AND updated_at < now() - $1::bigint * interval '1 microsecond'
                         ORDER BY updated_at
                         LIMIT $2
                         FOR UPDATE SKIP LOCKED)
                     RETURNING id
                 )
                 SELECT count(*) FROM gone"
            ),
            attempts: format!(
                "SELECT job_id, attempt, worker, claimed_at, ended_at, outcome
                 FROM {s}.job_attempts WHERE job_id = $1 ORDER BY id"
            ),
        }
    }
}

fn unreadable(what: &str, e: impl std::fmt::Display) -> Error {
    Error::storage(format!("a stored import job is unreadable ({what}): {e}"))
}

fn job_from_row(row: &Row) -> Result<ImportJob> {
    let text = |i: usize| -> Result<String> { row.try_get(i).map_err(|e| unreadable("text", e)) };
    let opt_text =
        |i: usize| -> Result<Option<String>> { row.try_get(i).map_err(|e| unreadable("text", e)) };
    let time = |i: usize| -> Result<Timestamp> {
        row.try_get::<_, DateTime<Utc>>(i)
            .map(truncate_millis)
            .map_err(|e| unreadable("time", e))
    };
    let count = |i: usize| -> Result<u32> {
        let n: i32 = row.try_get(i).map_err(|e| unreadable("count", e))?;
        u32::try_from(n).map_err(|e| unreadable("count", e))
    };
    let id = text(0)?;
    let state = text(4)?;
    let progress: i16 = row.try_get(5).map_err(|e| unreadable("progress", e))?;
    Ok(ImportJob {
        id: ImportJobId::parse(&id).map_err(|e| unreadable("id", e.0))?,
        workspace_id: WorkspaceId::parse(&text(1)?).map_err(|e| unreadable("workspace", e.0))?,
        todo_id: TodoId::parse(&text(2)?).map_err(|e| unreadable("todo id", e.0))?,
        repo_url: text(3)?,
        state: JobState::parse(&state).ok_or_else(|| unreadable("state", &state))?,
        progress: u8::try_from(progress.clamp(0, 100)).unwrap_or(100),
        error: opt_text(6)?,
        attempt: count(7)?,
        max_attempts: count(8)?,
        lease_owner: opt_text(9)?,
        lease_expires_at: row
            .try_get::<_, Option<DateTime<Utc>>>(10)
            .map_err(|e| unreadable("lease expiry", e))?
            .map(truncate_millis),
        run_at: time(11)?,
        cancel_requested: row.try_get(12).map_err(|e| unreadable("cancel flag", e))?,
        created_at: time(13)?,
        updated_at: time(14)?,
    })
}

/// The lease's attempt as stored, or `None` if no stored attempt can match.
fn stored_attempt(lease: &Lease) -> Option<i32> {
    i32::try_from(lease.attempt).ok()
}

#[async_trait]
impl JobStore for PostgresStore {
    /// Every claim of `job_id` and how it ended, oldest first. Empty for an
    /// unknown (or pruned) job.
    async fn attempt_history(&self, job_id: &ImportJobId) -> Result<Vec<AttemptRecord>> {
        let sql = &self.inner.sql.attempts;
        let id = job_id.to_string();
        let rows = self.rows("read the attempt history", sql, &[&id]).await?;
        rows.iter()
            .map(|row| {
                let bad = |e: &dyn std::fmt::Display| {
                    Error::storage(format!(
                        "a stored attempt of job {job_id} is unreadable: {e}"
                    ))
                };
                let attempt: i32 = row.try_get(1).map_err(|e| bad(&e))?;
                let outcome: Option<String> = row.try_get(5).map_err(|e| bad(&e))?;
                Ok(AttemptRecord {
                    job_id: *job_id,
                    attempt: u32::try_from(attempt).map_err(|e| bad(&e))?,
                    worker: row.try_get(2).map_err(|e| bad(&e))?,
                    claimed_at: row.try_get(3).map_err(|e| bad(&e))?,
                    ended_at: row.try_get(4).map_err(|e| bad(&e))?,
                    outcome: match outcome {
                        Some(o) => Some(AttemptOutcome::parse(&o).ok_or_else(|| bad(&o))?),
                        None => None,
                    },
                })
            })
            .collect()
    }

    /// Idle workers sleep until another host's NOTIFY (an insert, a release
    /// or an immediate retry) or the timeout, instead of polling.
    async fn wait_for_work(&self, timeout: std::time::Duration) {
        PostgresStore::wait_for_work(self, timeout).await;
    }

    async fn insert(&self, new: NewJob) -> Result<Inserted> {
        let sql = &self.inner.sql;
        let id = new.id.to_string();
        let ws = new.workspace_id.as_str();
        let todo = new.todo_id.to_string();
        let max_attempts = i32::try_from(new.max_attempts.max(1)).unwrap_or(i32::MAX);
        // The insert and the read of the job it collided with are two
        // statements; if that job ends in between, insert again.
        for _ in 0..8 {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(&sql.insert)
                .await
                .map_err(|e| self.pg(&e, "insert an import job"))?;
            let inserted = client
                .query_opt(&stmt, &[&id, &ws, &todo, &new.repo_url, &max_attempts])
                .await;
            match inserted {
                Ok(Some(row)) => return Ok(Inserted::Created(job_from_row(&row)?)),
                Ok(None) => {}
                Err(e) if is_unique_violation(&e, "import_jobs_pkey") => {
                    return Err(Error::conflict(format!(
                        "import job {} already exists",
                        new.id
                    )));
                }
                Err(e) => return Err(self.pg(&e, "insert an import job")),
            }
            let stmt = client
                .prepare_cached(&sql.active)
                .await
                .map_err(|e| self.pg(&e, "read the active import job"))?;
            let existing = client
                .query_opt(&stmt, &[&ws, &new.repo_url])
                .await
                .map_err(|e| self.pg(&e, "read the active import job"))?;
            if let Some(row) = existing {
                return Ok(Inserted::Existing(job_from_row(&row)?));
            }
        }
        Err(Error::conflict(format!(
            "import jobs for {} in workspace {} kept starting and ending; try again",
            new.repo_url, new.workspace_id
        )))
    }

    async fn get(&self, workspace: &WorkspaceId, id: &ImportJobId) -> Result<Option<ImportJob>> {
        let sql = &self.inner.sql.get;
        let id = id.to_string();
        let ws = workspace.as_str();
        let row = self.row("read an import job", sql, &[&id, &ws]).await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn claim(&self, worker: &str, lease_for: Duration) -> Result<Option<ImportJob>> {
        let sql = &self.inner.sql.claim;
        let lease = micros(lease_for);
        let row = self
            .row("claim an import job", sql, &[&worker, &lease])
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn heartbeat(
        &self,
        lease: &Lease,
        progress: u8,
        lease_for: Duration,
    ) -> Result<Heartbeat> {
        let Some(attempt) = stored_attempt(lease) else {
            return Ok(Heartbeat::Lost);
        };
        let sql = &self.inner.sql.heartbeat;
        let id = lease.job_id.to_string();
        let lease_micros = micros(lease_for);
        let progress = i16::from(progress.min(100));
        let row = self
            .row(
                "renew a job lease",
                sql,
                &[&id, &lease.owner, &attempt, &lease_micros, &progress],
            )
            .await?;
        match row {
            Some(row) => Ok(Heartbeat::Renewed {
                cancel_requested: row.try_get(0).map_err(|e| unreadable("cancel flag", e))?,
            }),
            None => Ok(Heartbeat::Lost),
        }
    }

    async fn finish(&self, lease: &Lease, outcome: Finish) -> Result<bool> {
        let Some(attempt) = stored_attempt(lease) else {
            return Ok(false);
        };
        let (error, delay) = match &outcome {
            Finish::Failed { error } => (Some(error.as_str()), 0),
            Finish::Retry { error, delay } => (Some(error.as_str()), micros(*delay)),
            Finish::Completed | Finish::Cancelled | Finish::Released => (None, 0),
        };
        let sql = &self.inner.sql.finish;
        let id = lease.job_id.to_string();
        let kind = outcome.attempt_outcome(false).as_str();
        let if_failed = outcome.attempt_outcome(true).as_str();
        let row = self
            .one_row(
                "finish an import job attempt",
                sql,
                &[
                    &id,
                    &lease.owner,
                    &attempt,
                    &kind,
                    &error,
                    &delay,
                    &if_failed,
                ],
            )
            .await?;
        let changed: i64 = row.try_get(0).map_err(|e| unreadable("count", e))?;
        Ok(changed > 0)
    }

    async fn request_cancel(
        &self,
        workspace: &WorkspaceId,
        id: &ImportJobId,
    ) -> Result<Option<ImportJob>> {
        let sql = &self.inner.sql.cancel;
        let job = id.to_string();
        let ws = workspace.as_str();
        let row = self.row("cancel an import job", sql, &[&job, &ws]).await?;
        match row {
            Some(row) => job_from_row(&row).map(Some),
            // Finished (nothing to change) or not there at all.
            None => self.get(workspace, id).await,
        }
    }

    async fn reap_expired(&self) -> Result<Vec<ImportJobId>> {
        let sql = &self.inner.sql.reap;
        let rows = self
            .rows("reap expired job leases", sql, &[&WORKER_LOST])
            .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get(0).map_err(|e| unreadable("id", e))?;
                ImportJobId::parse(&id).map_err(|e| unreadable("id", e.0))
            })
            .collect()
    }

    async fn prune(&self, older_than: Duration, limit: usize) -> Result<u64> {
        if limit == 0 {
            return Ok(0);
        }
        let sql = &self.inner.sql.prune;
        let age = micros(older_than);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let row = self
            .one_row("prune finished import jobs", sql, &[&age, &limit])
            .await?;
        let gone: i64 = row.try_get(0).map_err(|e| unreadable("count", e))?;
        Ok(u64::try_from(gone).unwrap_or(0))
    }
}

impl PostgresStore {
    fn pg(&self, e: &tokio_postgres::Error, what: &str) -> Error {
        crate::error::map_pg(e, what, &self.inner.redact)
    }
}
