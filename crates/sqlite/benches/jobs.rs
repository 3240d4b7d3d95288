//! Throughput of the SQLite store against raw rusqlite on the same schema.
//!
//! For each operation the store's figure (through the async trait, the
//! writer mutex, `spawn_blocking`, `BEGIN IMMEDIATE`, fencing and the attempt
//! history) is printed beside raw rusqlite running the equivalent single
//! statements on one connection in autocommit mode, with the same pragmas,
//! and the ratio of the two. Both use their own fresh database file in one
//! temporary directory, WAL and `synchronous=NORMAL`. Store and raw rounds
//! alternate and each side's best round counts, so other load on the machine
//! skews both sides alike.
//!
//! `cargo bench -p todovault-sqlite --bench jobs` (set `TODOVAULT_BENCH_N` to
//! change the operations per round, default 1000; `TODOVAULT_BENCH_ROUNDS`
//! the rounds, default 3).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use todovault_core::jobs::{Finish, JobStore};
use todovault_core::testkit::{new_job, sample_document};
use todovault_core::{EntryId, ImportJobId, MasterTodo, TodoStore, WorkspaceId};
use todovault_sqlite::SqliteStore;

/// SQLite's clock in unix milliseconds, as the store computes it.
const NOW: &str = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)";

/// Every column of a job row, as the raw side reads it.
type RawJobRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    i64,
    (i64, Option<String>, Option<i64>, i64, i64, i64, i64),
);

struct Bench {
    n: usize,
    rt: tokio::runtime::Runtime,
    store: Arc<SqliteStore>,
    raw: Connection,
    ws: WorkspaceId,
    /// Repository counter, so every round inserts fresh jobs.
    next_repo: usize,
    doc: MasterTodo,
    store_version: u64,
    raw_version: u64,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this
    // too, as a quick check that it still works, not for figures.
    let benching = std::env::args().any(|a| a == "--bench");
    let n = env_usize("TODOVAULT_BENCH_N", if benching { 1000 } else { 20 }).max(1);
    let rounds = env_usize("TODOVAULT_BENCH_ROUNDS", if benching { 3 } else { 1 }).max(1);
    if !benching {
        println!("smoke run (figures come from `cargo bench`)");
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let mut bench = Bench::new(n, dir.path());

    type Round = fn(&mut Bench) -> Duration;
    let cases: [(&str, Round, Round); 4] = [
        (
            "claim -> finish cycle",
            Bench::store_cycle,
            Bench::raw_cycle,
        ),
        (
            "job status read",
            Bench::store_job_read,
            Bench::raw_job_read,
        ),
        (
            "TodoStore put (20 entries)",
            Bench::store_put,
            Bench::raw_put,
        ),
        (
            "TodoStore get (20 entries)",
            Bench::store_get,
            Bench::raw_get,
        ),
    ];

    println!();
    println!(
        "{:<28} {:>6} {:>19} {:>16} {:>7}",
        "operation", "ops", "todovault-sqlite/s", "raw rusqlite/s", "ratio"
    );
    println!("{}", "-".repeat(80));
    for (name, store_round, raw_round) in cases {
        let mut best_store = Duration::MAX;
        let mut best_raw = Duration::MAX;
        for _ in 0..rounds {
            best_store = best_store.min(store_round(&mut bench));
            best_raw = best_raw.min(raw_round(&mut bench));
        }
        let per_sec = |t: Duration| n as f64 / t.as_secs_f64().max(1e-9);
        let (s, r) = (per_sec(best_store), per_sec(best_raw));
        println!(
            "{name:<28} {n:>6} {s:>19.0} {r:>16.0} {:>6.2}x",
            s / r.max(1e-9)
        );
    }
    println!();
    println!(
        "ratio = todovault-sqlite throughput / raw rusqlite throughput (1.00x = no overhead); \
         best of {rounds} rounds each"
    );
}

impl Bench {
    fn new(n: usize, dir: &std::path::Path) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
        let store = Arc::new(
            SqliteStore::open(dir.join("store.db")).unwrap_or_else(|e| panic!("open: {e}")),
        );
        let raw_path = dir.join("raw.db");
        // The same schema, created by the store, then used without it.
        drop(SqliteStore::open(&raw_path).unwrap_or_else(|e| panic!("open raw: {e}")));
        let raw = Connection::open(&raw_path).unwrap_or_else(|e| panic!("raw open: {e}"));
        // Set one by one and read back: the comparison is only fair if the
        // raw connection runs with exactly the store's settings.
        let mode: String = raw
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .unwrap_or_else(|e| panic!("raw journal_mode: {e}"));
        assert_eq!(mode, "wal");
        for (name, value) in [
            ("synchronous", 1i64),
            ("foreign_keys", 1),
            ("busy_timeout", 10_000),
        ] {
            raw.pragma_update(None, name, value)
                .unwrap_or_else(|e| panic!("raw {name}: {e}"));
            let back: i64 = raw
                .pragma_query_value(None, name, |r| r.get(0))
                .unwrap_or_else(|e| panic!("raw {name}: {e}"));
            assert_eq!(back, value, "raw connection refused {name}={value}");
        }
        let ws = WorkspaceId::parse("bench-ws").unwrap_or_else(|e| panic!("{e}"));

        let mut doc = sample_document(&ws, 1);
        let template = doc.entries[0].clone();
        doc.entries = (0..20)
            .map(|i| {
                let mut e = template.clone();
                e.id = EntryId::new();
                e.seq = i + 1;
                e.content = format!("entry {i}: {}", "some words about the work ".repeat(4));
                e
            })
            .collect();
        rt.block_on(store.put(&doc, None))
            .unwrap_or_else(|e| panic!("first put: {e}"));
        raw.execute(
            &format!(
                "INSERT INTO todos (workspace_id, todo_id, version, document, updated_at) \
                 VALUES (?1, ?2, 1, ?3, {NOW})"
            ),
            params![ws.as_str(), doc.id.to_string(), json(&doc)],
        )
        .unwrap_or_else(|e| panic!("raw first put: {e}"));

        Self {
            n,
            rt,
            store,
            raw,
            ws,
            next_repo: 0,
            doc,
            store_version: 1,
            raw_version: 1,
        }
    }

    fn fresh_repos(&mut self) -> Vec<String> {
        let start = self.next_repo;
        self.next_repo += self.n;
        (start..self.next_repo)
            .map(|i| format!("https://example.com/{i}.git"))
            .collect()
    }

    fn store_cycle(&mut self) -> Duration {
        let repos = self.fresh_repos();
        let (store, ws, n) = (&self.store, &self.ws, self.n);
        self.rt.block_on(async {
            for repo in &repos {
                store
                    .insert(new_job(ws, repo, 3))
                    .await
                    .unwrap_or_else(|e| panic!("insert: {e}"));
            }
            let started = Instant::now();
            for _ in 0..n {
                let job = store
                    .claim("bench", Duration::from_secs(60))
                    .await
                    .unwrap_or_else(|e| panic!("claim: {e}"))
                    .unwrap_or_else(|| panic!("nothing to claim"));
                let lease = job.lease().unwrap_or_else(|| panic!("no lease"));
                let done = store
                    .finish(&lease, Finish::Completed)
                    .await
                    .unwrap_or_else(|e| panic!("finish: {e}"));
                assert!(done, "lease lost in the benchmark");
            }
            started.elapsed()
        })
    }

    fn raw_cycle(&mut self) -> Duration {
        let repos = self.fresh_repos();
        let raw = &self.raw;
        let insert = format!(
            "INSERT INTO jobs (id, workspace_id, todo_id, repo_url, state, progress, attempt, \
             max_attempts, run_at, cancel_requested, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, 'queued', 0, 0, 3, {NOW}, 0, {NOW}, {NOW})"
        );
        for repo in &repos {
            let job = new_job(&self.ws, repo, 3);
            raw.prepare_cached(&insert)
                .and_then(|mut s| {
                    s.execute(params![
                        job.id.to_string(),
                        self.ws.as_str(),
                        job.todo_id.to_string(),
                        job.repo_url
                    ])
                })
                .unwrap_or_else(|e| panic!("raw insert: {e}"));
        }
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
        let started = Instant::now();
        for _ in 0..self.n {
            let (id, attempt): (String, i64) = raw
                .prepare_cached(&claim)
                .and_then(|mut s| s.query_row(["bench"], |r| Ok((r.get(0)?, r.get(1)?))))
                .unwrap_or_else(|e| panic!("raw claim: {e}"));
            let changed = raw
                .prepare_cached(&finish)
                .and_then(|mut s| s.execute(params![id, "bench", attempt]))
                .unwrap_or_else(|e| panic!("raw finish: {e}"));
            assert_eq!(changed, 1);
        }
        started.elapsed()
    }

    fn store_job_read(&mut self) -> Duration {
        let (store, ws, n) = (&self.store, &self.ws, self.n);
        self.rt.block_on(async {
            let ids: Vec<ImportJobId> = {
                // The jobs of the cycle rounds; one is inserted if there are none.
                let job = store
                    .insert(new_job(ws, "https://example.com/read.git", 3))
                    .await
                    .unwrap_or_else(|e| panic!("insert: {e}"));
                vec![job.job().id]
            };
            let started = Instant::now();
            for id in ids.iter().cycle().take(n) {
                let job = JobStore::get(&**store, ws, id)
                    .await
                    .unwrap_or_else(|e| panic!("get: {e}"));
                assert!(job.is_some());
            }
            started.elapsed()
        })
    }

    fn raw_job_read(&mut self) -> Duration {
        let id: String = self
            .raw
            .query_row("SELECT id FROM jobs LIMIT 1", [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("raw id: {e}"));
        let started = Instant::now();
        for _ in 0..self.n {
            let row: RawJobRow = self
                .raw
                .prepare_cached(
                    "SELECT id, workspace_id, todo_id, repo_url, state, progress, error, \
                     attempt, max_attempts, lease_owner, lease_expires_at, run_at, \
                     cancel_requested, created_at, updated_at \
                     FROM jobs WHERE id = ?1 AND workspace_id = ?2",
                )
                .and_then(|mut s| {
                    s.query_row(params![id, self.ws.as_str()], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                            r.get(7)?,
                            (
                                r.get(8)?,
                                r.get(9)?,
                                r.get(10)?,
                                r.get(11)?,
                                r.get(12)?,
                                r.get(13)?,
                                r.get(14)?,
                            ),
                        ))
                    })
                })
                .unwrap_or_else(|e| panic!("raw get: {e}"));
            assert_eq!(row.0, id);
        }
        started.elapsed()
    }

    fn store_put(&mut self) -> Duration {
        let (store, n) = (&self.store, self.n as u64);
        let from = self.store_version;
        let doc = &self.doc;
        let elapsed = self.rt.block_on(async {
            let started = Instant::now();
            for v in from + 1..=from + n {
                let mut next = doc.clone();
                next.version = v;
                store
                    .put(&next, Some(v - 1))
                    .await
                    .unwrap_or_else(|e| panic!("put: {e}"));
            }
            started.elapsed()
        });
        self.store_version += n;
        elapsed
    }

    fn raw_put(&mut self) -> Duration {
        let n = self.n as u64;
        let from = self.raw_version;
        let sql = format!(
            "UPDATE todos SET version = ?2, document = ?3, updated_at = {NOW} \
             WHERE workspace_id = ?1 AND version = ?4"
        );
        let started = Instant::now();
        for v in from + 1..=from + n {
            let mut next = self.doc.clone();
            next.version = v;
            let changed = self
                .raw
                .prepare_cached(&sql)
                .and_then(|mut s| {
                    s.execute(params![
                        self.ws.as_str(),
                        v as i64,
                        json(&next),
                        v as i64 - 1
                    ])
                })
                .unwrap_or_else(|e| panic!("raw put: {e}"));
            assert_eq!(changed, 1);
        }
        self.raw_version += n;
        started.elapsed()
    }

    fn store_get(&mut self) -> Duration {
        let (store, ws, n) = (&self.store, &self.ws, self.n);
        self.rt.block_on(async {
            let started = Instant::now();
            for _ in 0..n {
                let got = TodoStore::get(&**store, ws)
                    .await
                    .unwrap_or_else(|e| panic!("get: {e}"));
                assert!(got.is_some());
            }
            started.elapsed()
        })
    }

    fn raw_get(&mut self) -> Duration {
        let started = Instant::now();
        for _ in 0..self.n {
            let text: String = self
                .raw
                .prepare_cached("SELECT document FROM todos WHERE workspace_id = ?1")
                .and_then(|mut s| s.query_row([self.ws.as_str()], |r| r.get(0)))
                .unwrap_or_else(|e| panic!("raw get: {e}"));
            MasterTodo::from_json(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        }
        started.elapsed()
    }
}

fn json(doc: &MasterTodo) -> String {
    String::from_utf8(doc.to_json_vec().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"))
}
