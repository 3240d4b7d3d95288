//! The whole flow on in-memory stores: import a repository snapshot, poll
//! the job, sync to the vault, discover, and import into another workspace.
//!
//! Run: `cargo run --example in_memory`

use std::sync::Arc;
use std::time::Duration;

use todovault::api::{StartImportRequest, VaultImportRequest, WireJobStatus};
use todovault::memory::{MemoryJobStore, MemoryTodoStore, MemoryVaultStore};
use todovault::source::{FixtureSource, MemorySnapshot};
use todovault::{Orchestrator, Policy, RunnerConfig};

const REPO: &str = "https://git.example.com/acme/app.git";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A host that already has the files can serve them as a snapshot.
    let files = vec![
        ("README.md".to_owned(), b"# App\n\nAn app that does things.\n".to_vec()),
        (
            "src/lib.rs".to_owned(),
            b"// TODO(alice): handle empty input\nfn f() { let s = \"TODO: not a task\"; }\n// FIXME #12: leaks a file handle\n".to_vec(),
        ),
        ("ROADMAP.md".to_owned(), b"- [x] ship v1\n- [ ] ship v2\n  - [ ] write the migration guide\n".to_vec()),
    ];
    let source = FixtureSource::new().with_repo(REPO, MemorySnapshot::new("4f2a9c1", files));

    let engine = Orchestrator::builder()
        .job_store(Arc::new(MemoryJobStore::new()))
        .todo_store(Arc::new(MemoryTodoStore::new()))
        .vault_store(Arc::new(MemoryVaultStore::new()))
        .source(Arc::new(source))
        // The example's repository host is made up; skip the DNS check.
        .policy(
            Policy::default()
                .with_urls(todovault::UrlPolicy {
                    allow_private_hosts: true,
                    ..Default::default()
                })
                .allow_cross_workspace_imports(),
        )
        .runner(RunnerConfig::fast())
        .build()?;
    let workers = engine.start_workers();

    let started = engine
        .start_import("ws_prod_42", StartImportRequest::new(REPO))
        .await?;
    println!("started {}", serde_json::to_string(&started)?);
    let status = loop {
        let status = engine
            .import_status("ws_prod_42", &started.import_job_id.to_string())
            .await?;
        if status.status != WireJobStatus::Running {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!("status  {}", serde_json::to_string(&status)?);
    if status.status != WireJobStatus::Completed {
        return Err(format!("import failed: {}", status.error).into());
    }

    let doc = engine
        .master_todo("ws_prod_42")
        .await?
        .ok_or("no Master TODO")?;
    for entry in &doc.entries {
        println!("  [{:?}] {}", entry.status, entry.content);
    }

    println!(
        "sync    {}",
        serde_json::to_string(&engine.vault_sync("ws_prod_42").await?)?
    );
    println!(
        "vault   {}",
        serde_json::to_string(&engine.vault_discover("ws_prod_42").await?)?
    );
    let imported = engine
        .vault_import("ws_staging_07", VaultImportRequest::new("ws_prod_42"))
        .await?;
    println!("import  {}", serde_json::to_string(&imported)?);
    workers.shutdown(Duration::from_secs(5)).await;
    Ok(())
}
