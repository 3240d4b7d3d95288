//! [`JobStore`] on SQLite, and the attempt history.
//!
//! Each write runs in a `BEGIN IMMEDIATE` transaction on the writer thread
//! (in its own savepoint when grouped with other queued writes); a status
//! poll is a point read on a read connection on the calling thread. A claim is one
//! `UPDATE … WHERE id = (SELECT … ORDER BY run_at, id LIMIT 1) RETURNING …`;
//! every write after it is fenced on job id, lease owner, attempt and
//! `state = 'running'`, and touching no row means the lease was lost. Times
//! come from SQLite's clock inside the statement that uses them.
//!
//! Every claim adds a row to `job_attempts`, closed with its outcome when the
//! attempt ends (finished by its worker, or reaped as `lost`), so anyone can
//! check afterwards that no job ran on two workers at once.

use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use todovault_core::document::Timestamp;
use todovault_core::jobs::{
    AttemptOutcome, AttemptRecord, CANCELLED, Finish, Heartbeat, ImportJob, Inserted, JobState,
    JobStore, Lease, NewJob, WORKER_LOST,
};
use todovault_core::{Error, ImportJobId, Result, TodoId, WorkspaceId};

use crate::error::StoreResult;
use crate::schema::now_ms;
use crate::store::SqliteStore;

/// The columns every job query returns, in [`read_job`]'s order.
macro_rules! job_columns {
    () => {
        "id, workspace_id, todo_id, repo_url, state, progress, error, attempt, max_attempts, \
         lease_owner, lease_expires_at, run_at, cancel_requested, created_at, updated_at"
    };
}

/// A job row as stored, before its ids and times are checked.
struct RawJob {
    id: String,
    workspace_id: String,
    todo_id: String,
    repo_url: String,
    state: String,
    progress: i64,
    error: Option<String>,
    attempt: i64,
    max_attempts: i64,
    lease_owner: Option<String>,
    lease_expires_at: Option<i64>,
    run_at: i64,
    cancel_requested: i64,
    created_at: i64,
    updated_at: i64,
}

fn read_job(r: &Row<'_>) -> rusqlite::Result<RawJob> {
    Ok(RawJob {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        todo_id: r.get(2)?,
        repo_url: r.get(3)?,
        state: r.get(4)?,
        progress: r.get(5)?,
        error: r.get(6)?,
        attempt: r.get(7)?,
        max_attempts: r.get(8)?,
        lease_owner: r.get(9)?,
        lease_expires_at: r.get(10)?,
        run_at: r.get(11)?,
        cancel_requested: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

impl RawJob {
    fn into_job(self) -> Result<ImportJob> {
        let id = &self.id;
        Ok(ImportJob {
            id: id
                .parse::<ImportJobId>()
                .map_err(|e| corrupt(id, format!("bad job id: {e}")))?,
            workspace_id: WorkspaceId::parse(&self.workspace_id)
                .map_err(|e| corrupt(id, format!("bad workspace id: {e}")))?,
            todo_id: self
                .todo_id
                .parse::<TodoId>()
                .map_err(|e| corrupt(id, format!("bad todo id: {e}")))?,
            repo_url: self.repo_url,
            state: JobState::parse(&self.state)
                .ok_or_else(|| corrupt(id, format!("unknown state {:?}", self.state)))?,
            progress: u8::try_from(self.progress.clamp(0, 100)).unwrap_or(100),
            error: self.error,
            attempt: to_u32(self.attempt, id, "attempt")?,
            max_attempts: to_u32(self.max_attempts, id, "max_attempts")?,
            lease_owner: self.lease_owner,
            lease_expires_at: self.lease_expires_at.map(|t| to_time(t, id)).transpose()?,
            run_at: to_time(self.run_at, id)?,
            cancel_requested: self.cancel_requested != 0,
            created_at: to_time(self.created_at, id)?,
            updated_at: to_time(self.updated_at, id)?,
        })
    }
}

fn corrupt(job: &str, what: String) -> Error {
    Error::storage(format!("the stored import job {job} is unreadable: {what}"))
}

fn to_time(ms: i64, job: &str) -> Result<Timestamp> {
    chrono::DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| corrupt(job, format!("time {ms} is out of range")))
}

fn to_u32(v: i64, job: &str, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| corrupt(job, format!("{what} {v} is out of range")))
}

/// Milliseconds for SQL arithmetic, capped far below overflow.
pub(crate) fn millis(d: Duration) -> i64 {
    const CAP: i64 = i64::MAX / 4;
    i64::try_from(d.as_millis()).unwrap_or(CAP).min(CAP)
}

fn job_by_id(conn: &Connection, workspace: &str, id: &str) -> StoreResult<Option<ImportJob>> {
    let raw = conn
        .prepare_cached(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE id = ?1 AND workspace_id = ?2"
        ))?
        .query_row(params![id, workspace], read_job)
        .optional()?;
    Ok(raw.map(RawJob::into_job).transpose()?)
}

/// Whether `e` is a duplicate primary key (a job id that is taken).
fn is_primary_key_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Closes the open attempt `attempt` of `job` with `outcome` at `at`.
fn end_attempt(
    conn: &Connection,
    job: &str,
    attempt: i64,
    at: i64,
    outcome: AttemptOutcome,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE job_attempts SET ended_at = ?3, outcome = ?4 \
         WHERE job_id = ?1 AND attempt = ?2 AND ended_at IS NULL",
    )?
    .execute(params![job, attempt, at, outcome.as_str()])?;
    Ok(())
}

#[async_trait]
impl JobStore for SqliteStore {
    /// One idle worker wakes soon after another connection to the database
    /// (another process, another store on the same file) commits; the others
    /// wait for the next commit or `timeout`. A private in-memory database
    /// just waits.
    async fn wait_for_work(&self, timeout: Duration) {
        match self.commit_watcher().await {
            Some(watcher) => {
                let _ = tokio::time::timeout(timeout, watcher.commit_elsewhere()).await;
            }
            None => tokio::time::sleep(timeout).await,
        }
    }

    /// Every attempt of `job_id`, oldest first: who claimed it, when, and
    /// how each attempt ended. Deleted with the job when it is pruned.
    async fn attempt_history(&self, job_id: &ImportJobId) -> Result<Vec<AttemptRecord>> {
        let id = job_id.to_string();
        self.read("reading a job's attempt history", move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT job_id, attempt, worker, claimed_at, ended_at, outcome \
                 FROM job_attempts WHERE job_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([&id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (job, attempt, worker, claimed, ended, outcome) = row?;
                let job_id = job
                    .parse::<ImportJobId>()
                    .map_err(|e| corrupt(&job, format!("bad job id: {e}")))?;
                let outcome = match outcome {
                    Some(o) => Some(
                        AttemptOutcome::parse(&o)
                            .ok_or_else(|| corrupt(&job, format!("unknown outcome {o:?}")))?,
                    ),
                    None => None,
                };
                out.push(AttemptRecord {
                    job_id,
                    attempt: to_u32(attempt, &job, "attempt")?,
                    worker,
                    claimed_at: to_time(claimed, &job)?,
                    ended_at: ended.map(|t| to_time(t, &job)).transpose()?,
                    outcome,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn insert(&self, new: NewJob) -> Result<Inserted> {
        let id = new.id.to_string();
        let workspace = new.workspace_id.to_string();
        let todo = new.todo_id.to_string();
        let repo = new.repo_url;
        let max_attempts = i64::from(new.max_attempts.max(1));
        self.write("starting an import job", move |conn| {
            // One statement on the common path: the insert yields to an
            // active import of the same repository (the partial unique
            // index), and a taken id fails the primary key.
            let inserted = conn
                .prepare_cached(concat!(
                    "INSERT INTO jobs (id, workspace_id, todo_id, repo_url, state, progress, \
                     attempt, max_attempts, run_at, cancel_requested, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, 'queued', 0, 0, ?5, ",
                    now_ms!(),
                    ", 0, ",
                    now_ms!(),
                    ", ",
                    now_ms!(),
                    ") ON CONFLICT (workspace_id, repo_url) \
                       WHERE state IN ('queued', 'running', 'retry_wait') DO NOTHING \
                     RETURNING ",
                    job_columns!()
                ))?
                .query_row(params![id, workspace, todo, repo, max_attempts], read_job)
                .optional();
            let id_taken = match inserted {
                Ok(Some(job)) => return Ok(Inserted::Created(job.into_job()?)),
                Ok(None) => false,
                Err(e) if is_primary_key_violation(&e) => true,
                Err(e) => return Err(e.into()),
            };
            // An active import of the repository wins over a taken id, as
            // in the reference store.
            let existing = conn
                .prepare_cached(concat!(
                    "SELECT ",
                    job_columns!(),
                    " FROM jobs WHERE workspace_id = ?1 AND repo_url = ?2 \
                      AND state IN ('queued', 'running', 'retry_wait')"
                ))?
                .query_row(params![workspace, repo], read_job)
                .optional()?;
            match existing {
                Some(existing) => Ok(Inserted::Existing(existing.into_job()?)),
                None if id_taken => {
                    Err(Error::conflict(format!("import job {id} already exists")).into())
                }
                None => Err(Error::internal(format!(
                    "inserting import job {id} yielded to an active import of {repo} that \
                     cannot be found"
                ))
                .into()),
            }
        })
        .await
    }

    async fn get(&self, workspace: &WorkspaceId, id: &ImportJobId) -> Result<Option<ImportJob>> {
        let workspace = workspace.to_string();
        let id = id.to_string();
        self.read_point("reading an import job", move |conn| {
            job_by_id(conn, &workspace, &id)
        })
        .await
    }

    async fn claim(&self, worker: &str, lease_for: Duration) -> Result<Option<ImportJob>> {
        let worker = worker.to_owned();
        let lease_ms = millis(lease_for);
        self.write("claiming an import job", move |conn| {
            let claimed = conn
                .prepare_cached(concat!(
                    "UPDATE jobs SET state = 'running', attempt = attempt + 1, \
                     lease_owner = ?1, lease_expires_at = ",
                    now_ms!(),
                    " + ?2, updated_at = ",
                    now_ms!(),
                    " WHERE id = (SELECT id FROM jobs \
                       WHERE state IN ('queued', 'retry_wait') AND run_at <= ",
                    now_ms!(),
                    " ORDER BY run_at, id LIMIT 1) RETURNING ",
                    job_columns!()
                ))?
                .query_row(params![worker, lease_ms], read_job)
                .optional()?;
            let Some(raw) = claimed else {
                return Ok(None);
            };
            conn.prepare_cached(
                "INSERT INTO job_attempts (job_id, attempt, worker, claimed_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![raw.id, raw.attempt, worker, raw.updated_at])?;
            let job = raw.into_job()?;
            Ok(Some(job))
        })
        .await
    }

    async fn heartbeat(
        &self,
        lease: &Lease,
        progress: u8,
        lease_for: Duration,
    ) -> Result<Heartbeat> {
        let id = lease.job_id.to_string();
        let owner = lease.owner.clone();
        let attempt = i64::from(lease.attempt);
        let progress = i64::from(progress.min(100));
        let lease_ms = millis(lease_for);
        self.write("renewing a job lease", move |conn| {
            let renewed = conn
                .prepare_cached(concat!(
                    "UPDATE jobs SET lease_expires_at = ",
                    now_ms!(),
                    " + ?4, progress = max(progress, ?5), updated_at = ",
                    now_ms!(),
                    " WHERE id = ?1 AND lease_owner = ?2 AND attempt = ?3 \
                       AND state = 'running' AND lease_expires_at >= ",
                    now_ms!(),
                    " RETURNING cancel_requested"
                ))?
                .query_row(params![id, owner, attempt, lease_ms, progress], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()?;
            Ok(match renewed {
                Some(cancel) => Heartbeat::Renewed {
                    cancel_requested: cancel != 0,
                },
                None => Heartbeat::Lost,
            })
        })
        .await
    }

    async fn finish(&self, lease: &Lease, outcome: Finish) -> Result<bool> {
        let id = lease.job_id.to_string();
        let owner = lease.owner.clone();
        let attempt = i64::from(lease.attempt);
        self.write("storing the result of an import attempt", move |conn| {
            // Every variant is fenced the same way: ?1 id, ?2 owner, ?3 attempt.
            macro_rules! fenced {
                ($set:expr) => {
                    concat!(
                        "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL, \
                         updated_at = ",
                        now_ms!(),
                        ", ",
                        $set,
                        " WHERE id = ?1 AND lease_owner = ?2 AND attempt = ?3 \
                           AND state = 'running' RETURNING state, updated_at"
                    )
                };
            }
            type Ended = Option<(String, i64)>;
            let ended = |r: &Row<'_>| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?));
            let base = params![id, owner, attempt];
            let row: Ended = match &outcome {
                Finish::Completed => conn
                    .prepare_cached(fenced!("state = 'completed', progress = 100, error = NULL"))?
                    .query_row(base, ended)
                    .optional()?,
                Finish::Failed { error } => conn
                    .prepare_cached(fenced!("state = 'failed', error = ?4"))?
                    .query_row(params![id, owner, attempt, error], ended)
                    .optional()?,
                Finish::Retry { error, delay } => conn
                    .prepare_cached(fenced!(concat!(
                        "error = ?4, \
                         state = CASE WHEN attempt >= max_attempts THEN 'failed' \
                                      ELSE 'retry_wait' END, \
                         run_at = CASE WHEN attempt >= max_attempts THEN run_at ELSE ",
                        now_ms!(),
                        " + ?5 END"
                    )))?
                    .query_row(params![id, owner, attempt, error, millis(*delay)], ended)
                    .optional()?,
                Finish::Cancelled => conn
                    .prepare_cached(fenced!("state = 'cancelled', error = ?4"))?
                    .query_row(params![id, owner, attempt, CANCELLED], ended)
                    .optional()?,
                Finish::Released => conn
                    .prepare_cached(fenced!(concat!(
                        "state = 'queued', attempt = max(attempt - 1, 0), run_at = ",
                        now_ms!()
                    )))?
                    .query_row(base, ended)
                    .optional()?,
            };
            let Some((state, at)) = row else {
                return Ok(false);
            };
            let how = outcome.attempt_outcome(state == "failed");
            end_attempt(conn, &id, attempt, at, how)?;
            Ok(true)
        })
        .await
    }

    async fn request_cancel(
        &self,
        workspace: &WorkspaceId,
        id: &ImportJobId,
    ) -> Result<Option<ImportJob>> {
        let workspace = workspace.to_string();
        let id = id.to_string();
        self.write("cancelling an import job", move |conn| {
            // SET expressions all see the row as it was, so `state` below is
            // the state before the cancel.
            let changed = conn
                .prepare_cached(concat!(
                    "UPDATE jobs SET \
                       state = CASE WHEN state = 'running' THEN 'running' ELSE 'cancelled' END, \
                       error = CASE WHEN state = 'running' THEN error ELSE ?3 END, \
                       cancel_requested = CASE WHEN state = 'running' THEN 1 \
                                               ELSE cancel_requested END, \
                       updated_at = ",
                    now_ms!(),
                    " WHERE id = ?1 AND workspace_id = ?2 \
                        AND state IN ('queued', 'retry_wait', 'running') \
                      RETURNING ",
                    job_columns!()
                ))?
                .query_row(params![id, workspace, CANCELLED], read_job)
                .optional()?;
            let job = match changed {
                Some(raw) => Some(raw.into_job()?),
                None => job_by_id(conn, &workspace, &id)?,
            };
            Ok(job)
        })
        .await
    }

    async fn reap_expired(&self) -> Result<Vec<ImportJobId>> {
        self.write("reaping expired job leases", move |conn| {
            let reaped: Vec<(String, i64, i64)> = {
                let mut stmt = conn.prepare_cached(concat!(
                    "UPDATE jobs SET \
                       state = CASE WHEN cancel_requested <> 0 THEN 'cancelled' \
                                    WHEN attempt >= max_attempts THEN 'failed' \
                                    ELSE 'retry_wait' END, \
                       error = CASE WHEN cancel_requested <> 0 THEN ?2 ELSE ?1 END, \
                       run_at = CASE WHEN cancel_requested = 0 AND attempt < max_attempts THEN ",
                    now_ms!(),
                    " ELSE run_at END, \
                       lease_owner = NULL, lease_expires_at = NULL, updated_at = ",
                    now_ms!(),
                    " WHERE state = 'running' AND lease_expires_at < ",
                    now_ms!(),
                    " RETURNING id, attempt, updated_at"
                ))?;
                let rows = stmt.query_map(params![WORKER_LOST, CANCELLED], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let mut ids = Vec::with_capacity(reaped.len());
            for (id, attempt, at) in &reaped {
                end_attempt(conn, id, *attempt, *at, AttemptOutcome::Lost)?;
                ids.push(
                    id.parse::<ImportJobId>()
                        .map_err(|e| corrupt(id, format!("bad job id: {e}")))?,
                );
            }
            Ok(ids)
        })
        .await
    }

    async fn prune(&self, older_than: Duration, limit: usize) -> Result<u64> {
        let age_ms = millis(older_than);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let deleted = self
            .write("pruning finished import jobs", move |conn| {
                let deleted = conn
                    .prepare_cached(concat!(
                        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
                           WHERE state IN ('completed', 'failed', 'cancelled') AND updated_at < ",
                        now_ms!(),
                        " - ?1 ORDER BY updated_at LIMIT ?2)"
                    ))?
                    .execute(params![age_ms, limit])?;
                Ok(deleted as u64)
            })
            .await?;
        // Deleting in batches keeps the pages for reuse (no VACUUM); the
        // checkpoint keeps the write-ahead log from growing meanwhile.
        if let Err(e) = self.checkpoint().await {
            tracing::warn!(error = %e, "WAL checkpoint after pruning failed");
        }
        Ok(deleted)
    }
}
