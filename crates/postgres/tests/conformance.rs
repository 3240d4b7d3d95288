//! The PostgreSQL stores pass core's conformance suites against the real
//! server, each run in a schema of its own.

mod support;

use std::sync::Arc;

use support::TestSchema;
use todovault_core::testkit;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_job_store_conforms() {
    let schema = TestSchema::new("jobs");
    testkit::job_store_suite(Arc::new(schema.store().await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_todo_store_conforms() {
    let schema = TestSchema::new("todos");
    testkit::todo_store_suite(Arc::new(schema.store().await)).await;
}
