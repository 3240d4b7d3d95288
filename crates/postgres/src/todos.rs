//! [`TodoStore`] on PostgreSQL.
//!
//! The document is stored as the exact JSON text core serialises (a `text`
//! column, not `jsonb`, which would reorder keys and normalise numbers), so
//! unknown fields and their order survive. A put is one statement: it locks
//! the current row, checks the expected version, moves the replaced version
//! to the history, trims the history to its bound and writes the new
//! version. Racing writers queue on the row lock; all but the first then
//! find a newer version and get [`Error::Conflict`].

use async_trait::async_trait;
use todovault_core::todos::{check_put, version_conflict};
use todovault_core::{Error, MasterTodo, Result, TodoStore, WorkspaceId};

use crate::PostgresStore;

/// Statements with the schema filled in, built once per store.
pub(crate) struct Sql {
    get: String,
    version: String,
    create: String,
    replace: String,
    history: String,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        Self {
            get: format!("SELECT document FROM {s}.master_todos WHERE workspace_id = $1"),
            version: format!("SELECT version FROM {s}.master_todos WHERE workspace_id = $1"),
            create: format!(
                "INSERT INTO {s}.master_todos (workspace_id, version, document, updated_at)
                 VALUES ($1, $2, $3, clock_timestamp())
                 ON CONFLICT (workspace_id) DO NOTHING
                 RETURNING version"
            ),
            // $1 workspace, $2 expected version, $3 new version, $4 document,
            // $5 history bound.
            replace: format!(
                "WITH current AS (
                     SELECT workspace_id, version, document FROM {s}.master_todos
                     WHERE workspace_id = $1
                     FOR UPDATE
                 ), replaced AS (
                     UPDATE {s}.master_todos m
                     SET version = $3, document = $4, updated_at = clock_timestamp()
                     FROM current
                     WHERE m.workspace_id = current.workspace_id AND current.version = $2
                     RETURNING m.workspace_id
                 ), kept AS (
                     INSERT INTO {s}.master_todo_history (workspace_id, version, document, replaced_at)
                     SELECT current.workspace_id, current.version, current.document, clock_timestamp()
                     FROM current, replaced
                     WHERE $5::bigint > 0
                     ON CONFLICT (workspace_id, version)
                     DO UPDATE SET document = EXCLUDED.document, replaced_at = EXCLUDED.replaced_at
                 ), trimmed AS (
                     DELETE FROM {s}.master_todo_history h
                     USING replaced
                     WHERE h.workspace_id = $1 AND h.version <= $2 - $5::bigint
                 )
                 SELECT (SELECT version FROM current), (SELECT count(*) FROM replaced)"
            ),
            history: format!(
                "SELECT document FROM {s}.master_todo_history
                 WHERE workspace_id = $1 ORDER BY version DESC LIMIT $2"
            ),
        }
    }
}

fn to_version(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| {
        Error::validation(
            ["document"],
            format!("Master TODO version {v} is too large to store"),
        )
    })
}

fn parse_stored(workspace: &WorkspaceId, text: &str) -> Result<MasterTodo> {
    MasterTodo::from_json(text.as_bytes()).map_err(|e| {
        Error::storage(format!(
            "the stored Master TODO of workspace {workspace} is unreadable: {e}"
        ))
    })
}

impl PostgresStore {
    async fn current_version(&self, workspace: &WorkspaceId) -> Result<Option<u64>> {
        let sql = &self.inner.todo_sql.version;
        let ws = workspace.as_str();
        let row = self.row("read a Master TODO version", sql, &[&ws]).await?;
        row.map(|r| {
            r.try_get::<_, i64>(0)
                .map_err(|e| Error::storage(format!("unreadable Master TODO version: {e}")))
                .map(|v| u64::try_from(v).unwrap_or(0))
        })
        .transpose()
    }
}

#[async_trait]
impl TodoStore for PostgresStore {
    async fn get(&self, workspace: &WorkspaceId) -> Result<Option<MasterTodo>> {
        let sql = &self.inner.todo_sql.get;
        let ws = workspace.as_str();
        let row = self.row("read a Master TODO", sql, &[&ws]).await?;
        match row {
            Some(row) => {
                let text: String = row
                    .try_get(0)
                    .map_err(|e| Error::storage(format!("unreadable Master TODO: {e}")))?;
                parse_stored(workspace, &text).map(Some)
            }
            None => Ok(None),
        }
    }

    async fn put(&self, doc: &MasterTodo, expected_version: Option<u64>) -> Result<()> {
        check_put(doc, expected_version)?;
        let bytes = doc
            .to_json_vec()
            .map_err(|e| Error::validation(["document"], format!("invalid Master TODO: {e}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|e| Error::internal(format!("serialised Master TODO is not UTF-8: {e}")))?;
        let ws = doc.workspace_id.as_str();
        let new_version = to_version(doc.version)?;
        match expected_version {
            None => {
                let sql = &self.inner.todo_sql.create;
                let stored = self
                    .row("store a new Master TODO", sql, &[&ws, &new_version, &text])
                    .await?;
                if stored.is_none() {
                    let actual = self.current_version(&doc.workspace_id).await?;
                    return Err(version_conflict(&doc.workspace_id, None, actual));
                }
                Ok(())
            }
            Some(expected) => {
                let sql = &self.inner.todo_sql.replace;
                let expected_db = to_version(expected)?;
                let keep = i64::try_from(self.inner.history_limit).unwrap_or(i64::MAX);
                let row = self
                    .one_row(
                        "replace a Master TODO",
                        sql,
                        &[&ws, &expected_db, &new_version, &text, &keep],
                    )
                    .await?;
                let found: Option<i64> = row
                    .try_get(0)
                    .map_err(|e| Error::storage(format!("unreadable Master TODO version: {e}")))?;
                let replaced: i64 = row
                    .try_get(1)
                    .map_err(|e| Error::storage(format!("unreadable update count: {e}")))?;
                if replaced == 1 {
                    Ok(())
                } else {
                    Err(version_conflict(
                        &doc.workspace_id,
                        expected_version,
                        found.map(|v| u64::try_from(v).unwrap_or(0)),
                    ))
                }
            }
        }
    }

    async fn history(&self, workspace: &WorkspaceId, limit: usize) -> Result<Vec<MasterTodo>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let sql = &self.inner.todo_sql.history;
        let ws = workspace.as_str();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .rows("read the Master TODO history", sql, &[&ws, &limit])
            .await?;
        rows.iter()
            .map(|row| {
                let text: String = row
                    .try_get(0)
                    .map_err(|e| Error::storage(format!("unreadable Master TODO history: {e}")))?;
                parse_stored(workspace, &text)
            })
            .collect()
    }
}
