//! Checks every backend with conditional writes must pass, run against a
//! raw store (no prefix) of moto or Azurite.

use std::sync::Arc;

use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    Attribute, GetOptions, ObjectStore, PutMode, PutOptions, PutPayload, UpdateVersion,
};
use todovault_core::vault::{PutOutcome, VaultStore};
use todovault_object_store::{ObjectStoreVault, WORKSPACE_METADATA_KEY};

use crate::common::{bump, fresh_document, put_written, stored_document, upload_of};
use crate::fault_store::{FaultStore, Op};

fn create() -> PutOptions {
    PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    }
}

fn update(e_tag: Option<String>, version: Option<String>) -> PutOptions {
    PutOptions {
        mode: PutMode::Update(UpdateVersion { e_tag, version }),
        ..Default::default()
    }
}

/// The server really refuses conditional writes whose condition fails:
/// a second create, and a replace based on an old ETag.
pub async fn conditional_writes_conflict(raw: Arc<dyn ObjectStore>, name: &str) {
    let path = Path::from(format!("conditional-check/{}", ulid::Ulid::new()));
    let first = raw
        .put_opts(&path, PutPayload::from_static(b"one"), create())
        .await
        .unwrap_or_else(|e| panic!("{name}: first create: {e}"));
    let second = raw
        .put_opts(&path, PutPayload::from_static(b"two"), create())
        .await;
    assert!(
        matches!(second, Err(object_store::Error::AlreadyExists { .. })),
        "{name} ignores If-None-Match: a second create must fail with AlreadyExists, got {second:?}"
    );
    let replaced = raw
        .put_opts(
            &path,
            PutPayload::from_static(b"three"),
            update(first.e_tag.clone(), first.version.clone()),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: replace on the current ETag: {e}"));
    let stale = raw
        .put_opts(
            &path,
            PutPayload::from_static(b"four"),
            update(first.e_tag.clone(), first.version.clone()),
        )
        .await;
    assert!(
        matches!(stale, Err(object_store::Error::Precondition { .. })),
        "{name} ignores If-Match: a replace on a stale ETag must fail with Precondition, got {stale:?}"
    );
    assert_ne!(
        first.e_tag, replaced.e_tag,
        "{name}: a replace changes the ETag"
    );
    let held = raw
        .get_opts(&path, GetOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{name}: read: {e}"))
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("{name}: read body: {e}"));
    assert_eq!(
        &held[..],
        b"three",
        "{name}: only the conditional writes that held landed"
    );
}

/// Snapshots carry their workspace in metadata, listings give logical keys
/// and need no body reads, a warm listing needs no HEAD at all, and
/// unchanged content costs one HEAD and no upload.
pub async fn metadata_and_request_counts(raw: Arc<dyn ObjectStore>, name: &str) {
    let prefix = format!("counted-{}", ulid::Ulid::new()).to_ascii_lowercase();
    let under_prefix: Arc<dyn ObjectStore> =
        Arc::new(PrefixStore::new(Arc::clone(&raw), prefix.as_str()));
    let counted = FaultStore::new(under_prefix);
    let vault = ObjectStoreVault::new(counted.clone());

    let docs: Vec<_> = (0..5).map(|_| fresh_document("meta", 1)).collect();
    for doc in &docs {
        put_written(&vault, &upload_of(doc)).await;
    }
    assert_eq!(
        counted.calls(Op::Put),
        5,
        "{name}: a new version-1 snapshot is one request"
    );
    assert_eq!(counted.calls(Op::Head) + counted.calls(Op::Get), 0);

    // Metadata at the real key, under the prefix.
    let key = upload_of(&docs[0]).key;
    let head = raw
        .get_opts(
            &Path::from(format!("{prefix}/{key}")),
            GetOptions {
                head: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: HEAD under the prefix: {e}"));
    assert_eq!(
        head.attributes
            .get(&Attribute::Metadata(WORKSPACE_METADATA_KEY.into()))
            .map(|v| v.as_ref()),
        Some(docs[0].workspace_id.as_str()),
        "{name}: the object's metadata names its workspace"
    );

    // A cold listing by another host: one HEAD per snapshot, no body reads.
    let other_host = ObjectStoreVault::new(counted.clone());
    counted.reset_calls();
    let listed = other_host
        .list()
        .await
        .unwrap_or_else(|e| panic!("{name}: list: {e}"));
    assert_eq!(listed.len(), 5, "{name}: lists every snapshot");
    for doc in &docs {
        let key = upload_of(doc).key;
        let found = listed.iter().find(|m| m.key == key).unwrap_or_else(|| {
            panic!("{name}: listing misses {key} (keys are logical, without the prefix)")
        });
        assert_eq!(found.workspace_id, doc.workspace_id);
    }
    assert!(
        listed
            .windows(2)
            .all(|w| w[0].updated_at >= w[1].updated_at),
        "{name}: newest first"
    );
    assert_eq!(
        counted.calls(Op::Get),
        0,
        "{name}: a cold listing reads no body"
    );
    assert_eq!(
        counted.calls(Op::Head),
        5,
        "{name}: a cold listing HEADs each snapshot once"
    );

    counted.reset_calls();
    let again = other_host
        .list()
        .await
        .unwrap_or_else(|e| panic!("{name}: list: {e}"));
    assert_eq!(again, listed, "{name}: warm and cold listings agree");
    assert_eq!(
        counted.calls(Op::Head) + counted.calls(Op::Get),
        0,
        "{name}: a warm listing is the bare list"
    );

    // Unchanged content from a host that never wrote it: one HEAD, no upload.
    counted.reset_calls();
    let outcome = other_host
        .put(&upload_of(&docs[1]))
        .await
        .unwrap_or_else(|e| panic!("{name}: re-put: {e}"));
    assert_eq!(outcome, PutOutcome::Unchanged);
    assert_eq!(
        counted.calls(Op::Put),
        0,
        "{name}: unchanged content is not uploaded"
    );
    assert_eq!(
        counted.calls(Op::Get),
        0,
        "{name}: unchanged content is found without a body read"
    );

    // A newer version from that host: HEAD + one conditional replace.
    counted.reset_calls();
    let v2 = upload_of(&bump(&docs[1], 2, "second"));
    put_written(&other_host, &v2).await;
    assert_eq!(counted.calls(Op::Put), 1);
    assert_eq!(
        counted.calls(Op::Get),
        0,
        "{name}: metadata decides; no body read"
    );
    let (bytes, _) = stored_document(&raw, &format!("{prefix}/{}", v2.key)).await;
    assert_eq!(bytes, v2.bytes);

    // The first host's memory of version 1 is stale: its older upload is
    // refused after the store's precondition fails.
    let stale = upload_of(&bump(&docs[1], 1, "stale"));
    assert!(
        matches!(
            vault.put(&stale).await,
            Err(todovault_core::Error::Conflict { .. })
        ),
        "{name}: an older version never replaces a newer one"
    );
}

/// Objects under `vault/todo/` that are not snapshots are skipped; a
/// snapshot written without metadata (another tool) is named from its body.
pub async fn foreign_objects_are_skipped(raw: Arc<dyn ObjectStore>, name: &str) {
    let prefix = format!("foreign-{}", ulid::Ulid::new()).to_ascii_lowercase();
    let store: Arc<dyn ObjectStore> = Arc::new(PrefixStore::new(raw, prefix.as_str()));
    let vault = ObjectStoreVault::new(Arc::clone(&store));
    let good = fresh_document("foreign-good", 3);
    put_written(&vault, &upload_of(&good)).await;

    let bare = fresh_document("foreign-bare", 1);
    let bare_upload = upload_of(&bare);
    for (key, body) in [
        ("vault/todo/not-a-ulid.json".to_owned(), b"{}".to_vec()),
        ("vault/todo/readme.txt".to_owned(), b"hello".to_vec()),
        (
            format!("vault/todo/{}.json", ulid::Ulid::new()),
            b"not json at all".to_vec(),
        ),
        (bare_upload.key.clone(), bare_upload.bytes.clone()),
    ] {
        store
            .put_opts(
                &Path::from(key.as_str()),
                PutPayload::from(body),
                PutOptions::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("{name}: raw put {key}: {e}"));
    }
    let listed = vault
        .list()
        .await
        .unwrap_or_else(|e| panic!("{name}: list: {e}"));
    let keys: Vec<_> = listed.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(
        listed.len(),
        2,
        "{name}: only the two snapshots are listed: {keys:?}"
    );
    let bare_meta = listed
        .iter()
        .find(|m| m.key == bare_upload.key)
        .unwrap_or_else(|| panic!("{name}: the snapshot without metadata is listed"));
    assert_eq!(bare_meta.workspace_id, bare.workspace_id);
    let got = vault
        .get(&bare_upload.key)
        .await
        .unwrap_or_else(|e| panic!("{name}: get: {e}"))
        .unwrap_or_else(|| panic!("{name}: get finds the bare snapshot"));
    assert_eq!(got.meta.workspace_id, bare.workspace_id);
    // A newer version replaces the bare object (read from its body).
    put_written(&vault, &upload_of(&bump(&bare, 2, "now with metadata"))).await;
}
