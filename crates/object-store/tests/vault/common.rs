//! Helpers shared by the test modules.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path;
use todovault_core::testkit::{sample_document, unique_workspace};
use todovault_core::vault::{PutOutcome, SnapshotUpload, VaultStore};
use todovault_core::{Error, MasterTodo};

/// A fresh document of a fresh workspace at `version`.
pub fn fresh_document(label: &str, version: u64) -> MasterTodo {
    sample_document(&unique_workspace(label), version)
}

/// The upload of `doc`.
pub fn upload_of(doc: &MasterTodo) -> SnapshotUpload {
    SnapshotUpload::from_document(doc).unwrap_or_else(|e| panic!("serialising: {e}"))
}

/// `doc` at `version` with distinct content.
pub fn bump(doc: &MasterTodo, version: u64, note: &str) -> MasterTodo {
    let mut next = doc.clone();
    next.version = version;
    next.project_context = note.to_owned();
    next
}

/// Puts and expects `Written`.
pub async fn put_written(vault: &dyn VaultStore, upload: &SnapshotUpload) {
    let outcome = vault
        .put(upload)
        .await
        .unwrap_or_else(|e| panic!("put {} v{}: {e}", upload.key, upload.version));
    assert_eq!(
        outcome,
        PutOutcome::Written,
        "put {} v{}",
        upload.key,
        upload.version
    );
}

/// The bytes the store holds at `key` (under no prefix), parsed as a
/// document: the vault never holds a torn or invalid one.
pub async fn stored_document(store: &Arc<dyn ObjectStore>, key: &str) -> (Vec<u8>, MasterTodo) {
    let bytes = store
        .get_opts(&Path::from(key), Default::default())
        .await
        .unwrap_or_else(|e| panic!("reading {key}: {e}"))
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("reading the body of {key}: {e}"))
        .to_vec();
    let doc = MasterTodo::from_json(&bytes)
        .unwrap_or_else(|e| panic!("the vault holds an invalid document at {key}: {e}"));
    (bytes, doc)
}

/// Two hosts (two vault instances, each with its own caches) sync different
/// next versions of the same todo at once: exactly one wins, the loser gets
/// a conflict, and a later, newer version from the loser goes through.
pub async fn two_hosts_race(host_a: Arc<dyn VaultStore>, host_b: Arc<dyn VaultStore>) {
    let base = fresh_document("two-hosts", 1);
    put_written(&*host_a, &upload_of(&base)).await;
    // Both hosts know version 1 (host b has seen it through a listing).
    let listed = host_b.list().await.unwrap_or_else(|e| panic!("list: {e}"));
    assert!(listed.iter().any(|m| m.key == upload_of(&base).key));

    for round in 0..3u64 {
        let version = 2 + round * 2;
        let a = upload_of(&bump(&base, version, &format!("host a, round {round}")));
        let b = upload_of(&bump(&base, version, &format!("host b, round {round}")));
        let (ra, rb) = tokio::join!(
            {
                let h = Arc::clone(&host_a);
                let a = a.clone();
                async move { h.put(&a).await }
            },
            {
                let h = Arc::clone(&host_b);
                let b = b.clone();
                async move { h.put(&b).await }
            }
        );
        let (winner, loser_host) = match (&ra, &rb) {
            (Ok(PutOutcome::Written), Err(Error::Conflict { .. })) => (&a, &host_b),
            (Err(Error::Conflict { .. }), Ok(PutOutcome::Written)) => (&b, &host_a),
            other => panic!("two hosts racing: exactly one must win, got {other:?}"),
        };
        let got = host_a
            .get(&a.key)
            .await
            .unwrap_or_else(|e| panic!("get: {e}"))
            .unwrap_or_else(|| panic!("snapshot vanished"));
        assert_eq!(
            got.bytes, winner.bytes,
            "the vault holds the winner's document whole"
        );
        // The loser catches up with a newer version.
        let newer = upload_of(&bump(&base, version + 1, &format!("catch-up {round}")));
        put_written(&**loser_host, &newer).await;
    }
}
