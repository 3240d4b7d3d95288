//! The [`Orchestrator`]: the five endpoints of the contract as methods.
//!
//! Built from the stores, a repository source, an extractor and a
//! [`Policy`] through [`OrchestratorBuilder`]. Every method validates its
//! input first (with the contract's messages, word for word) and touches
//! storage only with atomic operations, so a refused or failed call leaves
//! nothing half-written. Import jobs run on workers started with
//! [`Orchestrator::start_workers`] (see [`crate::runner`]).
//!
//! ```
//! # async fn demo() -> todovault_core::Result<()> {
//! use std::sync::Arc;
//! use todovault_core::{Orchestrator, memory::*, source::FixtureSource};
//! # use todovault_core::testkit::TagExtractor;
//!
//! let engine = Orchestrator::builder()
//!     .job_store(Arc::new(MemoryJobStore::new()))
//!     .todo_store(Arc::new(MemoryTodoStore::new()))
//!     .vault_store(Arc::new(MemoryVaultStore::new()))
//!     .source(Arc::new(FixtureSource::new()))
//!     .extractor(Arc::new(TagExtractor))
//!     .build()?;
//! let todos = engine.vault_discover("ws_prod_42").await?;
//! assert!(todos.todos.is_empty());
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::api::{
    Field, ImportStatusResponse, StartImportRequest, StartImportResponse, VaultDiscoverResponse,
    VaultImportRequest, VaultImportResponse, VaultSyncResponse, VaultTodo,
};
use crate::document::MasterTodo;
use crate::error::{Error, Result};
use crate::extract::Extractor;
use crate::ids::{ImportJobId, TodoId, WorkspaceId};
use crate::jobs::{JobStore, NewJob};
use crate::merge::merge_snapshot;
use crate::policy::{Policy, REPO_URL_REQUIRED, VaultImportScope};
use crate::runner::{RunnerConfig, Workers};
use crate::source::RepoSource;
use crate::todos::{TodoStore, UpdateError, Updated, update_master_todo};
use crate::vault::{SnapshotUpload, VaultStore};

/// The contract's message for a missing or empty `sourceWorkspaceID`.
pub const SOURCE_WORKSPACE_REQUIRED: &str = "sourceWorkspaceID must be a non-empty string";
/// The message for an empty or non-string `targetWorkspaceID`.
pub const TARGET_WORKSPACE_REQUIRED: &str = "targetWorkspaceID must be a non-empty string";
/// The contract's message for an unknown job.
pub const JOB_NOT_FOUND: &str = "Import job not found";

/// The engine. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Orchestrator {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) jobs: Arc<dyn JobStore>,
    pub(crate) todos: Arc<dyn TodoStore>,
    pub(crate) vault: Arc<dyn VaultStore>,
    pub(crate) source: Arc<dyn RepoSource>,
    pub(crate) extractor: Arc<dyn Extractor>,
    pub(crate) policy: Policy,
    pub(crate) runner: RunnerConfig,
    /// Full URLs (with credentials) of jobs started here. Never stored:
    /// a job picked up by another host fetches without them.
    pub(crate) secrets: Mutex<HashMap<ImportJobId, String>>,
    /// Wakes idle local workers when a job is started here.
    pub(crate) wake: Notify,
}

/// Builds an [`Orchestrator`]; every store, the source and the extractor are
/// required.
#[derive(Default)]
pub struct OrchestratorBuilder {
    jobs: Option<Arc<dyn JobStore>>,
    todos: Option<Arc<dyn TodoStore>>,
    vault: Option<Arc<dyn VaultStore>>,
    source: Option<Arc<dyn RepoSource>>,
    extractor: Option<Arc<dyn Extractor>>,
    policy: Policy,
    runner: RunnerConfig,
}

impl OrchestratorBuilder {
    /// Where import jobs live.
    pub fn job_store(mut self, store: Arc<dyn JobStore>) -> Self {
        self.jobs = Some(store);
        self
    }
    /// Where Master TODOs live.
    pub fn todo_store(mut self, store: Arc<dyn TodoStore>) -> Self {
        self.todos = Some(store);
        self
    }
    /// Where portable snapshots live.
    pub fn vault_store(mut self, store: Arc<dyn VaultStore>) -> Self {
        self.vault = Some(store);
        self
    }
    /// How repositories are fetched.
    pub fn source(mut self, source: Arc<dyn RepoSource>) -> Self {
        self.source = Some(source);
        self
    }
    /// How work items are found in a fetched repository (default: the
    /// comment-aware scanner, with feature `scan`).
    pub fn extractor(mut self, extractor: Arc<dyn Extractor>) -> Self {
        self.extractor = Some(extractor);
        self
    }
    /// What input is accepted (default: the secure defaults).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }
    /// Worker count, leases, retries (default: [`RunnerConfig::default`]).
    pub fn runner(mut self, runner: RunnerConfig) -> Self {
        self.runner = runner;
        self
    }

    /// The engine, or a validation error naming what is missing.
    pub fn build(self) -> Result<Orchestrator> {
        let missing = |what: &str| {
            Error::validation(
                ["orchestrator"],
                format!("Orchestrator::builder() needs {what}"),
            )
        };
        self.runner.validate()?;
        Ok(Orchestrator {
            inner: Arc::new(Inner {
                jobs: self.jobs.ok_or_else(|| missing("a job store"))?,
                todos: self.todos.ok_or_else(|| missing("a todo store"))?,
                vault: self.vault.ok_or_else(|| missing("a vault store"))?,
                source: self.source.ok_or_else(|| missing("a repository source"))?,
                extractor: match self.extractor {
                    Some(extractor) => extractor,
                    None => {
                        default_extractor(&self.policy).ok_or_else(|| missing("an extractor"))?
                    }
                },
                policy: self.policy,
                runner: self.runner,
                secrets: Mutex::new(HashMap::new()),
                wake: Notify::new(),
            }),
        })
    }
}

/// The scanner, skipping files over the policy's size limit.
#[cfg(feature = "scan")]
fn default_extractor(policy: &Policy) -> Option<Arc<dyn Extractor>> {
    let config = todovault_scan::ScanConfig {
        max_file_size: policy.limits.max_file_bytes,
        ..todovault_scan::ScanConfig::default()
    };
    Some(Arc::new(crate::scan_extractor::ScanExtractor::new(config)))
}

#[cfg(not(feature = "scan"))]
fn default_extractor(_policy: &Policy) -> Option<Arc<dyn Extractor>> {
    None
}

/// Parses a path workspace id into a validation error on `workspaceID`.
pub fn parse_workspace(raw: &str) -> Result<WorkspaceId> {
    WorkspaceId::parse(raw).map_err(|e| Error::validation(["workspaceID"], e.0))
}

fn parse_named_workspace(raw: &str, property: &str) -> Result<WorkspaceId> {
    WorkspaceId::parse(raw).map_err(|e| {
        Error::validation(
            [property],
            format!("{property} is not a valid workspace id: {e}"),
        )
    })
}

/// Whether a Master TODO has anything worth putting in the vault.
pub fn is_eligible_for_sync(doc: &MasterTodo) -> bool {
    !doc.entries.is_empty()
        || !doc.phases.is_empty()
        || doc.source.is_some()
        || doc.imported_from.is_some()
}

impl Orchestrator {
    /// Starts building an engine.
    pub fn builder() -> OrchestratorBuilder {
        OrchestratorBuilder::default()
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The job store (for hosts that inspect or prune jobs).
    pub fn job_store(&self) -> &Arc<dyn JobStore> {
        &self.inner.jobs
    }

    /// The todo store (for hosts that read or edit Master TODOs).
    pub fn todo_store(&self) -> &Arc<dyn TodoStore> {
        &self.inner.todos
    }

    /// `POST …/orchestration/import`: starts a repository import and returns
    /// at once. An import of the same repository already under way in the
    /// workspace is returned instead of starting another.
    pub async fn start_import(
        &self,
        workspace: &str,
        request: StartImportRequest,
    ) -> Result<StartImportResponse> {
        let ws = parse_workspace(workspace)?;
        let raw = request
            .repo_url
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| Error::validation(["repoUrl"], REPO_URL_REQUIRED))?;
        let urls = &self.inner.policy.urls;
        let checked = urls.check(&raw)?;
        urls.check_resolved(&checked).await?;

        let todo_id = self.ensure_master_todo(&ws).await?;
        let with_ref = |base: &str| match &checked.git_ref {
            Some(r) => format!("{base}#{r}"),
            None => base.to_owned(),
        };
        let display_url = with_ref(&checked.display);
        let inserted = self
            .inner
            .jobs
            .insert(NewJob {
                id: ImportJobId::new(),
                workspace_id: ws,
                todo_id,
                repo_url: display_url.clone(),
                max_attempts: self.inner.runner.max_attempts,
            })
            .await?;
        let job = inserted.job();
        let full = with_ref(&checked.url);
        if full != display_url {
            crate::runner::lock(&self.inner.secrets).insert(job.id, full);
        }
        tracing::info!(job = %job.id, workspace = %job.workspace_id, repo = %display_url, "import started");
        self.inner.wake.notify_one();
        Ok(StartImportResponse {
            import_job_id: job.id,
            todo_id: job.todo_id,
        })
    }

    /// The workspace's Master TODO id, creating an empty document when it has
    /// none, so every import started before the first one finishes reports
    /// the same `todoID`.
    async fn ensure_master_todo(&self, ws: &WorkspaceId) -> Result<TodoId> {
        if let Some(doc) = self.inner.todos.get(ws).await? {
            return Ok(doc.id);
        }
        let doc = MasterTodo::new(TodoId::new(), ws.clone());
        match self.inner.todos.put(&doc, None).await {
            Ok(()) => Ok(doc.id),
            Err(Error::Conflict { .. }) => self
                .inner
                .todos
                .get(ws)
                .await?
                .map(|d| d.id)
                .ok_or_else(|| Error::internal("Master TODO vanished after a conflicting create")),
            Err(e) => Err(e),
        }
    }

    /// `GET …/orchestration/import/{jobID}`.
    pub async fn import_status(
        &self,
        workspace: &str,
        job_id: &str,
    ) -> Result<ImportStatusResponse> {
        let ws = parse_workspace(workspace)?;
        let Ok(id) = job_id.parse::<ImportJobId>() else {
            return Err(Error::not_found(JOB_NOT_FOUND));
        };
        let job = self.inner.jobs.get(&ws, &id).await?;
        job.map(|j| j.to_status())
            .ok_or_else(|| Error::not_found(JOB_NOT_FOUND))
    }

    /// Asks an import to stop. Queued jobs stop at once, running ones at
    /// their worker's next heartbeat. Returns the status afterwards.
    pub async fn cancel_import(
        &self,
        workspace: &str,
        job_id: &str,
    ) -> Result<ImportStatusResponse> {
        let ws = parse_workspace(workspace)?;
        let Ok(id) = job_id.parse::<ImportJobId>() else {
            return Err(Error::not_found(JOB_NOT_FOUND));
        };
        let job = self.inner.jobs.request_cancel(&ws, &id).await?;
        job.map(|j| j.to_status())
            .ok_or_else(|| Error::not_found(JOB_NOT_FOUND))
    }

    /// The workspace's Master TODO, if it has one.
    pub async fn master_todo(&self, workspace: &str) -> Result<Option<MasterTodo>> {
        let ws = parse_workspace(workspace)?;
        self.inner.todos.get(&ws).await
    }

    /// `POST …/orchestration/vault/sync`: pushes the workspace's Master TODO
    /// to the vault. Unchanged content is not uploaded again; a vault holding
    /// a newer version is a conflict and is left as it is.
    pub async fn vault_sync(&self, workspace: &str) -> Result<VaultSyncResponse> {
        let ws = parse_workspace(workspace)?;
        let doc = self.inner.todos.get(&ws).await?.ok_or(Error::NotEligible)?;
        if !is_eligible_for_sync(&doc) {
            return Err(Error::NotEligible);
        }
        let upload = SnapshotUpload::from_document(&doc)?;
        let limit = self.inner.policy.limits.max_snapshot_bytes;
        if upload.bytes.len() as u64 > limit {
            return Err(Error::validation(
                ["workspaceID"],
                format!(
                    "the Master TODO is {} bytes, more than the vault's limit of {limit} bytes",
                    upload.bytes.len()
                ),
            ));
        }
        let outcome = self.inner.vault.put(&upload).await?;
        tracing::info!(workspace = %ws, key = %upload.key, version = upload.version, ?outcome, "vault sync");
        Ok(VaultSyncResponse { synced: true })
    }

    /// `GET …/orchestration/vault/discover`: every Master TODO in the vault,
    /// newest first.
    pub async fn vault_discover(&self, workspace: &str) -> Result<VaultDiscoverResponse> {
        parse_workspace(workspace)?;
        let mut metas = self.inner.vault.list().await?;
        metas.sort_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.key.cmp(&b.key))
        });
        Ok(VaultDiscoverResponse {
            todos: metas
                .into_iter()
                .map(|m| VaultTodo {
                    key: m.key,
                    workspace_id: m.workspace_id,
                    size_bytes: m.size_bytes,
                    updated_at: m.updated_at,
                })
                .collect(),
        })
    }

    /// `POST …/orchestration/vault/import`: merges the newest snapshot of
    /// `sourceWorkspaceID` into `targetWorkspaceID` (default: the path
    /// workspace). Importing the same snapshot twice changes nothing.
    pub async fn vault_import(
        &self,
        workspace: &str,
        request: VaultImportRequest,
    ) -> Result<VaultImportResponse> {
        let caller = parse_workspace(workspace)?;
        let source_raw = request
            .source_workspace_id
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::validation(["sourceWorkspaceID"], SOURCE_WORKSPACE_REQUIRED))?;
        let source = parse_named_workspace(&source_raw, "sourceWorkspaceID")?;
        let target = match request.target_workspace_id {
            Field::Absent => caller.clone(),
            Field::String(s) if !s.is_empty() => parse_named_workspace(&s, "targetWorkspaceID")?,
            Field::String(_) | Field::NotAString => {
                return Err(Error::validation(
                    ["targetWorkspaceID"],
                    TARGET_WORKSPACE_REQUIRED,
                ));
            }
        };
        let scope = VaultImportScope {
            caller: &caller,
            source: &source,
            target: &target,
        };
        if !self.inner.policy.allows_vault_import(&scope) {
            return Err(Error::forbidden(format!(
                "workspace {caller} may not import the vault snapshot of workspace {source} into workspace {target}"
            )));
        }

        let snapshot_doc = self.newest_snapshot_of(&source).await?;
        let (key, snapshot) = snapshot_doc;
        let max_entries = self.inner.policy.limits.max_entries;
        let outcome = update_master_todo(
            &*self.inner.todos,
            &target,
            TodoId::new(),
            max_entries,
            || true,
            |doc, _| {
                merge_snapshot(doc, &snapshot, &key);
            },
        )
        .await;
        match outcome {
            Ok(updated) => {
                if updated == Updated::Written {
                    tracing::info!(source = %source, target = %target, key = %key, "vault import");
                }
                Ok(VaultImportResponse {
                    imported: true,
                    target_workspace_id: target,
                })
            }
            Err(UpdateError::Store(e)) => Err(e),
            Err(UpdateError::TooManyEntries(n)) => Err(Error::validation(
                ["sourceWorkspaceID"],
                format!(
                    "the merged Master TODO would hold {n} entries, more than the limit of {max_entries}"
                ),
            )),
            Err(UpdateError::Invalid(e)) => Err(Error::validation(
                ["document"],
                format!("invalid Master TODO: {e}"),
            )),
            Err(UpdateError::Stopped | UpdateError::Contended) => Err(Error::conflict(format!(
                "the Master TODO of workspace {target} kept changing during the import; try again"
            ))),
        }
    }

    async fn newest_snapshot_of(&self, source: &WorkspaceId) -> Result<(String, MasterTodo)> {
        let not_found =
            || Error::not_found(format!("No vault snapshot found for workspace {source}"));
        let newest = self
            .inner
            .vault
            .list()
            .await?
            .into_iter()
            .filter(|m| m.workspace_id == *source)
            .max_by(|a, b| {
                a.updated_at
                    .cmp(&b.updated_at)
                    .then_with(|| a.key.cmp(&b.key))
            })
            .ok_or_else(not_found)?;
        let limit = self.inner.policy.limits.max_snapshot_bytes;
        if newest.size_bytes > limit {
            return Err(Error::validation(
                ["sourceWorkspaceID"],
                format!(
                    "the vault snapshot of workspace {source} is {} bytes, more than the limit of {limit} bytes",
                    newest.size_bytes
                ),
            ));
        }
        let snapshot = self
            .inner
            .vault
            .get(&newest.key)
            .await?
            .ok_or_else(not_found)?;
        let doc = MasterTodo::from_json(&snapshot.bytes).map_err(|e| {
            Error::validation(
                ["sourceWorkspaceID"],
                format!("the vault snapshot of workspace {source} is not a valid Master TODO: {e}"),
            )
        })?;
        if doc.workspace_id != *source {
            return Err(Error::validation(
                ["sourceWorkspaceID"],
                format!(
                    "the vault snapshot at {} names workspace {} inside, not {source}",
                    newest.key, doc.workspace_id
                ),
            ));
        }
        Ok((newest.key, doc))
    }

    /// Starts the configured number of import workers on the current tokio
    /// runtime. Stop them with [`Workers::shutdown`].
    pub fn start_workers(&self) -> Workers {
        crate::runner::start(self.clone())
    }
}
