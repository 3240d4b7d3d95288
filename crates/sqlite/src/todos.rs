//! [`TodoStore`] on SQLite.
//!
//! A put is one `BEGIN IMMEDIATE` transaction: compare the stored version,
//! move the replaced document into `todo_history`, write the new one, and
//! trim the history to [`SqliteOptions::history_limit`] versions. Documents
//! are stored as the JSON text core serializes, so fields this build does
//! not know (written by a newer one) survive.
//!
//! [`SqliteOptions::history_limit`]: crate::SqliteOptions::history_limit

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use todovault_core::todos::{check_put, version_conflict};
use todovault_core::{Error, MasterTodo, Result, TodoStore, WorkspaceId};

use crate::schema::now_ms;
use crate::store::SqliteStore;

fn parse_document(json: &str, workspace: &str, version: Option<i64>) -> Result<MasterTodo> {
    MasterTodo::from_json(json.as_bytes()).map_err(|e| {
        let which = version.map_or_else(|| "current".to_owned(), |v| format!("version {v} of the"));
        Error::storage(format!(
            "the {which} Master TODO of workspace {workspace} stored in SQLite is unreadable: {e}"
        ))
    })
}

#[async_trait]
impl TodoStore for SqliteStore {
    async fn get(&self, workspace: &WorkspaceId) -> Result<Option<MasterTodo>> {
        let workspace = workspace.to_string();
        self.read("reading a Master TODO", move |conn| {
            let json: Option<String> = conn
                .prepare_cached("SELECT document FROM todos WHERE workspace_id = ?1")?
                .query_row([&workspace], |r| r.get(0))
                .optional()?;
            Ok(json
                .map(|j| parse_document(&j, &workspace, None))
                .transpose()?)
        })
        .await
    }

    async fn put(&self, doc: &MasterTodo, expected_version: Option<u64>) -> Result<()> {
        check_put(doc, expected_version)?;
        let too_big = |v: u64| {
            Error::validation(
                ["document"],
                format!("Master TODO version {v} is too large to store"),
            )
        };
        let version = i64::try_from(doc.version).map_err(|_| too_big(doc.version))?;
        let json = doc
            .to_json_vec()
            .map_err(|e| Error::internal(format!("cannot serialise the Master TODO: {e}")))
            .and_then(|b| {
                String::from_utf8(b).map_err(|e| {
                    Error::internal(format!("the serialised Master TODO is not UTF-8: {e}"))
                })
            })?;
        let workspace_id = doc.workspace_id.clone();
        let workspace = workspace_id.to_string();
        let todo_id = doc.id.to_string();
        let keep = i64::try_from(self.inner.options.history_limit).unwrap_or(i64::MAX);
        self.write("storing a Master TODO", move |conn| {
            let actual: Option<i64> = conn
                .prepare_cached("SELECT version FROM todos WHERE workspace_id = ?1")?
                .query_row([&workspace], |r| r.get(0))
                .optional()?;
            let actual_u64 = actual.map(|v| u64::try_from(v).unwrap_or(0));
            if actual_u64 != expected_version {
                return Err(version_conflict(&workspace_id, expected_version, actual_u64).into());
            }
            if actual.is_some() {
                conn.prepare_cached(concat!(
                    "INSERT INTO todo_history \
                       (workspace_id, version, todo_id, document, replaced_at) \
                     SELECT workspace_id, version, todo_id, document, ",
                    now_ms!(),
                    " FROM todos WHERE workspace_id = ?1"
                ))?
                .execute([&workspace])?;
                conn.prepare_cached(concat!(
                    "UPDATE todos SET todo_id = ?2, version = ?3, document = ?4, updated_at = ",
                    now_ms!(),
                    " WHERE workspace_id = ?1"
                ))?
                .execute(params![workspace, todo_id, version, json])?;
                // Keep the newest `keep` replaced versions.
                conn.prepare_cached(
                    "DELETE FROM todo_history WHERE workspace_id = ?1 AND version <= \
                       (SELECT version FROM todo_history WHERE workspace_id = ?1 \
                        ORDER BY version DESC LIMIT 1 OFFSET ?2)",
                )?
                .execute(params![workspace, keep])?;
            } else {
                conn.prepare_cached(concat!(
                    "INSERT INTO todos (workspace_id, todo_id, version, document, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ",
                    now_ms!(),
                    ")"
                ))?
                .execute(params![workspace, todo_id, version, json])?;
            }
            Ok(())
        })
        .await
    }

    async fn history(&self, workspace: &WorkspaceId, limit: usize) -> Result<Vec<MasterTodo>> {
        let workspace = workspace.to_string();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read("reading Master TODO history", move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT version, document FROM todo_history WHERE workspace_id = ?1 \
                 ORDER BY version DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![workspace, limit], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (version, json) = row?;
                out.push(parse_document(&json, &workspace, Some(version))?);
            }
            Ok(out)
        })
        .await
    }
}
