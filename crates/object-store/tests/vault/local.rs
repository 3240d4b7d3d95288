//! Local-folder specific checks: what LocalFileSystem lacks, the file locks
//! that make up for it, and atomic replacement.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, ObjectStore, PutMode, PutOptions, PutPayload, UpdateVersion,
};
use todovault_core::vault::VaultStore;
use todovault_core::{Error, MasterTodo};
use todovault_object_store::ObjectStoreVault;

use crate::common::{bump, fresh_document, put_written, upload_of};

#[tokio::test]
async fn local_file_system_lacks_metadata_and_if_match() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let fs = LocalFileSystem::new_with_prefix(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let path = Path::from("probe.json");
    let mut attributes = Attributes::new();
    attributes.insert(Attribute::Metadata("workspaceid".into()), "ws".into());
    let with_metadata = fs
        .put_opts(
            &path,
            PutPayload::from_static(b"{}"),
            PutOptions {
                attributes,
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(
            with_metadata,
            Err(object_store::Error::NotImplemented { .. })
        ),
        "LocalFileSystem refuses user metadata, got {with_metadata:?}"
    );
    let written = fs
        .put_opts(&path, PutPayload::from_static(b"{}"), PutOptions::default())
        .await
        .unwrap_or_else(|e| panic!("plain put: {e}"));
    let update = fs
        .put_opts(
            &path,
            PutPayload::from_static(b"{}"),
            PutOptions {
                mode: PutMode::Update(UpdateVersion::from(written)),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(update, Err(object_store::Error::NotImplemented { .. })),
        "LocalFileSystem has no If-Match replace, got {update:?}"
    );
}

#[tokio::test]
async fn a_plain_vault_over_a_local_file_system_says_what_to_use() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let fs = LocalFileSystem::new_with_prefix(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let vault = ObjectStoreVault::new(Arc::new(fs));
    let doc = fresh_document("plain-fs", 1);
    // Creating works (without metadata, which the folder cannot keep).
    put_written(&vault, &upload_of(&doc)).await;
    let err = vault
        .put(&upload_of(&bump(&doc, 2, "next")))
        .await
        .err()
        .unwrap_or_else(|| panic!("a replace without If-Match must not be attempted blindly"));
    assert!(
        matches!(&err, Error::Storage { detail } if detail.contains("ObjectStoreVault::local")),
        "the error names the remedy: {err:?}"
    );
}

#[tokio::test]
async fn lock_files_stay_out_of_listings() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let vault = ObjectStoreVault::local(dir.path()).unwrap_or_else(|e| panic!("local: {e}"));
    let doc = fresh_document("locks", 1);
    let upload = upload_of(&doc);
    put_written(&vault, &upload).await;
    put_written(&vault, &upload_of(&bump(&doc, 2, "two"))).await;
    let ulid = doc.id.ulid().to_string();
    assert!(
        dir.path()
            .join("vault/.locks")
            .join(format!("{ulid}.lock"))
            .exists(),
        "the lock file sits in vault/.locks"
    );
    let listed = vault.list().await.unwrap_or_else(|e| panic!("list: {e}"));
    assert_eq!(listed.len(), 1, "only the snapshot is listed: {listed:?}");
    assert_eq!(listed[0].key, upload.key);
    assert_eq!(
        listed[0].workspace_id, doc.workspace_id,
        "named from the body"
    );
    let file = dir.path().join(&upload.key);
    assert!(file.is_file(), "the snapshot is a plain file at its key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_a_partial_document() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let vault = Arc::new(ObjectStoreVault::local(dir.path()).unwrap_or_else(|e| panic!("{e}")));
    let base = fresh_document("atomic", 1);
    let big = |version: u64| {
        // Large enough that a non-atomic write would be seen half-done.
        bump(
            &base,
            version,
            &format!("{version}-{}", "x".repeat(2 << 20)),
        )
    };
    put_written(&*vault, &upload_of(&big(1))).await;
    let file = dir.path().join(upload_of(&base).key);
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let done = Arc::clone(&done);
        let file = file.clone();
        std::thread::spawn(move || {
            let mut reads = 0u32;
            while !done.load(Ordering::SeqCst) {
                let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("reading: {e}"));
                MasterTodo::from_json(&bytes).unwrap_or_else(|e| {
                    panic!(
                        "a reader saw a partial document ({} bytes): {e}",
                        bytes.len()
                    )
                });
                reads += 1;
            }
            reads
        })
    };
    for version in 2..=20 {
        put_written(&*vault, &upload_of(&big(version))).await;
        let got = vault
            .get(&upload_of(&base).key)
            .await
            .unwrap_or_else(|e| panic!("get: {e}"))
            .unwrap_or_else(|| panic!("snapshot vanished"));
        MasterTodo::from_json(&got.bytes)
            .unwrap_or_else(|e| panic!("get saw a partial document: {e}"));
    }
    done.store(true, Ordering::SeqCst);
    let reads = reader
        .join()
        .unwrap_or_else(|_| panic!("the reader panicked"));
    assert!(reads > 0, "the reader read while the writer wrote");
}

/// A vault decides from memory only while the key's file is the one it
/// wrote: a write by another vault on the same folder (same size, written
/// within the same clock tick or not) is noticed, and an older or equal
/// version is still refused on the stored bytes.
#[tokio::test]
async fn a_vault_notices_writes_by_another_vault_on_the_folder() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let host_a = ObjectStoreVault::local(dir.path()).unwrap_or_else(|e| panic!("local: {e}"));
    let host_b = ObjectStoreVault::local(dir.path()).unwrap_or_else(|e| panic!("local: {e}"));
    let doc = fresh_document("pins", 1);
    let key = upload_of(&doc).key;
    put_written(&host_a, &upload_of(&doc)).await;
    put_written(&host_a, &upload_of(&bump(&doc, 2, "a-2"))).await;
    // Host B replaces it with version 3, of the very same length.
    let b3 = upload_of(&bump(&doc, 3, "b-3"));
    put_written(&host_b, &b3).await;
    for (version, note) in [(3, "a-3"), (2, "a-2")] {
        let stale = upload_of(&bump(&doc, version, note));
        assert_eq!(stale.bytes.len(), b3.bytes.len(), "same length on purpose");
        let refused = host_a.put(&stale).await;
        assert!(
            matches!(refused, Err(Error::Conflict { .. })),
            "version {version} from host A must not replace B's version 3: {refused:?}"
        );
        let held = host_b
            .get(&key)
            .await
            .unwrap_or_else(|e| panic!("get: {e}"))
            .unwrap_or_else(|| panic!("the snapshot vanished"));
        assert_eq!(held.bytes, b3.bytes, "B's version 3 stays whole");
    }
    // B's bytes again are unchanged for A too; A's newer version lands.
    assert_eq!(
        host_a.put(&b3).await.unwrap_or_else(|e| panic!("put: {e}")),
        todovault_core::vault::PutOutcome::Unchanged
    );
    put_written(&host_a, &upload_of(&bump(&doc, 4, "a-4"))).await;
    // Now B's memory is stale: its next version is decided on A's bytes.
    let refused = host_b.put(&upload_of(&bump(&doc, 4, "b-4"))).await;
    assert!(
        matches!(refused, Err(Error::Conflict { .. })),
        "B's version 4 must not replace A's version 4: {refused:?}"
    );
    put_written(&host_b, &upload_of(&bump(&doc, 5, "b-5"))).await;
}

/// With nothing kept open the vault reads every file before replacing it,
/// and keeps the same guarantees.
#[tokio::test]
async fn a_vault_that_keeps_no_files_open_reads_before_each_replace() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let options = todovault_object_store::VaultOptions {
        local_pinned_files: 0,
        ..Default::default()
    };
    let vault = ObjectStoreVault::local(dir.path())
        .unwrap_or_else(|e| panic!("local: {e}"))
        .with_options(options);
    todovault_core::testkit::vault_store_suite(Arc::new(vault)).await;
    let other = ObjectStoreVault::local(dir.path())
        .unwrap_or_else(|e| panic!("local: {e}"))
        .with_options(todovault_object_store::VaultOptions {
            local_pinned_files: 0,
            ..Default::default()
        });
    let doc = fresh_document("no-pins", 1);
    put_written(&other, &upload_of(&doc)).await;
    put_written(&other, &upload_of(&bump(&doc, 2, "two"))).await;
    let refused = other.put(&upload_of(&bump(&doc, 2, "other"))).await;
    assert!(
        matches!(refused, Err(Error::Conflict { .. })),
        "an equal version with other bytes is refused: {refused:?}"
    );
}
