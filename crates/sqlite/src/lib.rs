//! # todovault-sqlite
//!
//! [`JobStore`](todovault_core::JobStore) and
//! [`TodoStore`](todovault_core::TodoStore) on SQLite: the embedded default,
//! what a host gets with no configuration. One [`SqliteStore`] serves both
//! traits from one database file, and several processes may share that file.
//!
//! ```
//! # async fn demo() -> todovault_core::Result<()> {
//! use std::sync::Arc;
//! use todovault_core::{JobStore, TodoStore};
//! use todovault_sqlite::SqliteStore;
//!
//! let store = Arc::new(SqliteStore::open(":memory:")?);
//! let jobs: Arc<dyn JobStore> = store.clone();
//! let todos: Arc<dyn TodoStore> = store;
//! # let _ = (jobs, todos);
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! What holds, and how:
//!
//! - **Durability and crash safety.** The file is in WAL mode (checked by
//!   reading the mode back at open; a file where WAL cannot be enabled is
//!   refused), with `synchronous=NORMAL` by default or `FULL` on request.
//!   Every operation is one transaction, so a crash leaves either all of it
//!   or none of it.
//! - **No "database is locked".** Inside a process all writes go through
//!   one connection owned by a writer thread, fed through a channel (writes
//!   queued together commit together, each in its own savepoint); reads use
//!   separate read connections, which WAL never blocks, and status polls run
//!   on them directly on the calling thread. Between
//!   processes every write transaction starts with `BEGIN IMMEDIATE` and
//!   waits out the other writer with the busy timeout.
//! - **Idle workers wake across processes.** A thread per store watches
//!   `PRAGMA data_version` on its own connection; after another connection
//!   commits, one idle worker wakes and claims, so a job queued by another
//!   process is taken within about 50 ms rather than at the next poll.
//! - **Leases on the database's clock.** Lease expiry, `run_at` and every
//!   other time are computed by SQLite itself (unix milliseconds) inside the
//!   statement that uses them. Every write after a claim is fenced on job id,
//!   lease owner, attempt and `state = 'running'`; the reaper only touches
//!   running jobs whose lease ran out, so it never overwrites a finished job.
//! - **History.** Every claim and how it ended is kept
//!   ([`JobStore::attempt_history`](todovault_core::jobs::JobStore::attempt_history)); replaced Master TODO versions are
//!   kept up to [`SqliteOptions::history_limit`] per workspace.
//! - **Schema.** Migrations are keyed on `PRAGMA user_version` and run at
//!   open in one transaction; a database from a newer schema, a file that is
//!   not SQLite and an SQLite database of another application are refused
//!   with an error that says so.
//!
//! Cargo features: `bundled` (on by default) compiles SQLite into the
//! binary; with `default-features = false` the system's libsqlite3 (3.37 or
//! newer) is linked instead.

#![warn(missing_docs)]

mod error;
mod jobs;
mod schema;
mod store;
mod todos;
mod watch;
mod writer;

pub use schema::SCHEMA_VERSION;
pub use store::{Checkpoint, Settings, SqliteOptions, SqliteStore, Synchronous};
pub use todovault_core::jobs::{AttemptOutcome, AttemptRecord};
