//! The Master TODO document, vault format v1.
//!
//! One [`MasterTodo`] per workspace: its phases and entries, where it came
//! from (`source`, `imported_from`), and a `version` that grows by one with
//! every stored change. The same JSON is the local state, the vault snapshot
//! and the `.todovault/master-todo.json` a repository may commit.
//!
//! Field names are snake_case; times are RFC 3339 UTC with milliseconds.
//! Fields this version does not know are kept in `extra` maps and written back
//! unchanged, so a newer writer's data survives an older reader's
//! read-modify-write. [`MasterTodo::from_json`] validates what it parses; a
//! document with dangling references or duplicate ids is refused whole.
//!
//! ```
//! use todovault_core::{MasterTodo, TodoId, WorkspaceId};
//!
//! let ws = WorkspaceId::parse("ws_prod_42").unwrap();
//! let doc = MasterTodo::new(TodoId::new(), ws);
//! let bytes = doc.to_json_vec().unwrap();
//! let back = MasterTodo::from_json(&bytes).unwrap();
//! assert_eq!(back, doc);
//! ```

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::ids::{EntryId, ImportJobId, PhaseId, TodoId, WorkspaceId};

/// The `schema` string of format v1.
pub const SCHEMA_V1: &str = "todovault/master-todo/v1";

/// A point in time, always written as `2026-01-12T18:24:55.812Z`.
pub type Timestamp = DateTime<Utc>;

/// Current time truncated to milliseconds, so what is stored equals what is
/// read back.
pub fn now_millis() -> Timestamp {
    truncate_millis(Utc::now())
}

/// Drops sub-millisecond precision.
pub fn truncate_millis(t: Timestamp) -> Timestamp {
    use chrono::Timelike;
    let nanos = t.nanosecond() / 1_000_000 * 1_000_000;
    t.with_nanosecond(nanos).unwrap_or(t)
}

/// Formats a timestamp as the wire wants it (RFC 3339, UTC, milliseconds, `Z`).
pub fn format_timestamp(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Serde adapter for [`Timestamp`] fields.
pub mod timestamp {
    use super::*;

    /// Writes RFC 3339 with milliseconds.
    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_timestamp(t))
    }

    /// Reads any RFC 3339 time and converts it to UTC.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| serde::de::Error::custom(format!("invalid RFC 3339 time {s:?}: {e}")))
    }
}

/// A workspace's Master TODO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasterTodo {
    /// Always [`SCHEMA_V1`] for this format.
    pub schema: String,
    /// The document's id; its ULID names the vault key.
    pub id: TodoId,
    /// The workspace the document belongs to.
    pub workspace_id: WorkspaceId,
    /// Grows by one with every stored change, starting at 1.
    pub version: u64,
    /// When the document was first stored.
    #[serde(with = "timestamp")]
    pub created_at: Timestamp,
    /// When the document last changed.
    #[serde(with = "timestamp")]
    pub updated_at: Timestamp,
    /// The first paragraph of the imported repository's README, or empty.
    #[serde(default)]
    pub project_context: String,
    /// The repository import that last fed this document.
    #[serde(default)]
    pub source: Option<Source>,
    /// The vault snapshot this document was last merged from.
    #[serde(default)]
    pub imported_from: Option<ImportedFrom>,
    /// Ordered phases entries may belong to.
    #[serde(default)]
    pub phases: Vec<Phase>,
    /// The work items.
    #[serde(default)]
    pub entries: Vec<Entry>,
    /// Fields this version does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Where a repository import came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// The repository URL with any credentials redacted.
    pub repo_url: String,
    /// The commit that was scanned.
    pub commit: String,
    /// The job that imported it.
    pub import_job_id: ImportJobId,
    /// Fields this version does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The vault snapshot a document was merged from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportedFrom {
    /// The source document's id.
    pub todo_id: TodoId,
    /// The workspace that produced the snapshot.
    pub workspace_id: WorkspaceId,
    /// The vault key that was read.
    pub key: String,
    /// The source document's version at the time.
    pub version: u64,
    /// Fields this version does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The state of a [`Phase`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseStatus {
    /// Not started.
    Pending,
    /// Under way.
    Active,
    /// Done.
    Completed,
}

/// A named stage of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// The phase's id.
    pub id: PhaseId,
    /// Its position; unique within the document.
    pub seq: u64,
    /// Its name.
    pub name: String,
    /// Its state.
    pub status: PhaseStatus,
    /// Fields this version does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The state of an [`Entry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Not started.
    Pending,
    /// Being worked on.
    InProgress,
    /// Done.
    Completed,
    /// Waiting on something.
    Blocked,
    /// Will not be done.
    Cancelled,
    /// Tried and failed.
    Failed,
}

/// How urgent an [`Entry`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Nice to have.
    Low,
    /// The default.
    Medium,
    /// Soon.
    High,
    /// Now.
    Critical,
}

/// Who made an [`Entry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreatedBy {
    /// A repository import; owned by the repository until a user or agent
    /// changes it.
    Import,
    /// A person.
    User,
    /// An automated agent.
    Agent,
}

/// One work item of a Master TODO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The entry's id.
    pub id: EntryId,
    /// Its position; unique within the document.
    pub seq: u64,
    /// The kind of entry; `task` for everything this version makes.
    #[serde(rename = "type", default = "default_entry_type")]
    pub kind: String,
    /// What is to be done.
    pub content: String,
    /// Its state.
    pub status: EntryStatus,
    /// How urgent it is.
    pub priority: Priority,
    /// Entries that must be done first.
    #[serde(default)]
    pub depends_on: Vec<EntryId>,
    /// Sub-entries.
    #[serde(default)]
    pub children: Vec<EntryId>,
    /// The phase it belongs to.
    #[serde(default)]
    pub phase_id: Option<PhaseId>,
    /// Who made it.
    pub created_by: CreatedBy,
    /// When it was made.
    #[serde(with = "timestamp")]
    pub created_at: Timestamp,
    /// When it last changed.
    #[serde(with = "timestamp")]
    pub updated_at: Timestamp,
    /// Who works on it in the current session; cleared on vault import.
    #[serde(default)]
    pub assigned_to: Option<String>,
    /// Sessions that touched it; cleared on vault import.
    #[serde(default)]
    pub session_ids: Vec<String>,
    /// Where in the repository it was found, for imported entries.
    #[serde(default)]
    pub origin: Option<Origin>,
    /// Fields this version does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_entry_type() -> String {
    "task".to_owned()
}

/// Where an imported entry was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    /// Repository-relative path.
    pub path: String,
    /// 1-based line number (informative only: identity is the fingerprint).
    pub line: u32,
    /// `TODO`, `FIXME`, … or `TASK` for Markdown task items.
    pub tag: String,
    /// Owner named in the item, e.g. `alice` from `TODO(alice)`.
    #[serde(default)]
    pub author: Option<String>,
    /// Issue reference named in the item, e.g. `#123`.
    #[serde(default)]
    pub issue: Option<String>,
    /// The item's stable identity within its repository.
    pub fingerprint: String,
    /// The repository (credentials redacted) the item came from, so imports
    /// of several repositories into one workspace never retire each other's
    /// entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_url: Option<String>,
    /// The status the last repository import gave the entry. While the
    /// entry's status still equals it, imports keep the status in step with
    /// the repository; once a user or agent changes it, imports leave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_status: Option<EntryStatus>,
    /// Fields this version does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DocumentError(pub String);

impl MasterTodo {
    /// An empty document at version 1.
    pub fn new(id: TodoId, workspace_id: WorkspaceId) -> Self {
        let now = now_millis();
        Self {
            schema: SCHEMA_V1.to_owned(),
            id,
            workspace_id,
            version: 1,
            created_at: now,
            updated_at: now,
            project_context: String::new(),
            source: None,
            imported_from: None,
            phases: Vec::new(),
            entries: Vec::new(),
            extra: Map::new(),
        }
    }

    /// Parses and validates a document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DocumentError> {
        let doc: MasterTodo = serde_json::from_slice(bytes)
            .map_err(|e| DocumentError(format!("not a Master TODO document: {e}")))?;
        doc.validate()?;
        Ok(doc)
    }

    /// Serialises the document (compact JSON).
    pub fn to_json_vec(&self) -> Result<Vec<u8>, DocumentError> {
        serde_json::to_vec(self).map_err(|e| DocumentError(format!("cannot serialise: {e}")))
    }

    /// Checks the invariants: schema, unique ids and `seq`s, no dangling
    /// `depends_on`, `children` or `phase_id`, no entry depending on itself.
    pub fn validate(&self) -> Result<(), DocumentError> {
        if self.schema != SCHEMA_V1 {
            return Err(DocumentError(format!(
                "unsupported schema {:?}; expected {SCHEMA_V1:?}",
                crate::ids::shorten(&self.schema)
            )));
        }
        if self.version == 0 {
            return Err(DocumentError("version must be at least 1".into()));
        }
        let mut phase_ids = HashSet::new();
        let mut phase_seqs = HashSet::new();
        for phase in &self.phases {
            if !phase_ids.insert(phase.id) {
                return Err(DocumentError(format!("duplicate phase id {}", phase.id)));
            }
            if !phase_seqs.insert(phase.seq) {
                return Err(DocumentError(format!("duplicate phase seq {}", phase.seq)));
            }
        }
        let mut entry_ids = HashSet::new();
        let mut entry_seqs = HashSet::new();
        for entry in &self.entries {
            if !entry_ids.insert(entry.id) {
                return Err(DocumentError(format!("duplicate entry id {}", entry.id)));
            }
            if !entry_seqs.insert(entry.seq) {
                return Err(DocumentError(format!("duplicate entry seq {}", entry.seq)));
            }
        }
        for entry in &self.entries {
            for dep in &entry.depends_on {
                if !entry_ids.contains(dep) {
                    return Err(DocumentError(format!(
                        "entry {} depends on {dep}, which is not in the document",
                        entry.id
                    )));
                }
                if *dep == entry.id {
                    return Err(DocumentError(format!(
                        "entry {} depends on itself",
                        entry.id
                    )));
                }
            }
            for child in &entry.children {
                if !entry_ids.contains(child) {
                    return Err(DocumentError(format!(
                        "entry {} lists child {child}, which is not in the document",
                        entry.id
                    )));
                }
                if *child == entry.id {
                    return Err(DocumentError(format!(
                        "entry {} is its own child",
                        entry.id
                    )));
                }
            }
            if let Some(phase) = &entry.phase_id
                && !phase_ids.contains(phase)
            {
                return Err(DocumentError(format!(
                    "entry {} belongs to phase {phase}, which is not in the document",
                    entry.id
                )));
            }
        }
        Ok(())
    }

    /// The next free entry `seq`.
    pub fn next_entry_seq(&self) -> u64 {
        self.entries.iter().map(|e| e.seq + 1).max().unwrap_or(1)
    }

    /// Looks an entry up by id.
    pub fn entry(&self, id: &EntryId) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == *id)
    }

    /// Whether two documents hold the same content, ignoring `version` and
    /// `updated_at` (which every write changes).
    pub fn same_content(&self, other: &MasterTodo) -> bool {
        let mut a = self.clone();
        a.version = other.version;
        a.updated_at = other.updated_at;
        a == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "schema": "todovault/master-todo/v1",
            "id": "todo_01HF8Z3Q5K3VCD7Y7N8PQRSTA5",
            "workspace_id": "ws_prod_42",
            "version": 7,
            "created_at": "2026-01-12T18:24:55.812Z",
            "updated_at": "2026-01-12T18:24:55.812Z",
            "project_context": "A monorepo.",
            "source": { "repo_url": "https://example.com/r.git", "commit": "abc", "import_job_id": "imp_01HF8Z3Q5K3VCD7Y7N8PQRSTA4" },
            "imported_from": null,
            "phases": [ { "id": "phs_01HF8Z3Q5K3VCD7Y7N8PQRSTA6", "seq": 0, "name": "Build", "status": "active" } ],
            "entries": [ {
                "id": "entry_01HF8Z3Q5K3VCD7Y7N8PQRSTA7", "seq": 1, "type": "task", "content": "Fix it",
                "status": "pending", "priority": "high",
                "depends_on": [], "children": [], "phase_id": "phs_01HF8Z3Q5K3VCD7Y7N8PQRSTA6",
                "created_by": "import", "created_at": "2026-01-12T18:24:55.812Z", "updated_at": "2026-01-12T18:24:55.812Z",
                "assigned_to": null, "session_ids": [],
                "origin": { "path": "src/lib.rs", "line": 42, "tag": "FIXME", "author": "alice", "issue": "#123", "fingerprint": "f1" },
                "future_entry_field": {"x": 1}
            } ],
            "future_top_level": [1, 2, 3]
        })
    }

    #[test]
    fn parses_the_documented_shape_and_round_trips_unknown_fields() {
        let bytes = serde_json::to_vec(&sample()).unwrap();
        let doc = MasterTodo::from_json(&bytes).unwrap();
        assert_eq!(doc.version, 7);
        assert_eq!(
            doc.entries[0].origin.as_ref().unwrap().author.as_deref(),
            Some("alice")
        );
        assert_eq!(doc.extra["future_top_level"], json!([1, 2, 3]));
        let written: Value = serde_json::from_slice(&doc.to_json_vec().unwrap()).unwrap();
        assert_eq!(written["future_top_level"], json!([1, 2, 3]));
        assert_eq!(written["entries"][0]["future_entry_field"], json!({"x": 1}));
        assert_eq!(written["created_at"], json!("2026-01-12T18:24:55.812Z"));
    }

    fn refused(mutate: impl FnOnce(&mut Value)) -> String {
        let mut v = sample();
        mutate(&mut v);
        MasterTodo::from_json(&serde_json::to_vec(&v).unwrap())
            .unwrap_err()
            .0
    }

    #[test]
    fn invalid_documents_are_refused_with_a_reason() {
        assert!(refused(|v| v["schema"] = json!("other/v9")).contains("unsupported schema"));
        assert!(
            refused(|v| v["entries"][0]["depends_on"] = json!(["entry_01HF8Z3Q5K3VCD7Y7N8PQRSTA9"]))
                .contains("depends on")
        );
        assert!(
            refused(|v| v["entries"][0]["children"] = json!(["entry_01HF8Z3Q5K3VCD7Y7N8PQRSTA9"]))
                .contains("child")
        );
        assert!(
            refused(|v| v["entries"][0]["phase_id"] = json!("phs_01HF8Z3Q5K3VCD7Y7N8PQRSTA9"))
                .contains("phase")
        );
        assert!(
            refused(|v| {
                let e = v["entries"][0].clone();
                v["entries"].as_array_mut().unwrap().push(e);
            })
            .contains("duplicate entry id")
        );
        assert!(
            refused(|v| {
                let mut e = v["entries"][0].clone();
                e["id"] = json!("entry_01HF8Z3Q5K3VCD7Y7N8PQRSTA8");
                v["entries"].as_array_mut().unwrap().push(e);
            })
            .contains("duplicate entry seq")
        );
        assert!(
            refused(|v| v["entries"][0]["status"] = json!("done")).contains("not a Master TODO")
        );
        assert!(refused(|v| v["created_at"] = json!("yesterday")).contains("RFC 3339"));
        assert!(refused(|v| v["workspace_id"] = json!("../etc")).contains("workspace id"));
        assert!(refused(|v| v["version"] = json!(0)).contains("version"));
    }

    #[test]
    fn same_content_ignores_version_and_update_time() {
        let doc = MasterTodo::from_json(&serde_json::to_vec(&sample()).unwrap()).unwrap();
        let mut later = doc.clone();
        later.version += 1;
        later.updated_at = now_millis();
        assert!(doc.same_content(&later));
        later.project_context.push('!');
        assert!(!doc.same_content(&later));
    }
}
