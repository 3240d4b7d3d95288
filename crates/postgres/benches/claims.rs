//! Claim → finish cycles per second of the PostgreSQL job store, with one
//! and with three concurrent hosts (each its own connection pool in this
//! process), side by side with a bare `UPDATE … FOR UPDATE SKIP LOCKED`
//! loop on the same table in the same run.
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

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{TestSchema, admin};
use todovault_core::jobs::{Finish, JobStore};
use todovault_core::{ImportJobId, TodoId};
use todovault_postgres::PostgresStore;

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

/// Cycles per second of `hosts` stores claiming and completing until the
/// queue is empty.
async fn store_cycles(stores: &[Arc<PostgresStore>], jobs: usize) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (n, store) in stores.iter().enumerate() {
        let store = Arc::clone(store);
        tasks.push(tokio::spawn(async move {
            let worker = format!("bench-{n}");
            let mut done = 0usize;
            while let Some(job) = store
                .claim(&worker, LEASE)
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
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or_else(|e| panic!("worker panicked: {e}"));
    }
    assert_eq!(total, jobs, "every job was cycled once");
    total as f64 / started.elapsed().as_secs_f64()
}

/// The same with plain statements on plain connections.
async fn bare_cycles(schema: &str, workers: usize, jobs: usize) -> f64 {
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
    let mut clients = Vec::new();
    for _ in 0..workers {
        clients.push(admin().await);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (n, client) in clients.into_iter().enumerate() {
        let (claim_sql, finish_sql) = (claim_sql.clone(), finish_sql.clone());
        tasks.push(tokio::spawn(async move {
            let claim = client
                .prepare(&claim_sql)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let finish = client
                .prepare(&finish_sql)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let worker = format!("bare-{n}");
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
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or_else(|e| panic!("worker panicked: {e}"));
    }
    assert_eq!(total, jobs);
    total as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let Size { jobs, rounds } = size();
    rt.block_on(async {
        let schema = TestSchema::new("bench");
        let mut stores = Vec::new();
        for _ in 0..3 {
            // One connection per host: a host's claim loop is sequential.
            stores.push(Arc::new(
                schema
                    .store_with(schema.config().pool_size(1).listen(false))
                    .await,
            ));
        }
        println!(
            "claim -> finish cycles per second, {jobs} jobs per run, best of {rounds} runs \
             (PostgreSQL on 127.0.0.1, {} CPU cores)",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!(
            "{:<34} {:>14} {:>16} {:>8}",
            "hosts", "store cyc/s", "bare SKIP LOCKED", "ratio"
        );
        for hosts in [1usize, 3] {
            let (mut best_store, mut best_bare) = (0f64, 0f64);
            for _ in 0..rounds {
                refill(&schema.name, jobs).await;
                best_store = best_store.max(store_cycles(&stores[..hosts], jobs).await);
                refill(&schema.name, jobs).await;
                best_bare = best_bare.max(bare_cycles(&schema.name, hosts, jobs).await);
            }
            let label = if hosts == 1 {
                "1 host (1 connection)".to_owned()
            } else {
                format!("{hosts} hosts (3 pools, one process)")
            };
            println!(
                "{label:<34} {best_store:>14.0} {best_bare:>16.0} {:>8.2}",
                best_store / best_bare
            );
        }
    });
}
