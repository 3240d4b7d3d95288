//! Azurite (Azure Blob Storage) specific checks.

use crate::checks;
use crate::servers::Azurite;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_refuses_failed_conditions() {
    let azurite = Azurite::start();
    azurite.create_container("conditions");
    checks::conditional_writes_conflict(azurite.raw_store("conditions"), "Azurite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_metadata_and_request_counts() {
    let azurite = Azurite::start();
    azurite.create_container("counts");
    checks::metadata_and_request_counts(azurite.raw_store("counts"), "Azurite").await;
    checks::foreign_objects_are_skipped(azurite.raw_store("counts"), "Azurite").await;
}
