//! The SQLite store across real processes: several processes sharing one
//! database file, a worker killed with SIGKILL in the middle of an import or
//! of a write, and a database in a directory the process may not write.
//!
//! This file is its own harness (`harness = false`, run by core's
//! `testkit::process`): run with the `TODOVAULT_SQLITE_HELPER` variable set,
//! the same binary becomes the helper process the tests start (a worker host,
//! a writer in a loop, or a single open), so no separately built binary has
//! to be found.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use todovault_core::api::StartImportRequest;
use todovault_core::jobs::JobState;
use todovault_core::source::{FixtureSource, MemorySnapshot};
use todovault_core::testkit::process::{ChildProcess, child_command, run_tests, test_binary};
use todovault_core::testkit::{check_completed_attempts, sample_document, test_engine};
use todovault_core::{
    EntryId, ImportJobId, JobStore, MasterTodo, Orchestrator, RunnerConfig, TodoStore, WorkspaceId,
};
use todovault_sqlite::{AttemptOutcome, AttemptRecord, SqliteStore};

const ROLE: &str = "TODOVAULT_SQLITE_HELPER";
const DB: &str = "TODOVAULT_SQLITE_DB";
const REPOS: &str = "TODOVAULT_SQLITE_REPOS";
const DELAY_MS: &str = "TODOVAULT_SQLITE_DELAY_MS";
const LEASE_MS: &str = "TODOVAULT_SQLITE_LEASE_MS";
const WORKSPACE: &str = "TODOVAULT_SQLITE_WORKSPACE";
const POLL_MS: &str = "TODOVAULT_SQLITE_POLL_MS";

fn main() -> ExitCode {
    if let Ok(role) = std::env::var(ROLE) {
        std::process::exit(helper::run(&role));
    }
    run_tests(&[
        (
            "two_processes_share_two_hundred_imports",
            two_processes_share_two_hundred_imports,
        ),
        (
            "a_killed_worker_s_job_is_finished_by_another_process",
            a_killed_worker_s_job_is_finished_by_another_process,
        ),
        (
            "a_writer_killed_mid_write_never_leaves_half_a_document",
            a_writer_killed_mid_write_never_leaves_half_a_document,
        ),
        (
            "read_only_places_give_clear_errors",
            read_only_places_give_clear_errors,
        ),
        (
            "an_idle_worker_of_another_process_takes_a_new_job_at_once",
            an_idle_worker_of_another_process_takes_a_new_job_at_once,
        ),
    ])
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start a tokio runtime: {e}"))
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"))
}

fn repo_url(n: usize) -> String {
    format!("https://example.com/org/repo-{n}.git")
}

/// What repository `n` holds, and the entry texts it yields.
fn repo_files(n: usize) -> Vec<(String, Vec<u8>)> {
    vec![
        (
            "src/lib.rs".to_owned(),
            format!("fn f() {{}}\n// TODO: task {n}\n").into_bytes(),
        ),
        (
            "PLAN.md".to_owned(),
            format!("- [ ] plan {n}\n").into_bytes(),
        ),
    ]
}

fn repo_entry_texts(n: usize) -> [String; 2] {
    [format!("task {n}"), format!("plan {n}")]
}

fn engine(store: Arc<SqliteStore>, source: FixtureSource, runner: RunnerConfig) -> Orchestrator {
    test_engine(store, source, runner).unwrap_or_else(|e| panic!("engine: {e}"))
}

fn runner_config(lease: Duration) -> RunnerConfig {
    RunnerConfig {
        workers: 2,
        lease,
        heartbeat_every: lease / 5,
        ..RunnerConfig::fast()
    }
}

/// Starts the helper process `role` and waits until it is ready.
fn spawn_helper(name: &str, role: &str, env: &[(&str, String)]) -> ChildProcess {
    let mut cmd = child_command(ROLE, role);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let mut helper = ChildProcess::spawn(name, cmd);
    helper.expect_line("ready", Duration::from_secs(60));
    helper
}

fn worker_env(
    db: &Path,
    repos: usize,
    delay_ms: u64,
    lease_ms: u64,
) -> Vec<(&'static str, String)> {
    vec![
        (DB, db.display().to_string()),
        (REPOS, repos.to_string()),
        (DELAY_MS, delay_ms.to_string()),
        (LEASE_MS, lease_ms.to_string()),
    ]
}

async fn job_state(store: &SqliteStore, ws: &WorkspaceId, id: &ImportJobId) -> JobState {
    JobStore::get(store, ws, id)
        .await
        .unwrap_or_else(|e| panic!("status of {id}: {e}"))
        .unwrap_or_else(|| panic!("job {id} vanished"))
        .state
}

async fn attempts(store: &SqliteStore, id: &ImportJobId) -> Vec<AttemptRecord> {
    store
        .attempt_history(id)
        .await
        .unwrap_or_else(|e| panic!("attempt history of {id}: {e}"))
}

/// The attempt history of a job that completed, checked with core's
/// [`check_completed_attempts`]: no two attempts were live at once, none is
/// left open, and exactly one succeeded.
async fn completed_attempts(
    store: &SqliteStore,
    ws: &WorkspaceId,
    id: &ImportJobId,
) -> Vec<AttemptRecord> {
    let max_attempts = JobStore::get(store, ws, id)
        .await
        .unwrap_or_else(|e| panic!("status of {id}: {e}"))
        .unwrap_or_else(|| panic!("job {id} vanished"))
        .max_attempts;
    let history = attempts(store, id).await;
    check_completed_attempts(&history, max_attempts).unwrap_or_else(|e| panic!("job {id}: {e}"));
    history
}

/// The document is valid and holds, for each repository, all of its entries
/// or none of them.
fn assert_whole(doc: &MasterTodo, repos: &[usize]) -> usize {
    doc.validate()
        .unwrap_or_else(|e| panic!("Master TODO of {} is invalid: {e}", doc.workspace_id));
    let texts: BTreeSet<&str> = doc.entries.iter().map(|e| e.content.as_str()).collect();
    let mut merged = 0;
    for &n in repos {
        let expected = repo_entry_texts(n);
        let present = expected
            .iter()
            .filter(|t| texts.contains(t.as_str()))
            .count();
        assert!(
            present == 0 || present == expected.len(),
            "repository {n} is half-merged into {}: {texts:?}",
            doc.workspace_id
        );
        if present > 0 {
            merged += 1;
        }
    }
    merged
}

/// The worker process polls only every 30 s; the job it runs was queued by
/// this process after the worker had gone idle, so only the commit watcher
/// can have woken it in time.
fn an_idle_worker_of_another_process_takes_a_new_job_at_once() {
    let dir = temp_dir();
    let db = dir.path().join("wake.db");
    let rt = runtime();
    rt.block_on(async {
        let store = Arc::new(
            SqliteStore::open(&db).unwrap_or_else(|e| panic!("open {}: {e}", db.display())),
        );
        let mut env = worker_env(&db, 1, 0, 10_000);
        env.push((POLL_MS, "30000".to_owned()));
        let worker = spawn_helper("idle-worker", "worker", &env);
        // Let its workers find nothing and settle into their wait.
        tokio::time::sleep(Duration::from_millis(500)).await;

        let host = engine(store.clone(), FixtureSource::new(), RunnerConfig::fast());
        let queued = Instant::now();
        let started = host
            .start_import("wake-ws", StartImportRequest::new(repo_url(0)))
            .await
            .unwrap_or_else(|e| panic!("start import: {e}"));
        let ws = WorkspaceId::parse("wake-ws").unwrap_or_else(|e| panic!("{e}"));
        let id = started.import_job_id;
        while job_state(&store, &ws, &id).await != JobState::Completed {
            assert!(
                queued.elapsed() < Duration::from_secs(10),
                "the idle worker of the other process did not take the job within 10 s \
                 (its poll interval is 30 s): state {:?}",
                job_state(&store, &ws, &id).await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let took = queued.elapsed();
        worker.stop(Duration::from_secs(30));
        let history = completed_attempts(&store, &ws, &id).await;
        assert_eq!(history.len(), 1, "one claim ran the job: {history:?}");
        assert!(
            took < Duration::from_secs(10),
            "queued to completed took {took:?}"
        );
    });
}

fn two_processes_share_two_hundred_imports() {
    const JOBS: usize = 200;
    const WORKSPACES: usize = 20;
    let dir = temp_dir();
    let db = dir.path().join("shared.db");
    let rt = runtime();
    rt.block_on(async {
        let store = Arc::new(
            SqliteStore::open(&db).unwrap_or_else(|e| panic!("open {}: {e}", db.display())),
        );
        let host = engine(store.clone(), FixtureSource::new(), RunnerConfig::fast());
        let mut jobs = Vec::with_capacity(JOBS);
        for n in 0..JOBS {
            let ws = format!("shared-ws-{}", n % WORKSPACES);
            let started = host
                .start_import(&ws, StartImportRequest::new(repo_url(n)))
                .await
                .unwrap_or_else(|e| panic!("start import {n}: {e}"));
            let ws = WorkspaceId::parse(&ws).unwrap_or_else(|e| panic!("{e}"));
            jobs.push((n, ws, started.import_job_id));
        }

        let env = worker_env(&db, JOBS, 20, 5000);
        let a = spawn_helper("worker-a", "worker", &env);
        let b = spawn_helper("worker-b", "worker", &env);

        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let mut open = 0;
            for (_, ws, id) in &jobs {
                if !job_state(&store, ws, id).await.is_terminal() {
                    open += 1;
                }
            }
            if open == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{open} of {JOBS} imports did not finish in time"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        a.stop(Duration::from_secs(30));
        b.stop(Duration::from_secs(30));

        let mut hosts = BTreeSet::new();
        let mut by_workspace: HashMap<WorkspaceId, Vec<usize>> = HashMap::new();
        for (n, ws, id) in &jobs {
            assert_eq!(
                job_state(&store, ws, id).await,
                JobState::Completed,
                "import {n} did not complete"
            );
            let history = completed_attempts(&store, ws, id).await;
            for a in &history {
                // Worker names are `<host ulid>-<n>`.
                let host = a.worker.rsplit_once('-').map_or(&*a.worker, |(h, _)| h);
                hosts.insert(host.to_owned());
            }
            by_workspace.entry(ws.clone()).or_default().push(*n);
        }
        assert_eq!(
            hosts.len(),
            2,
            "both worker processes should have run imports: {hosts:?}"
        );
        for (ws, repos) in &by_workspace {
            let doc = TodoStore::get(&*store, ws)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("{ws} has no Master TODO"));
            let merged = assert_whole(&doc, repos);
            assert_eq!(
                merged,
                repos.len(),
                "every import of {ws} is in its Master TODO (no lost update)"
            );
            assert_eq!(doc.entries.len(), repos.len() * 2);
        }
    });
}

fn a_killed_worker_s_job_is_finished_by_another_process() {
    let dir = temp_dir();
    let db = dir.path().join("crash.db");
    let rt = runtime();
    rt.block_on(async {
        let store = Arc::new(
            SqliteStore::open(&db).unwrap_or_else(|e| panic!("open {}: {e}", db.display())),
        );
        let host = engine(store.clone(), FixtureSource::new(), RunnerConfig::fast());
        let ws_name = "crash-ws";
        let ws = WorkspaceId::parse(ws_name).unwrap_or_else(|e| panic!("{e}"));
        let started = host
            .start_import(ws_name, StartImportRequest::new(repo_url(7)))
            .await
            .unwrap_or_else(|e| panic!("start import: {e}"));
        let id = started.import_job_id;

        // A slow fetch (6 s in ten steps) with a 1.5 s lease.
        let mut victim = spawn_helper("victim", "worker", &worker_env(&db, 10, 6000, 1500));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let job = JobStore::get(&*store, &ws, &id)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("job vanished"));
            if job.state == JobState::Running && job.progress > 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the victim never got going: {job:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        victim.kill();
        let before = attempts(&store, &id).await;
        assert_eq!(before.len(), 1, "one attempt was under way: {before:?}");
        assert_eq!(before[0].ended_at, None, "the killed attempt is still open");
        assert_eq!(
            job_state(&store, &ws, &id).await,
            JobState::Running,
            "nothing ends the attempt but the lease running out"
        );

        let rescuer = spawn_helper("rescuer", "worker", &worker_env(&db, 10, 100, 1500));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let doc = TodoStore::get(&*store, &ws)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("the Master TODO vanished"));
            assert_whole(&doc, &[7]);
            if job_state(&store, &ws, &id).await.is_terminal() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the rescuer never finished the job"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        rescuer.stop(Duration::from_secs(30));

        let job = JobStore::get(&*store, &ws, &id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("job vanished"));
        assert_eq!(job.state, JobState::Completed, "{job:?}");
        assert_eq!(job.attempt, 2, "the rescue was the second attempt");
        let history = completed_attempts(&store, &ws, &id).await;
        assert_eq!(history.len(), 2, "{history:?}");
        assert_eq!(history[0].outcome, Some(AttemptOutcome::Lost));
        assert_ne!(history[0].worker, history[1].worker);
        let doc = TodoStore::get(&*store, &ws)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("the Master TODO vanished"));
        assert_eq!(assert_whole(&doc, &[7]), 1, "the import was merged");
        assert_eq!(doc.entries.len(), 2);
    });
}

/// The document the writer loop stores as version `v`: its entry count and
/// texts follow from `v`, so a torn write would show.
fn looped_document(template: &MasterTodo, v: u64) -> MasterTodo {
    let mut doc = template.clone();
    doc.version = v;
    let entry = template
        .entries
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("template has no entry"));
    doc.entries = (0..entry_count(v))
        .map(|i| {
            let mut e = entry.clone();
            e.id = EntryId::new();
            e.seq = i as u64 + 1;
            e.content = format!("v{v} #{i} {}", "pad ".repeat(40));
            e
        })
        .collect();
    doc
}

fn entry_count(v: u64) -> usize {
    1 + (v % 60) as usize
}

fn assert_looped_document(doc: &MasterTodo) {
    doc.validate()
        .unwrap_or_else(|e| panic!("version {} is invalid: {e}", doc.version));
    assert_eq!(
        doc.entries.len(),
        entry_count(doc.version),
        "version {} has the wrong number of entries",
        doc.version
    );
    let prefix = format!("v{} #", doc.version);
    for e in &doc.entries {
        assert!(
            e.content.starts_with(&prefix),
            "version {} holds an entry of another version: {}",
            doc.version,
            e.content
        );
    }
}

fn a_writer_killed_mid_write_never_leaves_half_a_document() {
    let dir = temp_dir();
    let db = dir.path().join("torn.db");
    let rt = runtime();
    rt.block_on(async {
        let ws = WorkspaceId::parse("torn-ws").unwrap_or_else(|e| panic!("{e}"));
        let watcher = SqliteStore::open(&db).unwrap_or_else(|e| panic!("open: {e}"));
        let mut last_version = 0;
        for round in 0..4u64 {
            let mut writer = spawn_helper(
                "writer",
                "put-loop",
                &[(DB, db.display().to_string()), (WORKSPACE, ws.to_string())],
            );
            // Let it write a few versions, then kill it at an arbitrary moment.
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let version = TodoStore::get(&watcher, &ws)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"))
                    .map_or(0, |d| d.version);
                if version >= last_version + 3 {
                    break;
                }
                assert!(Instant::now() < deadline, "the writer made no progress");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            std::thread::sleep(Duration::from_millis(37 * round + fastrand_ms()));
            writer.kill();

            let store =
                SqliteStore::open(&db).unwrap_or_else(|e| panic!("reopen after kill {round}: {e}"));
            let doc = TodoStore::get(&store, &ws)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("the writer stored nothing in round {round}"));
            assert_looped_document(&doc);
            assert!(
                doc.version > last_version,
                "round {round}: the writer made progress ({} after {last_version})",
                doc.version
            );
            last_version = doc.version;
            let history = store
                .history(&ws, 100)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            for (i, old) in history.iter().enumerate() {
                assert_eq!(old.version, doc.version - 1 - i as u64, "history has a gap");
                assert_looped_document(old);
            }
            let check: String = rusqlite::Connection::open(&db)
                .and_then(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get(0)))
                .unwrap_or_else(|e| panic!("integrity check: {e}"));
            assert_eq!(check, "ok", "the file is intact after kill {round}");
        }
    });
}

/// A few hundred milliseconds of jitter without a random-number crate.
fn fastrand_ms() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    u64::from(nanos % 250)
}

/// Runs the `open` helper on `path`, without root's override of file
/// permissions when the tests run as root, and returns its one-line report.
fn open_as_unprivileged(path: &Path, privileged: bool) -> String {
    let exe = test_binary();
    let mut cmd = if privileged {
        let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .unwrap_or_else(|| {
                panic!(
                    "these tests run as root, who may write anywhere; `setpriv` (Debian package \
                     util-linux) is needed to drop that privilege and is missing: apt-get install \
                     util-linux"
                )
            });
        let mut c = Command::new(setpriv);
        c.arg("--bounding-set=-dac_override,-dac_read_search,-fowner")
            .arg("--")
            .arg(exe);
        c
    } else {
        Command::new(exe)
    };
    let output = cmd
        .env(ROLE, "open")
        .env(DB, path)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run the open helper: {e}"));
    assert!(
        output.status.success(),
        "the open helper crashed ({}) instead of reporting an error",
        output.status
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

fn read_only_places_give_clear_errors() {
    let dir = temp_dir();
    let ro = dir.path().join("read-only");
    std::fs::create_dir(&ro).unwrap_or_else(|e| panic!("{e}"));
    let existing = ro.join("existing.db");
    let rt = runtime();
    rt.block_on(async {
        let store = SqliteStore::open(&existing)
            .unwrap_or_else(|e| panic!("open {}: {e}", existing.display()));
        let ws = WorkspaceId::parse("ro-ws").unwrap_or_else(|e| panic!("{e}"));
        store
            .put(&sample_document(&ws, 1), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    });
    let writable = dir.path().join("read-only-file.db");
    drop(SqliteStore::open(&writable).unwrap_or_else(|e| panic!("{e}")));
    set_mode(&writable, 0o444);
    set_mode(&ro, 0o555);
    // Root writes into read-only directories unless the helper drops the
    // privilege; find out which case this is.
    let probe = ro.join(".probe");
    let privileged = std::fs::write(&probe, b"x").is_ok();
    let _ = std::fs::remove_file(&probe);

    let fresh = ro.join("fresh.db");
    let report = open_as_unprivileged(&fresh, privileged);
    assert!(
        report.starts_with("error: Storage")
            && report.contains("fresh.db")
            && report.contains("writable"),
        "a new database in a read-only directory gives a clear storage error: {report}"
    );
    assert!(!fresh.exists(), "nothing was created");

    for path in [&existing, &writable] {
        let report = open_as_unprivileged(path, privileged);
        assert!(
            report.starts_with("error: Storage")
                && report.contains(&*path.display().to_string())
                && (report.contains("read-only") || report.contains("writable")),
            "a database that cannot be written gives a clear storage error: {report}"
        );
    }
    set_mode(&ro, 0o755);
    set_mode(&writable, 0o644);
    let reopened = SqliteStore::open(&existing)
        .unwrap_or_else(|e| panic!("the database is fine once writable again: {e}"));
    drop(reopened);
}

/// The processes the tests start.
mod helper {
    use super::*;

    pub(super) fn run(role: &str) -> i32 {
        let result = std::panic::catch_unwind(|| match role {
            "worker" => worker(),
            "put-loop" => put_loop(),
            "open" => open(),
            other => panic!("unknown helper role {other:?}"),
        });
        match result {
            Ok(()) => 0,
            Err(_) => 3,
        }
    }

    fn env(name: &str) -> String {
        std::env::var(name).unwrap_or_else(|_| panic!("helper needs {name}"))
    }

    fn env_u64(name: &str) -> u64 {
        env(name)
            .parse()
            .unwrap_or_else(|e| panic!("helper: {name} is not a number: {e}"))
    }

    fn ready() {
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "ready");
        let _ = out.flush();
    }

    /// A host running import workers until its stdin closes.
    fn worker() {
        let db = PathBuf::from(env(DB));
        let repos = env_u64(REPOS) as usize;
        let delay = Duration::from_millis(env_u64(DELAY_MS));
        let lease = Duration::from_millis(env_u64(LEASE_MS));
        let poll = std::env::var(POLL_MS)
            .ok()
            .map(|_| Duration::from_millis(env_u64(POLL_MS)));
        runtime().block_on(async {
            let store =
                Arc::new(SqliteStore::open(&db).unwrap_or_else(|e| panic!("worker open: {e}")));
            let mut source = FixtureSource::new();
            for n in 0..repos {
                source = source.with_repo(
                    repo_url(n),
                    MemorySnapshot::new(format!("c{n}"), repo_files(n)),
                );
            }
            if !delay.is_zero() {
                source = source.with_delay(delay);
            }
            let mut runner = runner_config(lease);
            if let Some(poll) = poll {
                runner.poll_every = poll;
            }
            let host = engine(store, source, runner);
            let workers = host.start_workers();
            ready();
            tokio::task::spawn_blocking(|| {
                let mut sink = Vec::new();
                let _ = std::io::stdin().read_to_end(&mut sink);
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            workers.shutdown(Duration::from_secs(10)).await;
        });
    }

    /// Replaces one workspace's Master TODO with the next version, forever.
    fn put_loop() {
        let db = PathBuf::from(env(DB));
        let ws = WorkspaceId::parse(&env(WORKSPACE)).unwrap_or_else(|e| panic!("{e}"));
        runtime().block_on(async {
            let store = SqliteStore::open(&db).unwrap_or_else(|e| panic!("put-loop open: {e}"));
            let template = sample_document(&ws, 1);
            ready();
            loop {
                let current = TodoStore::get(&store, &ws)
                    .await
                    .unwrap_or_else(|e| panic!("put-loop get: {e}"));
                let (base, expected) = match &current {
                    Some(doc) => (doc.clone(), Some(doc.version)),
                    None => (template.clone(), None),
                };
                let next = looped_document(&base, expected.map_or(1, |v| v + 1));
                store
                    .put(&next, expected)
                    .await
                    .unwrap_or_else(|e| panic!("put-loop put: {e}"));
            }
        });
    }

    /// Opens the database and writes to it once, and reports how that went.
    fn open() {
        let db = PathBuf::from(env(DB));
        let outcome = SqliteStore::open(&db).and_then(|store| {
            runtime().block_on(async {
                let ws = WorkspaceId::parse("open-helper").unwrap_or_else(|e| panic!("{e}"));
                let current = TodoStore::get(&store, &ws).await?;
                let next = current.as_ref().map_or(1, |d| d.version + 1);
                store
                    .put(&sample_document(&ws, next), current.map(|d| d.version))
                    .await
            })
        });
        match outcome {
            Ok(()) => println!("ok"),
            Err(e) => println!("error: {e:?}"),
        }
    }
}
