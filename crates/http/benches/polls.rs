//! Status polls per second over loopback, measured with `wrk`, side by side
//! with a bare axum handler returning the same bytes in the same run.
//!
//! Run: `cargo bench -p todovault-http --bench polls`
//! (needs `wrk`: `apt-get install wrk`). `POLLS_SECONDS` sets each run's
//! length (default 5), `POLLS_CONNECTIONS` the connections (default 32).

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use todovault_core::api::StartImportRequest;
use todovault_core::memory::{MemoryJobStore, MemoryTodoStore, MemoryVaultStore};
use todovault_core::policy::{Policy, UrlPolicy};
use todovault_core::source::FixtureSource;
use todovault_core::{JobStore, Orchestrator, TodoStore};
use todovault_http::Api;
use todovault_http::auth::BearerTokens;

const TOKEN: &str = "bench-token-0123456789";

/// A named pair of stores the API is measured over.
type Backend = (&'static str, Arc<dyn JobStore>, Arc<dyn TodoStore>);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn spawn(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Runs wrk and returns requests per second.
fn wrk(url: &str, auth: bool, seconds: u64, connections: u64) -> f64 {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s")]);
    if auth {
        cmd.args(["-H", &format!("Authorization: Bearer {TOKEN}")]);
    }
    let out = cmd
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("this benchmark needs wrk on PATH (apt-get install wrk): {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("Non-2xx"),
        "wrk saw error responses:\n{text}"
    );
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}"))
}

async fn engine_with(jobs: Arc<dyn JobStore>, todos: Arc<dyn TodoStore>) -> (Orchestrator, String) {
    let engine = Orchestrator::builder()
        .job_store(jobs)
        .todo_store(todos)
        .vault_store(Arc::new(MemoryVaultStore::new()))
        .source(Arc::new(FixtureSource::new()))
        .policy(Policy::default().with_urls(UrlPolicy {
            allow_private_hosts: true,
            ..UrlPolicy::default()
        }))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    // No workers: the job stays queued, so every poll reads the same row.
    let started = engine
        .start_import(
            "ws_bench",
            StartImportRequest::new("https://example.com/r.git"),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (engine, started.import_job_id.to_string())
}

fn main() {
    let seconds = env_u64("POLLS_SECONDS", 5);
    let connections = env_u64("POLLS_CONNECTIONS", 32);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let rows = runtime.block_on(async {
        let mut rows = Vec::new();
        let sqlite = Arc::new(
            todovault_sqlite::SqliteStore::open(dir.path().join("bench.db"))
                .unwrap_or_else(|e| panic!("{e}")),
        );
        let memory_jobs = Arc::new(MemoryJobStore::new());
        let backends: [Backend; 2] = [
            (
                "memory store",
                memory_jobs,
                Arc::new(MemoryTodoStore::new()),
            ),
            ("SQLite store", sqlite.clone(), sqlite),
        ];
        for (name, jobs, todos) in backends {
            let (engine, job) = engine_with(jobs, todos).await;
            let path = format!("/api/v1/workspaces/ws_bench/orchestration/import/{job}");
            let status = engine
                .import_status("ws_bench", &job)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let bytes = serde_json::to_vec(&status).unwrap_or_else(|e| panic!("{e}"));
            let tokens = BearerTokens::new()
                .with_token(TOKEN, "ws_bench")
                .unwrap_or_else(|e| panic!("{e}"));
            let api = spawn(Api::new(engine, Arc::new(tokens)).router()).await;
            let bare = spawn(
                Router::new().route(
                    &path
                        .replace(&job, "{jobID}")
                        .replace("ws_bench", "{workspaceID}"),
                    get(move || {
                        let bytes = bytes.clone();
                        async move { ([("content-type", "application/json")], bytes) }
                    }),
                ),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            let (api_url, bare_url) = (format!("{api}{path}"), format!("{bare}{path}"));
            let measured = tokio::task::spawn_blocking(move || {
                // Warm both, then measure the bare handler and the API in turn.
                wrk(&bare_url, false, 1, connections);
                wrk(&api_url, true, 1, connections);
                let bare_rps = wrk(&bare_url, false, seconds, connections);
                let api_rps = wrk(&api_url, true, seconds, connections);
                (api_rps, bare_rps)
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            rows.push((name, measured.0, measured.1));
        }
        rows
    });
    println!("status polls over loopback (wrk -t1 -c{connections} -d{seconds}s)");
    println!(
        "{:<14} {:>14} {:>18} {:>7}  target",
        "backend", "API req/s", "bare axum req/s", "ratio"
    );
    for (name, api, bare) in rows {
        let ratio = api / bare;
        let verdict = if ratio >= 0.7 {
            "≥ 0.70 met"
        } else {
            "≥ 0.70 NOT met"
        };
        println!("{name:<14} {api:>14.0} {bare:>18.0} {ratio:>7.2}  {verdict}");
    }
}
