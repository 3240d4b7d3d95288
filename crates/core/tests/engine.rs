//! The engine end to end on the in-memory stores: the spec's shapes, the
//! import pipeline and runner, re-import semantics and the vault flow.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use todovault_core::api::{
    StartImportRequest, StartImportResponse, VaultImportRequest, WireJobStatus,
};
use todovault_core::document::{CreatedBy, EntryStatus, MasterTodo};
use todovault_core::extract::{Extractor, WorkItem};
use todovault_core::jobs::JobState;
use todovault_core::memory::{MemoryJobStore, MemoryTodoStore, MemoryVaultStore};
use todovault_core::policy::{Limits, Policy};
use todovault_core::source::{
    CancelFlag, FetchRequest, FixtureSource, ImportError, MemorySnapshot, Progress, RepoSnapshot,
    RepoSource,
};
use todovault_core::testkit::{TagExtractor, sample_document, test_policy};
use todovault_core::vault::SnapshotUpload;
use todovault_core::{
    Error, ImportJobId, Orchestrator, RunnerConfig, TodoStore, VaultStore, Workers, WorkspaceId,
};

const REPO: &str = "https://example.com/org/app.git";

struct Stores {
    jobs: Arc<MemoryJobStore>,
    todos: Arc<MemoryTodoStore>,
    vault: Arc<MemoryVaultStore>,
}

impl Stores {
    fn new() -> Self {
        Self {
            jobs: Arc::new(MemoryJobStore::new()),
            todos: Arc::new(MemoryTodoStore::new()),
            vault: Arc::new(MemoryVaultStore::new()),
        }
    }
}

fn engine_with(
    stores: &Stores,
    source: Arc<dyn RepoSource>,
    extractor: Arc<dyn Extractor>,
    policy: Policy,
    runner: RunnerConfig,
) -> Orchestrator {
    Orchestrator::builder()
        .job_store(stores.jobs.clone())
        .todo_store(stores.todos.clone())
        .vault_store(stores.vault.clone())
        .source(source)
        .extractor(extractor)
        .policy(policy)
        .runner(runner)
        .build()
        .unwrap_or_else(|e| panic!("engine: {e}"))
}

fn engine(stores: &Stores, source: FixtureSource) -> Orchestrator {
    engine_with(
        stores,
        Arc::new(source),
        Arc::new(TagExtractor),
        test_policy(),
        RunnerConfig::fast(),
    )
}

fn files(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    list.iter()
        .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
        .collect()
}

fn commit_one() -> MemorySnapshot {
    MemorySnapshot::new(
        "c1",
        files(&[
            ("README.md", "# App\n\nThe app that does things.\n"),
            (
                "src/lib.rs",
                "fn a() {}\n// TODO: alpha\n// FIXME: beta\n// TODO: gamma\n",
            ),
            ("PLAN.md", "- [ ] write docs\n- [x] ship it\n"),
        ]),
    )
}

/// The stored job, which must exist.
async fn stored_job(
    stores: &Stores,
    ws: &WorkspaceId,
    id: &ImportJobId,
) -> todovault_core::ImportJob {
    todovault_core::JobStore::get(&*stores.jobs, ws, id)
        .await
        .unwrap_or_else(|e| panic!("reading job {id}: {e}"))
        .unwrap_or_else(|| panic!("job {id} missing"))
}

/// Starts an import whose fetch takes 30 s on workers of a new engine, and
/// returns once the job is under way.
async fn start_slow_import(stores: &Stores) -> (Orchestrator, Workers, StartImportResponse) {
    let slow = FixtureSource::new()
        .with_repo(REPO, commit_one())
        .with_delay(Duration::from_secs(30));
    let engine = engine(stores, slow);
    let workers = engine.start_workers();
    let started = engine
        .start_import("ws", StartImportRequest::new(REPO))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    (engine, workers, started)
}

/// Polls until the job leaves `running`, checking progress never goes back.
async fn wait(
    engine: &Orchestrator,
    ws: &str,
    job: &ImportJobId,
) -> todovault_core::api::ImportStatusResponse {
    let mut last = 0u8;
    for _ in 0..400 {
        let status = engine
            .import_status(ws, &job.to_string())
            .await
            .unwrap_or_else(|e| panic!("status: {e}"));
        assert!(
            status.progress >= last,
            "progress went back from {last} to {}",
            status.progress
        );
        last = status.progress;
        if status.status != WireJobStatus::Running {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("job {job} did not finish within 10 s");
}

async fn import(
    engine: &Orchestrator,
    ws: &str,
    url: &str,
) -> todovault_core::api::ImportStatusResponse {
    let started = engine
        .start_import(ws, StartImportRequest::new(url))
        .await
        .unwrap_or_else(|e| panic!("start: {e}"));
    wait(engine, ws, &started.import_job_id).await
}

async fn doc(engine: &Orchestrator, ws: &str) -> MasterTodo {
    engine
        .master_todo(ws)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("workspace {ws} has no Master TODO"))
}

fn contents(doc: &MasterTodo) -> Vec<(String, EntryStatus)> {
    let mut v: Vec<_> = doc
        .entries
        .iter()
        .map(|e| (e.content.clone(), e.status))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_import_sync_discover_import_reimport() {
    let stores = Stores::new();
    let engine = engine(&stores, FixtureSource::new().with_repo(REPO, commit_one()));
    let workers = engine.start_workers();

    let started = engine
        .start_import("ws_prod_42", StartImportRequest::new(REPO))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(started.import_job_id.to_string().starts_with("imp_"));
    assert!(started.todo_id.to_string().starts_with("todo_"));
    let status = wait(&engine, "ws_prod_42", &started.import_job_id).await;
    assert_eq!(status.status, WireJobStatus::Completed, "{status:?}");
    assert_eq!(status.progress, 100);
    assert_eq!(status.error, "");

    let prod = doc(&engine, "ws_prod_42").await;
    assert_eq!(
        prod.id, started.todo_id,
        "the import fills the todo it announced"
    );
    assert_eq!(prod.project_context, "The app that does things.");
    assert_eq!(prod.source.as_ref().map(|s| s.commit.as_str()), Some("c1"));
    assert_eq!(
        contents(&prod),
        vec![
            ("alpha".into(), EntryStatus::Pending),
            ("beta".into(), EntryStatus::Pending),
            ("gamma".into(), EntryStatus::Pending),
            ("ship it".into(), EntryStatus::Completed),
            ("write docs".into(), EntryStatus::Pending),
        ]
    );
    assert!(
        prod.entries
            .iter()
            .all(|e| e.created_by == CreatedBy::Import)
    );

    assert!(
        engine
            .vault_sync("ws_prod_42")
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .synced
    );
    let found = engine
        .vault_discover("ws_other")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(found.todos.len(), 1);
    assert_eq!(found.todos[0].workspace_id.as_str(), "ws_prod_42");
    assert_eq!(
        found.todos[0].key,
        format!("vault/todo/{}.json", prod.id.ulid())
    );
    let wire = serde_json::to_value(&found).unwrap_or_else(|e| panic!("{e}"));
    let keys: Vec<_> = wire["todos"][0]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(keys, vec!["key", "workspaceID", "sizeBytes", "updatedAt"]);

    // Another workspace imports it (a host policy allows the crossing).
    let cross = engine_with(
        &stores,
        Arc::new(FixtureSource::new()),
        Arc::new(TagExtractor),
        test_policy().allow_cross_workspace_imports(),
        RunnerConfig::fast(),
    );
    let res = cross
        .vault_import("ws_staging_07", VaultImportRequest::new("ws_prod_42"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(res.imported);
    assert_eq!(res.target_workspace_id.as_str(), "ws_staging_07");
    let staging = doc(&cross, "ws_staging_07").await;
    assert_ne!(
        staging.id, prod.id,
        "a vault import gives the target a new todo id"
    );
    let from = staging
        .imported_from
        .clone()
        .unwrap_or_else(|| panic!("imported_from missing"));
    assert_eq!(from.todo_id, prod.id);
    assert_eq!(from.workspace_id.as_str(), "ws_prod_42");
    assert_eq!(from.version, prod.version);
    assert_eq!(contents(&staging), contents(&prod));

    // Importing the same snapshot again changes nothing.
    cross
        .vault_import("ws_staging_07", VaultImportRequest::new("ws_prod_42"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let again = doc(&cross, "ws_staging_07").await;
    assert_eq!(again, staging, "re-importing a snapshot is a no-op");

    // Re-importing the unchanged repository changes nothing, not even the
    // version, so the vault holds the current document still.
    let status = import(&engine, "ws_prod_42", REPO).await;
    assert_eq!(status.status, WireJobStatus::Completed);
    let reimported = doc(&engine, "ws_prod_42").await;
    assert_eq!(reimported, prod, "re-importing the same commit is a no-op");
    let ids = |d: &MasterTodo| {
        let mut v: Vec<_> = d.entries.iter().map(|e| e.id).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&reimported), ids(&prod));
    assert_eq!(contents(&reimported), contents(&prod));
    workers.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reimport_follows_moves_adds_new_retires_vanished_and_respects_users() {
    let stores = Stores::new();
    let source = FixtureSource::new().with_repo(
        REPO,
        MemorySnapshot::new(
            "c1",
            files(&[(
                "a.rs",
                "// TODO: keep me\n// TODO: user takes me\n// TODO: goes away\n",
            )]),
        ),
    );
    let engine = engine(&stores, source.clone());
    let workers = engine.start_workers();
    assert_eq!(
        import(&engine, "ws", REPO).await.status,
        WireJobStatus::Completed
    );

    // A user edits one imported entry's status and adds an entry of their own;
    // the document also carries a field from a newer writer.
    let ws = WorkspaceId::parse("ws").unwrap_or_else(|e| panic!("{e}"));
    let mut edited = doc(&engine, "ws").await;
    let before = edited.clone();
    let taken = edited
        .entries
        .iter_mut()
        .find(|e| e.content == "user takes me")
        .unwrap_or_else(|| panic!("entry missing"));
    taken.status = EntryStatus::InProgress;
    let mine = sample_document(&ws, 1).entries.remove(0);
    let mine_id = mine.id;
    let mut mine = mine;
    mine.seq = edited.next_entry_seq();
    edited.entries.push(mine);
    edited.extra.insert("newer_field".into(), json!(true));
    edited.version += 1;
    stores
        .todos
        .put(&edited, Some(before.version))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // The next commit moves one TODO down, drops two, and adds one.
    source.set_repo(
        REPO,
        MemorySnapshot::new(
            "c2",
            files(&[("a.rs", "use x;\n\n\n// TODO: keep me\n// TODO: brand new\n")]),
        ),
    );
    assert_eq!(
        import(&engine, "ws", REPO).await.status,
        WireJobStatus::Completed
    );
    let after = doc(&engine, "ws").await;
    let find = |d: &MasterTodo, c: &str| {
        d.entries
            .iter()
            .find(|e| e.content == c)
            .cloned()
            .unwrap_or_else(|| panic!("no entry {c:?}"))
    };
    let kept_before = find(&before, "keep me");
    let kept_after = find(&after, "keep me");
    assert_eq!(
        kept_after.id, kept_before.id,
        "a moved item keeps its entry"
    );
    assert_eq!(
        kept_after.origin.as_ref().map(|o| o.line),
        Some(4),
        "its line follows"
    );
    assert_eq!(
        find(&after, "goes away").status,
        EntryStatus::Completed,
        "vanished items are completed"
    );
    assert_eq!(
        find(&after, "user takes me").status,
        EntryStatus::InProgress,
        "a status a user changed is left alone"
    );
    assert_eq!(
        find(&after, "brand new").status,
        EntryStatus::Pending,
        "new items are added"
    );
    assert!(
        after.entries.iter().any(|e| e.id == mine_id),
        "user entries stay"
    );
    assert_eq!(
        after.extra.get("newer_field"),
        Some(&json!(true)),
        "unknown fields survive a merge"
    );
    assert_eq!(after.entries.len(), 5);

    // A vanished item that comes back is pending again.
    source.set_repo(
        REPO,
        MemorySnapshot::new(
            "c3",
            files(&[("a.rs", "// TODO: keep me\n// TODO: goes away\n")]),
        ),
    );
    assert_eq!(
        import(&engine, "ws", REPO).await.status,
        WireJobStatus::Completed
    );
    let back = doc(&engine, "ws").await;
    assert_eq!(find(&back, "goes away").status, EntryStatus::Pending);
    assert_eq!(find(&back, "goes away").id, find(&before, "goes away").id);

    // Nothing an import replaced is lost: the history holds every version.
    let history = stores
        .todos
        .history(&ws, 10)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(history.iter().any(|d| d == &before));
    workers.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn spec_errors_have_the_contract_shapes() {
    let stores = Stores::new();
    let engine = engine(&stores, FixtureSource::new());
    let wire = |e: Error| (e.status_code(), e.to_wire());
    let repo_url_required = json!({"data":{},"errors":[{"propertyNames":["repoUrl"],"message":"repoUrl must be a non-empty string"}],"success":false});
    for body in [
        json!({}),
        json!({"repoUrl": ""}),
        json!({"repoUrl": null}),
        json!({"repoUrl": 7}),
    ] {
        let req: StartImportRequest =
            serde_json::from_value(body).unwrap_or_else(|e| panic!("{e}"));
        let err = engine.start_import("ws", req).await.unwrap_err();
        assert_eq!(wire(err), (400, repo_url_required.clone()));
    }
    let not_found = json!({"name":"NotFoundError","data":{"message":"Import job not found"}});
    let err = engine
        .import_status("ws", &ImportJobId::new().to_string())
        .await
        .unwrap_err();
    assert_eq!(wire(err), (404, not_found.clone()));
    let err = engine.import_status("ws", "not-a-job").await.unwrap_err();
    assert_eq!(wire(err), (404, not_found.clone()));

    let err = engine.vault_sync("ws").await.unwrap_err();
    assert_eq!(
        wire(err),
        (
            400,
            json!({"data":{},"errors":[{"propertyNames":["workspaceID"],"message":"Workspace not eligible for vault sync"}],"success":false})
        )
    );
    for body in [
        json!({}),
        json!({"sourceWorkspaceID": ""}),
        json!({"sourceWorkspaceID": 1}),
    ] {
        let req: VaultImportRequest =
            serde_json::from_value(body).unwrap_or_else(|e| panic!("{e}"));
        let err = engine.vault_import("ws", req).await.unwrap_err();
        assert_eq!(
            wire(err),
            (
                400,
                json!({"data":{},"errors":[{"propertyNames":["sourceWorkspaceID"],"message":"sourceWorkspaceID must be a non-empty string"}],"success":false})
            )
        );
    }
    let req: VaultImportRequest =
        serde_json::from_value(json!({"sourceWorkspaceID": "ws", "targetWorkspaceID": ""}))
            .unwrap_or_else(|e| panic!("{e}"));
    let (code, body) = wire(engine.vault_import("ws", req).await.unwrap_err());
    assert_eq!(code, 400);
    assert_eq!(
        body["errors"][0]["propertyNames"],
        json!(["targetWorkspaceID"])
    );

    // Bad workspace ids, cross-workspace imports without a policy, and a
    // source with no snapshot.
    let (code, body) = wire(engine.vault_discover("../etc").await.unwrap_err());
    assert_eq!(
        (code, body["errors"][0]["propertyNames"].clone()),
        (400, json!(["workspaceID"]))
    );
    let (code, body) = wire(
        engine
            .vault_import("ws", VaultImportRequest::new("other"))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, body["name"].clone()), (403, json!("ForbiddenError")));
    let (code, body) = wire(
        engine
            .vault_import("ws", VaultImportRequest::new("ws").with_target("elsewhere"))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, body["name"].clone()), (403, json!("ForbiddenError")));
    let (code, body) = wire(
        engine
            .vault_import("ws", VaultImportRequest::new("ws"))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, body["name"].clone()), (404, json!("NotFoundError")));
    let (code, body) = wire(
        engine
            .vault_import("ws", VaultImportRequest::new("bad id!"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (code, body["errors"][0]["propertyNames"].clone()),
        (400, json!(["sourceWorkspaceID"]))
    );

    // Nothing was stored by any refused call.
    assert!(
        stores
            .vault
            .list()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    let ws = WorkspaceId::parse("ws").unwrap_or_else(|e| panic!("{e}"));
    assert!(
        stores
            .todos
            .get(&ws)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none()
    );
}

#[tokio::test]
async fn starting_the_same_import_twice_returns_the_same_job_and_credentials_are_never_stored() {
    let stores = Stores::new();
    let secret_url = "https://alice:s3cret@example.com/org/app.git";
    let engine = engine(
        &stores,
        FixtureSource::new().with_repo(secret_url, commit_one()),
    );
    let a = engine
        .start_import("ws", StartImportRequest::new(secret_url))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let b = engine
        .start_import("ws", StartImportRequest::new(REPO))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b, "an active import of the same repository is returned");
    let ws = WorkspaceId::parse("ws").unwrap_or_else(|e| panic!("{e}"));
    let job = stored_job(&stores, &ws, &a.import_job_id).await;
    assert_eq!(job.repo_url, REPO, "the stored URL has no credentials");

    let workers = engine.start_workers();
    assert_eq!(
        wait(&engine, "ws", &a.import_job_id).await.status,
        WireJobStatus::Completed
    );
    let d = doc(&engine, "ws").await;
    let text = String::from_utf8(d.to_json_vec().unwrap_or_default()).unwrap_or_default();
    assert!(
        !text.contains("s3cret"),
        "the Master TODO never holds credentials"
    );
    assert_eq!(d.source.map(|s| s.repo_url), Some(REPO.to_owned()));
    workers.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_running_import() {
    let stores = Stores::new();
    let source = FixtureSource::new()
        .with_repo(REPO, commit_one())
        .with_delay(Duration::from_secs(5));
    let engine = engine(&stores, source);
    let workers = engine.start_workers();
    let started = engine
        .start_import("ws", StartImportRequest::new(REPO))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Let it get into the fetch.
    for _ in 0..100 {
        let s = engine
            .import_status("ws", &started.import_job_id.to_string())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if s.progress > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t0 = std::time::Instant::now();
    engine
        .cancel_import("ws", &started.import_job_id.to_string())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = wait(&engine, "ws", &started.import_job_id).await;
    assert_eq!(status.status, WireJobStatus::Failed);
    assert_eq!(status.error, "cancelled");
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "cancel took {:?}",
        t0.elapsed()
    );
    assert!(
        doc(&engine, "ws").await.entries.is_empty(),
        "a cancelled import merges nothing"
    );
    workers.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_job_is_picked_up_again() {
    let stores = Stores::new();
    let (_first, dying, started) = start_slow_import(&stores).await;
    dying.abort(); // as if the process were killed: nothing is written

    let second = engine(&stores, FixtureSource::new().with_repo(REPO, commit_one()));
    let rescuers = second.start_workers();
    let status = wait(&second, "ws", &started.import_job_id).await;
    assert_eq!(status.status, WireJobStatus::Completed, "{status:?}");
    let ws = WorkspaceId::parse("ws").unwrap_or_else(|e| panic!("{e}"));
    let job = stored_job(&stores, &ws, &started.import_job_id).await;
    assert_eq!(job.attempt, 2, "the rescued run is the second attempt");
    assert_eq!(doc(&second, "ws").await.entries.len(), 5);
    rescuers.shutdown(Duration::from_secs(5)).await;
}

/// Fails transiently `failures` times, then serves the fixture.
struct Flaky {
    failures: usize,
    calls: AtomicUsize,
    inner: FixtureSource,
}

#[async_trait]
impl RepoSource for Flaky {
    async fn fetch(
        &self,
        request: &FetchRequest,
        progress: &Progress,
        cancel: &CancelFlag,
    ) -> Result<Box<dyn RepoSnapshot>, ImportError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            progress.set_fraction(0.5);
            return Err(ImportError::Transient(
                "the git server did not answer".into(),
            ));
        }
        self.inner.fetch(request, progress, cancel).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_up_to_the_bound() {
    let stores = Stores::new();
    let recovering = Arc::new(Flaky {
        failures: 2,
        calls: AtomicUsize::new(0),
        inner: FixtureSource::new().with_repo(REPO, commit_one()),
    });
    let engine = engine_with(
        &stores,
        recovering.clone(),
        Arc::new(TagExtractor),
        test_policy(),
        RunnerConfig::fast(),
    );
    let workers = engine.start_workers();
    let status = import(&engine, "ws", REPO).await;
    assert_eq!(status.status, WireJobStatus::Completed, "{status:?}");
    assert_eq!(recovering.calls.load(Ordering::SeqCst), 3);
    workers.shutdown(Duration::from_secs(5)).await;

    let stores = Stores::new();
    let broken = Arc::new(Flaky {
        failures: usize::MAX,
        calls: AtomicUsize::new(0),
        inner: FixtureSource::new(),
    });
    let engine = engine_with(
        &stores,
        broken.clone(),
        Arc::new(TagExtractor),
        test_policy(),
        RunnerConfig::fast(),
    );
    let workers = engine.start_workers();
    let status = import(&engine, "ws", REPO).await;
    assert_eq!(status.status, WireJobStatus::Failed);
    assert_eq!(
        status.error, "the git server did not answer",
        "the last failure says why"
    );
    assert_eq!(
        broken.calls.load(Ordering::SeqCst),
        3,
        "attempts are bounded by max_attempts"
    );
    workers.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failures_and_timeouts_fail_with_a_sentence() {
    let stores = Stores::new();
    let engine = engine(&stores, FixtureSource::new());
    let workers = engine.start_workers();
    let status = import(&engine, "ws", "https://example.com/missing.git").await;
    assert_eq!(status.status, WireJobStatus::Failed);
    assert_eq!(
        status.error,
        "repository https://example.com/missing.git was not found; check the URL and that it is accessible"
    );
    workers.shutdown(Duration::from_secs(5)).await;

    let stores = Stores::new();
    let slow = FixtureSource::new()
        .with_repo(REPO, commit_one())
        .with_delay(Duration::from_secs(20));
    let policy = test_policy().with_limits(Limits {
        job_timeout: Duration::from_millis(400),
        ..Limits::default()
    });
    let engine = engine_with(
        &stores,
        Arc::new(slow),
        Arc::new(TagExtractor),
        policy,
        RunnerConfig::fast(),
    );
    let workers = engine.start_workers();
    let status = import(&engine, "ws", REPO).await;
    assert_eq!(status.status, WireJobStatus::Failed);
    assert_eq!(status.error, "timed out after 400 ms");
    workers.shutdown(Duration::from_secs(5)).await;
}

/// Burns CPU on the calling thread for `busy`, ignoring everything.
struct BusyExtractor {
    busy: Duration,
    ran: AtomicBool,
}

impl Extractor for BusyExtractor {
    fn extract(
        &self,
        snapshot: &dyn RepoSnapshot,
        progress: &(dyn Fn(f64) + Sync),
        cancel: &AtomicBool,
    ) -> Result<Vec<WorkItem>, ImportError> {
        let t0 = std::time::Instant::now();
        let mut x = 0u64;
        while t0.elapsed() < self.busy {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            progress(t0.elapsed().as_secs_f64() / self.busy.as_secs_f64());
        }
        std::hint::black_box(x);
        self.ran.store(true, Ordering::SeqCst);
        TagExtractor.extract(snapshot, progress, cancel)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn cpu_heavy_extraction_never_starves_heartbeats() {
    let stores = Stores::new();
    let runner = RunnerConfig::fast(); // lease 1.5 s, well under the 3 s of CPU work
    let extractor = Arc::new(BusyExtractor {
        busy: Duration::from_secs(3),
        ran: AtomicBool::new(false),
    });
    let engine = engine_with(
        &stores,
        Arc::new(FixtureSource::new().with_repo(REPO, commit_one())),
        extractor.clone(),
        test_policy(),
        runner,
    );
    let workers = engine.start_workers();
    let started = engine
        .start_import("ws", StartImportRequest::new(REPO))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = wait(&engine, "ws", &started.import_job_id).await;
    assert_eq!(status.status, WireJobStatus::Completed, "{status:?}");
    let ws = WorkspaceId::parse("ws").unwrap_or_else(|e| panic!("{e}"));
    let job = stored_job(&stores, &ws, &started.import_job_id).await;
    assert_eq!(job.attempt, 1, "the lease held through the CPU work");
    assert!(extractor.ran.load(Ordering::SeqCst));
    workers.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_gives_running_jobs_back() {
    let stores = Stores::new();
    let (_first, workers, started) = start_slow_import(&stores).await;
    let t0 = std::time::Instant::now();
    workers.shutdown(Duration::from_millis(200)).await;
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        t0.elapsed()
    );
    let ws = WorkspaceId::parse("ws").unwrap_or_else(|e| panic!("{e}"));
    let job = stored_job(&stores, &ws, &started.import_job_id).await;
    assert_eq!(
        job.state,
        JobState::Queued,
        "a job interrupted by shutdown is queued again"
    );
    assert_eq!(job.attempt, 0, "and the attempt does not count");

    let second = engine(&stores, FixtureSource::new().with_repo(REPO, commit_one()));
    let workers = second.start_workers();
    assert_eq!(
        wait(&second, "ws", &started.import_job_id).await.status,
        WireJobStatus::Completed
    );
    workers.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_master_todo_is_imported_as_it_is_and_an_invalid_one_refused() {
    let stores = Stores::new();
    let ws = WorkspaceId::parse("repo-owner").unwrap_or_else(|e| panic!("{e}"));
    let committed = sample_document(&ws, 3);
    let committed_json =
        String::from_utf8(committed.to_json_vec().unwrap_or_default()).unwrap_or_default();
    let source = FixtureSource::new()
        .with_repo(
            REPO,
            MemorySnapshot::new(
                "c1",
                files(&[(".todovault/master-todo.json", &committed_json)]),
            ),
        )
        .with_repo(
            "https://example.com/bad.git",
            MemorySnapshot::new(
                "c1",
                files(&[(".todovault/master-todo.json", "{\"schema\":\"nope\"}")]),
            ),
        );
    let engine = engine(&stores, source);
    let workers = engine.start_workers();
    assert_eq!(
        import(&engine, "ws", REPO).await.status,
        WireJobStatus::Completed
    );
    let d = doc(&engine, "ws").await;
    assert_eq!(d.entries.len(), 1);
    assert_eq!(
        d.entries[0].id, committed.entries[0].id,
        "committed entries keep their ids"
    );

    let status = import(&engine, "ws2", "https://example.com/bad.git").await;
    assert_eq!(status.status, WireJobStatus::Failed);
    assert!(
        status
            .error
            .starts_with("the repository's .todovault/master-todo.json is not a valid Master TODO"),
        "{}",
        status.error
    );
    assert!(
        doc(&engine, "ws2").await.entries.is_empty(),
        "nothing of a refused document is used"
    );
    workers.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_never_overwrites_a_newer_vault_snapshot() {
    let stores = Stores::new();
    let engine = engine(&stores, FixtureSource::new().with_repo(REPO, commit_one()));
    let workers = engine.start_workers();
    assert_eq!(
        import(&engine, "ws", REPO).await.status,
        WireJobStatus::Completed
    );
    let local = doc(&engine, "ws").await;
    // Another host already synced a later version of the same document.
    let mut newer = local.clone();
    newer.version += 5;
    newer.project_context = "from another host".into();
    stores
        .vault
        .put(&SnapshotUpload::from_document(&newer).unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let err = engine.vault_sync("ws").await.unwrap_err();
    assert_eq!(err.status_code(), 409, "{err}");
    let held = stores
        .vault
        .get(&todovault_core::vault::key_for(&local.id))
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("snapshot vanished"));
    assert_eq!(
        MasterTodo::from_json(&held.bytes).map(|d| d.version).ok(),
        Some(newer.version)
    );

    // Syncing twice uploads once.
    let stores2 = Stores::new();
    let engine2 = engine_with(
        &stores2,
        Arc::new(FixtureSource::new()),
        Arc::new(TagExtractor),
        test_policy(),
        RunnerConfig::fast(),
    );
    let mut fresh = local.clone();
    fresh.version = 1;
    stores2
        .todos
        .put(&fresh, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        engine2
            .vault_sync(local.workspace_id.as_str())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .synced
    );
    let first = stores2.vault.list().await.unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        engine2
            .vault_sync(local.workspace_id.as_str())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .synced
    );
    let second = stores2.vault.list().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first, second, "unchanged content is not uploaded again");
    workers.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn vault_import_merges_by_entry_id_and_clears_session_fields() {
    let stores = Stores::new();
    let engine = engine_with(
        &stores,
        Arc::new(FixtureSource::new()),
        Arc::new(TagExtractor),
        test_policy().allow_cross_workspace_imports(),
        RunnerConfig::fast(),
    );
    let src_ws = WorkspaceId::parse("src").unwrap_or_else(|e| panic!("{e}"));
    let dst_ws = WorkspaceId::parse("dst").unwrap_or_else(|e| panic!("{e}"));
    let mut source = sample_document(&src_ws, 1);
    source.entries[0].assigned_to = Some("agent-7".into());
    source.entries[0].session_ids = vec!["sess-1".into()];
    stores
        .todos
        .put(&source, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    engine
        .vault_sync("src")
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let mut target = sample_document(&dst_ws, 1);
    target.entries[0].content = "target only".into();
    stores
        .todos
        .put(&target, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    engine
        .vault_import("dst", VaultImportRequest::new("src"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let merged = doc(&engine, "dst").await;
    assert_eq!(merged.id, target.id, "an existing target keeps its id");
    assert_eq!(merged.entries.len(), 2, "target-only entries stay");
    let incoming = merged
        .entry(&source.entries[0].id)
        .cloned()
        .unwrap_or_else(|| panic!("entry missing"));
    assert_eq!(incoming.assigned_to, None, "assigned_to is cleared");
    assert!(incoming.session_ids.is_empty(), "session_ids are cleared");
    assert_ne!(incoming.seq, merged.entries[0].seq, "seqs stay unique");

    // A newer edit in the source wins; an older one does not.
    let mut src_v2 = doc(&engine, "src").await;
    src_v2.entries[0].content = "edited in source".into();
    src_v2.entries[0].updated_at =
        todovault_core::document::now_millis() + chrono::Duration::seconds(1);
    src_v2.version = 2;
    stores
        .todos
        .put(&src_v2, Some(1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    engine
        .vault_sync("src")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    engine
        .vault_import("dst", VaultImportRequest::new("src"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let merged2 = doc(&engine, "dst").await;
    assert_eq!(
        merged2
            .entry(&source.entries[0].id)
            .map(|e| e.content.clone()),
        Some("edited in source".to_owned())
    );
    assert_eq!(merged2.imported_from.as_ref().map(|f| f.version), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_comment_aware_scanner_is_the_default_extractor() {
    let stores = Stores::new();
    let snapshot = MemorySnapshot::new(
        "c1",
        files(&[
            (
                "src/main.rs",
                "fn main() {\n    let s = \"TODO: a string, not a task\";\n    // FIXME(#42): handle the error /bob\n}\n",
            ),
            ("notes.md", "- [ ] parent\n  - [x] child\n"),
            ("vendor/dep.rs", "// TODO: vendored, skipped\n"),
        ]),
    );
    let engine = Orchestrator::builder()
        .job_store(stores.jobs.clone())
        .todo_store(stores.todos.clone())
        .vault_store(stores.vault.clone())
        .source(Arc::new(FixtureSource::new().with_repo(REPO, snapshot)))
        .policy(test_policy())
        .runner(RunnerConfig::fast())
        .build()
        .unwrap_or_else(|e| panic!("engine: {e}"));
    let workers = engine.start_workers();
    assert_eq!(
        import(&engine, "ws", REPO).await.status,
        WireJobStatus::Completed
    );
    let d = doc(&engine, "ws").await;
    assert_eq!(
        contents(&d),
        vec![
            ("child".into(), EntryStatus::Completed),
            ("handle the error".into(), EntryStatus::Pending),
            ("parent".into(), EntryStatus::Pending),
        ]
    );
    let fixme = d
        .entries
        .iter()
        .find(|e| e.content == "handle the error")
        .and_then(|e| e.origin.clone())
        .unwrap_or_else(|| panic!("FIXME entry missing"));
    assert_eq!(
        (
            fixme.tag.as_str(),
            fixme.author.as_deref(),
            fixme.issue.as_deref(),
            fixme.line
        ),
        ("FIXME", Some("bob"), Some("#42"), 3)
    );
    let parent = d
        .entries
        .iter()
        .find(|e| e.content == "parent")
        .unwrap_or_else(|| panic!("parent missing"));
    let child = d
        .entries
        .iter()
        .find(|e| e.content == "child")
        .unwrap_or_else(|| panic!("child missing"));
    assert_eq!(
        parent.children,
        vec![child.id],
        "nested task items become children"
    );
    workers.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_scanner_skips_files_over_the_policy_size_limit() {
    let stores = Stores::new();
    let snapshot = MemorySnapshot::new(
        "c1",
        files(&[
            ("small.rs", "// TODO: kept\n"),
            (
                "big.rs",
                &format!("// TODO: too big to scan\n{}", "x".repeat(200)),
            ),
        ]),
    );
    let policy = test_policy().with_limits(Limits {
        max_file_bytes: 100,
        ..Limits::default()
    });
    let engine = Orchestrator::builder()
        .job_store(stores.jobs.clone())
        .todo_store(stores.todos.clone())
        .vault_store(stores.vault.clone())
        .source(Arc::new(FixtureSource::new().with_repo(REPO, snapshot)))
        .policy(policy)
        .runner(RunnerConfig::fast())
        .build()
        .unwrap_or_else(|e| panic!("engine: {e}"));
    let workers = engine.start_workers();
    assert_eq!(
        import(&engine, "ws", REPO).await.status,
        WireJobStatus::Completed
    );
    assert_eq!(
        contents(&doc(&engine, "ws").await),
        vec![("kept".into(), EntryStatus::Pending)]
    );
    workers.shutdown(Duration::from_secs(5)).await;
}
