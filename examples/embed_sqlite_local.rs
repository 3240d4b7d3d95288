//! Embedding the engine with the defaults a user gets with no
//! configuration: a SQLite file for jobs and Master TODOs, a local folder as
//! the vault, and git repositories read in place.
//!
//! Run: `cargo run --example embed_sqlite_local [REPO_PATH] [STATE_DIR]`
//! (default: this repository, and a temporary folder for the state).

use std::sync::Arc;
use std::time::Duration;

use todovault::api::{StartImportRequest, WireJobStatus};
use todovault::git::{GitSource, GitSourceOptions};
use todovault::object_store::ObjectStoreVault;
use todovault::sqlite::SqliteStore;
use todovault::{Orchestrator, Policy, UrlPolicy};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let repo = args
        .next()
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").to_owned());
    let temp = tempfile::tempdir()?;
    let state = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| temp.path().to_owned());

    let store = Arc::new(SqliteStore::open(state.join("todovault.db"))?);
    let vault = Arc::new(ObjectStoreVault::local(state.join("vault"))?);
    // A trusted, local embedding: local paths are fine.
    let urls = UrlPolicy {
        allow_local_paths: true,
        allow_file: true,
        ..UrlPolicy::default()
    };
    let engine = Orchestrator::builder()
        .job_store(store.clone())
        .todo_store(store)
        .vault_store(vault)
        .source(Arc::new(GitSource::new(GitSourceOptions::from_url_policy(
            &urls,
        ))))
        .policy(Policy::default().with_urls(urls))
        .build()?;

    let workers = engine.start_workers();
    let started = engine
        .start_import("local", StartImportRequest::new(repo.clone()))
        .await?;
    let status = loop {
        let s = engine
            .import_status("local", &started.import_job_id.to_string())
            .await?;
        if s.status != WireJobStatus::Running {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    workers.shutdown(Duration::from_secs(10)).await;
    if status.status != WireJobStatus::Completed {
        return Err(format!("import of {repo} failed: {}", status.error).into());
    }
    let doc = engine.master_todo("local").await?.ok_or("no Master TODO")?;
    println!("{} entries imported from {repo}", doc.entries.len());
    engine.vault_sync("local").await?;
    for t in engine.vault_discover("local").await?.todos {
        println!(
            "vault: {} ({} bytes, workspace {})",
            t.key, t.size_bytes, t.workspace_id
        );
    }
    println!("state in {}", state.display());
    Ok(())
}
