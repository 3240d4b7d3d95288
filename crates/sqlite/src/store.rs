//! [`SqliteStore`]: opening the database, checking its settings, and running
//! work on the writer connection or a read connection without blocking the
//! async runtime.
//!
//! One writer connection per store is owned by its writer thread
//! ([`crate::writer`]): writes in this process queue on a channel in arrival
//! order without holding async threads, and writes queued together commit
//! together. Status polls are served from a small pool of read connections
//! directly on the calling thread (a primary-key lookup that WAL never makes
//! wait); longer reads go to the same pool on tokio's blocking pool. Other
//! processes are serialized by SQLite's file locks: every write transaction
//! is `BEGIN IMMEDIATE`, and the busy timeout absorbs the wait.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use todovault_core::{Error, Result};
use tokio::sync::Semaphore;

use crate::error::{ErrorContext, StoreError, StoreResult, is_busy};
use crate::schema;
use crate::watch::ChangeWatcher;
use crate::writer::{self, Request, TxJob};

/// The oldest SQLite whose features the schema and statements use.
const MIN_SQLITE_VERSION: i32 = 3_037_000;

/// How hard SQLite works to get each commit onto the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// `synchronous=NORMAL`: in WAL mode a commit survives a crash of the
    /// process; a power loss may lose the last commits, never consistency.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is on the disk before it returns,
    /// even across a power loss, at the cost of an fsync per commit.
    Full,
}

impl Synchronous {
    fn pragma_value(self) -> i64 {
        match self {
            Synchronous::Normal => 1,
            Synchronous::Full => 2,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// How a [`SqliteStore`] is opened.
///
/// ```
/// use std::time::Duration;
/// use todovault_sqlite::{SqliteOptions, Synchronous};
///
/// let options = SqliteOptions {
///     synchronous: Synchronous::Full,
///     busy_timeout: Duration::from_secs(30),
///     ..SqliteOptions::default()
/// };
/// # let _ = options;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Durability of each commit (default [`Synchronous::Normal`]).
    pub synchronous: Synchronous,
    /// How long a write waits for another process holding the database's
    /// write lock before it fails (default 10 s).
    pub busy_timeout: Duration,
    /// Replaced Master TODO versions kept per workspace (default 50).
    pub history_limit: usize,
    /// Read connections for status polls and document reads (default 4;
    /// 0 sends reads through the writer). Ignored for `:memory:`, whose
    /// connections cannot share a database.
    pub read_connections: usize,
    /// Refuse writes that would grow the file beyond this many bytes
    /// (`PRAGMA max_page_count`); `None` (the default) sets no limit. A write
    /// over the limit fails whole with a clear error.
    pub max_size_bytes: Option<u64>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(10),
            history_limit: 50,
            read_connections: 4,
            max_size_bytes: None,
        }
    }
}

/// The connection settings as SQLite reported them back at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `wal` for a file, `memory` for `:memory:`.
    pub journal_mode: String,
    /// The durability level in force.
    pub synchronous: Synchronous,
    /// The busy timeout in force.
    pub busy_timeout: Duration,
    /// Whether foreign keys are enforced (always `true` once open).
    pub foreign_keys: bool,
    /// The schema version of the file (always [`crate::SCHEMA_VERSION`]).
    pub schema_version: i64,
}

/// What a WAL checkpoint did ([`SqliteStore::checkpoint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Another connection kept the checkpoint from finishing; it will catch
    /// up next time.
    pub busy: bool,
    /// Frames in the write-ahead log (-1 when there is none, e.g. `:memory:`).
    pub log_frames: i64,
    /// Frames copied back into the database file (-1 when there is no log).
    pub checkpointed_frames: i64,
}

/// A [`JobStore`](todovault_core::JobStore) and
/// [`TodoStore`](todovault_core::TodoStore) on one SQLite database. Cheap to
/// clone; clones share connections.
#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) ctx: ErrorContext,
    pub(crate) options: SqliteOptions,
    settings: Settings,
    location: Location,
    /// Requests for the writer thread; `None` only while dropping.
    writer: Option<mpsc::Sender<Request>>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
    readers: Option<Arc<ReaderPool>>,
    /// Started when a worker first waits for work; `None` inside when the
    /// database is private to this store or the watcher could not start.
    watcher: tokio::sync::OnceCell<Option<ChangeWatcher>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the writer thread; waiting for it closes
        // the connection before the store is gone, as a caller dropping the
        // store expects (another store may open the file next).
        drop(self.writer.take());
        if let Some(thread) = self.writer_thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

#[derive(Debug, Clone)]
enum Location {
    Memory,
    File(PathBuf),
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.ctx.path)
            .field("settings", &self.inner.settings)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it if absent) the database at `path`, or a private
    /// in-memory database for `":memory:"`, with default options.
    ///
    /// Opening blocks while it checks the file and migrates its schema; call
    /// it at start-up or from `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens the database at `path` with `options`. The file must be empty,
    /// absent, or a todovault database of this or an older schema version;
    /// anything else is refused with an error naming the problem.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref();
        let location = if path == Path::new(":memory:") {
            Location::Memory
        } else {
            Location::File(path.to_path_buf())
        };
        let ctx = ErrorContext {
            path: path.display().to_string(),
            busy_timeout: options.busy_timeout,
        };
        if options.busy_timeout.is_zero() {
            return Err(Error::validation(
                ["busy_timeout"],
                "the SQLite busy timeout must be more than zero, or concurrent processes would \
                 see \"database is locked\"",
            ));
        }
        if rusqlite::version_number() < MIN_SQLITE_VERSION {
            return Err(Error::storage(format!(
                "the SQLite library is version {}, but todovault needs 3.37 or newer (for \
                 STRICT tables and RETURNING); build with the `bundled` feature or upgrade it",
                rusqlite::version()
            )));
        }
        if let Location::File(file) = &location {
            check_parent_exists(file, &ctx)?;
        }
        let deadline = Instant::now() + options.busy_timeout;
        let (writer, settings) = retry_while_busy(deadline, || open_writer(&location, &options))
            .map_err(|e| e.into_error(&ctx, "opening the database"))?;
        let readers = match &location {
            Location::File(file) if options.read_connections > 0 => {
                let pool = ReaderPool::new(file.clone(), options.clone(), ctx.clone());
                for _ in 0..options.read_connections {
                    let conn = retry_while_busy(deadline, || open_reader(file, &options))
                        .map_err(|e| e.into_error(&ctx, "opening a read connection"))?;
                    pool.put(conn);
                }
                Some(Arc::new(pool))
            }
            _ => None,
        };
        let (sender, requests) = mpsc::channel();
        let writer_ctx = ctx.clone();
        let writer_thread = std::thread::Builder::new()
            .name("todovault-sqlite-writer".to_owned())
            .spawn(move || writer::run(writer, requests, writer_ctx))
            .map_err(|e| {
                Error::storage(format!(
                    "cannot start the writer thread for the SQLite database {}: {e}",
                    ctx.path
                ))
            })?;
        tracing::debug!(path = %ctx.path, ?settings, "SQLite store opened");
        Ok(Self {
            inner: Arc::new(Inner {
                ctx,
                options,
                settings,
                location,
                writer: Some(sender),
                writer_thread: Some(writer_thread),
                readers,
                watcher: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// The database as it was named to [`SqliteStore::open`].
    pub fn path(&self) -> &str {
        &self.inner.ctx.path
    }

    /// Whether this is a private in-memory database.
    pub fn is_memory(&self) -> bool {
        matches!(self.inner.location, Location::Memory)
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &SqliteOptions {
        &self.inner.options
    }

    /// The connection settings, as SQLite reported them back at open.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The watcher of commits made through other connections to the
    /// database, started on first use; `None` when nothing else can write to
    /// it (a private in-memory database) or the watcher could not start.
    pub(crate) async fn commit_watcher(&self) -> Option<&ChangeWatcher> {
        let Location::File(file) = &self.inner.location else {
            return None;
        };
        let watcher = self
            .inner
            .watcher
            .get_or_init(|| {
                let file = file.clone();
                let options = self.inner.options.clone();
                let ctx = self.inner.ctx.clone();
                async move {
                    let started = tokio::task::spawn_blocking(move || {
                        let conn = open_reader(&file, &options).map_err(|e| {
                            e.into_error(&ctx, "opening a connection to watch for commits")
                                .to_string()
                        })?;
                        ChangeWatcher::start(conn, &file).map_err(|e| e.to_string())
                    })
                    .await;
                    let started = started.map_err(|e| e.to_string()).and_then(|r| r);
                    match started {
                        Ok(watcher) => Some(watcher),
                        Err(e) => {
                            tracing::warn!(
                                error = %e,
                                "idle workers will poll: cannot watch the SQLite database for commits"
                            );
                            None
                        }
                    }
                }
            })
            .await;
        watcher.as_ref()
    }

    /// Copies what the write-ahead log holds back into the database file
    /// without waiting for readers (`PRAGMA wal_checkpoint(PASSIVE)`), so the
    /// log does not grow without bound. [`JobStore::prune`] runs one after
    /// every prune.
    ///
    /// [`JobStore::prune`]: todovault_core::JobStore::prune
    pub async fn checkpoint(&self) -> Result<Checkpoint> {
        self.write_solo("checkpointing the write-ahead log", |conn| {
            Ok(checkpoint_passive(conn)?)
        })
        .await
    }

    /// Runs `work` inside a `BEGIN IMMEDIATE` transaction on the writer
    /// thread, possibly together with other queued writes (each in its own
    /// savepoint). `work` must not commit or roll back; returning an error
    /// undoes everything it wrote. It may run more than once if its group
    /// had to be retried write by write, each time from a clean state.
    pub(crate) async fn write<T, F>(&self, what: &'static str, work: F) -> Result<T>
    where
        F: FnMut(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(
            what,
            Request::Tx(Box::new(TxJob {
                what,
                work,
                result: None,
                reply,
            })),
        )?;
        await_answer(what, answer).await
    }

    /// Runs `work` alone on the writer connection, outside any transaction
    /// the writer opens (for a checkpoint, or a read when there are no read
    /// connections).
    pub(crate) async fn write_solo<T, F>(&self, what: &'static str, work: F) -> Result<T>
    where
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let ctx = self.inner.ctx.clone();
        self.send(
            what,
            Request::Solo(Box::new(move |conn| {
                let _ = reply.send(work(conn).map_err(|e| e.into_error(&ctx, what)));
            })),
        )?;
        await_answer(what, answer).await
    }

    fn send(&self, what: &'static str, request: Request) -> Result<()> {
        self.inner
            .writer
            .as_ref()
            .and_then(|w| w.send(request).ok())
            .ok_or_else(|| writer_stopped(what))
    }

    /// Runs `work` on a read connection (or the writer when there are none).
    pub(crate) async fn read<T, F>(&self, what: &'static str, work: F) -> Result<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let Some(pool) = &self.inner.readers else {
            return self.write_solo(what, move |conn| work(conn)).await;
        };
        let permit = pool.permit().await?;
        let pool = Arc::clone(pool);
        run_blocking(what, move || {
            let _permit = permit;
            let conn = pool.take()?;
            let result = work(&conn).map_err(|e| e.into_error(&pool.ctx, what));
            pool.put(conn);
            result
        })
        .await
    }
}

impl SqliteStore {
    /// Runs a short point read (a primary-key lookup such as a status poll)
    /// on a read connection directly on the calling thread, which is
    /// cheaper than the hop to the blocking pool by an order of magnitude.
    ///
    /// In WAL mode a reader never waits for a writer, so the lookup takes
    /// microseconds; to keep it that way on an async worker thread it runs
    /// with no busy handler, and in the rare moments when SQLite does ask a
    /// reader to wait (another process recovering the log after a crash, or
    /// closing the last connection) it is run again on the blocking pool
    /// with the full busy timeout. Waiting for a free read connection is an
    /// async wait, never a blocked thread.
    pub(crate) async fn read_point<T, F>(&self, what: &'static str, work: F) -> Result<T>
    where
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let Some(pool) = &self.inner.readers else {
            return self.write_solo(what, move |conn| work(conn)).await;
        };
        let permit = pool.permit().await?;
        // A connection lost to a panic is reopened on the blocking pool,
        // since opening does I/O and may wait.
        let Some(conn) = pool.lock().pop() else {
            drop(permit);
            return self.read(what, move |conn| work(conn)).await;
        };
        let first = without_waiting(&conn, pool.options.busy_timeout, &work);
        match first {
            Err(StoreError::Sql(e)) if is_busy(&e) => {
                let pool = Arc::clone(pool);
                run_blocking(what, move || {
                    let _permit = permit;
                    let result = work(&conn).map_err(|e| e.into_error(&pool.ctx, what));
                    pool.put(conn);
                    result
                })
                .await
            }
            other => {
                pool.put(conn);
                drop(permit);
                other.map_err(|e| e.into_error(&pool.ctx, what))
            }
        }
    }
}

/// How long a caller keeps its thread busy watching for the writer's
/// answer before it lets the runtime put the thread to sleep.
const ANSWER_WATCH: Duration = Duration::from_micros(200);

/// The writer thread's answer. A write takes tens of microseconds, about
/// what waking a sleeping runtime thread takes, so the caller first yields
/// to the runtime's other tasks and looks again, and only awaits (and may
/// sleep) once the write has taken longer than [`ANSWER_WATCH`].
async fn await_answer<T>(
    what: &'static str,
    mut answer: tokio::sync::oneshot::Receiver<Result<T>>,
) -> Result<T> {
    use tokio::sync::oneshot::error::TryRecvError;
    let watch_until = Instant::now() + ANSWER_WATCH;
    while Instant::now() < watch_until {
        match answer.try_recv() {
            Ok(result) => return result,
            Err(TryRecvError::Closed) => return Err(writer_stopped(what)),
            Err(TryRecvError::Empty) => tokio::task::yield_now().await,
        }
    }
    answer.await.unwrap_or_else(|_| Err(writer_stopped(what)))
}

/// The writer thread is gone (it only stops when the store is dropped, or
/// after a panic it could not contain).
fn writer_stopped(what: &str) -> Error {
    Error::internal(format!(
        "the SQLite writer thread stopped unexpectedly while {what}"
    ))
}

/// Runs `work` on `conn` with its busy handler off, then puts
/// `busy_timeout` back.
fn without_waiting<T>(
    conn: &Connection,
    busy_timeout: Duration,
    work: &impl Fn(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    let timeout = conn.busy_timeout(Duration::ZERO).err();
    let result = work(conn);
    // Setting the busy timeout only fails on a closed connection, which
    // `work` would have reported already.
    let restored = conn.busy_timeout(busy_timeout);
    match (timeout, restored, result) {
        (Some(e), _, _) | (None, Err(e), Ok(_)) => Err(e.into()),
        (None, _, result) => result,
    }
}

/// Runs blocking database work off the async threads: on tokio's blocking
/// pool inside a tokio runtime, in place otherwise.
async fn run_blocking<T, F>(what: &'static str, work: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.spawn_blocking(work).await.unwrap_or_else(|e| {
            Err(Error::internal(format!(
                "the SQLite work stopped unexpectedly while {what}: {e}"
            )))
        }),
        Err(_) => work(),
    }
}

/// Read connections, each used by one task at a time.
struct ReaderPool {
    conns: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
    file: PathBuf,
    options: SqliteOptions,
    ctx: ErrorContext,
}

impl ReaderPool {
    /// The right to use one read connection, waited for asynchronously.
    async fn permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| Error::internal("the SQLite read pool was closed"))
    }

    fn new(file: PathBuf, options: SqliteOptions, ctx: ErrorContext) -> Self {
        Self {
            conns: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(options.read_connections)),
            file,
            options,
            ctx,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // Only pushes and pops happen under this lock; a panic cannot leave
        // the vector half-changed.
        match self.conns.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// A free connection; a fresh one replaces any lost to a panic.
    fn take(&self) -> Result<Connection> {
        if let Some(conn) = self.lock().pop() {
            return Ok(conn);
        }
        let deadline = Instant::now() + self.options.busy_timeout;
        retry_while_busy(deadline, || open_reader(&self.file, &self.options))
            .map_err(|e| e.into_error(&self.ctx, "opening a read connection"))
    }

    fn put(&self, conn: Connection) {
        self.lock().push(conn);
    }
}

/// SQLite answers `CANTOPEN` for a missing directory; say it plainly.
fn check_parent_exists(file: &Path, ctx: &ErrorContext) -> Result<()> {
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => return Ok(()),
    };
    if parent.is_dir() {
        return Ok(());
    }
    Err(Error::storage(format!(
        "cannot open the SQLite database {}: the directory {} does not exist",
        ctx.path,
        parent.display()
    )))
}

/// Retries `step` while another process holds a lock it needs (opening
/// races with another process switching a fresh file to WAL or migrating
/// it), until `deadline`.
fn retry_while_busy<T>(
    deadline: Instant,
    mut step: impl FnMut() -> StoreResult<T>,
) -> StoreResult<T> {
    loop {
        match step() {
            Err(StoreError::Sql(e)) if is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Opens the writer, sets and verifies every setting, migrates the schema.
fn open_writer(
    location: &Location,
    options: &SqliteOptions,
) -> StoreResult<(Connection, Settings)> {
    let mut conn = match location {
        Location::Memory => Connection::open_in_memory()?,
        Location::File(file) => Connection::open_with_flags(
            file,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?,
    };
    let path = match location {
        Location::Memory => ":memory:".to_owned(),
        Location::File(f) => f.display().to_string(),
    };
    let busy_timeout = set_busy_timeout(&conn, options.busy_timeout, &path)?;
    // SQLite quietly falls back to read-only when it may not write the
    // file; a store that cannot store must say so at open.
    if conn.is_readonly(rusqlite::MAIN_DB)? {
        return Err(Error::storage(format!(
            "the SQLite database {path} is read-only: check the permissions of the file and of \
             its directory"
        ))
        .into());
    }
    // Reading the header first turns a file that is not SQLite into a clear
    // error before anything is written to it.
    let _: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;

    let journal_mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    let journal_mode = journal_mode.to_ascii_lowercase();
    let wanted_mode = match location {
        Location::Memory => "memory",
        Location::File(_) => "wal",
    };
    if journal_mode != wanted_mode {
        return Err(Error::storage(format!(
            "the SQLite database {path} could not be switched to WAL journal mode (it reports \
             {journal_mode:?}); WAL needs a local file system that supports shared memory"
        ))
        .into());
    }

    conn.pragma_update(None, "synchronous", options.synchronous.pragma_value())?;
    let synchronous: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0))?;
    if synchronous != options.synchronous.pragma_value() {
        return Err(Error::storage(format!(
            "the SQLite database {path} did not accept synchronous={} (it reports {synchronous})",
            options.synchronous.name()
        ))
        .into());
    }

    conn.pragma_update(None, "foreign_keys", true)?;
    let foreign_keys: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0))?;
    if !foreign_keys {
        return Err(Error::storage(format!(
            "the SQLite library behind {path} cannot enforce foreign keys"
        ))
        .into());
    }

    if let Some(max) = options.max_size_bytes {
        let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        let pages = i64::try_from(max / page_size.max(512) as u64)
            .unwrap_or(i64::MAX)
            .max(1);
        conn.pragma_update(None, "max_page_count", pages)?;
    }
    // A log that a long read kept from being checkpointed is truncated back
    // to this size afterwards instead of keeping its peak size for ever.
    conn.pragma_update(None, "journal_size_limit", 64i64 * 1024 * 1024)?;

    schema::migrate(&mut conn, &path)?;
    let schema_version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let settings = Settings {
        journal_mode,
        synchronous: options.synchronous,
        busy_timeout,
        foreign_keys,
        schema_version,
    };
    Ok((conn, settings))
}

/// Opens one read connection to an existing, migrated file.
fn open_reader(file: &Path, options: &SqliteOptions) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let path = file.display().to_string();
    set_busy_timeout(&conn, options.busy_timeout, &path)?;
    // Writes through a read connection would bypass the writer's ordering.
    conn.pragma_update(None, "query_only", true)?;
    let query_only: bool = conn.pragma_query_value(None, "query_only", |r| r.get(0))?;
    let journal_mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
    if !query_only || !journal_mode.eq_ignore_ascii_case("wal") {
        return Err(Error::storage(format!(
            "a read connection to {path} is not in WAL mode or not read-only (journal mode \
             {journal_mode:?}, query_only {query_only})"
        ))
        .into());
    }
    Ok(conn)
}

/// Sets the busy timeout and reads it back.
fn set_busy_timeout(conn: &Connection, timeout: Duration, path: &str) -> StoreResult<Duration> {
    let wanted = i64::try_from(timeout.as_millis()).unwrap_or(i64::from(i32::MAX));
    let wanted = wanted.min(i64::from(i32::MAX));
    conn.pragma_update(None, "busy_timeout", wanted)?;
    let actual: i64 = conn.pragma_query_value(None, "busy_timeout", |r| r.get(0))?;
    if actual != wanted {
        return Err(Error::storage(format!(
            "the SQLite connection to {path} did not accept busy_timeout={wanted} (it reports \
             {actual})"
        ))
        .into());
    }
    Ok(Duration::from_millis(actual.max(0) as u64))
}

/// `PRAGMA wal_checkpoint(PASSIVE)` on `conn`.
pub(crate) fn checkpoint_passive(conn: &Connection) -> rusqlite::Result<Checkpoint> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok(Checkpoint {
            busy: r.get::<_, i64>(0)? != 0,
            log_frames: r.get(1)?,
            checkpointed_frames: r.get(2)?,
        })
    })
}
