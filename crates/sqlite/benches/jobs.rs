//! The job store's three hot paths against the bare rusqlite statements on
//! the same schema and settings, in the same run:
//!
//! - **start-import inserts/s**: `JobStore::insert` (the real path: async
//!   API, dedup check, attempt-free insert, `BEGIN IMMEDIATE`) against a bare
//!   autocommit `INSERT` of the same row, with the same number of callers on
//!   both sides (one caller, then four concurrent callers: four tasks on the
//!   store, four threads with a connection each on the bare side);
//! - **status reads/s**: eight concurrent readers polling `JobStore::get`
//!   (eight tasks on the runtime) against eight threads, each with its own
//!   connection, running the same `SELECT … WHERE id = ?1 AND
//!   workspace_id = ?2`, while one writer inserts steadily on each side
//!   at 500 inserts/s (the store's `insert` on the store side, a bare
//!   `INSERT` on its own connection on the bare side; the rate each
//!   achieved is printed below the table);
//! - **claim→finish cycles/s**: `claim` + `finish(Completed)` against the
//!   bare claim `UPDATE … RETURNING` and fenced finish `UPDATE`, each in
//!   autocommit (the store also writes the attempt-history row of each
//!   claim, in the same transactions).
//!
//! Each side has its own database file in one temporary directory, created
//! with the store's schema; the bare connections are set to the store's
//! settings (WAL, `synchronous=NORMAL`, `foreign_keys=ON`, the same busy
//! timeout) and those are read back. The store runs on a multi-threaded
//! tokio runtime with one worker per core, as a host would. Store and bare
//! rounds alternate and each side's best round counts, so other load on the
//! machine skews both sides alike.
//!
//! The ratio is time per operation, store over bare: 1.00 is no overhead,
//! "within 1.5×" means at most 1.50. Busy errors (`Error::Unavailable` from
//! the store, `SQLITE_BUSY`/`SQLITE_LOCKED` on the bare side) are counted,
//! not fatal; the target is none on either side.
//!
//! `cargo bench -p todovault-sqlite --bench jobs` (`TODOVAULT_BENCH_N` sets
//! the operations per round and caller, default 2000;
//! `TODOVAULT_BENCH_ROUNDS` the rounds, default 5;
//! `TODOVAULT_BENCH_ONLY` runs only the scenarios whose name contains it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, params};
use todovault_core::jobs::{Finish, Inserted, JobStore};
use todovault_core::testkit::new_job;
use todovault_core::{Error, ImportJobId, WorkspaceId};
use todovault_sqlite::{SqliteOptions, SqliteStore};

/// SQLite's clock in unix milliseconds, as the store computes it.
const NOW: &str = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)";
/// Concurrent status readers in the read scenario.
const READERS: usize = 8;
/// Concurrent callers in the second insert scenario.
const INSERTERS: usize = 4;
/// The pace of the background writer in the read scenario (500 inserts/s
/// on both sides, so both sides' readers face the same write load; it
/// inserts back to back whenever it falls behind).
const WRITE_EVERY: Duration = Duration::from_millis(2);
/// Jobs the readers cycle through.
const READ_SET: usize = 256;

fn bare_insert_sql() -> String {
    format!(
        "INSERT INTO jobs (id, workspace_id, todo_id, repo_url, state, progress, attempt, \
         max_attempts, run_at, cancel_requested, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, 'queued', 0, 0, ?5, {NOW}, 0, {NOW}, {NOW})"
    )
}

const BARE_SELECT: &str = "SELECT id, workspace_id, todo_id, repo_url, state, progress, error, \
     attempt, max_attempts, lease_owner, lease_expires_at, run_at, cancel_requested, \
     created_at, updated_at FROM jobs WHERE id = ?1 AND workspace_id = ?2";

/// Every column of a job row, as the bare side reads it.
#[allow(dead_code)]
struct BareJob {
    id: String,
    workspace_id: String,
    todo_id: String,
    repo_url: String,
    state: String,
    progress: i64,
    error: Option<String>,
    attempt: i64,
    max_attempts: i64,
    lease_owner: Option<String>,
    lease_expires_at: Option<i64>,
    run_at: i64,
    cancel_requested: i64,
    created_at: i64,
    updated_at: i64,
}

fn bare_job(r: &rusqlite::Row<'_>) -> rusqlite::Result<BareJob> {
    Ok(BareJob {
        id: r.get(0)?,
        workspace_id: r.get(1)?,
        todo_id: r.get(2)?,
        repo_url: r.get(3)?,
        state: r.get(4)?,
        progress: r.get(5)?,
        error: r.get(6)?,
        attempt: r.get(7)?,
        max_attempts: r.get(8)?,
        lease_owner: r.get(9)?,
        lease_expires_at: r.get(10)?,
        run_at: r.get(11)?,
        cancel_requested: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One timed round: operations done, wall time, busy errors seen.
#[derive(Clone, Copy)]
struct Round {
    ops: u64,
    elapsed: Duration,
    busy: u64,
    /// Inserts the background writer committed meanwhile (read scenario).
    writes: u64,
}

impl Round {
    fn per_sec(self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Both sides' best rounds and all their busy errors.
struct Outcome {
    store: Round,
    bare: Round,
    store_busy: u64,
    bare_busy: u64,
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this
    // too, as a quick check that it still works, not for figures.
    let benching = std::env::args().any(|a| a == "--bench");
    let n = env_usize("TODOVAULT_BENCH_N", if benching { 2000 } else { 20 }).max(1);
    let rounds = env_usize("TODOVAULT_BENCH_ROUNDS", if benching { 5 } else { 1 }).max(1);
    if !benching {
        println!("smoke run (figures come from `cargo bench`)");
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let bench = Bench::new(n, dir.path());

    type Side = fn(&Bench) -> Round;
    let scenarios: [(String, u64, f64, Side, Side); 4] = [
        (
            "start-import insert, 1 caller".into(),
            n as u64,
            1.5,
            Bench::store_insert_1,
            Bench::bare_insert_1,
        ),
        (
            format!("start-import insert, {INSERTERS} callers"),
            (n * INSERTERS) as u64,
            1.5,
            Bench::store_insert_many,
            Bench::bare_insert_many,
        ),
        (
            format!("status read, {READERS} readers + 1 writer"),
            (n * READERS * 4) as u64,
            1.3,
            Bench::store_reads,
            Bench::bare_reads,
        ),
        (
            "claim -> finish cycle, 1 worker".into(),
            n as u64,
            f64::NAN,
            Bench::store_cycle,
            Bench::bare_cycle,
        ),
    ];

    println!();
    println!(
        "{:<38} {:>7} {:>13} {:>11} {:>7} {:>7} {:>9} {:>11}",
        "scenario", "ops", "todovault/s", "bare/s", "ratio", "target", "result", "busy s/b"
    );
    println!("{}", "-".repeat(110));
    let mut all_met = true;
    let mut notes = Vec::new();
    // Runs only the scenarios whose name contains this, when set.
    let only = std::env::var("TODOVAULT_BENCH_ONLY").unwrap_or_default();
    for (name, ops, target, store_side, bare_side) in scenarios {
        if !name.contains(only.as_str()) {
            continue;
        }
        let mut outcome = Outcome {
            store: Round {
                ops: 0,
                elapsed: Duration::MAX,
                busy: 0,
                writes: 0,
            },
            bare: Round {
                ops: 0,
                elapsed: Duration::MAX,
                busy: 0,
                writes: 0,
            },
            store_busy: 0,
            bare_busy: 0,
        };
        for _ in 0..rounds {
            let s = store_side(&bench);
            let b = bare_side(&bench);
            outcome.store_busy += s.busy;
            outcome.bare_busy += b.busy;
            if s.per_sec() > outcome.store.per_sec() || outcome.store.ops == 0 {
                outcome.store = s;
            }
            if b.per_sec() > outcome.bare.per_sec() || outcome.bare.ops == 0 {
                outcome.bare = b;
            }
        }
        let (s, b) = (outcome.store.per_sec(), outcome.bare.per_sec());
        // Time per operation, store over bare.
        let ratio = b / s.max(1e-9);
        let busy_free = outcome.store_busy == 0 && outcome.bare_busy == 0;
        let (target_text, result) = if target.is_nan() {
            ("-".to_owned(), if busy_free { "-" } else { "NOT met" })
        } else if ratio <= target && busy_free {
            (format!("{target:.2}"), "met")
        } else {
            (format!("{target:.2}"), "NOT met")
        };
        all_met &= result != "NOT met";
        if outcome.store.writes > 0 || outcome.bare.writes > 0 {
            let rate = |r: Round| r.writes as f64 / r.elapsed.as_secs_f64().max(1e-9);
            notes.push(format!(
                "{name}: the writer committed {:.0} inserts/s on the store side, {:.0}/s on the \
                 bare side, during the best rounds",
                rate(outcome.store),
                rate(outcome.bare)
            ));
        }
        println!(
            "{name:<38} {ops:>7} {s:>13.0} {b:>11.0} {ratio:>7.2} {target_text:>7} {result:>9} {:>11}",
            format!("{}/{}", outcome.store_busy, outcome.bare_busy)
        );
    }
    println!();
    for note in notes {
        println!("{note}");
    }
    println!(
        "ratio = time per operation, todovault-sqlite / bare rusqlite (1.00 = no overhead); \
         best of {rounds} alternating rounds each; busy = busy errors over all rounds \
         (store/bare), target 0"
    );
    println!(
        "targets: {}",
        if all_met { "all met" } else { "NOT all met" }
    );
}

struct Bench {
    n: usize,
    rt: tokio::runtime::Runtime,
    store: Arc<SqliteStore>,
    bare_path: std::path::PathBuf,
    /// The bare side's single caller.
    bare: Connection,
    busy_timeout: Duration,
    ws: WorkspaceId,
    /// Jobs present in both databases, by the same ids, for the readers.
    read_ids: Vec<ImportJobId>,
    /// Repository counter, so every insert is a new import, not a duplicate.
    next_repo: AtomicU64,
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

impl Bench {
    fn new(n: usize, dir: &std::path::Path) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(READERS)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
        // One read connection per reader, as the bare side has.
        let options = SqliteOptions {
            read_connections: READERS,
            ..SqliteOptions::default()
        };
        let busy_timeout = options.busy_timeout;
        let store = Arc::new(
            SqliteStore::open_with(dir.join("store.db"), options)
                .unwrap_or_else(|e| panic!("open: {e}")),
        );
        let bare_path = dir.join("bare.db");
        // The same schema, created by the store, then used without it.
        drop(SqliteStore::open(&bare_path).unwrap_or_else(|e| panic!("open bare: {e}")));
        let ws = WorkspaceId::parse("bench-ws").unwrap_or_else(|e| panic!("{e}"));
        let mut bench = Self {
            n,
            rt,
            store,
            bare: bare_connection(&bare_path, busy_timeout),
            bare_path,
            busy_timeout,
            ws,
            read_ids: Vec::new(),
            next_repo: AtomicU64::new(0),
        };
        let sql = bare_insert_sql();
        for _ in 0..READ_SET {
            let job = new_job(&bench.ws, &bench.fresh_repo(), 3);
            let id = job.id;
            bench
                .bare
                .prepare_cached(&sql)
                .and_then(|mut s| {
                    s.execute(params![
                        job.id.to_string(),
                        job.workspace_id.as_str(),
                        job.todo_id.to_string(),
                        job.repo_url,
                        3
                    ])
                })
                .unwrap_or_else(|e| panic!("bare read set: {e}"));
            bench
                .rt
                .block_on(bench.store.insert(job))
                .unwrap_or_else(|e| panic!("store read set: {e}"));
            bench.read_ids.push(id);
        }
        bench
    }

    fn fresh_repo(&self) -> String {
        let i = self.next_repo.fetch_add(1, Ordering::Relaxed);
        format!("https://example.com/bench/{i}.git")
    }

    fn new_bare_connection(&self) -> Connection {
        bare_connection(&self.bare_path, self.busy_timeout)
    }

    // ---- start-import inserts ----

    fn store_insert_1(&self) -> Round {
        self.store_insert(1)
    }

    fn store_insert_many(&self) -> Round {
        self.store_insert(INSERTERS)
    }

    fn store_insert(&self, callers: usize) -> Round {
        let jobs: Vec<Vec<_>> = (0..callers)
            .map(|_| {
                (0..self.n)
                    .map(|_| new_job(&self.ws, &self.fresh_repo(), 3))
                    .collect()
            })
            .collect();
        let busy = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        self.rt.block_on(async {
            let tasks: Vec<_> = jobs
                .into_iter()
                .map(|batch| {
                    let store = Arc::clone(&self.store);
                    let busy = Arc::clone(&busy);
                    tokio::spawn(async move {
                        for job in batch {
                            match store.insert(job).await {
                                Ok(Inserted::Created(_)) => {}
                                Ok(Inserted::Existing(_)) => panic!("a new repository was deduped"),
                                Err(Error::Unavailable { .. }) => {
                                    busy.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(e) => panic!("insert: {e}"),
                            }
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap_or_else(|e| panic!("insert task: {e}"));
            }
        });
        Round {
            ops: (callers * self.n) as u64,
            elapsed: started.elapsed(),
            busy: busy.load(Ordering::Relaxed),
            writes: 0,
        }
    }

    fn bare_insert_1(&self) -> Round {
        let jobs: Vec<_> = (0..self.n)
            .map(|_| new_job(&self.ws, &self.fresh_repo(), 3))
            .collect();
        let started = Instant::now();
        let busy = bare_insert_all(&self.bare, jobs);
        Round {
            ops: self.n as u64,
            elapsed: started.elapsed(),
            busy,
            writes: 0,
        }
    }

    fn bare_insert_many(&self) -> Round {
        let work: Vec<(Connection, Vec<_>)> = (0..INSERTERS)
            .map(|_| {
                let jobs = (0..self.n)
                    .map(|_| new_job(&self.ws, &self.fresh_repo(), 3))
                    .collect();
                (self.new_bare_connection(), jobs)
            })
            .collect();
        let started = Instant::now();
        let threads: Vec<_> = work
            .into_iter()
            .map(|(conn, jobs)| std::thread::spawn(move || bare_insert_all(&conn, jobs)))
            .collect();
        let busy = threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| panic!("bare insert thread")))
            .sum();
        Round {
            ops: (INSERTERS * self.n) as u64,
            elapsed: started.elapsed(),
            busy,
            writes: 0,
        }
    }

    // ---- status reads under a writer ----

    fn store_reads(&self) -> Round {
        let reads_per_reader = self.n * 4;
        let stop = Arc::new(AtomicBool::new(false));
        let busy = Arc::new(AtomicU64::new(0));
        let writer_jobs: Vec<_> = (0..self.n * 4)
            .map(|_| new_job(&self.ws, &self.fresh_repo(), 3))
            .collect();
        let started = Instant::now();
        self.rt.block_on(async {
            let writer = {
                let (store, stop, busy) = (
                    Arc::clone(&self.store),
                    Arc::clone(&stop),
                    Arc::clone(&busy),
                );
                tokio::spawn(async move {
                    let mut w = 0;
                    for job in writer_jobs {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        match store.insert(job).await {
                            Ok(_) => {}
                            Err(Error::Unavailable { .. }) => {
                                busy.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => panic!("writer insert: {e}"),
                        }
                        w += 1;
                        tokio::time::sleep_until((started + WRITE_EVERY * w).into()).await;
                    }
                    u64::from(w)
                })
            };
            let readers: Vec<_> = (0..READERS)
                .map(|r| {
                    let store = Arc::clone(&self.store);
                    let busy = Arc::clone(&busy);
                    let ws = self.ws.clone();
                    let ids = self.read_ids.clone();
                    tokio::spawn(async move {
                        for i in 0..reads_per_reader {
                            let id = &ids[(r * 31 + i) % ids.len()];
                            match JobStore::get(&*store, &ws, id).await {
                                Ok(Some(_)) => {}
                                Ok(None) => panic!("job {id} vanished"),
                                Err(Error::Unavailable { .. }) => {
                                    busy.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(e) => panic!("get: {e}"),
                            }
                        }
                    })
                })
                .collect();
            for t in readers {
                t.await.unwrap_or_else(|e| panic!("reader task: {e}"));
            }
            let elapsed = started.elapsed();
            stop.store(true, Ordering::Relaxed);
            let writes = writer.await.unwrap_or_else(|e| panic!("writer task: {e}"));
            Round {
                ops: (READERS * reads_per_reader) as u64,
                elapsed,
                busy: busy.load(Ordering::Relaxed),
                writes,
            }
        })
    }

    fn bare_reads(&self) -> Round {
        let reads_per_reader = self.n * 4;
        let stop = Arc::new(AtomicBool::new(false));
        let writer_jobs: Vec<_> = (0..self.n * 4)
            .map(|_| new_job(&self.ws, &self.fresh_repo(), 3))
            .collect();
        let writer_conn = self.new_bare_connection();
        let reader_conns: Vec<_> = (0..READERS).map(|_| self.new_bare_connection()).collect();
        let ws = self.ws.to_string();
        let started = Instant::now();
        let writer = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let sql = bare_insert_sql();
                let mut busy = 0;
                let mut w = 0;
                for job in writer_jobs {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    busy += bare_insert_one(&writer_conn, &sql, job);
                    w += 1;
                    let next = started + WRITE_EVERY * w;
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                }
                (u64::from(w), busy)
            })
        };
        let readers: Vec<_> = reader_conns
            .into_iter()
            .enumerate()
            .map(|(r, conn)| {
                let ids: Vec<String> = self.read_ids.iter().map(|i| i.to_string()).collect();
                let ws = ws.clone();
                std::thread::spawn(move || {
                    let mut busy = 0u64;
                    for i in 0..reads_per_reader {
                        let id = &ids[(r * 31 + i) % ids.len()];
                        let got = conn
                            .prepare_cached(BARE_SELECT)
                            .and_then(|mut s| s.query_row(params![id, ws], bare_job));
                        match got {
                            Ok(job) => assert_eq!(&job.id, id),
                            Err(e) if is_busy(&e) => busy += 1,
                            Err(e) => panic!("bare select: {e}"),
                        }
                    }
                    busy
                })
            })
            .collect();
        let mut busy: u64 = readers
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| panic!("bare reader thread")))
            .sum();
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        let (writes, writer_busy) = writer
            .join()
            .unwrap_or_else(|_| panic!("bare writer thread"));
        busy += writer_busy;
        Round {
            ops: (READERS * reads_per_reader) as u64,
            elapsed,
            busy,
            writes,
        }
    }

    // ---- claim -> finish ----

    fn store_cycle(&self) -> Round {
        let jobs: Vec<_> = (0..self.n)
            .map(|_| new_job(&self.ws, &self.fresh_repo(), 3))
            .collect();
        let store = &self.store;
        self.rt.block_on(async {
            for job in jobs {
                store
                    .insert(job)
                    .await
                    .unwrap_or_else(|e| panic!("insert: {e}"));
            }
            let mut busy = 0;
            let started = Instant::now();
            for _ in 0..self.n {
                let job = match store.claim("bench", Duration::from_secs(60)).await {
                    Ok(Some(job)) => job,
                    Ok(None) => panic!("nothing to claim"),
                    Err(Error::Unavailable { .. }) => {
                        busy += 1;
                        continue;
                    }
                    Err(e) => panic!("claim: {e}"),
                };
                let lease = job.lease().unwrap_or_else(|| panic!("no lease"));
                match store.finish(&lease, Finish::Completed).await {
                    Ok(done) => assert!(done, "lease lost in the benchmark"),
                    Err(Error::Unavailable { .. }) => busy += 1,
                    Err(e) => panic!("finish: {e}"),
                }
            }
            Round {
                ops: self.n as u64,
                elapsed: started.elapsed(),
                busy,
                writes: 0,
            }
        })
    }

    fn bare_cycle(&self) -> Round {
        let jobs: Vec<_> = (0..self.n)
            .map(|_| new_job(&self.ws, &self.fresh_repo(), 3))
            .collect();
        let mut busy = bare_insert_all(&self.bare, jobs);
        let claim = format!(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?1, \
             lease_expires_at = {NOW} + 60000, updated_at = {NOW} \
             WHERE id = (SELECT id FROM jobs WHERE state IN ('queued', 'retry_wait') \
                         AND run_at <= {NOW} ORDER BY run_at, id LIMIT 1) \
             RETURNING id, attempt"
        );
        let finish = format!(
            "UPDATE jobs SET state = 'completed', progress = 100, error = NULL, \
             lease_owner = NULL, lease_expires_at = NULL, updated_at = {NOW} \
             WHERE id = ?1 AND lease_owner = ?2 AND attempt = ?3 AND state = 'running'"
        );
        let raw = &self.bare;
        let started = Instant::now();
        for _ in 0..self.n {
            let claimed: rusqlite::Result<(String, i64)> = raw
                .prepare_cached(&claim)
                .and_then(|mut s| s.query_row(["bench"], |r| Ok((r.get(0)?, r.get(1)?))));
            let (id, attempt) = match claimed {
                Ok(c) => c,
                Err(e) if is_busy(&e) => {
                    busy += 1;
                    continue;
                }
                Err(e) => panic!("bare claim: {e}"),
            };
            match raw
                .prepare_cached(&finish)
                .and_then(|mut s| s.execute(params![id, "bench", attempt]))
            {
                Ok(changed) => assert_eq!(changed, 1),
                Err(e) if is_busy(&e) => busy += 1,
                Err(e) => panic!("bare finish: {e}"),
            }
        }
        Round {
            ops: self.n as u64,
            elapsed: started.elapsed(),
            busy,
            writes: 0,
        }
    }
}

/// A bare connection with exactly the store's settings, read back, since
/// the comparison is only fair if both sides run with the same ones.
fn bare_connection(path: &std::path::Path, busy_timeout: Duration) -> Connection {
    let conn = Connection::open(path).unwrap_or_else(|e| panic!("bare open: {e}"));
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .unwrap_or_else(|e| panic!("bare journal_mode: {e}"));
    assert_eq!(mode, "wal");
    for (name, value) in [
        ("synchronous", 1i64),
        ("foreign_keys", 1),
        ("busy_timeout", busy_timeout.as_millis() as i64),
    ] {
        conn.pragma_update(None, name, value)
            .unwrap_or_else(|e| panic!("bare {name}: {e}"));
        let back: i64 = conn
            .pragma_query_value(None, name, |r| r.get(0))
            .unwrap_or_else(|e| panic!("bare {name}: {e}"));
        assert_eq!(back, value, "bare connection refused {name}={value}");
    }
    conn
}

/// Inserts `job` with a bare statement; returns 1 if it hit a busy error.
fn bare_insert_one(conn: &Connection, sql: &str, job: todovault_core::jobs::NewJob) -> u64 {
    let done = conn.prepare_cached(sql).and_then(|mut s| {
        s.execute(params![
            job.id.to_string(),
            job.workspace_id.as_str(),
            job.todo_id.to_string(),
            job.repo_url,
            i64::from(job.max_attempts)
        ])
    });
    match done {
        Ok(_) => 0,
        Err(e) if is_busy(&e) => 1,
        Err(e) => panic!("bare insert: {e}"),
    }
}

/// Inserts every job in order; returns the busy errors.
fn bare_insert_all(conn: &Connection, jobs: Vec<todovault_core::jobs::NewJob>) -> u64 {
    let sql = bare_insert_sql();
    jobs.into_iter()
        .map(|job| bare_insert_one(conn, &sql, job))
        .sum()
}
