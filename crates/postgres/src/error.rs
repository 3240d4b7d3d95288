//! PostgreSQL failures as core [`Error`]s.
//!
//! A server that cannot be reached, is shutting down or has no connection to
//! spare is [`Error::Unavailable`]; anything else the database refuses is
//! [`Error::Storage`]. Serialization failures and deadlocks are transient by
//! nature and are retried by the store before they are reported. Every
//! detail passes through the [`Redactor`] so the connection password never
//! reaches a log line.

use todovault_core::Error;
use tokio_postgres::error::SqlState;

use crate::config::Redactor;

/// Whether the same statement may simply be run again.
pub(crate) fn is_retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// Whether the error says the database is unreachable or refusing work for now.
fn is_unavailable(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        Some(code) => {
            let c = code.code();
            c.starts_with("08")
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::TOO_MANY_CONNECTIONS
        }
        // No SQLSTATE: the failure happened below SQL (socket, protocol,
        // closed connection).
        None => true,
    }
}

/// The full text of a driver error: the driver's own message is terse, its
/// database error carries the server's words.
fn full_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!(
                "{}: {} (SQLSTATE {})",
                db.severity(),
                db.message(),
                db.code().code()
            );
            if let Some(detail) = db.detail() {
                text.push_str("; ");
                text.push_str(detail);
            }
            text
        }
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

/// Maps a driver error met while doing `what`.
pub(crate) fn map_pg(e: &tokio_postgres::Error, what: &str, redact: &Redactor) -> Error {
    let detail = redact.clean(&format!("PostgreSQL failed to {what}: {}", full_message(e)));
    if is_unavailable(e) {
        Error::Unavailable { detail }
    } else {
        Error::Storage { detail }
    }
}

/// Maps a failure to get a pooled connection.
pub(crate) fn map_pool(
    e: deadpool_postgres::PoolError,
    database: &str,
    redact: &Redactor,
) -> Error {
    use deadpool_postgres::PoolError;
    match e {
        PoolError::Backend(pg) => {
            let detail = redact.clean(&format!(
                "cannot connect to PostgreSQL at {database}: {}",
                full_message(&pg)
            ));
            if pg.code().is_some() && !is_unavailable(&pg) {
                Error::Storage { detail }
            } else {
                Error::Unavailable { detail }
            }
        }
        PoolError::Timeout(kind) => Error::Unavailable {
            detail: format!(
                "no PostgreSQL connection to {database} became available in time ({kind:?})"
            ),
        },
        PoolError::Closed => Error::Unavailable {
            detail: "the PostgreSQL connection pool is closed".to_owned(),
        },
        PoolError::NoRuntimeSpecified => Error::internal("the PostgreSQL pool has no runtime"),
        PoolError::PostCreateHook(h) => Error::Unavailable {
            detail: redact.clean(&format!(
                "preparing a PostgreSQL connection to {database} failed: {h}"
            )),
        },
    }
}

/// Whether a unique index or key named `constraint` refused the write.
pub(crate) fn is_unique_violation(e: &tokio_postgres::Error, constraint: &str) -> bool {
    e.as_db_error().is_some_and(|db| {
        *db.code() == SqlState::UNIQUE_VIOLATION && db.constraint() == Some(constraint)
    })
}
