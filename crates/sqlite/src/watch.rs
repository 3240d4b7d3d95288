//! Wakes idle workers when another connection commits to the database.
//!
//! SQLite has no notifications, so an idle worker would otherwise find a job
//! queued by another process only at its next poll. What SQLite does offer
//! is `PRAGMA data_version`: on one connection it changes whenever any other
//! connection, in this process or another, has committed since the last
//! look, and reading it costs a look at the shared write-ahead-log index.
//!
//! Once a worker of the store has waited for work, one thread looks every
//! [`LOOK_EVERY`] until the store is dropped, and after a commit elsewhere
//! wakes one waiting worker (or, if none waits, the next one to wait). One
//! is enough: if it claims a job, its own commit wakes the next worker, and
//! a claim that finds nothing commits nothing, so the chain stops there and
//! idle workers of several processes do not wake each other in a loop. At
//! most one wake-up per look keeps the claims that busy neighbours cause
//! (their heartbeats are commits too) to a few per second. A wake-up missed
//! all the same (a look fails) costs no more than the worker's poll
//! interval, after which it claims anyway.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::Notify;

/// How often the thread looks: about the longest a job queued by another
/// process waits for an idle worker here.
pub(crate) const LOOK_EVERY: Duration = Duration::from_millis(50);

/// Announces commits made through other connections.
pub(crate) struct ChangeWatcher {
    commits: Arc<Notify>,
    stop: Arc<AtomicBool>,
}

impl ChangeWatcher {
    /// Starts the watching thread on `conn`, a read connection of its own
    /// to the database at `path`.
    pub(crate) fn start(conn: Connection, path: &Path) -> std::io::Result<ChangeWatcher> {
        let commits = Arc::new(Notify::new());
        let stop = Arc::new(AtomicBool::new(false));
        let notify = Arc::clone(&commits);
        let stopped = Arc::clone(&stop);
        let name = path.display().to_string();
        std::thread::Builder::new()
            .name("todovault-sqlite-watch".to_owned())
            .spawn(move || watch_loop(&conn, &notify, &stopped, &name))?;
        Ok(ChangeWatcher { commits, stop })
    }

    /// Waits until the thread sees a commit made through another connection
    /// (or has seen one since the last waiter left).
    pub(crate) async fn commit_elsewhere(&self) {
        self.commits.notified().await;
    }
}

impl Drop for ChangeWatcher {
    fn drop(&mut self) {
        // The thread ends at its next look; not waiting for it keeps a drop
        // on an async thread short.
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "data_version", |r| r.get(0))
}

fn watch_loop(conn: &Connection, commits: &Notify, stop: &AtomicBool, path: &str) {
    let mut last = None;
    while !stop.load(Ordering::Relaxed) {
        match data_version(conn) {
            Ok(version) => {
                if last.is_some_and(|seen| seen != version) {
                    commits.notify_one();
                }
                last = Some(version);
            }
            Err(e) => {
                tracing::debug!(path, error = %e, "cannot read the SQLite data version");
                last = None;
            }
        }
        std::thread::sleep(LOOK_EVERY);
    }
}
