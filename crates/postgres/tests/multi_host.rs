//! Many engine hosts on one database, as real processes.
//!
//! This test binary is also the engine host: run with `TODOVAULT_PG_ROLE`
//! set, it becomes a child process instead of running tests (see
//! [`child_main`]). The tests start several of them on one schema:
//!
//! - three hosts share 200 imports, one is killed with SIGKILL mid-run, and
//!   every job still completes, with an attempt history proving no job was
//!   ever held by two workers at once;
//! - two hosts increment one workspace's Master TODO with compare-and-set
//!   read-modify-writes, and no update is lost.
//!
//! The binary owns `main` (the test harness is off) so it can be both; core's
//! `testkit::process` runs the tests and reports in the harness's format.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{TestSchema, admin};
use todovault_core::api::StartImportRequest;
use todovault_core::jobs::{JobState, JobStore};
use todovault_core::source::{FixtureSource, MemorySnapshot};
use todovault_core::testkit::process::{ChildProcess, child_command, run_tests};
use todovault_core::testkit::{check_completed_attempts, sample_document, test_engine};
use todovault_core::{Error, ImportJobId, RunnerConfig, TodoStore, WorkspaceId};
use todovault_postgres::{AttemptOutcome, PostgresStore};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const ROLE: &str = "TODOVAULT_PG_ROLE";
const SCHEMA: &str = "TODOVAULT_PG_SCHEMA";
const HOST_INDEX: &str = "TODOVAULT_PG_HOST_INDEX";
const HOSTS: usize = 3;
const IMPORTS: usize = 200;
/// Each workspace imports this many repositories, so merges into one
/// workspace's Master TODO race across hosts too.
const REPOS_PER_WORKSPACE: usize = 2;
const FETCH_DELAY: Duration = Duration::from_millis(300);
const MAX_ATTEMPTS: u32 = 3;
const CAS_ROUNDS: usize = 60;

fn main() -> ExitCode {
    if let Ok(role) = std::env::var(ROLE) {
        return child_main(&role);
    }
    run_tests(&[
        ("three_hosts_finish_every_import_despite_a_sigkill", || {
            block_on(three_hosts_finish_every_import_despite_a_sigkill())
        }),
        (
            "two_hosts_syncing_one_workspace_never_lose_an_update",
            || block_on(two_hosts_syncing_one_workspace_never_lose_an_update()),
        ),
    ])
}

/// Runs one test on a runtime of its own.
fn block_on(test: impl Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start a runtime: {e}"))
        .block_on(test);
}

// ---------------------------------------------------------------- children

fn child_main(role: &str) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match role {
            "host" => engine_host().await,
            "cas" => cas_writer().await,
            other => Err(format!("unknown role {other:?}")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{role} process failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

async fn child_store() -> Result<PostgresStore, String> {
    let config = todovault_postgres::PostgresConfig::new(support::database_url())
        .schema(env(SCHEMA)?)
        .pool_size(6);
    PostgresStore::connect(config).await.map_err(|e| e.detail())
}

fn workspace_of(import: usize) -> String {
    format!("ws-mh-{}", import / REPOS_PER_WORKSPACE)
}

fn repo_of(import: usize) -> String {
    format!("https://example.com/mh/repo{import}.git")
}

/// Repository `import` holds three TODOs that name it, so each workspace's
/// Master TODO shows which imports were merged.
fn snapshot_of(import: usize) -> MemorySnapshot {
    MemorySnapshot::new(
        format!("commit{import}"),
        vec![(
            format!("src/repo{import}.rs"),
            format!(
                "// TODO: first of repo {import}\nfn f() {{}}\n// FIXME: second of repo {import}\n// TODO: third of repo {import}\n"
            )
            .into_bytes(),
        )],
    )
}

/// One engine host: runs workers on the shared schema, starts its share of
/// the imports, prints `job <workspace> <id>` for each and then `ready`, and
/// shuts down gracefully when its stdin closes.
async fn engine_host() -> Result<(), String> {
    let index: usize = env(HOST_INDEX)?
        .parse()
        .map_err(|e| format!("bad host index: {e}"))?;
    let store = Arc::new(child_store().await?);
    let mut source = FixtureSource::new().with_delay(FETCH_DELAY);
    for import in 0..IMPORTS {
        source = source.with_repo(repo_of(import), snapshot_of(import));
    }
    // Leases long enough that a loaded machine does not lose them, short
    // enough that the killed host's jobs are rescued quickly.
    let runner = RunnerConfig {
        workers: 4,
        max_attempts: MAX_ATTEMPTS,
        lease: Duration::from_secs(3),
        heartbeat_every: Duration::from_millis(500),
        ..RunnerConfig::fast()
    };
    // Imports never touch the vault; each host has an in-memory one.
    let engine = test_engine(store, source, runner).map_err(|e| e.detail())?;
    let workers = engine.start_workers();
    let mut out = tokio::io::stdout();
    for import in (0..IMPORTS).filter(|i| i % HOSTS == index) {
        let ws = workspace_of(import);
        let started = engine
            .start_import(&ws, StartImportRequest::new(repo_of(import)))
            .await
            .map_err(|e| format!("start_import {import}: {}", e.detail()))?;
        out.write_all(format!("job {ws} {}\n", started.import_job_id).as_bytes())
            .await
            .map_err(|e| e.to_string())?;
    }
    out.write_all(b"ready\n").await.map_err(|e| e.to_string())?;
    out.flush().await.map_err(|e| e.to_string())?;
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = String::new();
    while stdin
        .read_line(&mut line)
        .await
        .map_err(|e| e.to_string())?
        > 0
    {
        line.clear();
    }
    workers.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

/// Increments the shared document's counter `TODOVAULT_PG_ROUNDS` times with
/// read-modify-write compare-and-set, recording each change it made.
async fn cas_writer() -> Result<(), String> {
    let store = child_store().await?;
    let ws = WorkspaceId::parse(&env("TODOVAULT_PG_WORKSPACE")?).map_err(|e| e.0)?;
    let label = env("TODOVAULT_PG_LABEL")?;
    let rounds: usize = env("TODOVAULT_PG_ROUNDS")?
        .parse()
        .map_err(|e| format!("bad round count: {e}"))?;
    let mut conflicts = 0u64;
    for round in 0..rounds {
        loop {
            let mut doc = TodoStore::get(&store, &ws)
                .await
                .map_err(|e| e.detail())?
                .ok_or("the shared document is missing")?;
            let expected = doc.version;
            let counter = doc
                .extra
                .get("counter")
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            doc.extra
                .insert("counter".into(), serde_json::json!(counter + 1));
            let applied = doc
                .extra
                .entry("applied")
                .or_insert_with(|| serde_json::json!([]));
            if let Some(list) = applied.as_array_mut() {
                list.push(serde_json::json!(format!("{label}-{round}")));
            }
            doc.version = expected + 1;
            match store.put(&doc, Some(expected)).await {
                Ok(()) => break,
                Err(Error::Conflict { .. }) => conflicts += 1,
                Err(e) => return Err(e.detail()),
            }
        }
    }
    println!("done {conflicts}");
    Ok(())
}

// ------------------------------------------------------------------ parent

fn spawn_child(role: &str, schema: &str, vars: &[(&str, String)]) -> ChildProcess {
    let mut cmd = child_command(ROLE, role);
    cmd.env(SCHEMA, schema)
        .env("RUST_BACKTRACE", "1")
        .envs(vars.iter().map(|(k, v)| (k, v)));
    ChildProcess::spawn(role, cmd)
}

/// Reads a host's job lines until it says `ready`.
fn await_ready(host: &mut ChildProcess) -> Vec<(WorkspaceId, ImportJobId)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut jobs = Vec::new();
    loop {
        let within = deadline.saturating_duration_since(Instant::now());
        let line = host
            .next_line(within)
            .unwrap_or_else(|| panic!("a host exited before it was ready"));
        if line == "ready" {
            return jobs;
        }
        let mut parts = line.split_whitespace();
        if parts.next() == Some("job") {
            let ws = parts.next().unwrap_or_else(|| panic!("bad line {line:?}"));
            let id = parts.next().unwrap_or_else(|| panic!("bad line {line:?}"));
            jobs.push((
                WorkspaceId::parse(ws).unwrap_or_else(|e| panic!("{}", e.0)),
                id.parse()
                    .unwrap_or_else(|e| panic!("bad job id {id}: {e:?}")),
            ));
        }
    }
}

async fn count_jobs(schema: &str, states: &str) -> i64 {
    admin()
        .await
        .query_one(
            &format!("SELECT count(*) FROM \"{schema}\".import_jobs WHERE state IN ({states})"),
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("counting jobs: {e}"))
        .get(0)
}

async fn wait_until_count(schema: &str, states: &str, at_least: i64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let n = count_jobs(schema, states).await;
        if n >= at_least {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {n} of {at_least} jobs reached {states} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn three_hosts_finish_every_import_despite_a_sigkill() {
    let schema = TestSchema::new("mh");
    let store = schema.store().await;
    let mut hosts: Vec<_> = (0..HOSTS)
        .map(|index| spawn_child("host", &schema.name, &[(HOST_INDEX, index.to_string())]))
        .collect();
    let mut jobs = Vec::new();
    for host in &mut hosts {
        jobs.extend(await_ready(host));
    }
    assert_eq!(jobs.len(), IMPORTS, "every import was started");
    assert_eq!(
        jobs.iter().map(|(_, id)| id).collect::<HashSet<_>>().len(),
        IMPORTS,
        "every import is its own job"
    );

    // Kill one host while every host is busy.
    wait_until_count(&schema.name, "'completed'", 40, Duration::from_secs(60)).await;
    let running_before = count_jobs(&schema.name, "'running'").await;
    hosts[1].kill();

    wait_until_count(
        &schema.name,
        "'completed', 'failed', 'cancelled'",
        IMPORTS as i64,
        Duration::from_secs(120),
    )
    .await;
    for host in &mut hosts {
        // The killed host's status is a signal, the others' success.
        let _ = host.wait(Duration::from_secs(30));
    }

    let mut lost = 0;
    let mut attempts_total = 0;
    for (ws, id) in &jobs {
        let job = JobStore::get(&store, ws, id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("job {id} vanished"));
        assert_eq!(
            job.state,
            JobState::Completed,
            "job {id} ended {:?}: {:?}",
            job.state,
            job.error
        );
        let history = store
            .attempt_history(id)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // No overlap, none open, exactly one success, within the bound.
        check_completed_attempts(&history, job.max_attempts)
            .unwrap_or_else(|e| panic!("job {id}: {e}"));
        attempts_total += history.len();
        let counted = history
            .iter()
            .filter(|a| a.outcome != Some(AttemptOutcome::Released))
            .count();
        assert_eq!(
            counted as u32, job.attempt,
            "job {id}: the attempt count matches the history"
        );
        lost += history
            .iter()
            .filter(|a| a.outcome == Some(AttemptOutcome::Lost))
            .count();
    }
    assert!(
        lost >= 1,
        "the killed host held running jobs ({running_before} were running at the kill), \
         so some attempts must have been lost and rescued"
    );

    // Every import's items reached its workspace's Master TODO.
    let mut per_workspace: BTreeMap<String, usize> = BTreeMap::new();
    for import in 0..IMPORTS {
        *per_workspace.entry(workspace_of(import)).or_default() += 1;
    }
    for (ws, imports) in per_workspace {
        let ws = WorkspaceId::parse(&ws).unwrap_or_else(|e| panic!("{}", e.0));
        let doc = TodoStore::get(&store, &ws)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("{ws} has no Master TODO"));
        assert_eq!(
            doc.entries.len(),
            imports * 3,
            "{ws} holds every imported item exactly once"
        );
    }
    println!(
        "    {IMPORTS} jobs completed across {HOSTS} hosts; {attempts_total} attempts, \
         {lost} lost with the killed host and rescued"
    );
}

async fn two_hosts_syncing_one_workspace_never_lose_an_update() {
    let schema = TestSchema::new("cas");
    let store = schema.store().await;
    let ws = WorkspaceId::parse("ws-shared").unwrap_or_else(|e| panic!("{}", e.0));
    let mut base = sample_document(&ws, 1);
    base.extra.insert("counter".into(), serde_json::json!(0));
    store
        .put(&base, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let mut writers = Vec::new();
    for label in ["a", "b"] {
        let child = spawn_child(
            "cas",
            &schema.name,
            &[
                ("TODOVAULT_PG_WORKSPACE", ws.to_string()),
                ("TODOVAULT_PG_LABEL", label.to_owned()),
                ("TODOVAULT_PG_ROUNDS", CAS_ROUNDS.to_string()),
            ],
        );
        writers.push(child);
    }
    let mut conflicts = 0u64;
    for child in writers {
        let (status, text) = child.output(Duration::from_secs(120));
        assert!(status.success(), "a writer failed: {status:?}");
        conflicts += text
            .trim()
            .strip_prefix("done ")
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("unexpected writer output {text:?}"));
    }
    let doc = TodoStore::get(&store, &ws)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the document vanished"));
    let total = 2 * CAS_ROUNDS;
    assert_eq!(
        doc.extra.get("counter"),
        Some(&serde_json::json!(total)),
        "every increment was applied"
    );
    assert_eq!(doc.version, total as u64 + 1, "one version per change");
    let applied: Vec<String> = doc
        .extra
        .get("applied")
        .and_then(|v| v.as_array())
        .unwrap_or_else(|| panic!("no applied list"))
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect();
    let unique: HashSet<_> = applied.iter().collect();
    assert_eq!(applied.len(), total, "each change appears once");
    assert_eq!(unique.len(), total, "no change was applied twice");
    let mut per_writer: HashMap<&str, usize> = HashMap::new();
    for a in &applied {
        *per_writer.entry(&a[..1]).or_default() += 1;
    }
    assert_eq!(per_writer.get("a"), Some(&CAS_ROUNDS));
    assert_eq!(per_writer.get("b"), Some(&CAS_ROUNDS));
    println!(
        "    {total} changes applied by two processes, {conflicts} compare-and-set conflicts retried"
    );
}
