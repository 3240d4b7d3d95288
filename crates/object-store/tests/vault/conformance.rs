//! Core's `vault_store_suite` against every backend, and two hosts racing.

use std::sync::Arc;

use object_store::memory::InMemory;
use todovault_core::testkit::vault_store_suite;
use todovault_object_store::ObjectStoreVault;

use crate::common::two_hosts_race;
use crate::servers::{Azurite, Moto};

#[tokio::test]
async fn suite_in_memory() {
    vault_store_suite(Arc::new(ObjectStoreVault::new(Arc::new(InMemory::new())))).await;
    let prefixed = ObjectStoreVault::from_url("memory:///team/a", Vec::<(String, String)>::new())
        .unwrap_or_else(|e| panic!("memory url: {e}"));
    vault_store_suite(Arc::new(prefixed)).await;
}

#[tokio::test]
async fn suite_in_a_local_folder() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let vault = ObjectStoreVault::local(dir.path()).unwrap_or_else(|e| panic!("local: {e}"));
    vault_store_suite(Arc::new(vault)).await;
    let url = url::Url::from_directory_path(dir.path().join("prefixed"))
        .unwrap_or_else(|()| panic!("file url"));
    let by_url = ObjectStoreVault::from_url(url.as_str(), Vec::<(String, String)>::new())
        .unwrap_or_else(|e| panic!("file url: {e}"));
    vault_store_suite(Arc::new(by_url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_on_moto_s3() {
    let moto = Moto::start();
    vault_store_suite(Arc::new(moto.vault("suite", "team/a"))).await;
    vault_store_suite(Arc::new(moto.vault("suite-root", ""))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_on_azurite() {
    let azurite = Azurite::start();
    vault_store_suite(Arc::new(azurite.vault("suite", "team/a"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_in_memory() {
    let store = Arc::new(InMemory::new());
    two_hosts_race(
        Arc::new(ObjectStoreVault::new(store.clone())),
        Arc::new(ObjectStoreVault::new(store)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_in_a_local_folder() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let open = || ObjectStoreVault::local(dir.path()).unwrap_or_else(|e| panic!("local: {e}"));
    two_hosts_race(Arc::new(open()), Arc::new(open())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_on_moto_s3() {
    let moto = Moto::start();
    let a = moto.vault("race", "shared");
    let b = moto.vault_existing("race", "shared");
    two_hosts_race(Arc::new(a), Arc::new(b)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_on_azurite() {
    let azurite = Azurite::start();
    let a = azurite.vault("race", "shared");
    let b = azurite.vault_existing("race", "shared");
    two_hosts_race(Arc::new(a), Arc::new(b)).await;
}
