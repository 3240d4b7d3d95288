//! # todovault-postgres
//!
//! [`JobStore`](todovault_core::JobStore) and
//! [`TodoStore`](todovault_core::TodoStore) on PostgreSQL, for deployments
//! where several engine hosts share one database (and one object-storage
//! vault).
//!
//! - **Jobs** are claimed with one `FOR UPDATE SKIP LOCKED` statement, so
//!   hosts never wait on each other's claims. Leases run on the database's
//!   clock. Every write after a claim is fenced on (job id, lease owner,
//!   attempt, `state = 'running'`), and so is the reaper, so a finished job
//!   can never be moved back. Every claim and how it ended is kept in an
//!   attempt history ([`JobStore::attempt_history`](todovault_core::jobs::JobStore::attempt_history)); a unique index
//!   makes it impossible for one job to have two open attempts.
//! - **Idle workers** are woken by LISTEN/NOTIFY
//!   ([`PostgresStore::notifications`], [`PostgresStore::wait_for_work`])
//!   rather than by tight polling.
//! - **Master TODOs** are stored as the exact JSON text written, with
//!   compare-and-set on the version and a bounded history of replaced
//!   versions.
//! - **Migrations** are versioned and run at connect under an advisory lock;
//!   a schema newer than this build is refused.
//!
//! ```no_run
//! # async fn demo() -> todovault_core::Result<()> {
//! use std::sync::Arc;
//! use todovault_postgres::{PostgresConfig, PostgresStore};
//!
//! let store = PostgresStore::connect(
//!     PostgresConfig::new("postgres://todovault@db.internal/todovault").schema("todovault"),
//! )
//! .await?;
//! let jobs: Arc<dyn todovault_core::JobStore> = Arc::new(store.clone());
//! let todos: Arc<dyn todovault_core::TodoStore> = Arc::new(store);
//! # let _ = (jobs, todos);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod config;
mod error;
mod jobs;
mod migrate;
mod notify;
mod todos;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use todovault_core::{Error, Result};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{DEFAULT_SCHEMA, MAX_SCHEMA_LEN, PostgresConfig, validate_schema};
pub use migrate::SCHEMA_VERSION;
pub use notify::WorkNotifications;
pub use todovault_core::jobs::{AttemptOutcome, AttemptRecord};

use config::{Redactor, quote_ident};
use error::{is_retryable, map_pg, map_pool};

/// Job and Master TODO storage in one PostgreSQL schema, shared by any
/// number of hosts. Cheap to clone; clones share the pool and the listener.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    schema: String,
    database: String,
    history_limit: usize,
    redact: Redactor,
    sql: jobs::Sql,
    todo_sql: todos::Sql,
    signal: Arc<watch::Sender<u64>>,
    listener: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.abort();
        }
        self.pool.close();
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &self.inner.database)
            .field("schema", &self.inner.schema)
            .finish_non_exhaustive()
    }
}

/// How often a statement that hit a serialization failure or deadlock is
/// run again before the error is reported.
const TRANSIENT_RETRIES: u32 = 5;

impl PostgresStore {
    /// Connects, brings the schema up to [`SCHEMA_VERSION`] (creating it if
    /// needed) and starts the LISTEN connection.
    ///
    /// Errors: [`Error::Validation`] for bad settings, [`Error::Unavailable`]
    /// when the server cannot be reached, [`Error::Storage`] when the schema
    /// is newer than this build or the migration fails. No error repeats the
    /// connection password.
    pub async fn connect(config: PostgresConfig) -> Result<Self> {
        config.validate()?;
        let pg = config.pg_config()?;
        let redact = config.redactor();
        let database = config::describe_pg(&pg);
        let manager = Manager::from_config(
            pg.clone(),
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(config.connect_timeout))
            .create_timeout(Some(config.connect_timeout))
            .build()
            .map_err(|e| Error::internal(format!("building the PostgreSQL pool failed: {e}")))?;
        {
            let mut client = pool
                .get()
                .await
                .map_err(|e| map_pool(e, &database, &redact))?;
            let found = migrate::migrate(&mut client, &config.schema, &redact).await?;
            if found < SCHEMA_VERSION {
                tracing::info!(schema = %config.schema, from = found, to = SCHEMA_VERSION, "migrated the PostgreSQL schema");
            }
        }
        let (tx, _) = watch::channel(0u64);
        let signal = Arc::new(tx);
        let listener = config.listen.then(|| {
            notify::spawn_listener(
                pg,
                migrate::channel(&config.schema),
                Arc::clone(&signal),
                redact.clone(),
            )
        });
        let q = quote_ident(&config.schema);
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                schema: config.schema.clone(),
                database,
                history_limit: config.history_limit,
                redact,
                sql: jobs::Sql::new(&q),
                todo_sql: todos::Sql::new(&q),
                signal,
                listener,
            }),
        })
    }

    /// The schema holding this store's tables.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// Where this store is connected, without the password.
    pub fn database(&self) -> &str {
        &self.inner.database
    }

    /// A handle that wakes when a job becomes claimable (a job was inserted,
    /// released or reaped for an immediate retry, by any host). Keep one per
    /// worker; see [`WorkNotifications`].
    pub fn notifications(&self) -> WorkNotifications {
        WorkNotifications::new(self.inner.signal.subscribe())
    }

    /// Waits until a job may have become claimable, or `timeout` passes.
    /// Returns whether it was woken. A notification that arrived before this
    /// call is not seen: workers that loop should hold a
    /// [`PostgresStore::notifications`] handle instead.
    pub async fn wait_for_work(&self, timeout: Duration) -> bool {
        self.notifications().wait(timeout).await
    }

    /// The schema version found in the database now.
    pub async fn schema_version(&self) -> Result<i32> {
        let sql = format!(
            "SELECT COALESCE(max(version), 0) FROM {}.schema_migrations",
            quote_ident(&self.inner.schema)
        );
        self.one_row("read the schema version", &sql, &[])
            .await?
            .try_get(0)
            .map_err(|e| Error::storage(format!("unreadable schema version: {e}")))
    }

    async fn client(&self) -> Result<deadpool_postgres::Client> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| map_pool(e, &self.inner.database, &self.inner.redact))
    }

    /// Runs one statement on a pooled connection and returns its rows,
    /// running it again after a serialization failure or deadlock (a failed
    /// statement changed nothing).
    async fn rows(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        let mut tries = 0;
        loop {
            let client = self.client().await?;
            let result = match client.prepare_cached(sql).await {
                Ok(stmt) => client.query(&stmt, params).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(rows) => return Ok(rows),
                Err(e) if is_retryable(&e) && tries < TRANSIENT_RETRIES => {
                    tries += 1;
                    drop(client);
                    let pause = 5u64 << tries;
                    // Jitter spreads out statements that collided.
                    tokio::time::sleep(Duration::from_millis(pause + fastrand::u64(0..pause)))
                        .await;
                }
                Err(e) => return Err(map_pg(&e, what, &self.inner.redact)),
            }
        }
    }

    /// [`Self::rows`], expecting at most one row.
    async fn row(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<tokio_postgres::Row>> {
        let mut rows = self.rows(what, sql, params).await?;
        if rows.len() > 1 {
            return Err(Error::internal(format!(
                "PostgreSQL returned {} rows where at most one was expected ({what})",
                rows.len()
            )));
        }
        Ok(rows.pop())
    }

    /// [`Self::rows`], expecting exactly one row.
    async fn one_row(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<tokio_postgres::Row> {
        self.row(what, sql, params).await?.ok_or_else(|| {
            Error::internal(format!(
                "PostgreSQL returned no row where one was expected ({what})"
            ))
        })
    }
}

/// `d` in microseconds for interval arithmetic in SQL, capped at 100 years
/// so it never overflows PostgreSQL's intervals.
pub(crate) fn micros(d: Duration) -> i64 {
    const CAP: u128 = 100 * 365 * 24 * 3600 * 1_000_000;
    d.as_micros().min(CAP) as i64
}
