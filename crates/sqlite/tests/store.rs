//! The SQLite store in one process, on real database files in temporary
//! directories: core's conformance suites, the settings read back from the
//! file, migrations and refusals, the attempt history, contention between
//! two stores on one file, and clear errors for bad files and a full
//! database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use todovault_core::jobs::{Inserted, JobState, JobStore};
use todovault_core::testkit::{self, new_job, sample_document, unique_workspace};
use todovault_core::{Error, TodoStore};
use todovault_sqlite::{SCHEMA_VERSION, SqliteOptions, SqliteStore, Synchronous};

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"))
}

fn open(path: &std::path::Path) -> SqliteStore {
    SqliteStore::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

fn open_with(path: &std::path::Path, options: SqliteOptions) -> SqliteStore {
    SqliteStore::open_with(path, options).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

fn raw(path: &std::path::Path) -> Connection {
    Connection::open(path).unwrap_or_else(|e| panic!("raw open {}: {e}", path.display()))
}

fn open_err(path: &std::path::Path) -> Error {
    match SqliteStore::open(path) {
        Ok(_) => panic!("opening {} should have failed", path.display()),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_store_conformance_on_a_file() {
    let dir = temp_dir();
    let store = Arc::new(open(&dir.path().join("jobs.db")));
    testkit::job_store_suite(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_store_conformance_in_memory() {
    let store =
        Arc::new(SqliteStore::open(":memory:").unwrap_or_else(|e| panic!("open :memory:: {e}")));
    assert!(store.is_memory());
    testkit::job_store_suite(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_store_conformance_with_full_sync_and_no_read_connections() {
    let dir = temp_dir();
    let store = Arc::new(open_with(
        &dir.path().join("jobs.db"),
        SqliteOptions {
            synchronous: Synchronous::Full,
            read_connections: 0,
            ..SqliteOptions::default()
        },
    ));
    testkit::job_store_suite(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn todo_store_conformance_on_a_file() {
    let dir = temp_dir();
    let store = Arc::new(open(&dir.path().join("todos.db")));
    testkit::todo_store_suite(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn todo_store_conformance_in_memory() {
    let store =
        Arc::new(SqliteStore::open(":memory:").unwrap_or_else(|e| panic!("open :memory:: {e}")));
    testkit::todo_store_suite(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_suites_share_one_file_and_survive_reopening() {
    let dir = temp_dir();
    let path = dir.path().join("shared.db");
    let store = Arc::new(open(&path));
    testkit::job_store_suite(store.clone()).await;
    testkit::todo_store_suite(store.clone()).await;
    let ws = unique_workspace("reopen");
    let doc = sample_document(&ws, 1);
    store
        .put(&doc, None)
        .await
        .unwrap_or_else(|e| panic!("put: {e}"));
    drop(store);
    let again = open(&path);
    assert_eq!(
        TodoStore::get(&again, &ws)
            .await
            .unwrap_or_else(|e| panic!("get: {e}")),
        Some(doc),
        "a document survives closing and reopening the file"
    );
}

#[test]
fn settings_are_verified_and_visible_to_other_connections() {
    let dir = temp_dir();
    let path = dir.path().join("settings.db");
    let store = open(&path);
    let settings = store.settings();
    assert_eq!(settings.journal_mode, "wal");
    assert_eq!(settings.synchronous, Synchronous::Normal);
    assert_eq!(settings.busy_timeout, Duration::from_secs(10));
    assert!(settings.foreign_keys);
    assert_eq!(settings.schema_version, SCHEMA_VERSION);

    // WAL is a property of the file: a connection that sets nothing sees it.
    let conn = raw(&path);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mode, "wal", "the file itself is in WAL mode");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(version, SCHEMA_VERSION);

    let full = open_with(
        &dir.path().join("full.db"),
        SqliteOptions {
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_millis(1234),
            ..SqliteOptions::default()
        },
    );
    assert_eq!(full.settings().synchronous, Synchronous::Full);
    assert_eq!(full.settings().busy_timeout, Duration::from_millis(1234));

    let memory = SqliteStore::open(":memory:").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(memory.settings().journal_mode, "memory");
    assert!(memory.settings().foreign_keys);
}

#[test]
fn a_zero_busy_timeout_is_refused() {
    let dir = temp_dir();
    let err = SqliteStore::open_with(
        dir.path().join("x.db"),
        SqliteOptions {
            busy_timeout: Duration::ZERO,
            ..SqliteOptions::default()
        },
    )
    .err();
    assert!(
        matches!(&err, Some(Error::Validation { message, .. }) if message.contains("busy timeout")),
        "got {err:?}"
    );
}

#[test]
fn a_newer_schema_is_refused_and_left_alone() {
    let dir = temp_dir();
    let path = dir.path().join("newer.db");
    drop(open(&path));
    raw(&path)
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let err = open_err(&path);
    let text = err.to_string();
    assert!(matches!(err, Error::Storage { .. }), "got {err:?}");
    assert!(
        text.contains("newer todovault") && text.contains(&format!("{}", SCHEMA_VERSION + 1)),
        "the error names the newer schema: {text}"
    );
    let version: i64 = raw(&path)
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(version, SCHEMA_VERSION + 1, "the refused file is untouched");
}

#[test]
fn files_that_are_not_todovault_databases_are_refused() {
    let dir = temp_dir();

    let garbage = dir.path().join("garbage.db");
    std::fs::write(
        &garbage,
        b"this is a text file, not a database\n".repeat(200),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = open_err(&garbage);
    assert!(matches!(err, Error::Storage { .. }), "got {err:?}");
    assert!(
        err.to_string()
            .contains("is not a todovault SQLite database"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&garbage).unwrap_or_default(),
        b"this is a text file, not a database\n".repeat(200),
        "the refused file is untouched"
    );

    // A real SQLite database whose first page was overwritten.
    let corrupt = dir.path().join("corrupt.db");
    drop(open(&corrupt));
    let mut bytes = std::fs::read(&corrupt).unwrap_or_else(|e| panic!("{e}"));
    for b in bytes.iter_mut().take(100) {
        *b = 0xA5;
    }
    std::fs::write(&corrupt, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_file(dir.path().join("corrupt.db-wal"));
    let _ = std::fs::remove_file(dir.path().join("corrupt.db-shm"));
    let err = open_err(&corrupt);
    assert!(
        matches!(&err, Error::Storage { detail } if detail.contains("is not a todovault SQLite database")),
        "got {err:?}"
    );

    // Another application's SQLite database.
    let foreign = dir.path().join("foreign.db");
    raw(&foreign)
        .execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');")
        .unwrap_or_else(|e| panic!("{e}"));
    let err = open_err(&foreign);
    assert!(
        matches!(&err, Error::Storage { detail } if detail.contains("another application")),
        "got {err:?}"
    );
    let notes: i64 = raw(&foreign)
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(notes, 1, "nothing was added to the foreign database");

    let missing_dir = dir.path().join("no-such-dir").join("x.db");
    let err = open_err(&missing_dir);
    assert!(
        matches!(&err, Error::Storage { detail } if detail.contains("does not exist")),
        "got {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_fails_whole_and_keeps_what_it_had() {
    let dir = temp_dir();
    let path = dir.path().join("small.db");
    let store = open_with(
        &path,
        SqliteOptions {
            max_size_bytes: Some(160 * 1024),
            ..SqliteOptions::default()
        },
    );
    let ws = unique_workspace("full");
    let doc = sample_document(&ws, 1);
    store
        .put(&doc, None)
        .await
        .unwrap_or_else(|e| panic!("first put: {e}"));
    let mut last_good = doc.clone();
    let mut failure = None;
    for version in 2..200u64 {
        let mut next = last_good.clone();
        next.version = version;
        next.project_context = "x".repeat(8 * 1024 + version as usize);
        match store.put(&next, Some(version - 1)).await {
            Ok(()) => last_good = next,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let err = failure.unwrap_or_else(|| panic!("a 160 KiB database never filled up"));
    assert!(
        matches!(&err, Error::Storage { detail } if detail.contains("is full") && detail.contains("small.db")),
        "a full database gives a clear storage error naming the file, got {err:?}"
    );
    assert_eq!(
        TodoStore::get(&store, &ws)
            .await
            .unwrap_or_else(|e| panic!("get after full: {e}")),
        Some(last_good.clone()),
        "the failed write changed nothing"
    );
    let history = store
        .history(&ws, 500)
        .await
        .unwrap_or_else(|e| panic!("history after full: {e}"));
    assert_eq!(
        history.first().map(|d| d.version),
        Some(last_good.version - 1),
        "history is intact"
    );
    // Jobs fail just as cleanly while the database is full.
    let mut job_error = None;
    for n in 0..500 {
        if let Err(e) = store
            .insert(new_job(&ws, &format!("https://example.com/{n}.git"), 3))
            .await
        {
            job_error = Some(e);
            break;
        }
    }
    let job_error = job_error.unwrap_or_else(|| panic!("job inserts never hit the size limit"));
    assert!(
        matches!(&job_error, Error::Storage { detail } if detail.contains("is full")),
        "got {job_error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_works_in_batches_and_checkpoints() {
    let dir = temp_dir();
    let store = open(&dir.path().join("prune.db"));
    let ws = unique_workspace("prune");
    for n in 0..25 {
        let job = store
            .insert(new_job(&ws, &format!("https://example.com/{n}.git"), 3))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        store
            .request_cancel(&ws, &job.job().id)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut batches = Vec::new();
    loop {
        let n = store
            .prune(Duration::from_millis(1), 10)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        batches.push(n);
        if n == 0 {
            break;
        }
    }
    assert_eq!(batches, vec![10, 10, 5, 0], "prune deletes at most `limit`");
    let checkpoint = store.checkpoint().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!checkpoint.busy, "nothing else holds the database");
    assert!(
        checkpoint.log_frames >= 0 && checkpoint.checkpointed_frames == checkpoint.log_frames,
        "a passive checkpoint with no readers copies the whole log: {checkpoint:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_bounded_by_the_configured_limit() {
    let dir = temp_dir();
    let store = open_with(
        &dir.path().join("history.db"),
        SqliteOptions {
            history_limit: 3,
            ..SqliteOptions::default()
        },
    );
    let ws = unique_workspace("bounded");
    let mut doc = sample_document(&ws, 1);
    store
        .put(&doc, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for v in 2..=10 {
        doc.version = v;
        doc.project_context = format!("v{v}");
        store
            .put(&doc, Some(v - 1))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let versions: Vec<u64> = store
        .history(&ws, 100)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|d| d.version)
        .collect();
    assert_eq!(versions, vec![9, 8, 7]);

    let none = open_with(
        &dir.path().join("nohistory.db"),
        SqliteOptions {
            history_limit: 0,
            ..SqliteOptions::default()
        },
    );
    let mut doc = sample_document(&ws, 1);
    none.put(&doc, None).await.unwrap_or_else(|e| panic!("{e}"));
    doc.version = 2;
    none.put(&doc, Some(1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        none.history(&ws, 10)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_json_keeps_unknown_fields_verbatim() {
    let dir = temp_dir();
    let path = dir.path().join("json.db");
    let store = open(&path);
    let ws = unique_workspace("json");
    let mut doc = sample_document(&ws, 1);
    doc.extra.insert(
        "from_the_future".into(),
        serde_json::json!({"nested": [1, "two"]}),
    );
    store
        .put(&doc, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let stored: String = raw(&path)
        .query_row(
            "SELECT document FROM todos WHERE workspace_id = ?1",
            [ws.as_str()],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let expected = String::from_utf8(doc.to_json_vec().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        stored, expected,
        "the document is stored as core serialises it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_deduplicate_and_claim_atomically() {
    let dir = temp_dir();
    let path = dir.path().join("two.db");
    let a = Arc::new(open(&path));
    let b = Arc::new(open(&path));
    let ws = unique_workspace("two");
    let mut tasks = Vec::new();
    for n in 0..16 {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        let ws = ws.clone();
        tasks.push(tokio::spawn(async move {
            store
                .insert(new_job(&ws, "https://example.com/same.git", 3))
                .await
        }));
    }
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        match t.await.unwrap_or_else(|e| panic!("{e}")) {
            Ok(Inserted::Created(j)) => {
                created += 1;
                ids.insert(j.id);
            }
            Ok(Inserted::Existing(j)) => {
                ids.insert(j.id);
            }
            Err(e) => panic!("insert failed under contention: {e}"),
        }
    }
    assert_eq!(created, 1, "exactly one insert creates the job");
    assert_eq!(ids.len(), 1, "every insert returns the same job");

    for n in 0..30 {
        a.insert(new_job(&ws, &format!("https://example.com/{n}.git"), 3))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let mut tasks = Vec::new();
    for w in 0..6 {
        let store = if w % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(job) = store
                .claim(&format!("w{w}"), Duration::from_secs(60))
                .await
                .unwrap_or_else(|e| panic!("claim under contention: {e}"))
            {
                mine.push(job.id);
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_else(|e| panic!("{e}")));
    }
    let unique: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 31, "every job was claimed");
    assert_eq!(unique.len(), all.len(), "no job was claimed twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_elsewhere_is_waited_out_or_reported_clearly() {
    let dir = temp_dir();
    let path = dir.path().join("locked.db");
    let patient = open_with(
        &path,
        SqliteOptions {
            busy_timeout: Duration::from_secs(10),
            ..SqliteOptions::default()
        },
    );
    let impatient = open_with(
        &path,
        SqliteOptions {
            busy_timeout: Duration::from_millis(200),
            ..SqliteOptions::default()
        },
    );
    let ws = unique_workspace("locked");

    // Another process's writer holds the write lock for 3 s.
    let holder_path = path.clone();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let conn = raw(&holder_path);
        conn.execute_batch("BEGIN IMMEDIATE")
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = locked_tx.send(());
        std::thread::sleep(Duration::from_secs(3));
        conn.execute_batch("COMMIT")
            .unwrap_or_else(|e| panic!("{e}"));
    });
    locked_rx
        .recv()
        .unwrap_or_else(|e| panic!("lock holder died: {e}"));

    // Readers are never blocked by a writer in WAL mode.
    let started = Instant::now();
    JobStore::get(&patient, &ws, &todovault_core::ImportJobId::new())
        .await
        .unwrap_or_else(|e| panic!("a read was blocked by the writer: {e}"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a read waited for the writer"
    );

    let err = impatient
        .insert(new_job(&ws, "https://example.com/x.git", 3))
        .await
        .err();
    assert!(
        matches!(&err, Some(Error::Unavailable { detail }) if detail.contains("locked") && detail.contains("200 ms")),
        "a write that outwaits its busy timeout says so, got {err:?}"
    );
    let waited = patient
        .insert(new_job(&ws, "https://example.com/x.git", 3))
        .await
        .unwrap_or_else(|e| panic!("the busy timeout should absorb a short lock: {e}"));
    assert_eq!(waited.job().state, JobState::Queued);
    holder
        .join()
        .unwrap_or_else(|_| panic!("lock holder panicked"));
}

/// Writes queued at the same moment share one transaction on the writer
/// thread, each in its own savepoint: every one must still succeed or fail
/// on its own, and what was answered as stored must be stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_queued_together_succeed_or_fail_one_by_one() {
    let dir = temp_dir();
    let store = Arc::new(open(&dir.path().join("group.db")));
    let ws = unique_workspace("group");
    let first = match store
        .insert(new_job(&ws, "https://example.com/dup.git", 3))
        .await
        .unwrap_or_else(|e| panic!("first insert: {e}"))
    {
        Inserted::Created(job) => job,
        Inserted::Existing(job) => panic!("fresh database deduped to {}", job.id),
    };
    let doc = sample_document(&ws, 1);
    store
        .put(&doc, None)
        .await
        .unwrap_or_else(|e| panic!("first put: {e}"));

    for round in 0..5 {
        let mut tasks = Vec::new();
        for i in 0..60usize {
            let (store, ws, doc, first_id) =
                (Arc::clone(&store), ws.clone(), doc.clone(), first.id);
            tasks.push(tokio::spawn(async move {
                match i % 4 {
                    // A new import: created.
                    0 => match store
                        .insert(new_job(
                            &ws,
                            &format!("https://example.com/{round}/{i}.git"),
                            3,
                        ))
                        .await
                    {
                        Ok(Inserted::Created(job)) => format!("created {}", job.id),
                        other => panic!("new import {i}: {other:?}"),
                    },
                    // The same repository as an active job: deduplicated.
                    1 => match store
                        .insert(new_job(&ws, "https://example.com/dup.git", 3))
                        .await
                    {
                        Ok(Inserted::Existing(job)) if job.id == first_id => "existing".into(),
                        other => panic!("duplicate import {i}: {other:?}"),
                    },
                    // A job id that is taken: refused, nothing stored.
                    2 => {
                        let mut job = new_job(
                            &ws,
                            &format!("https://example.com/taken/{round}/{i}.git"),
                            3,
                        );
                        job.id = first_id;
                        match store.insert(job).await {
                            Err(Error::Conflict { .. }) => "taken".into(),
                            other => panic!("taken id {i}: {other:?}"),
                        }
                    }
                    // Compare-and-set races: exactly one wins per round.
                    _ => {
                        let mut next = doc.clone();
                        next.version = round + 2;
                        match store.put(&next, Some(round + 1)).await {
                            Ok(()) => "put".into(),
                            Err(Error::Conflict { .. }) => "stale".into(),
                            Err(e) => panic!("put {i}: {e}"),
                        }
                    }
                }
            }));
        }
        let mut created = Vec::new();
        let mut puts = 0;
        for t in tasks {
            let outcome = t.await.unwrap_or_else(|e| panic!("task: {e}"));
            if let Some(id) = outcome.strip_prefix("created ") {
                created.push(id.to_owned());
            }
            puts += usize::from(outcome == "put");
        }
        assert_eq!(created.len(), 15, "round {round}: every new import created");
        assert_eq!(puts, 1, "round {round}: exactly one compare-and-set won");
        for id in &created {
            let id = id.parse().unwrap_or_else(|e| panic!("job id {id}: {e}"));
            let job = JobStore::get(&*store, &ws, &id)
                .await
                .unwrap_or_else(|e| panic!("get {id}: {e}"));
            assert!(
                job.is_some(),
                "job {id} was answered as created but is not stored"
            );
        }
    }
    let current = TodoStore::get(&*store, &ws)
        .await
        .unwrap_or_else(|e| panic!("get document: {e}"))
        .unwrap_or_else(|| panic!("no document"));
    assert_eq!(current.version, 6);
    let history = store
        .history(&ws, 10)
        .await
        .unwrap_or_else(|e| panic!("history: {e}"));
    assert_eq!(
        history.iter().map(|d| d.version).collect::<Vec<_>>(),
        vec![5, 4, 3, 2, 1]
    );
    let jobs: i64 = raw(&dir.path().join("group.db"))
        .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("count: {e}"));
    assert_eq!(jobs, 1 + 5 * 15, "nothing refused was stored");
}

/// A write that fills the database while queued with others fails alone:
/// every other write is answered with what really happened to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_fills_the_database_fails_alone_in_a_group() {
    let dir = temp_dir();
    let path = dir.path().join("small-group.db");
    let store = Arc::new(open_with(
        &path,
        SqliteOptions {
            max_size_bytes: Some(256 * 1024),
            ..SqliteOptions::default()
        },
    ));
    let ws = unique_workspace("small-group");
    let doc = sample_document(&ws, 1);
    store
        .put(&doc, None)
        .await
        .unwrap_or_else(|e| panic!("first put: {e}"));
    let mut tasks = Vec::new();
    for i in 0..80usize {
        let (store, ws, doc) = (Arc::clone(&store), ws.clone(), doc.clone());
        tasks.push(tokio::spawn(async move {
            if i % 10 == 5 {
                // Far over the limit on its own.
                let mut big = doc;
                big.version = 2;
                big.project_context = "x".repeat(512 * 1024);
                match store.put(&big, Some(1)).await {
                    Err(Error::Storage { detail }) if detail.contains("is full") => None,
                    other => panic!("oversized put: {other:?}"),
                }
            } else {
                let job = new_job(&ws, &format!("https://example.com/small/{i}.git"), 3);
                let id = job.id;
                match store.insert(job).await {
                    Ok(Inserted::Created(_)) => Some(id),
                    other => panic!("small insert {i}: {other:?}"),
                }
            }
        }));
    }
    let mut created = Vec::new();
    for t in tasks {
        if let Some(id) = t.await.unwrap_or_else(|e| panic!("task: {e}")) {
            created.push(id);
        }
    }
    assert_eq!(created.len(), 72, "every small insert fits and was created");
    for id in &created {
        assert!(
            JobStore::get(&*store, &ws, id)
                .await
                .unwrap_or_else(|e| panic!("get {id}: {e}"))
                .is_some(),
            "job {id} was answered as created but is not stored"
        );
    }
    let current = TodoStore::get(&*store, &ws)
        .await
        .unwrap_or_else(|e| panic!("get document: {e}"));
    assert_eq!(current, Some(doc), "the oversized puts changed nothing");
    let integrity: String = raw(&path)
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("integrity_check: {e}"));
    assert_eq!(integrity, "ok");
}

/// How long `waiter.wait_for_work(timeout)` took while `act` ran on another
/// store of the same file after `lead`.
async fn timed_wait<F, Fut>(
    waiter: SqliteStore,
    timeout: Duration,
    lead: Duration,
    act: F,
) -> Duration
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        waiter.wait_for_work(timeout).await;
        started.elapsed()
    });
    tokio::time::sleep(lead).await;
    act().await;
    waiting
        .await
        .unwrap_or_else(|e| panic!("the waiting task failed: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_workers_wake_when_another_connection_queues_a_job() {
    let dir = temp_dir();
    let path = dir.path().join("wake.db");
    let idle = open(&path);
    let other = open(&path);
    let ws = unique_workspace("wake");
    let waited = timed_wait(
        idle.clone(),
        Duration::from_secs(30),
        Duration::from_millis(300),
        || async {
            other
                .insert(new_job(&ws, "https://example.com/wake.git", 3))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        },
    )
    .await;
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
        "the idle worker should wake right after the other store's commit, not at its 30 s \
         poll, nor before the commit: waited {waited:?}"
    );
    assert!(
        idle.claim("idle", Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_some(),
        "the job the other store queued is claimable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_that_find_nothing_do_not_wake_idle_workers() {
    let dir = temp_dir();
    let path = dir.path().join("quiet.db");
    let idle = open(&path);
    let other = open(&path);
    let waited = timed_wait(
        idle,
        Duration::from_millis(1500),
        Duration::from_millis(100),
        || async {
            for _ in 0..20 {
                let claimed = other
                    .claim("other", Duration::from_secs(60))
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                assert!(claimed.is_none(), "nothing was queued");
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        },
    )
    .await;
    assert!(
        waited >= Duration::from_millis(1400),
        "an empty claim commits nothing, so it must not wake other processes' idle workers \
         (or they would wake each other in a loop): waited only {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_memory_database_waits_out_the_timeout() {
    let store = open(std::path::Path::new(":memory:"));
    let started = Instant::now();
    store.wait_for_work(Duration::from_millis(200)).await;
    assert!(started.elapsed() >= Duration::from_millis(190));
}
