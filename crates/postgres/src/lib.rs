//! JobStore and TodoStore on PostgreSQL, for many engine hosts sharing one database.
