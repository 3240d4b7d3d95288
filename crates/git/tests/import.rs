//! End to end: repositories built by the tests, imported through the
//! engine (`Orchestrator` on the in-memory stores, the fast runner, and the
//! default extractor: the comment-aware scanner) over `file://` and over
//! smart HTTP on
//! 127.0.0.1, polled until they finish.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{Fixture, GitHttpServer, StallingServer, entries};
use todovault_core::api::{ImportStatusResponse, StartImportRequest, WireJobStatus};
use todovault_core::document::{EntryStatus, MasterTodo};
use todovault_core::memory::{MemoryJobStore, MemoryTodoStore, MemoryVaultStore};
use todovault_core::policy::{Limits, Policy, UrlPolicy};
use todovault_core::{Orchestrator, RunnerConfig, TodoStore, Workers, WorkspaceId};
use todovault_git::{GitSource, GitSourceOptions};

const WS: &str = "ws_git";

struct Engine {
    engine: Orchestrator,
    todos: Arc<MemoryTodoStore>,
    workers: Option<Workers>,
    temp: tempfile::TempDir,
}

impl Engine {
    fn new(limits: Limits, stall: Duration) -> Self {
        let urls = UrlPolicy {
            allow_http: true,
            allow_private_hosts: true,
            allow_file: true,
            allow_local_paths: true,
            ..UrlPolicy::default()
        };
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let source = GitSource::new(GitSourceOptions {
            stall_timeout: stall,
            temp_dir: Some(temp.path().to_owned()),
            ..GitSourceOptions::from_url_policy(&urls)
        });
        let todos = Arc::new(MemoryTodoStore::new());
        let engine = Orchestrator::builder()
            .job_store(Arc::new(MemoryJobStore::new()))
            .todo_store(todos.clone())
            .vault_store(Arc::new(MemoryVaultStore::new()))
            .source(Arc::new(source))
            .policy(Policy::default().with_urls(urls).with_limits(limits))
            .runner(RunnerConfig::fast())
            .build()
            .unwrap_or_else(|e| panic!("engine: {e}"));
        let workers = Some(engine.start_workers());
        Self {
            engine,
            todos,
            workers,
            temp,
        }
    }

    async fn start(&self, url: &str) -> todovault_core::ImportJobId {
        self.engine
            .start_import(WS, StartImportRequest::new(url))
            .await
            .unwrap_or_else(|e| panic!("start import of {url}: {e}"))
            .import_job_id
    }

    /// Polls until the job leaves `running`; progress never goes back.
    async fn wait(&self, job: &todovault_core::ImportJobId) -> ImportStatusResponse {
        let mut last = 0u8;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let status = self
                .engine
                .import_status(WS, &job.to_string())
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
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("job {job} did not finish within 60 s");
    }

    async fn import(&self, url: &str) -> ImportStatusResponse {
        let job = self.start(url).await;
        self.wait(&job).await
    }

    async fn doc(&self) -> MasterTodo {
        self.engine
            .master_todo(WS)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no Master TODO"))
    }

    async fn stop(mut self) {
        if let Some(w) = self.workers.take() {
            w.shutdown(Duration::from_secs(5)).await;
        }
        // Every temporary repository is gone once the jobs are over.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !entries(self.temp.path()).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            entries(self.temp.path()).is_empty(),
            "temporary repositories left behind: {:?}",
            entries(self.temp.path())
        );
    }
}

/// `(content, path, status)` of every entry, sorted.
fn items(doc: &MasterTodo) -> Vec<(String, String, EntryStatus)> {
    let mut v: Vec<_> = doc
        .entries
        .iter()
        .map(|e| {
            (
                e.content.clone(),
                e.origin
                    .as_ref()
                    .map(|o| o.path.clone())
                    .unwrap_or_default(),
                e.status,
            )
        })
        .collect();
    v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    v
}

fn item(content: &str, path: &str, status: EntryStatus) -> (String, String, EntryStatus) {
    (content.to_owned(), path.to_owned(), status)
}

fn first_commit(f: &Fixture) -> String {
    f.write("README.md", "# App\n\nAn app imported from git.\n")
        .write(
            "src/lib.rs",
            "pub fn a() {}\n// TODO: alpha\n// FIXME: beta\n\n// TODO: gamma\n",
        )
        .write("docs/notes.md", "Notes.\n")
        .write("web/app.ts", "// TODO: typed routes\nexport const x = 1;\n");
    f.commit("first")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_over_file_url_becomes_the_master_todo_and_reimports_merge() {
    let e = Engine::new(Limits::default(), Duration::from_secs(30));
    let f = Fixture::new("app");
    let c1 = first_commit(&f);

    let status = e.import(&f.file_url()).await;
    assert_eq!(status.status, WireJobStatus::Completed, "{status:?}");
    assert_eq!((status.progress, status.error.as_str()), (100, ""));
    let doc = e.doc().await;
    assert_eq!(
        items(&doc),
        vec![
            item("alpha", "src/lib.rs", EntryStatus::Pending),
            item("beta", "src/lib.rs", EntryStatus::Pending),
            item("gamma", "src/lib.rs", EntryStatus::Pending),
            item("typed routes", "web/app.ts", EntryStatus::Pending),
        ]
    );
    assert_eq!(doc.project_context, "An app imported from git.");
    let source = doc.source.clone().unwrap_or_else(|| panic!("no source"));
    assert_eq!(source.commit, c1);
    assert_eq!(source.repo_url, f.file_url());
    let id_of = |doc: &MasterTodo, content: &str| {
        doc.entries
            .iter()
            .find(|x| x.content == content)
            .map(|x| x.id)
            .unwrap_or_else(|| panic!("no entry {content}"))
    };
    let alpha = id_of(&doc, "alpha");
    let gamma = id_of(&doc, "gamma");

    // A user marks an item in progress; the import leaves that alone.
    let mut edited = doc.clone();
    if let Some(x) = edited
        .entries
        .iter_mut()
        .find(|x| x.content == "typed routes")
    {
        x.status = EntryStatus::InProgress;
    }
    edited.version += 1;
    let ws = WorkspaceId::parse(WS).unwrap_or_else(|e| panic!("{e}"));
    e.todos
        .put(&edited, Some(doc.version))
        .await
        .unwrap_or_else(|e| panic!("user edit: {e}"));

    // A new commit: alpha and gamma move (new lines above them), beta is
    // resolved, delta is added, and the web item stays.
    f.write(
        "src/lib.rs",
        "//! Library.\n\nuse std::fmt;\n\npub fn a() {}\n// TODO: alpha\n// TODO: gamma\n// TODO: delta\n",
    );
    let c2 = f.commit("second");
    let status = e.import(&f.file_url()).await;
    assert_eq!(status.status, WireJobStatus::Completed, "{status:?}");
    let doc = e.doc().await;
    assert_eq!(
        items(&doc),
        vec![
            item("alpha", "src/lib.rs", EntryStatus::Pending),
            item("beta", "src/lib.rs", EntryStatus::Completed),
            item("delta", "src/lib.rs", EntryStatus::Pending),
            item("gamma", "src/lib.rs", EntryStatus::Pending),
            item("typed routes", "web/app.ts", EntryStatus::InProgress),
        ]
    );
    assert_eq!(id_of(&doc, "alpha"), alpha, "a moved item keeps its entry");
    assert_eq!(id_of(&doc, "gamma"), gamma, "a moved item keeps its entry");
    let line_of = |content: &str| {
        doc.entries
            .iter()
            .find(|x| x.content == content)
            .and_then(|x| x.origin.as_ref().map(|o| o.line))
    };
    assert_eq!(line_of("alpha"), Some(6), "the entry follows the move");
    assert_eq!(doc.source.as_ref().map(|s| s.commit.clone()), Some(c2));
    assert_eq!(
        e.todos.get(&ws).await.ok().flatten().map(|d| d.version),
        Some(doc.version)
    );

    // Importing the same commit again changes no entry.
    let status = e.import(&f.file_url()).await;
    assert_eq!(status.status, WireJobStatus::Completed, "{status:?}");
    assert_eq!(e.doc().await.entries, doc.entries);
    e.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_over_smart_http_on_loopback_is_imported() {
    let e = Engine::new(Limits::default(), Duration::from_secs(30));
    let f = Fixture::new("app");
    let c1 = first_commit(&f);
    let server = GitHttpServer::start(f.root());
    let url = server.url("app/.git");

    let status = e.import(&url).await;
    assert_eq!(status.status, WireJobStatus::Completed, "{status:?}");
    let doc = e.doc().await;
    assert_eq!(doc.source.as_ref().map(|s| s.commit.clone()), Some(c1));
    assert_eq!(doc.entries.len(), 4);

    // A branch named after '#' is imported instead of the default branch.
    f.git(&["checkout", "-q", "-b", "feature"]);
    f.write("src/feature.rs", "// FIXME: only on the feature branch\n");
    let feature = f.commit("feature");
    f.git(&["checkout", "-q", "main"]);
    let status = e.import(&format!("{url}#feature")).await;
    assert_eq!(status.status, WireJobStatus::Completed, "{status:?}");
    let doc = e.doc().await;
    assert_eq!(doc.source.as_ref().map(|s| s.commit.clone()), Some(feature));
    assert!(items(&doc).contains(&item(
        "only on the feature branch",
        "src/feature.rs",
        EntryStatus::Pending
    )));
    e.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_repository_fails_with_a_sentence() {
    let e = Engine::new(Limits::default(), Duration::from_secs(30));
    let f = Fixture::new("app");
    first_commit(&f);
    let server = GitHttpServer::start(f.root());
    for url in [
        server.url("nope.git"),
        format!("file://{}/nope", f.root().display()),
    ] {
        let status = e.import(&url).await;
        assert_eq!(status.status, WireJobStatus::Failed, "{status:?}");
        assert_eq!(
            status.error,
            format!("repository {url} was not found; check the URL and that it is accessible")
        );
    }
    let status = e
        .import(&format!("{}#no-such-branch", server.url("app/.git")))
        .await;
    assert_eq!(status.status, WireJobStatus::Failed, "{status:?}");
    assert!(
        status
            .error
            .starts_with("the ref 'no-such-branch' was not found in repository"),
        "{}",
        status.error
    );
    e.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stalls_makes_the_job_time_out() {
    let limits = Limits {
        job_timeout: Duration::from_millis(1500),
        ..Limits::default()
    };
    // The server's own stall limit is longer, so the job's wall-clock limit
    // is what stops it.
    let e = Engine::new(limits, Duration::from_secs(5));
    let server = StallingServer::start();
    let started = Instant::now();
    let status = e.import(&server.url("slow.git")).await;
    assert_eq!(status.status, WireJobStatus::Failed, "{status:?}");
    assert_eq!(status.error, "timed out after 1500 ms");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(server.accepted() >= 1);
    e.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_mid_fetch_fails_the_job_as_cancelled_promptly() {
    let e = Engine::new(Limits::default(), Duration::from_secs(3));
    let server = StallingServer::start();
    let job = e.start(&server.url("slow.git")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.accepted() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(server.accepted() >= 1, "the fetch reached the server");
    let cancelled_at = Instant::now();
    e.engine
        .cancel_import(WS, &job.to_string())
        .await
        .unwrap_or_else(|e| panic!("cancel: {e}"));
    let status = e.wait(&job).await;
    assert_eq!(status.status, WireJobStatus::Failed, "{status:?}");
    assert_eq!(status.error, "cancelled");
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(2),
        "cancel took {:?}",
        cancelled_at.elapsed()
    );
    e.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_binary_oddly_named_and_linked_files_are_scanned_without_harm() {
    let limits = Limits {
        max_file_bytes: 1 << 20,
        ..Limits::default()
    };
    let e = Engine::new(limits, Duration::from_secs(30));
    let f = Fixture::new("app");
    let mut huge = b"// a generated file\n".repeat(1 << 16);
    huge.extend_from_slice(&vec![b'x'; 2 << 20]);
    f.write("src/main.rs", "fn main() {}\n// TODO: ship it\n")
        .write("generated/huge.rs", &huge)
        .write(
            "img/logo.png",
            [0x89, b'P', b'N', b'G', 0, 0xff, 0, 0xfe, b'\n'],
        )
        .write_raw_name(
            "src",
            b"\xff\xfe-legacy.c",
            b"/* x */\n// FIXME: legacy encoding\n",
        )
        // The link's target is text, not a file: it must not be scanned.
        .symlink("// TODO: from a symlink target", "notes-link")
        .symlink("/etc/passwd", "passwd");
    f.commit("odd files");
    let status = e.import(&f.file_url()).await;
    assert_eq!(status.status, WireJobStatus::Completed, "{status:?}");
    let doc = e.doc().await;
    assert_eq!(
        items(&doc),
        vec![
            item(
                "legacy encoding",
                "src/\u{fffd}\u{fffd}-legacy.c",
                EntryStatus::Pending
            ),
            item("ship it", "src/main.rs", EntryStatus::Pending),
        ]
    );
    e.stop().await;
}
