//! The writer thread: the one thread that owns a store's writer connection
//! and runs every write, fed through a channel, with group commit.
//!
//! A dedicated thread is cheaper per write than a hop to tokio's blocking
//! pool, keeps every write off the async threads, and serializes writes in
//! arrival order without a lock. When several writes are queued at once the
//! thread runs them in one `BEGIN IMMEDIATE` transaction, each inside its own
//! `SAVEPOINT`: a write that fails is rolled back to its savepoint alone and
//! reports its own error, the others commit together, and none of them is
//! answered before the `COMMIT` succeeded. The transaction's cost (the log
//! write, the lock) is then paid once for the group instead of once per
//! write.
//!
//! If SQLite rolls the whole transaction back on its own (it may for a full
//! disk or an I/O error) or the `COMMIT` fails, nothing of the group was
//! stored: every write of the group is run again alone, in its own
//! transaction, and answered with what that run gives. A write is therefore
//! always either committed exactly once and answered with its result, or not
//! stored and answered with its error.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use todovault_core::{Error, Result};
use tokio::sync::oneshot;

use crate::error::{ErrorContext, StoreError, StoreResult};

/// At most this many queued writes share one transaction, so one group
/// never holds the database's write lock for long.
const MAX_GROUP: usize = 64;

/// How long the idle writer thread keeps watching its queue before it
/// sleeps.
const LINGER: Duration = Duration::from_micros(50);

/// A write run inside a transaction the writer thread opens.
pub(crate) trait TxWork: Send {
    /// Runs the write on `conn`, inside an open transaction, and keeps its
    /// result; `true` if it succeeded. May be called again after the
    /// transaction was rolled back.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller with the kept result.
    fn answer(self: Box<Self>, ctx: &ErrorContext);
    /// Answers the caller with `error` instead.
    fn fail(self: Box<Self>, error: Error);
}

/// What the writer thread is asked to do.
pub(crate) enum Request {
    /// A write in a transaction, possibly grouped with others.
    Tx(Box<dyn TxWork>),
    /// Work that manages its own transaction, or needs none (a checkpoint,
    /// a read when there are no read connections), run alone.
    Solo(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// One write in a transaction, and where its answer goes.
pub(crate) struct TxJob<T, F> {
    pub(crate) what: &'static str,
    pub(crate) work: F,
    pub(crate) result: Option<StoreResult<T>>,
    pub(crate) reply: oneshot::Sender<Result<T>>,
}

impl<T, F> TxWork for TxJob<T, F>
where
    T: Send,
    F: FnMut(&Connection) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let what = self.what;
        let result = catch_unwind(AssertUnwindSafe(|| (self.work)(conn))).unwrap_or_else(|_| {
            Err(StoreError::Core(Error::internal(format!(
                "the SQLite work panicked while {what}"
            ))))
        });
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, ctx: &ErrorContext) {
        let what = self.what;
        let result = match self.result {
            Some(r) => r.map_err(|e| e.into_error(ctx, what)),
            None => Err(Error::internal(format!(
                "the SQLite writer answered before running the work while {what}"
            ))),
        };
        // The caller may have stopped waiting; the write stands regardless.
        let _ = self.reply.send(result);
    }

    fn fail(self: Box<Self>, error: Error) {
        let _ = self.reply.send(Err(error));
    }
}

/// The writer thread's loop: runs requests until every sender is gone,
/// then closes the connection.
pub(crate) fn run(mut conn: Connection, requests: mpsc::Receiver<Request>, ctx: ErrorContext) {
    let mut held: Option<Request> = None;
    loop {
        let first = match held.take() {
            Some(r) => r,
            None => match next_request(&requests) {
                Some(r) => r,
                None => return,
            },
        };
        match first {
            Request::Solo(work) => run_solo(&mut conn, work),
            Request::Tx(work) => {
                let mut group = vec![work];
                while group.len() < MAX_GROUP {
                    match requests.try_recv() {
                        Ok(Request::Tx(w)) => group.push(w),
                        Ok(solo) => {
                            held = Some(solo);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if group.len() == 1 {
                    for work in group {
                        run_alone(&conn, work, &ctx);
                    }
                } else {
                    run_group(&conn, group, &ctx);
                }
            }
        }
    }
}

/// The next request, or `None` once every sender is gone. A caller that
/// writes in a loop sends its next write a few microseconds after the
/// answer to the last one; watching the queue that long before going to
/// sleep saves a sleep and a wake-up per write.
fn next_request(requests: &mpsc::Receiver<Request>) -> Option<Request> {
    let watch_until = Instant::now() + LINGER;
    loop {
        match requests.try_recv() {
            Ok(r) => return Some(r),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) if Instant::now() < watch_until => {
                std::thread::yield_now();
            }
            Err(mpsc::TryRecvError::Empty) => return requests.recv().ok(),
        }
    }
}

fn run_solo(conn: &mut Connection, work: Box<dyn FnOnce(&mut Connection) + Send>) {
    // The work answers its caller itself; a panic is answered by the
    // dropped reply channel.
    let _ = catch_unwind(AssertUnwindSafe(|| work(conn)));
    roll_back_if_open(conn);
}

/// Ends a transaction left open by a failure, so the next write starts
/// clean.
fn roll_back_if_open(conn: &Connection) {
    if !conn.is_autocommit()
        && let Err(e) = conn.execute_batch("ROLLBACK")
    {
        tracing::warn!(error = %e, "rolling back an unfinished SQLite transaction failed");
    }
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Runs one write in its own transaction and answers it.
fn run_alone(conn: &Connection, mut work: Box<dyn TxWork>, ctx: &ErrorContext) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        roll_back_if_open(conn);
        work.fail(StoreError::Sql(e).into_error(ctx, "starting a write transaction"));
        return;
    }
    if !work.run(conn) {
        roll_back_if_open(conn);
        work.answer(ctx);
        return;
    }
    match exec(conn, "COMMIT") {
        Ok(()) => work.answer(ctx),
        Err(e) => {
            roll_back_if_open(conn);
            work.fail(StoreError::Sql(e).into_error(ctx, "committing a write transaction"));
        }
    }
}

/// Runs several writes in one transaction, each in its own savepoint, and
/// answers them once it committed; falls back to one transaction each when
/// the group as a whole could not be committed.
fn run_group(conn: &Connection, mut group: Vec<Box<dyn TxWork>>, ctx: &ErrorContext) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        roll_back_if_open(conn);
        let error = StoreError::Sql(e).into_error(ctx, "starting a write transaction");
        for work in group {
            work.fail(error.clone());
        }
        return;
    }
    let mut whole = true;
    for work in &mut group {
        if exec(conn, "SAVEPOINT write").is_err() {
            whole = false;
            break;
        }
        if work.run(conn) {
            if exec(conn, "RELEASE write").is_err() {
                whole = false;
                break;
            }
            continue;
        }
        // SQLite may have rolled back the whole transaction on its own.
        if conn.is_autocommit()
            || exec(conn, "ROLLBACK TO write").is_err()
            || exec(conn, "RELEASE write").is_err()
        {
            whole = false;
            break;
        }
    }
    if whole && exec(conn, "COMMIT").is_ok() {
        for work in group {
            work.answer(ctx);
        }
        return;
    }
    roll_back_if_open(conn);
    tracing::debug!(
        writes = group.len(),
        "a group of SQLite writes could not be committed together; running each alone"
    );
    for work in group {
        run_alone(conn, work, ctx);
    }
}
