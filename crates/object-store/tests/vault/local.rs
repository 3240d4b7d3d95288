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
