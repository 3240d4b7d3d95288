//! Fault injection: failed, delayed and lost calls, against memory and moto.

use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::prefix::PrefixStore;
use todovault_core::Error;
use todovault_core::vault::{PutOutcome, VaultStore};
use todovault_object_store::{ObjectStoreVault, VaultOptions};

use crate::common::{bump, fresh_document, put_written, stored_document, upload_of};
use crate::fault_store::{Fault, FaultStore, Op};
use crate::servers::Moto;

fn quick() -> VaultOptions {
    VaultOptions {
        retry_backoff: Duration::from_millis(5),
        ..VaultOptions::default()
    }
}

/// The stores the fault cases run on: memory and a moto bucket.
async fn on_every_store<F, Fut>(case: F)
where
    F: Fn(Arc<dyn ObjectStore>, &'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    case(Arc::new(InMemory::new()), "memory").await;
    let moto = Moto::start();
    moto.create_bucket("faults");
    let prefixed: Arc<dyn ObjectStore> =
        Arc::new(PrefixStore::new(moto.raw_store("faults"), "vault-faults"));
    case(prefixed, "moto").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_put_response_is_settled_by_reading_back() {
    on_every_store(|store, name| async move {
        let faults = FaultStore::new(Arc::clone(&store));
        let vault = ObjectStoreVault::new(faults.clone()).with_options(quick());
        let doc = fresh_document("lost", 1);

        // The create lands but its answer is lost.
        faults.inject(Op::Put, None, Fault::DropResponse, 1);
        let v1 = upload_of(&doc);
        put_written(&vault, &v1).await;
        assert_eq!(
            faults.calls(Op::Put),
            1,
            "{name}: read back, not uploaded again"
        );

        // The same for a replace.
        faults.inject(Op::Put, None, Fault::DropResponse, 1);
        let v2 = upload_of(&bump(&doc, 2, "two"));
        put_written(&vault, &v2).await;
        assert_eq!(
            faults.calls(Op::Put),
            2,
            "{name}: read back, not uploaded again"
        );
        let (bytes, _) = stored_document(&store, &v2.key).await;
        assert_eq!(bytes, v2.bytes, "{name}");

        // And the vault still knows where it stands afterwards.
        let v3 = upload_of(&bump(&doc, 3, "three"));
        put_written(&vault, &v3).await;
        assert_eq!(
            vault
                .put(&v3)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}")),
            PutOutcome::Unchanged
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_puts_are_retried_or_reported() {
    on_every_store(|store, name| async move {
        let faults = FaultStore::new(Arc::clone(&store));
        let vault = ObjectStoreVault::new(faults.clone()).with_options(quick());
        let doc = fresh_document("flaky", 1);
        let v1 = upload_of(&doc);

        // Two failures, then success: the put succeeds.
        faults.inject(Op::Put, None, Fault::FailBefore, 2);
        put_written(&vault, &v1).await;
        let (bytes, _) = stored_document(&store, &v1.key).await;
        assert_eq!(bytes, v1.bytes, "{name}");

        // Failing for good: a clear storage error, and the vault still
        // holds version 1, whole.
        faults.inject(Op::Put, None, Fault::FailBefore, 100);
        let v2 = upload_of(&bump(&doc, 2, "never lands"));
        let err = vault.put(&v2).await.err();
        match &err {
            Some(Error::Storage { detail }) => {
                assert!(
                    detail.contains(&v2.key),
                    "{name}: the error names the key: {detail}"
                );
                assert!(
                    detail.contains("writing"),
                    "{name}: the error says what failed: {detail}"
                );
            }
            other => panic!("{name}: expected a storage error, got {other:?}"),
        }
        let (bytes, _) = stored_document(&store, &v1.key).await;
        assert_eq!(bytes, v1.bytes, "{name}: the old version is intact");
        faults.heal();

        // Failing HEADs before a write are retried too.
        faults.inject(Op::Head, None, Fault::FailBefore, 2);
        let fresh = ObjectStoreVault::new(faults.clone()).with_options(quick());
        let v3 = upload_of(&bump(&doc, 3, "after flaky heads"));
        put_written(&fresh, &v3).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_older_write_never_lands_over_a_newer_one() {
    on_every_store(|store, name| async move {
        let slow_store = FaultStore::new(Arc::clone(&store));
        let slow = Arc::new(ObjectStoreVault::new(slow_store.clone()).with_options(quick()));
        let fast = ObjectStoreVault::new(Arc::clone(&store));
        let doc = fresh_document("delayed", 1);
        put_written(&*slow, &upload_of(&doc)).await;

        slow_store.inject(Op::Put, None, Fault::Delay(Duration::from_millis(400)), 1);
        let v2 = upload_of(&bump(&doc, 2, "slow host"));
        let pending = tokio::spawn({
            let slow = Arc::clone(&slow);
            let v2 = v2.clone();
            async move { slow.put(&v2).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let v3 = upload_of(&bump(&doc, 3, "fast host"));
        put_written(&fast, &v3).await;
        let late = pending
            .await
            .unwrap_or_else(|e| panic!("{name}: join: {e}"));
        assert!(
            matches!(late, Err(Error::Conflict { .. })),
            "{name}: the delayed older write is a conflict, got {late:?}"
        );
        let (bytes, _) = stored_document(&store, &v3.key).await;
        assert_eq!(bytes, v3.bytes, "{name}: the newer version stays");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_head_does_not_abort_a_listing() {
    on_every_store(|store, name| async move {
        let faults = FaultStore::new(Arc::clone(&store));
        let writer = ObjectStoreVault::new(Arc::clone(&store));
        let docs: Vec<_> = (0..4).map(|_| fresh_document("listing", 1)).collect();
        for doc in &docs {
            put_written(&writer, &upload_of(doc)).await;
        }
        let keys: Vec<String> = docs.iter().map(|d| upload_of(d).key).collect();
        let ulid_of = |key: &str| {
            key.trim_start_matches("vault/todo/")
                .trim_end_matches(".json")
                .to_owned()
        };

        // One HEAD fails: the body names the workspace instead.
        faults.inject(Op::Head, Some(&ulid_of(&keys[0])), Fault::FailBefore, 1);
        // Another object can be neither HEADed nor read: it is skipped.
        faults.inject(Op::Head, Some(&ulid_of(&keys[1])), Fault::FailBefore, 1);
        faults.inject(Op::Get, Some(&ulid_of(&keys[1])), Fault::FailBefore, 1);
        let reader = ObjectStoreVault::new(faults.clone());
        let listed = reader
            .list()
            .await
            .unwrap_or_else(|e| panic!("{name}: list: {e}"));
        let listed_keys: Vec<&str> = listed.iter().map(|m| m.key.as_str()).collect();
        for (i, key) in keys.iter().enumerate() {
            let present = listed_keys.contains(&key.as_str());
            assert_eq!(
                present,
                i != 1,
                "{name}: {key} listed: {present} ({listed_keys:?})"
            );
        }
        let first = listed
            .iter()
            .find(|m| m.key == keys[0])
            .unwrap_or_else(|| panic!("listed"));
        assert_eq!(
            first.workspace_id, docs[0].workspace_id,
            "{name}: named from the body"
        );

        // Healed, the skipped snapshot is back.
        let again = reader
            .list()
            .await
            .unwrap_or_else(|e| panic!("{name}: list: {e}"));
        assert!(
            again.iter().any(|m| m.key == keys[1]),
            "{name}: listed once readable"
        );

        // A listing that cannot list at all is an error, not an empty vault.
        faults.inject(Op::List, None, Fault::FailBefore, 1);
        let err = reader.list().await.err();
        assert!(
            matches!(&err, Some(Error::Storage { detail }) if detail.contains("listing")),
            "{name}: a failed listing is a storage error, got {err:?}"
        );
    })
    .await;
}
