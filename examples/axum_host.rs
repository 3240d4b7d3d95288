//! Mounting the todovault API inside an existing axum app that has its own
//! authentication: the host's middleware decides who is calling and hands
//! the caller to the router through a request extension.
//!
//! Run: `cargo run --example axum_host` — it serves on a free port, calls
//! itself once as a client would, prints the answers, and stops.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use todovault::http::Api;
use todovault::http::auth::{Caller, ExtensionAuthenticator};
use todovault::memory::{MemoryJobStore, MemoryTodoStore, MemoryVaultStore};
use todovault::source::FixtureSource;
use todovault::{Orchestrator, WorkspaceId};

/// The host's own scheme: an API key header naming the workspace.
async fn host_auth(mut request: Request, next: Next) -> Result<Response, StatusCode> {
    let key = request
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok());
    let workspace = match key {
        Some("key-for-acme") => "acme",
        _ => return Err(StatusCode::UNAUTHORIZED),
    };
    let workspace = WorkspaceId::parse(workspace).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    request.extensions_mut().insert(Caller { workspace });
    Ok(next.run(request).await)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = Orchestrator::builder()
        .job_store(Arc::new(MemoryJobStore::new()))
        .todo_store(Arc::new(MemoryTodoStore::new()))
        .vault_store(Arc::new(MemoryVaultStore::new()))
        .source(Arc::new(FixtureSource::new()))
        .build()?;
    let todovault = Api::new(engine, Arc::new(ExtensionAuthenticator))
        .router()
        .layer(middleware::from_fn(host_auth));
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(todovault);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(todovault::http::serve(listener, app, async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    let health = client
        .get(format!("{base}/health"))
        .send()
        .await?
        .text()
        .await?;
    println!("GET /health -> {health}");
    let discover = format!("{base}/api/v1/workspaces/acme/orchestration/vault/discover");
    let ok = client
        .get(&discover)
        .header("x-api-key", "key-for-acme")
        .send()
        .await?;
    println!(
        "GET discover as acme -> {} {}",
        ok.status(),
        ok.text().await?
    );
    let denied = client.get(&discover).send().await?;
    println!("GET discover without a key -> {}", denied.status());
    let sync = format!("{base}/api/v1/workspaces/other/orchestration/vault/sync");
    let forbidden = client
        .post(&sync)
        .header("x-api-key", "key-for-acme")
        .send()
        .await?;
    println!(
        "POST another workspace's sync -> {} {}",
        forbidden.status(),
        forbidden.text().await?
    );

    let _ = stop.send(());
    server.await??;
    Ok(())
}
