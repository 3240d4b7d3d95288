//! The database schema and its migrations.
//!
//! The schema version lives in `PRAGMA user_version`; migrations run at open,
//! all of them in one `BEGIN IMMEDIATE` transaction, so a crash mid-migration
//! leaves the previous schema and several processes opening a fresh file at
//! once migrate it exactly once. `PRAGMA application_id` marks the file as
//! todovault's, so another application's SQLite database is never written
//! to by mistake.
//!
//! All times are integers: unix milliseconds on SQLite's clock, which compare
//! correctly and survive a round trip exactly.

use rusqlite::{Connection, TransactionBehavior};
use todovault_core::Error;

use crate::error::StoreResult;

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = 1;

/// `PRAGMA application_id` of a todovault database (`"TDVT"`).
pub(crate) const APPLICATION_ID: i64 = 0x5444_5654;

/// SQLite's current time in unix milliseconds. SQLite keeps `'now'` fixed
/// within one statement, so every use in a statement agrees.
macro_rules! now_ms {
    () => {
        "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)"
    };
}
pub(crate) use now_ms;

/// Migration `n` (1-based) brings the schema from version `n - 1` to `n`.
const MIGRATIONS: &[&str] = &[
    // 1: jobs, their attempts, Master TODOs and their history.
    r#"
    CREATE TABLE jobs (
        id               TEXT    NOT NULL PRIMARY KEY,
        workspace_id     TEXT    NOT NULL,
        todo_id          TEXT    NOT NULL,
        repo_url         TEXT    NOT NULL,
        state            TEXT    NOT NULL CHECK (state IN
                             ('queued', 'running', 'retry_wait', 'completed', 'failed', 'cancelled')),
        progress         INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
        error            TEXT,
        attempt          INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
        max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
        lease_owner      TEXT,
        lease_expires_at INTEGER,
        run_at           INTEGER NOT NULL,
        cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        CHECK ((state = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
    ) STRICT;
    -- At most one active import per workspace and repository, whatever the
    -- number of processes inserting.
    CREATE UNIQUE INDEX jobs_one_active_import ON jobs (workspace_id, repo_url)
        WHERE state IN ('queued', 'running', 'retry_wait');
    CREATE INDEX jobs_due ON jobs (run_at, id) WHERE state IN ('queued', 'retry_wait');
    CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running';
    CREATE INDEX jobs_finished ON jobs (updated_at)
        WHERE state IN ('completed', 'failed', 'cancelled');

    CREATE TABLE job_attempts (
        seq        INTEGER NOT NULL PRIMARY KEY,
        job_id     TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        attempt    INTEGER NOT NULL,
        worker     TEXT    NOT NULL,
        claimed_at INTEGER NOT NULL,
        ended_at   INTEGER,
        outcome    TEXT CHECK (outcome IN
                       ('completed', 'failed', 'retry', 'cancelled', 'released', 'lost')),
        CHECK ((ended_at IS NULL) = (outcome IS NULL))
    ) STRICT;
    CREATE INDEX job_attempts_by_job ON job_attempts (job_id, seq);

    CREATE TABLE todos (
        workspace_id TEXT    NOT NULL PRIMARY KEY,
        todo_id      TEXT    NOT NULL,
        version      INTEGER NOT NULL CHECK (version >= 1),
        document     TEXT    NOT NULL,
        updated_at   INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE todo_history (
        workspace_id TEXT    NOT NULL REFERENCES todos (workspace_id) ON DELETE CASCADE,
        version      INTEGER NOT NULL,
        todo_id      TEXT    NOT NULL,
        document     TEXT    NOT NULL,
        replaced_at  INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, version)
    ) STRICT;
    "#,
];

/// Checks the file is todovault's (or empty) and brings its schema to
/// [`SCHEMA_VERSION`]. `path` only names the file in errors.
pub(crate) fn migrate(conn: &mut Connection, path: &str) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let app_id: i64 = tx.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let objects: i64 = tx.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    let ours = app_id == APPLICATION_ID || (app_id == 0 && version == 0 && objects == 0);
    if !ours {
        return Err(Error::storage(format!(
            "{path} is not a todovault SQLite database: it is an SQLite database of another \
             application (application_id {app_id:#x}, user_version {version}, {objects} schema \
             objects); point the store at another file"
        ))
        .into());
    }
    if version > SCHEMA_VERSION {
        return Err(Error::storage(format!(
            "the SQLite database {path} has schema version {version}, written by a newer \
             todovault; this build understands schema versions up to {SCHEMA_VERSION}, so \
             upgrade todovault to open it"
        ))
        .into());
    }
    if version < 0 {
        return Err(Error::storage(format!(
            "the SQLite database {path} has an invalid schema version {version}"
        ))
        .into());
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_version_has_a_migration() {
        assert_eq!(MIGRATIONS.len() as i64, SCHEMA_VERSION);
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("open: {e}"));
        migrate(&mut conn, ":memory:").unwrap_or_else(|e| panic!("first: {e:?}"));
        migrate(&mut conn, ":memory:").unwrap_or_else(|e| panic!("second: {e:?}"));
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(version, SCHEMA_VERSION);
    }
}
