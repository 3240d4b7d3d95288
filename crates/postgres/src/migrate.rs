//! Versioned migrations of the store's schema.
//!
//! Every host runs [`migrate`] when it connects. It works inside one
//! transaction that first takes a transaction-scoped advisory lock for the
//! schema, so hosts starting at once apply each migration exactly once: the
//! others wait, then find the work done. Applied versions are rows of
//! `schema_migrations`. A database migrated by a newer build (a version this
//! build does not know) is refused with a clear error rather than used.

use todovault_core::{Error, Result};

use crate::config::{Redactor, quote_ident};
use crate::error::map_pg;

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i32 = 1;

/// One step of the schema's history. `{s}` in `sql` stands for the quoted
/// schema name.
struct Migration {
    version: i32,
    description: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "import jobs, attempt history, Master TODOs and their history",
    sql: r#"
CREATE TABLE {s}.import_jobs (
    id               text COLLATE "C" PRIMARY KEY,
    workspace_id     text COLLATE "C" NOT NULL,
    todo_id          text COLLATE "C" NOT NULL,
    repo_url         text COLLATE "C" NOT NULL,
    state            text NOT NULL CHECK (state IN ('queued', 'running', 'retry_wait', 'completed', 'failed', 'cancelled')),
    progress         smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    error            text,
    attempt          integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts     integer NOT NULL CHECK (max_attempts >= 1),
    lease_owner      text,
    lease_expires_at timestamptz,
    run_at           timestamptz NOT NULL,
    cancel_requested boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    -- A lease exists exactly while the job runs.
    CONSTRAINT import_jobs_lease_iff_running
        CHECK ((state = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
);

-- At most one active job per workspace and repository; inserts deduplicate
-- against it with ON CONFLICT.
CREATE UNIQUE INDEX import_jobs_one_active
    ON {s}.import_jobs (workspace_id, repo_url)
    WHERE state IN ('queued', 'running', 'retry_wait');
CREATE INDEX import_jobs_due ON {s}.import_jobs (run_at, id)
    WHERE state IN ('queued', 'retry_wait');
CREATE INDEX import_jobs_leases ON {s}.import_jobs (lease_expires_at)
    WHERE state = 'running';
CREATE INDEX import_jobs_finished ON {s}.import_jobs (updated_at)
    WHERE state IN ('completed', 'failed', 'cancelled');

-- Every claim and how it ended.
CREATE TABLE {s}.job_attempts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id     text COLLATE "C" NOT NULL REFERENCES {s}.import_jobs (id) ON DELETE CASCADE,
    attempt    integer NOT NULL,
    worker     text NOT NULL,
    claimed_at timestamptz NOT NULL,
    ended_at   timestamptz,
    outcome    text CHECK (outcome IN ('completed', 'failed', 'retry', 'cancelled', 'released', 'lost')),
    CONSTRAINT job_attempts_ended_with_outcome CHECK ((ended_at IS NULL) = (outcome IS NULL)),
    CONSTRAINT job_attempts_ordered CHECK (ended_at IS NULL OR ended_at >= claimed_at)
);
CREATE INDEX job_attempts_by_job ON {s}.job_attempts (job_id, id);
-- A job is never held by two attempts at once.
CREATE UNIQUE INDEX job_attempts_one_open ON {s}.job_attempts (job_id)
    WHERE ended_at IS NULL;

CREATE TABLE {s}.master_todos (
    workspace_id text COLLATE "C" PRIMARY KEY,
    version      bigint NOT NULL CHECK (version >= 1),
    -- The document exactly as serialised: text keeps key order and bytes.
    document     text NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE TABLE {s}.master_todo_history (
    workspace_id text COLLATE "C" NOT NULL,
    version      bigint NOT NULL,
    document     text NOT NULL,
    replaced_at  timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, version)
);

-- Wakes listening hosts when a job becomes claimable now. Retries that wait
-- for a later run_at are found by the hosts' regular polling.
CREATE FUNCTION {s}.notify_work() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('todovault_work_' || TG_TABLE_SCHEMA, NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER import_jobs_notify_work
    AFTER INSERT OR UPDATE OF state, run_at ON {s}.import_jobs
    FOR EACH ROW
    WHEN (NEW.state = 'queued' OR (NEW.state = 'retry_wait' AND NEW.run_at <= clock_timestamp()))
    EXECUTE FUNCTION {s}.notify_work();
"#,
}];

/// The notification channel of `schema`.
pub(crate) fn channel(schema: &str) -> String {
    format!("todovault_work_{schema}")
}

/// Brings `schema` up to [`SCHEMA_VERSION`]; returns the version found
/// before. Refuses a schema newer than this build.
pub(crate) async fn migrate(
    client: &mut tokio_postgres::Client,
    schema: &str,
    redact: &Redactor,
) -> Result<i32> {
    let q = quote_ident(schema);
    let pg = |what: &'static str| move |e: tokio_postgres::Error| map_pg(&e, what, redact);
    let tx = client
        .transaction()
        .await
        .map_err(pg("begin the migration"))?;
    // Transaction-scoped: released by COMMIT or ROLLBACK, even if this host
    // dies mid-migration.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        &[&format!("todovault:migrate:{schema}")],
    )
    .await
    .map_err(pg("take the migration lock"))?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {q};
         CREATE TABLE IF NOT EXISTS {q}.schema_migrations (
             version     integer PRIMARY KEY,
             description text NOT NULL,
             applied_at  timestamptz NOT NULL DEFAULT clock_timestamp()
         );"
    ))
    .await
    .map_err(pg("create the schema"))?;
    let found: i32 = tx
        .query_one(
            &format!("SELECT COALESCE(max(version), 0) FROM {q}.schema_migrations"),
            &[],
        )
        .await
        .map_err(pg("read the schema version"))?
        .try_get(0)
        .map_err(pg("read the schema version"))?;
    if found > SCHEMA_VERSION {
        return Err(Error::Storage {
            detail: format!(
                "the PostgreSQL schema {schema:?} is at version {found}, newer than the \
                 version {SCHEMA_VERSION} this build of todovault understands; upgrade \
                 todovault on this host (or point it at another schema)"
            ),
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > found) {
        tx.batch_execute(&m.sql.replace("{s}", &q))
            .await
            .map_err(|e| map_pg(&e, &format!("apply schema migration {}", m.version), redact))?;
        tx.execute(
            &format!("INSERT INTO {q}.schema_migrations (version, description) VALUES ($1, $2)"),
            &[&m.version, &m.description],
        )
        .await
        .map_err(pg("record a schema migration"))?;
    }
    tx.commit().await.map_err(pg("commit the migration"))?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_up_to_the_current_version() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1, "migration {i} is misnumbered");
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
    }

    #[test]
    fn the_channel_fits_a_postgres_name() {
        let longest = "s".repeat(crate::config::MAX_SCHEMA_LEN);
        assert!(channel(&longest).len() <= 63);
    }
}
