//! The vault against the raw object_store calls it needs, side by side in
//! one run, on a local folder and on moto (S3):
//!
//! - sync of N new snapshots (N workspaces) vs N raw puts, and a second sync
//!   of a newer version of each vs N raw puts;
//! - cold discover of M snapshots (a new vault, no cache) vs a raw list plus
//!   one HEAD per object;
//! - warm discover of the same (cache warm) vs a bare raw list.
//!
//! `cargo bench -p todovault-object-store --bench vault`
//!
//! Counts: `TODOVAULT_BENCH_SYNC` (default 1000), `TODOVAULT_BENCH_DISCOVER`
//! (default 10000); backends: `TODOVAULT_BENCH_BACKENDS` (default
//! `local,moto`). Each figure is the best of `TODOVAULT_BENCH_ROUNDS`
//! (default 3) runs; vault and raw runs alternate so both meet the same
//! server state. The local folder is made in `TODOVAULT_BENCH_DIR` (default
//! `/dev/shm` where it exists, else the temp dir).

#[path = "../tests/vault/servers.rs"]
mod servers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    Attribute, AttributeValue, Attributes, GetOptions, ObjectStore, PutOptions, PutPayload,
};
use todovault_core::testkit::{sample_document, unique_workspace};
use todovault_core::vault::{SnapshotUpload, VaultStore};
use todovault_object_store::{
    CONTENT_HASH_METADATA_KEY, DOCUMENT_VERSION_METADATA_KEY, ObjectStoreVault,
    WORKSPACE_METADATA_KEY,
};

/// Requests kept in flight by both sides.
const CONCURRENCY: usize = 32;

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn uploads(n: usize, version: u64, from: Option<&[SnapshotUpload]>) -> Vec<SnapshotUpload> {
    (0..n)
        .map(|i| {
            let mut doc = match from {
                Some(prev) => {
                    let mut d = todovault_core::MasterTodo::from_json(&prev[i].bytes)
                        .unwrap_or_else(|e| panic!("re-reading an upload: {e}"));
                    d.project_context = format!("version {version}");
                    d
                }
                None => sample_document(&unique_workspace("bench"), version),
            };
            doc.version = version;
            SnapshotUpload::from_document(&doc).unwrap_or_else(|e| panic!("serialising: {e}"))
        })
        .collect()
}

/// The attributes the vault writes, so raw objects look the same.
fn attributes_of(upload: &SnapshotUpload, with: bool) -> Attributes {
    let mut a = Attributes::new();
    if with {
        a.insert(Attribute::ContentType, "application/json".into());
        a.insert(
            Attribute::Metadata(WORKSPACE_METADATA_KEY.into()),
            AttributeValue::from(upload.workspace_id.as_str().to_owned()),
        );
        a.insert(
            Attribute::Metadata(CONTENT_HASH_METADATA_KEY.into()),
            AttributeValue::from(blake3::hash(&upload.bytes).to_hex().to_string()),
        );
        a.insert(
            Attribute::Metadata(DOCUMENT_VERSION_METADATA_KEY.into()),
            AttributeValue::from(upload.version.to_string()),
        );
    }
    a
}

async fn raw_puts(store: &Arc<dyn ObjectStore>, uploads: &[SnapshotUpload], metadata: bool) {
    futures::stream::iter(uploads)
        .map(|u| {
            let store = Arc::clone(store);
            async move {
                store
                    .put_opts(
                        &Path::from(u.key.as_str()),
                        PutPayload::from(u.bytes.clone()),
                        PutOptions {
                            attributes: attributes_of(u, metadata),
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap_or_else(|e| panic!("raw put: {e}"))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
}

async fn vault_puts(vault: &ObjectStoreVault, uploads: &[SnapshotUpload]) {
    futures::stream::iter(uploads)
        .map(|u| async move {
            vault
                .put(u)
                .await
                .unwrap_or_else(|e| panic!("vault put: {e}"))
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
}

async fn raw_list(store: &Arc<dyn ObjectStore>) -> Vec<object_store::ObjectMeta> {
    store
        .list(Some(&Path::from("vault/todo")))
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("raw list: {e}"))
}

async fn raw_list_and_heads(store: &Arc<dyn ObjectStore>) -> usize {
    let listed = raw_list(store).await;
    futures::stream::iter(listed)
        .map(|m| {
            let store = Arc::clone(store);
            async move {
                let head = GetOptions {
                    head: true,
                    ..Default::default()
                };
                store
                    .get_opts(&m.location, head)
                    .await
                    .unwrap_or_else(|e| panic!("raw head: {e}"))
                    .attributes
                    .len()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .count()
        .await
}

async fn timed<F: Future<Output = T>, T>(f: F) -> (Duration, T) {
    let started = Instant::now();
    let out = f.await;
    (started.elapsed(), out)
}

struct Row {
    backend: &'static str,
    what: String,
    vault: Duration,
    raw: Duration,
    reference: &'static str,
    target: f64,
}

/// Opens (raw store, vault) on a new, empty location of a backend.
type OpenFresh = dyn Fn(&str) -> (Arc<dyn ObjectStore>, ObjectStoreVault);

/// One backend: `fresh` opens (store, vault) on a new, empty location.
async fn bench_backend(
    backend: &'static str,
    fresh: &OpenFresh,
    metadata: bool,
    sync_n: usize,
    discover_n: usize,
    rounds: usize,
    rows: &mut Vec<Row>,
) {
    // Sync: N new snapshots, then a newer version of each.
    let (mut best_vault_new, mut best_raw_new) = (Duration::MAX, Duration::MAX);
    let (mut best_vault_upd, mut best_raw_upd) = (Duration::MAX, Duration::MAX);
    for round in 0..rounds {
        let v1 = uploads(sync_n, 1, None);
        let v2 = uploads(sync_n, 2, Some(&v1));
        let (raw_store, _) = fresh(&format!("raw-sync-{round}"));
        let (_, vault) = fresh(&format!("vault-sync-{round}"));
        let (t, ()) = timed(raw_puts(&raw_store, &v1, metadata)).await;
        best_raw_new = best_raw_new.min(t);
        let (t, ()) = timed(vault_puts(&vault, &v1)).await;
        best_vault_new = best_vault_new.min(t);
        let (t, ()) = timed(raw_puts(&raw_store, &v2, metadata)).await;
        best_raw_upd = best_raw_upd.min(t);
        let (t, ()) = timed(vault_puts(&vault, &v2)).await;
        best_vault_upd = best_vault_upd.min(t);
    }
    rows.push(Row {
        backend,
        what: format!("sync {sync_n} new snapshots"),
        vault: best_vault_new,
        raw: best_raw_new,
        reference: "puts",
        target: 1.2,
    });
    rows.push(Row {
        backend,
        what: format!("sync {sync_n} newer versions"),
        vault: best_vault_upd,
        raw: best_raw_upd,
        reference: "puts",
        target: 1.2,
    });

    // Discover: M snapshots written the way the vault writes them.
    let (store, _) = fresh("discover");
    let snapshots = uploads(discover_n, 1, None);
    raw_puts(&store, &snapshots, metadata).await;
    let open = || fresh("discover").1;
    let (mut best_cold, mut best_raw_cold) = (Duration::MAX, Duration::MAX);
    let (mut best_warm, mut best_raw_warm) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        let (t, n) = timed(raw_list_and_heads(&store)).await;
        assert_eq!(n, discover_n);
        best_raw_cold = best_raw_cold.min(t);
        let vault = open();
        let (t, listed) = timed(vault.list()).await;
        let listed = listed.unwrap_or_else(|e| panic!("vault list: {e}"));
        assert_eq!(listed.len(), discover_n, "the vault lists every snapshot");
        best_cold = best_cold.min(t);
        let (t, l) = timed(raw_list(&store)).await;
        assert_eq!(l.len(), discover_n);
        best_raw_warm = best_raw_warm.min(t);
        let (t, listed) = timed(vault.list()).await;
        assert_eq!(listed.map(|l| l.len()).unwrap_or(0), discover_n);
        best_warm = best_warm.min(t);
    }
    rows.push(Row {
        backend,
        what: format!("cold discover of {discover_n}"),
        vault: best_cold,
        raw: best_raw_cold,
        reference: if metadata {
            "list + heads"
        } else {
            "list + gets"
        },
        target: 1.2,
    });
    rows.push(Row {
        backend,
        what: format!("warm discover of {discover_n}"),
        vault: best_warm,
        raw: best_raw_warm,
        reference: "bare list",
        target: 1.1,
    });
}

async fn raw_list_and_gets(store: &Arc<dyn ObjectStore>) -> usize {
    let listed = raw_list(store).await;
    futures::stream::iter(listed)
        .map(|m| {
            let store = Arc::clone(store);
            async move {
                store
                    .get_opts(&m.location, GetOptions::default())
                    .await
                    .unwrap_or_else(|e| panic!("raw get: {e}"))
                    .bytes()
                    .await
                    .unwrap_or_else(|e| panic!("raw get body: {e}"))
                    .len()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .count()
        .await
}

fn main() {
    let sync_n = count("TODOVAULT_BENCH_SYNC", 1000);
    let discover_n = count("TODOVAULT_BENCH_DISCOVER", 10_000);
    let rounds = count("TODOVAULT_BENCH_ROUNDS", 3).max(1);
    let backends =
        std::env::var("TODOVAULT_BENCH_BACKENDS").unwrap_or_else(|_| "local,moto".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    let mut rows = Vec::new();
    // The local folder lives in memory (tmpfs) where there is one, so disk
    // write-back does not drown the vault's own cost in noise.
    let parent = std::env::var_os("TODOVAULT_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let shm = std::path::PathBuf::from("/dev/shm");
            if shm.is_dir() {
                shm
            } else {
                std::env::temp_dir()
            }
        });
    let temp = tempfile::tempdir_in(&parent).unwrap_or_else(|e| panic!("temp dir: {e}"));
    runtime.block_on(async {
        if backends.contains("local") {
            let root = temp.path().to_owned();
            let fresh = move |name: &str| {
                let dir = root.join(name);
                let vault =
                    ObjectStoreVault::local(&dir).unwrap_or_else(|e| panic!("local vault: {e}"));
                let store: Arc<dyn ObjectStore> = Arc::new(
                    object_store::local::LocalFileSystem::new_with_prefix(&dir)
                        .unwrap_or_else(|e| panic!("local store: {e}")),
                );
                (store, vault)
            };
            bench_backend(
                "local", &fresh, false, sync_n, discover_n, rounds, &mut rows,
            )
            .await;
            // The local reference for a cold discover reads bodies: a folder
            // keeps no metadata, so list + gets is what naming needs.
            if let Some(row) = rows
                .iter_mut()
                .find(|r| r.backend == "local" && r.what.starts_with("cold"))
            {
                let (store, _) = fresh("discover");
                let mut best = Duration::MAX;
                for _ in 0..rounds {
                    let (t, n) = timed(raw_list_and_gets(&store)).await;
                    assert_eq!(n, discover_n);
                    best = best.min(t);
                }
                row.raw = best;
            }
        }
        if backends.contains("moto") {
            let moto = servers::Moto::start();
            moto.create_bucket("bench");
            let raw = moto.raw_store("bench");
            let fresh = move |name: &str| {
                let store: Arc<dyn ObjectStore> =
                    Arc::new(PrefixStore::new(Arc::clone(&raw), name));
                (Arc::clone(&store), ObjectStoreVault::new(store))
            };
            bench_backend("moto", &fresh, true, sync_n, discover_n, rounds, &mut rows).await;
        }
    });

    println!(
        "\nvault vs raw object_store (best of {rounds}; {CONCURRENCY} requests in flight on both sides)\n"
    );
    println!("| backend | operation | vault | raw | raw calls | ratio | target |");
    println!("|---|---|---:|---:|---|---:|---:|");
    for r in &rows {
        let ratio = r.vault.as_secs_f64() / r.raw.as_secs_f64();
        println!(
            "| {} | {} | {:.1} ms | {:.1} ms | {} | {:.2}x | {} {:.1}x |",
            r.backend,
            r.what,
            r.vault.as_secs_f64() * 1e3,
            r.raw.as_secs_f64() * 1e3,
            r.reference,
            ratio,
            if ratio <= r.target {
                "met ≤"
            } else {
                "MISSED ≤"
            },
            r.target
        );
    }
}
