//! What the PostgreSQL stores promise beyond the conformance suites:
//! migrations shared by racing hosts, refusal of newer schemas, clear
//! connection errors without passwords, the attempt history, a reaper that
//! never moves a finished job back, LISTEN/NOTIFY wake-ups, batch pruning,
//! atomic dedup, the history bound and the stored document's exact bytes.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use support::{TestSchema, admin};
use todovault_core::jobs::{Finish, Inserted, JobState, JobStore, WORKER_LOST};
use todovault_core::testkit::{new_job, sample_document, unique_workspace};
use todovault_core::{Error, TodoStore};
use todovault_postgres::{AttemptOutcome, PostgresConfig, PostgresStore, SCHEMA_VERSION};

const LONG: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_hosts_migrate_once() {
    let schema = TestSchema::new("mig");
    let mut hosts = Vec::new();
    for _ in 0..6 {
        let config = schema.config();
        hosts.push(tokio::spawn(
            async move { PostgresStore::connect(config).await },
        ));
    }
    let mut stores = Vec::new();
    for h in hosts {
        let store = h
            .await
            .unwrap_or_else(|e| panic!("host panicked: {e}"))
            .unwrap_or_else(|e| panic!("a racing host failed to connect: {}", e.detail()));
        stores.push(store);
    }
    for store in &stores {
        assert_eq!(
            store
                .schema_version()
                .await
                .unwrap_or_else(|e| panic!("{e}")),
            SCHEMA_VERSION
        );
    }
    let rows = admin()
        .await
        .query(
            &format!(
                "SELECT version FROM \"{}\".schema_migrations ORDER BY version",
                schema.name
            ),
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        versions,
        (1..=SCHEMA_VERSION).collect::<Vec<_>>(),
        "each migration is recorded exactly once"
    );
    // Connecting again to a migrated schema changes nothing.
    schema.store().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused() {
    let schema = TestSchema::new("newer");
    schema.store().await;
    admin()
        .await
        .execute(
            &format!(
                "INSERT INTO \"{}\".schema_migrations (version, description) VALUES ($1, 'from the future')",
                schema.name
            ),
            &[&(SCHEMA_VERSION + 1)],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let err = PostgresStore::connect(schema.config()).await.err();
    let Some(Error::Storage { detail }) = err else {
        panic!("a newer schema must be refused with a storage error, got {err:?}");
    };
    assert!(
        detail.contains("newer") && detail.contains(&schema.name),
        "the refusal says why: {detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_and_unreachable_servers_are_clear_errors() {
    let bad =
        PostgresStore::connect(PostgresConfig::new(support::database_url()).schema("x; drop"))
            .await
            .err();
    assert!(
        matches!(bad, Some(Error::Validation { .. })),
        "an invalid schema name is a validation error, got {bad:?}"
    );
    // Nothing listens on port 1 of the loopback address.
    let unreachable = PostgresStore::connect(
        PostgresConfig::new("postgres://app:topsecret-pw@127.0.0.1:1/test")
            .connect_timeout(Duration::from_secs(2)),
    )
    .await
    .err();
    let Some(Error::Unavailable { detail }) = &unreachable else {
        panic!("an unreachable server is Unavailable, got {unreachable:?}");
    };
    assert!(
        detail.contains("127.0.0.1:1"),
        "says where it tried: {detail}"
    );
    assert!(
        !detail.contains("topsecret-pw"),
        "leaks the password: {detail}"
    );
    let wire = unreachable
        .as_ref()
        .map(|e| e.to_wire().to_string())
        .unwrap_or_default();
    assert!(
        !wire.contains("127.0.0.1"),
        "wire shape leaks internals: {wire}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_reaper_never_moves_a_finished_job_back() {
    let schema = TestSchema::new("reap");
    let store = schema.store().await;
    let ws = unique_workspace("reap");
    let lease_for = Duration::from_millis(300);
    let mut ids = Vec::new();
    for n in 0..40 {
        let job = store
            .insert(new_job(&ws, &format!("https://example.com/r{n}.git"), 3))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        ids.push(job.job().id);
    }
    let mut leases = Vec::new();
    while let Some(job) = store
        .claim("racer", lease_for)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    {
        leases.push(job.lease().unwrap_or_else(|| panic!("no lease")));
    }
    assert_eq!(leases.len(), ids.len());
    // Finish every job right around its lease's expiry while a reaper runs
    // flat out: each job ends either finished by its worker or reaped, never
    // both.
    tokio::time::sleep(lease_for - Duration::from_millis(40)).await;
    let reaper = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut reaped = HashSet::new();
            for _ in 0..60 {
                for id in store.reap_expired().await.unwrap_or_else(|e| panic!("{e}")) {
                    assert!(reaped.insert(id), "job {id} was reaped twice");
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            reaped
        })
    };
    let mut finished = HashSet::new();
    for lease in &leases {
        if store
            .finish(lease, Finish::Completed)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
        {
            finished.insert(lease.job_id);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let reaped = reaper
        .await
        .unwrap_or_else(|e| panic!("reaper panicked: {e}"));
    for id in &ids {
        let job = JobStore::get(&store, &ws, id)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("job vanished"));
        let history = store
            .attempt_history(id)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(history.len(), 1, "one claim each");
        if finished.contains(id) {
            assert!(!reaped.contains(id), "job {id} was finished and reaped");
            assert_eq!(job.state, JobState::Completed);
            assert_eq!(history[0].outcome, Some(AttemptOutcome::Completed));
        } else {
            assert!(
                reaped.contains(id),
                "job {id} was neither finished nor reaped"
            );
            assert_eq!(job.state, JobState::RetryWait);
            assert_eq!(job.error.as_deref(), Some(WORKER_LOST));
            assert_eq!(history[0].outcome, Some(AttemptOutcome::Lost));
        }
    }
    // Long after, the reaper still leaves finished jobs alone.
    tokio::time::sleep(lease_for).await;
    let late = store.reap_expired().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(late.is_empty(), "reaped finished jobs: {late:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_workers_are_woken_by_other_hosts() {
    let schema = TestSchema::new("notify");
    let worker_host = schema.store().await;
    let other_host = schema.store().await;
    let mut wake = worker_host.notifications();
    // The listener announces itself once connected; start from a quiet state.
    wake.wait(Duration::from_secs(2)).await;
    while wake.wait(Duration::from_millis(100)).await {}
    assert!(
        !wake.wait(Duration::from_millis(300)).await,
        "nothing happened, so nothing wakes the worker"
    );
    let ws = unique_workspace("notify");
    let waiting = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let woken = wake.wait(Duration::from_secs(10)).await;
        (woken, started.elapsed(), wake)
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let job = other_host
        .insert(new_job(&ws, "https://example.com/n.git", 3))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .job()
        .clone();
    let (woken, after, mut wake) = waiting.await.unwrap_or_else(|e| panic!("{e}"));
    assert!(woken, "an insert on another host wakes the idle worker");
    assert!(after < Duration::from_secs(5), "woken late: {after:?}");

    // A job given back is announced too; a notification that arrives while
    // the worker is busy is kept for its next wait.
    let claimed = worker_host
        .claim("w", LONG)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the inserted job is due"));
    assert_eq!(claimed.id, job.id);
    while wake.wait(Duration::from_millis(100)).await {}
    let lease = claimed.lease().unwrap_or_else(|| panic!("no lease"));
    assert!(
        other_host
            .finish(&lease, Finish::Released)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        wake.wait(Duration::from_millis(10)).await,
        "a release wakes workers, even one that was busy when it happened"
    );
    // The convenience form works as well.
    let store = worker_host.clone();
    let waiter = tokio::spawn(async move { store.wait_for_work(Duration::from_secs(10)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    other_host
        .insert(new_job(&ws, "https://example.com/n2.git", 3))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(waiter.await.unwrap_or_else(|e| panic!("{e}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_works_in_bounded_batches() {
    let schema = TestSchema::new("prune");
    let store = schema.store().await;
    let ws = unique_workspace("prune");
    let mut ids = Vec::new();
    for n in 0..5 {
        let job = store
            .insert(new_job(&ws, &format!("https://example.com/p{n}.git"), 3))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .job()
            .clone();
        let claimed = store
            .claim("w", LONG)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("nothing due"));
        let lease = claimed.lease().unwrap_or_else(|| panic!("no lease"));
        store
            .finish(&lease, Finish::Completed)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        ids.push(job.id);
    }
    let active = store
        .insert(new_job(&ws, "https://example.com/active.git", 3))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .job()
        .clone();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let age = Duration::from_millis(10);
    let batches: Vec<u64> = [
        store.prune(age, 2).await,
        store.prune(age, 2).await,
        store.prune(age, 2).await,
        store.prune(age, 0).await,
    ]
    .into_iter()
    .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
    .collect();
    assert_eq!(batches, vec![2, 2, 1, 0], "at most `limit` per call");
    for id in &ids {
        assert!(
            JobStore::get(&store, &ws, id)
                .await
                .ok()
                .flatten()
                .is_none()
        );
        assert!(
            store
                .attempt_history(id)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .is_empty(),
            "a pruned job's attempts go with it"
        );
    }
    assert!(
        JobStore::get(&store, &ws, &active.id)
            .await
            .ok()
            .flatten()
            .is_some(),
        "active jobs are never pruned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts_deduplicate_atomically() {
    let schema = TestSchema::new("dedup");
    let hosts = [schema.store().await, schema.store().await];
    let ws = unique_workspace("dedup");
    let mut tasks = Vec::new();
    for n in 0..16 {
        let store = hosts[n % 2].clone();
        let ws = ws.clone();
        tasks.push(tokio::spawn(async move {
            store
                .insert(new_job(&ws, "https://example.com/same.git", 3))
                .await
        }));
    }
    let mut created = 0;
    let mut ids = HashSet::new();
    for t in tasks {
        let inserted = t
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("insert failed: {e}"));
        if matches!(inserted, Inserted::Created(_)) {
            created += 1;
        }
        ids.insert(inserted.job().id);
    }
    assert_eq!(created, 1, "exactly one insert creates the job");
    assert_eq!(ids.len(), 1, "every caller gets the same job");
    let id = ids.into_iter().next().unwrap_or_else(|| panic!("no job"));
    let again = new_job(&ws, "https://example.com/other.git", 3);
    let mut dup_id = again.clone();
    dup_id.repo_url = "https://example.com/third.git".into();
    hosts[0]
        .insert(again.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    dup_id.id = again.id;
    let err = hosts[1].insert(dup_id).await.err();
    assert!(
        matches!(err, Some(Error::Conflict { .. })),
        "reusing a job id is a conflict, got {err:?}"
    );
    assert!(
        JobStore::get(&hosts[0], &ws, &id)
            .await
            .ok()
            .flatten()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_bounded_and_documents_keep_their_bytes() {
    let schema = TestSchema::new("todo");
    let store = schema.store_with(schema.config().history_limit(3)).await;
    let ws = unique_workspace("todo");
    let mut doc = sample_document(&ws, 1);
    doc.extra.insert(
        "zz_from_a_newer_writer".into(),
        serde_json::json!({"b": 1, "a": [1.5, "x", null], "nested": {"z": true, "y": 1e300}}),
    );
    doc.extra.insert(
        "aa_second_unknown".into(),
        serde_json::json!("kept in order"),
    );
    store
        .put(&doc, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for v in 2..=6 {
        let mut next = doc.clone();
        next.version = v;
        next.project_context = format!("version {v}");
        store
            .put(&next, Some(v - 1))
            .await
            .unwrap_or_else(|e| panic!("put {v}: {e}"));
        doc = next;
    }
    let history = store
        .history(&ws, 10)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        history.iter().map(|d| d.version).collect::<Vec<_>>(),
        vec![5, 4, 3],
        "the history keeps the configured number of versions"
    );
    let stored: String = admin()
        .await
        .query_one(
            &format!(
                "SELECT document FROM \"{}\".master_todos WHERE workspace_id = $1",
                schema.name
            ),
            &[&ws.as_str()],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);
    let written = doc.to_json_vec().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        stored.as_bytes(),
        written.as_slice(),
        "the stored text is exactly the serialised document"
    );
    let back = TodoStore::get(&store, &ws)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("document vanished"));
    assert_eq!(back, doc, "the document round-trips");
    let keys: Vec<&String> = back.extra.keys().collect();
    assert_eq!(
        keys,
        vec!["zz_from_a_newer_writer", "aa_second_unknown"],
        "unknown fields keep their order"
    );

    let none = schema.store_with(schema.config().history_limit(0)).await;
    let ws2 = unique_workspace("todo-nohist");
    let v1 = sample_document(&ws2, 1);
    none.put(&v1, None).await.unwrap_or_else(|e| panic!("{e}"));
    let mut v2 = v1.clone();
    v2.version = 2;
    none.put(&v2, Some(1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        none.history(&ws2, 10)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty(),
        "a history bound of 0 keeps nothing"
    );
    let err = none.put(&v2, Some(1)).await.err();
    let Some(Error::Conflict { message }) = err else {
        panic!("a stale write is a conflict, got {err:?}");
    };
    assert!(message.contains("found 2"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_hosts_share_claims_without_duplicates() {
    let schema = TestSchema::new("share");
    let hosts = [
        Arc::new(schema.store().await),
        Arc::new(schema.store().await),
        Arc::new(schema.store().await),
    ];
    let ws = unique_workspace("share");
    for n in 0..60 {
        hosts[0]
            .insert(new_job(&ws, &format!("https://example.com/s{n}.git"), 3))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let mut tasks = Vec::new();
    for (h, host) in hosts.iter().enumerate() {
        for w in 0..3 {
            let host = Arc::clone(host);
            tasks.push(tokio::spawn(async move {
                let mut done = Vec::new();
                let worker = format!("h{h}w{w}");
                while let Some(job) = host
                    .claim(&worker, LONG)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"))
                {
                    let lease = job.lease().unwrap_or_else(|| panic!("no lease"));
                    assert!(
                        host.finish(&lease, Finish::Completed)
                            .await
                            .unwrap_or_else(|e| panic!("{e}"))
                    );
                    done.push(job.id);
                }
                done
            }));
        }
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_else(|e| panic!("{e}")));
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 60, "every job was claimed");
    assert_eq!(unique.len(), 60, "no job was claimed twice");
}
