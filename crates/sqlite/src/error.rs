//! Turning SQLite failures into the engine's [`Error`]s, with a detail that
//! names the database file and what was being done, so an operator reading
//! the log knows what to fix (a full disk, a locked file, a file that is not
//! a todovault database) without a debugger.

use std::time::Duration;

use rusqlite::ErrorCode;
use todovault_core::Error;

/// What the blocking closures return: either SQLite failed (mapped to a core
/// error with context afterwards) or the operation itself refused (already a
/// core error).
#[derive(Debug)]
pub(crate) enum StoreError {
    /// A failure reported by SQLite.
    Sql(rusqlite::Error),
    /// A refusal or failure already expressed as a core error.
    Core(Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(e)
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        StoreError::Core(e)
    }
}

/// The closures' result type.
pub(crate) type StoreResult<T> = Result<T, StoreError>;

/// What a mapped error mentions besides SQLite's own words.
#[derive(Debug, Clone)]
pub(crate) struct ErrorContext {
    /// The database as the user named it.
    pub(crate) path: String,
    /// How long a writer waits for another process's lock.
    pub(crate) busy_timeout: Duration,
}

impl StoreError {
    /// The core error, with `what` ("claiming a job", …) and the file named.
    pub(crate) fn into_error(self, ctx: &ErrorContext, what: &str) -> Error {
        match self {
            StoreError::Core(e) => e,
            StoreError::Sql(e) => map_sqlite(e, ctx, what),
        }
    }
}

/// Whether SQLite said another connection holds the lock.
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Maps one SQLite failure.
pub(crate) fn map_sqlite(e: rusqlite::Error, ctx: &ErrorContext, what: &str) -> Error {
    let path = &ctx.path;
    let said = sqlite_message(&e);
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::Unavailable {
            detail: format!(
                "the SQLite database {path} stayed locked by another writer for longer than the \
                 busy timeout of {} ms while {what}; nothing was changed ({said})",
                ctx.busy_timeout.as_millis()
            ),
        },
        Some(ErrorCode::DiskFull) => Error::storage(format!(
            "the SQLite database {path} or the disk it is on is full while {what}; nothing was \
             changed: free space or raise the size limit ({said})"
        )),
        Some(ErrorCode::SystemIoFailure) => Error::storage(format!(
            "disk I/O error on the SQLite database {path} while {what}; nothing was changed \
             ({said})"
        )),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => Error::storage(format!(
            "{path} is not a todovault SQLite database: the file is not SQLite or is corrupt \
             ({said}); point the store at another file or restore a backup"
        )),
        Some(ErrorCode::CannotOpen) => Error::storage(format!(
            "cannot open the SQLite database {path} while {what}: check that its directory exists \
             and is writable, since SQLite also creates {path}-wal and {path}-shm beside it \
             ({said})"
        )),
        Some(ErrorCode::ReadOnly) => Error::storage(format!(
            "the SQLite database {path} is read-only while {what}: check the permissions of the \
             file and of its directory ({said})"
        )),
        Some(ErrorCode::PermissionDenied) => Error::storage(format!(
            "permission denied on the SQLite database {path} while {what} ({said})"
        )),
        _ => Error::storage(format!("SQLite failed on {path} while {what}: {said}")),
    }
}

/// SQLite's own words for the failure.
fn sqlite_message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(code, Some(msg)) => {
            format!("{msg}; code {}", code.extended_code)
        }
        other => other.to_string(),
    }
}
