//! Claim → finish cycles per second of the PostgreSQL job store, with one
//! and with three engine processes (each host a child process with its own
//! connection), side by side with a bare `UPDATE … FOR UPDATE SKIP LOCKED`
//! loop run the same way (one and three processes) on the same table in the
//! same run.
//!
//! Children connect first and then start together at a time the parent
//! chose, so process start-up and connecting are not measured; the figure is
//! the jobs cycled divided by the time until the last child finished.
//!
//! The bare loop is the floor cost of a SKIP LOCKED queue: one claiming
//! UPDATE and one finishing UPDATE per job. The store does more per cycle —
//! lease on the database clock, fencing, the attempt history row opened and
//! closed, the wake-up trigger — and the ratio says what that costs.
//!
//! Run: `cargo bench -p todovault-postgres --bench claims` (needs the server
//! from `.ci/setup.d/30-postgres.sh`).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{TestSchema, admin, database_url};
use todovault_core::jobs::{Finish, JobStore};
use todovault_core::testkit::process::{ChildProcess, child_command};
use todovault_core::{ImportJobId, TodoId};
use todovault_postgres::{PostgresConfig, PostgresStore};

/// Set in a child process: `store` or `bare`, the loop it runs.
const ROLE: &str = "TODOVAULT_PG_BENCH_ROLE";
const SCHEMA: &str = "TODOVAULT_PG_BENCH_SCHEMA";
const WORKER: &str = "TODOVAULT_PG_BENCH_WORKER";
const START_AT: &str = "TODOVAULT_PG_BENCH_START_AT_MS";

/// Jobs per run and runs per figure: `cargo bench` passes `--bench`;
/// `cargo test --benches` does not, and gets a quick pass over the same code.
struct Size {
    jobs: usize,
    rounds: usize,
}

fn size() -> Size {
    if std::env::args().any(|a| a == "--bench") {
        Size {
            jobs: 2000,
            rounds: 3,
        }
    } else {
        Size {
            jobs: 100,
            rounds: 1,
        }
    }
}
const LEASE: Duration = Duration::from_secs(30);

/// Empties the table and queues `jobs` fresh jobs in one statement.
async fn refill(schema: &str, jobs: usize) {
    let client = admin().await;
    client
        .batch_execute(&format!("TRUNCATE \"{schema}\".import_jobs CASCADE"))
        .await
        .unwrap_or_else(|e| panic!("truncate: {e}"));
    let ids: Vec<String> = (0..jobs).map(|_| ImportJobId::new().to_string()).collect();
    let todo = TodoId::new().to_string();
    client
        .execute(
            &format!(
                "INSERT INTO \"{schema}\".import_jobs (id, workspace_id, todo_id, repo_url, state, \
                     max_attempts, run_at, created_at, updated_at)
                 SELECT id, 'ws-bench', $2, 'https://example.com/' || id || '.git', 'queued', 3, \
                     now(), now(), now()
                 FROM unnest($1::text[]) AS id"
            ),
            &[&ids, &todo],
        )
        .await
        .unwrap_or_else(|e| panic!("refill: {e}"));
    client
        .batch_execute(&format!("VACUUM ANALYZE \"{schema}\".import_jobs"))
        .await
        .unwrap_or_else(|e| panic!("vacuum: {e}"));
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Waits until the agreed start time.
async fn wait_for_start() {
    let start: u128 = std::env::var(START_AT)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{START_AT} not set"));
    let now = now_ms();
    if start > now {
        tokio::time::sleep(Duration::from_millis((start - now) as u64)).await;
    }
}

/// A child host: claims and completes through the store until the queue is
/// empty. Returns how many jobs it cycled.
async fn store_loop(schema: &str, worker: &str) -> usize {
    // One connection per host: a host's claim loop is sequential.
    let config = PostgresConfig::new(database_url())
        .schema(schema)
        .pool_size(1)
        .listen(false);
    let store = PostgresStore::connect(config)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    // Warm the pool's connection before the clock starts.
    store
        .schema_version()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    wait_for_start().await;
    let mut done = 0usize;
    while let Some(job) = store
        .claim(worker, LEASE)
        .await
        .unwrap_or_else(|e| panic!("claim: {e}"))
    {
        let lease = job.lease().unwrap_or_else(|| panic!("no lease"));
        let finished = store
            .finish(&lease, Finish::Completed)
            .await
            .unwrap_or_else(|e| panic!("finish: {e}"));
        assert!(finished, "a fenced finish failed");
        done += 1;
    }
    done
}

/// A child running the same cycle with plain statements on a plain
/// connection.
async fn bare_loop(schema: &str, worker: &str) -> usize {
    let claim_sql = format!(
        "UPDATE \"{schema}\".import_jobs
         SET state = 'running', attempt = attempt + 1, lease_owner = $1,
             lease_expires_at = now() + interval '30 seconds', updated_at = now()
         WHERE id = (
             SELECT id FROM \"{schema}\".import_jobs
             WHERE state IN ('queued', 'retry_wait') AND run_at <= now()
             ORDER BY run_at, id LIMIT 1
             FOR UPDATE SKIP LOCKED)
         RETURNING id"
    );
    let finish_sql = format!(
        "UPDATE \"{schema}\".import_jobs
         SET state = 'completed', lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
         WHERE id = $1 AND lease_owner = $2 AND state = 'running'"
    );
    let client = admin().await;
    let claim = client
        .prepare(&claim_sql)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let finish = client
        .prepare(&finish_sql)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    wait_for_start().await;
    let mut done = 0usize;
    while let Some(row) = client
        .query_opt(&claim, &[&worker])
        .await
        .unwrap_or_else(|e| panic!("bare claim: {e}"))
    {
        let id: String = row.get(0);
        let changed = client
            .execute(&finish, &[&id, &worker])
            .await
            .unwrap_or_else(|e| panic!("bare finish: {e}"));
        assert_eq!(changed, 1);
        done += 1;
    }
    done
}

/// Runs `hosts` child processes of `role` against a freshly filled queue and
/// returns cycles per second over all of them.
async fn cycles(role: &str, schema: &str, hosts: usize, jobs: usize) -> f64 {
    refill(schema, jobs).await;
    // Far enough ahead for every child to start and connect on a busy machine.
    let start = now_ms() + 3000;
    let mut children = Vec::new();
    for n in 0..hosts {
        let mut command = child_command(ROLE, role);
        command
            .env(SCHEMA, schema)
            .env(WORKER, format!("{role}-{n}"))
            .env(START_AT, start.to_string());
        children.push(ChildProcess::spawn(&format!("{role} host {n}"), command));
    }
    let (mut total, mut last_end) = (0usize, start);
    for child in &mut children {
        let line = child
            .next_line(Duration::from_secs(600))
            .unwrap_or_else(|| panic!("a {role} host said nothing"));
        let mut parts = line.split_whitespace().skip(1);
        let done: usize = parts
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let end: u128 = parts
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        total += done;
        last_end = last_end.max(end);
    }
    for child in children {
        child.stop(Duration::from_secs(30));
    }
    assert_eq!(total, jobs, "every job was cycled once");
    total as f64 / ((last_end - start).max(1) as f64 / 1000.0)
}

fn child_main(role: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let schema = std::env::var(SCHEMA).unwrap_or_else(|_| panic!("{SCHEMA} not set"));
    let worker = std::env::var(WORKER).unwrap_or_else(|_| panic!("{WORKER} not set"));
    let done = rt.block_on(async {
        match role {
            "store" => store_loop(&schema, &worker).await,
            "bare" => bare_loop(&schema, &worker).await,
            other => panic!("unknown role {other}"),
        }
    });
    println!("done {done} {}", now_ms());
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        child_main(&role);
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let Size { jobs, rounds } = size();
    rt.block_on(async {
        let schema = TestSchema::new("bench");
        // Creates the schema and its tables.
        drop(schema.store().await);
        println!(
            "claim -> finish cycles per second, {jobs} jobs per run, best of {rounds} runs \
             (PostgreSQL on 127.0.0.1, {} CPU cores; each host is its own process)",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!(
            "{:<24} {:>14} {:>16} {:>8}",
            "hosts", "store cyc/s", "bare SKIP LOCKED", "ratio"
        );
        for hosts in [1usize, 3] {
            let (mut best_store, mut best_bare) = (0f64, 0f64);
            for _ in 0..rounds {
                best_store = best_store.max(cycles("store", &schema.name, hosts, jobs).await);
                best_bare = best_bare.max(cycles("bare", &schema.name, hosts, jobs).await);
            }
            let label = format!("{hosts} process{}", if hosts == 1 { "" } else { "es" });
            println!(
                "{label:<24} {best_store:>14.0} {best_bare:>16.0} {:>8.2}",
                best_store / best_bare
            );
        }
    });
}
