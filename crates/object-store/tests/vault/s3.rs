//! moto (S3) specific checks.

use crate::checks;
use crate::servers::Moto;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_refuses_failed_conditions() {
    let moto = Moto::start();
    moto.create_bucket("conditions");
    checks::conditional_writes_conflict(moto.raw_store("conditions"), "moto").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_metadata_and_request_counts() {
    let moto = Moto::start();
    moto.create_bucket("counts");
    checks::metadata_and_request_counts(moto.raw_store("counts"), "moto").await;
    checks::foreign_objects_are_skipped(moto.raw_store("counts"), "moto").await;
}
