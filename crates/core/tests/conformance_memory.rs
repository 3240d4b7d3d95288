//! The in-memory stores pass the same conformance suites as every backend.

use std::sync::Arc;

use todovault_core::memory::{MemoryJobStore, MemoryTodoStore, MemoryVaultStore};
use todovault_core::testkit;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_job_store_conforms() {
    testkit::job_store_suite(Arc::new(MemoryJobStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_todo_store_conforms() {
    testkit::todo_store_suite(Arc::new(MemoryTodoStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_vault_store_conforms() {
    testkit::vault_store_suite(Arc::new(MemoryVaultStore::new())).await;
}
