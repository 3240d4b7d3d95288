//! JobStore and TodoStore on SQLite, the embedded default.
