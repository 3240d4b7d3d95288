//! Syncing a Master TODO to an S3 (or S3-compatible) vault.
//!
//! Configured by the environment:
//! - `TODOVAULT_S3_URL`: the vault, e.g. `s3://my-bucket/team-a`;
//! - the usual `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//!   and `AWS_ENDPOINT` (plus `AWS_ALLOW_HTTP=true` for a local server).
//!
//! Run: `TODOVAULT_S3_URL=s3://bucket/prefix cargo run --example s3_vault`

use std::sync::Arc;

use todovault::memory::{MemoryJobStore, MemoryTodoStore};
use todovault::object_store::ObjectStoreVault;
use todovault::source::FixtureSource;
use todovault::testkit::sample_document;
use todovault::{Orchestrator, TodoStore, WorkspaceId};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Ok(url) = std::env::var("TODOVAULT_S3_URL") else {
        eprintln!(
            "set TODOVAULT_S3_URL=s3://bucket/prefix (and the AWS_* variables) to run this example"
        );
        std::process::exit(2);
    };
    let options = std::env::vars().filter(|(k, _)| k.starts_with("AWS_"));
    let vault = Arc::new(ObjectStoreVault::from_url(&url, options)?);
    let todos = Arc::new(MemoryTodoStore::new());
    let engine = Orchestrator::builder()
        .job_store(Arc::new(MemoryJobStore::new()))
        .todo_store(todos.clone())
        .vault_store(vault)
        .source(Arc::new(FixtureSource::new()))
        .build()?;

    // A workspace with a Master TODO to share.
    let ws = WorkspaceId::parse("s3-example")?;
    todos.put(&sample_document(&ws, 1), None).await?;
    println!("sync: {:?}", engine.vault_sync(ws.as_str()).await?);
    for t in engine.vault_discover(ws.as_str()).await?.todos {
        println!("{} {} {} bytes", t.key, t.workspace_id, t.size_bytes);
    }
    Ok(())
}
