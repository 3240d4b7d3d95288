//! [`ObjectStoreVault`]: the [`VaultStore`] over an [`ObjectStore`].
//!
//! Writes read what the vault holds (metadata first, the body only when
//! the metadata cannot decide), apply core's [`decide_put`], and write
//! conditionally on exactly the state they read, looping when another host
//! got there first. Listings walk `vault/todo/` page by page and name each
//! snapshot's workspace from its metadata (a HEAD request), its body when
//! metadata is missing, or a cache, since a key never changes workspace.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, GetOptions, GetResult, ObjectMeta, ObjectStore, PutMode,
    PutOptions, PutPayload, UpdateVersion,
};
use todovault_core::vault::{
    KEY_PREFIX, PutOutcome, Snapshot, SnapshotMeta, SnapshotUpload, VaultStore, decide_put,
    stored_version, todo_id_from_key,
};
use todovault_core::{Error, Result, WorkspaceId};

use crate::local::{LocalFolder, LocalWrite};
use crate::redact::redact;

/// Object metadata naming the workspace a snapshot belongs to.
pub const WORKSPACE_METADATA_KEY: &str = "workspaceid";
/// Object metadata holding the BLAKE3 hash (hex) of a snapshot's bytes.
pub const CONTENT_HASH_METADATA_KEY: &str = "contenthash";
/// Object metadata holding a snapshot's document version.
pub const DOCUMENT_VERSION_METADATA_KEY: &str = "docversion";

/// How many read-decide-write rounds one put may take before giving up on a
/// vault that keeps changing under it.
const MAX_ROUNDS: u32 = 32;

/// Tuning for an [`ObjectStoreVault`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultOptions {
    /// Metadata requests a listing keeps in flight at once (default 32).
    pub head_concurrency: usize,
    /// Failed attempts (errors other than a conflict) one put makes before it
    /// reports a storage error (default 4). Each failed write is first
    /// settled by reading the object back.
    pub max_attempts: u32,
    /// The pause after the first failed attempt; it doubles after each
    /// further one (default 100 ms).
    pub retry_backoff: Duration,
    /// How long a write in a local folder waits for another writer's file
    /// lock (default 30 s).
    pub lock_timeout: Duration,
    /// Whether a version-1 snapshot whose key this vault has not seen yet is
    /// sent straight away as a create (`If-None-Match: *`), saving the HEAD
    /// request that would otherwise precede it (default true). A todo's
    /// first version is almost always new to the vault; when it is not, the
    /// store refuses the body, nothing is stored, and the put compares and
    /// answers as usual. Turn it off to never send a body the vault already
    /// holds.
    pub optimistic_create: bool,
    /// For how many keys a vault in a local folder keeps the file it wrote
    /// open, with the key's lock file: two open files per key, at most
    /// (default: a sixteenth of the process's soft limit on open files, at
    /// most 1,024 keys; 64 where the limit cannot be read). While a key's
    /// file is still the one this vault wrote (same inode, size and
    /// modification time; the open file keeps its inode number from being
    /// reused), the next put there decides without reading the file back
    /// and reuses the open lock file. 0 keeps nothing open and always reads.
    pub local_pinned_files: usize,
}

impl Default for VaultOptions {
    fn default() -> Self {
        Self {
            head_concurrency: 32,
            max_attempts: 4,
            retry_backoff: Duration::from_millis(100),
            lock_timeout: Duration::from_secs(30),
            optimistic_create: true,
            local_pinned_files: default_pinned_files(),
        }
    }
}

/// The default [`VaultOptions::local_pinned_files`]: a sixteenth of the soft
/// limit on open files (two per key leaves seven eighths of the limit to the
/// rest of the process), at most 1,024 keys.
fn default_pinned_files() -> usize {
    soft_open_files_limit().map_or(64, |limit| (limit / 16).min(1024))
}

/// The soft limit on open files, where the system tells it without unsafe
/// code (Linux's `/proc/self/limits`).
fn soft_open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    // "unlimited" parses as nothing: the cap applies.
    Some(soft.parse().unwrap_or(usize::MAX))
}

/// What this process last wrote or saw at a key: enough to replace it with a
/// single conditional request next time.
#[derive(Debug, Clone)]
struct Known {
    update: UpdateVersion,
    hash: String,
    workspace: WorkspaceId,
    version: u64,
    size: u64,
}

/// A stored object as described by its metadata.
#[derive(Debug, Clone)]
struct Described {
    update: UpdateVersion,
    size: u64,
    hash: Option<String>,
    workspace: Option<WorkspaceId>,
    version: Option<u64>,
}

impl From<Known> for Described {
    fn from(k: Known) -> Self {
        Described {
            update: k.update,
            size: k.size,
            hash: Some(k.hash),
            workspace: Some(k.workspace),
            version: Some(k.version),
        }
    }
}

/// What a put currently believes the key holds.
#[derive(Debug)]
enum Seen {
    /// Nothing known: look (HEAD).
    Unknown,
    /// The key holds nothing (or is believed to).
    Absent,
    /// Metadata of the stored object; `trusted` is false when it comes from
    /// this process's memory rather than from the store just now.
    Described { object: Described, trusted: bool },
    /// The stored bytes themselves.
    Read { bytes: Bytes, update: UpdateVersion },
}

/// A [`VaultStore`] over any [`ObjectStore`].
///
/// Build it with [`ObjectStoreVault::from_url`], [`ObjectStoreVault::new`]
/// (any store with conditional writes: S3, GCS, Azure, memory) or
/// [`ObjectStoreVault::local`] (a folder, guarded by file locks).
pub struct ObjectStoreVault {
    store: Arc<dyn ObjectStore>,
    description: String,
    options: VaultOptions,
    /// Whether the store keeps user metadata; learned from the first write a
    /// store refuses for carrying attributes.
    attributes: AtomicBool,
    locks: Option<Arc<LocalFolder>>,
    workspaces: Mutex<HashMap<String, WorkspaceId>>,
    known: Mutex<HashMap<String, Known>>,
}

impl fmt::Debug for ObjectStoreVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStoreVault")
            .field("store", &self.description)
            .field("options", &self.options)
            .field("file_locks", &self.locks.is_some())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn metadata<'a>(attributes: &'a Attributes, key: &'static str) -> Option<&'a str> {
    attributes
        .get(&Attribute::Metadata(key.into()))
        .map(|v| v.as_ref())
}

fn describe(meta: &ObjectMeta, attributes: &Attributes) -> Described {
    Described {
        update: UpdateVersion {
            e_tag: meta.e_tag.clone(),
            version: meta.version.clone(),
        },
        size: meta.size,
        hash: metadata(attributes, CONTENT_HASH_METADATA_KEY).map(str::to_owned),
        workspace: metadata(attributes, WORKSPACE_METADATA_KEY)
            .and_then(|w| WorkspaceId::parse(w).ok()),
        version: metadata(attributes, DOCUMENT_VERSION_METADATA_KEY).and_then(|v| v.parse().ok()),
    }
}

fn to_timestamp(meta: &ObjectMeta) -> todovault_core::document::Timestamp {
    meta.last_modified
}

/// Whether an object_store error means "the key holds something else than
/// the write expected".
fn is_precondition(e: &object_store::Error) -> bool {
    matches!(
        e,
        object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. }
    )
}

impl ObjectStoreVault {
    /// A vault over `store`, which must offer conditional writes
    /// (`PutMode::Create` and `PutMode::Update`): S3 (and S3-compatible
    /// servers that honour `If-Match`), GCS, Azure, or `InMemory`. Wrap the
    /// store in a [`PrefixStore`](object_store::prefix::PrefixStore) to keep
    /// the vault under a prefix. For a local folder use
    /// [`ObjectStoreVault::local`].
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        let description = store.to_string();
        Self::assemble(store, description, None)
    }

    /// A vault in the local folder `root` (created if missing). Writes are
    /// guarded by OS file locks in `root/vault/.locks/`, since a plain
    /// folder offers no conditional replace.
    #[cfg(feature = "fs")]
    pub fn local(root: impl AsRef<std::path::Path>) -> Result<Self> {
        let root = root.as_ref();
        std::fs::create_dir_all(root).map_err(|e| {
            Error::storage(format!("creating the vault folder {}: {e}", root.display()))
        })?;
        // Canonical, as LocalFileSystem resolves it: the lock-held reads
        // must open the very files it writes.
        let root = std::fs::canonicalize(root).map_err(|e| {
            Error::storage(format!(
                "resolving the vault folder {}: {e}",
                root.display()
            ))
        })?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&root)
            .map_err(|e| Error::storage(redact(&e.to_string())))?;
        let locks = Arc::new(LocalFolder::new(root.clone()));
        let description = format!("file://{}", root.display());
        let vault = Self::assemble(Arc::new(store), description, Some(locks));
        // LocalFileSystem keeps no user metadata; never offer it any.
        vault.attributes.store(false, Ordering::Relaxed);
        Ok(vault)
    }

    pub(crate) fn assemble(
        store: Arc<dyn ObjectStore>,
        description: String,
        locks: Option<Arc<LocalFolder>>,
    ) -> Self {
        Self {
            store,
            description: redact(&description),
            options: VaultOptions::default(),
            attributes: AtomicBool::new(true),
            locks,
            workspaces: Mutex::new(HashMap::new()),
            known: Mutex::new(HashMap::new()),
        }
    }

    /// The same vault with other tuning.
    pub fn with_options(mut self, options: VaultOptions) -> Self {
        self.options = VaultOptions {
            head_concurrency: options.head_concurrency.max(1),
            max_attempts: options.max_attempts.max(1),
            ..options
        };
        self
    }

    /// The tuning in force.
    pub fn options(&self) -> &VaultOptions {
        &self.options
    }

    /// The underlying store (under the vault's prefix, if any).
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// A description of where the vault lives, free of credentials.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Forgets every cached key → workspace mapping and every remembered
    /// object version; the next listing reads metadata again.
    pub fn clear_cache(&self) {
        lock(&self.workspaces).clear();
        lock(&self.known).clear();
        if let Some(folder) = &self.locks {
            folder.forget_all();
        }
    }

    fn storage_error(&self, what: &str, key: &str, e: &object_store::Error) -> Error {
        Error::storage(redact(&format!(
            "{what} {key} in the vault at {}: {e}",
            self.description
        )))
    }

    fn put_options(&self, upload: &SnapshotUpload, hash: &str, mode: PutMode) -> PutOptions {
        let mut attributes = Attributes::new();
        if self.attributes.load(Ordering::Relaxed) {
            attributes.insert(
                Attribute::ContentType,
                AttributeValue::from("application/json"),
            );
            attributes.insert(
                Attribute::Metadata(WORKSPACE_METADATA_KEY.into()),
                AttributeValue::from(upload.workspace_id.as_str().to_owned()),
            );
            attributes.insert(
                Attribute::Metadata(CONTENT_HASH_METADATA_KEY.into()),
                AttributeValue::from(hash.to_owned()),
            );
            attributes.insert(
                Attribute::Metadata(DOCUMENT_VERSION_METADATA_KEY.into()),
                AttributeValue::from(upload.version.to_string()),
            );
        }
        PutOptions {
            mode,
            attributes,
            ..PutOptions::default()
        }
    }

    fn remember_write(&self, upload: &SnapshotUpload, hash: String, update: UpdateVersion) {
        lock(&self.workspaces).insert(upload.key.clone(), upload.workspace_id.clone());
        lock(&self.known).insert(
            upload.key.clone(),
            Known {
                update,
                hash,
                workspace: upload.workspace_id.clone(),
                version: upload.version,
                size: upload.bytes.len() as u64,
            },
        );
    }

    /// Whether `upload` may be sent as a create without looking first: a
    /// todo's first version, at a key this vault has not met.
    fn may_create_optimistically(&self, upload: &SnapshotUpload) -> bool {
        self.options.optimistic_create
            && upload.version <= 1
            && !lock(&self.known).contains_key(&upload.key)
            && !lock(&self.workspaces).contains_key(&upload.key)
    }

    /// HEAD with metadata; `None` when the key holds nothing.
    async fn head(&self, path: &Path) -> object_store::Result<Option<(ObjectMeta, Attributes)>> {
        let options = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        match self.store.get_opts(path, options).await {
            Ok(result) => Ok(Some((result.meta, result.attributes))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GET; `None` when the key holds nothing.
    async fn read(&self, path: &Path) -> object_store::Result<Option<(Bytes, GetResultMeta)>> {
        let result: GetResult = match self.store.get_opts(path, GetOptions::default()).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = result.meta.clone();
        let attributes = result.attributes.clone();
        let bytes = result.bytes().await?;
        Ok(Some((bytes, GetResultMeta { meta, attributes })))
    }

    /// Pause before the next attempt after `failures` failed ones.
    /// Counts one more failed step of a put: once `max_attempts` steps have
    /// failed, the error to give up with; otherwise waits out the backoff.
    async fn after_failure(
        &self,
        failures: &mut u32,
        what: &str,
        key: &str,
        e: &object_store::Error,
    ) -> Result<()> {
        *failures += 1;
        if *failures >= self.options.max_attempts {
            return Err(self.storage_error(what, key, e));
        }
        self.back_off(*failures).await;
        Ok(())
    }

    async fn back_off(&self, failures: u32) {
        let factor = 1u32 << failures.saturating_sub(1).min(6);
        tokio::time::sleep(self.options.retry_backoff.saturating_mul(factor)).await;
    }

    /// Reads a key back after a write whose outcome is unknown: what the key
    /// holds now, or `None` if even that cannot be read.
    async fn read_back(&self, path: &Path, key: &str) -> Option<Seen> {
        match self.read(path).await {
            Ok(Some((bytes, got))) => Some(Seen::Read {
                bytes,
                update: got.update_version(),
            }),
            Ok(None) => Some(Seen::Absent),
            Err(e) => {
                tracing::warn!(key, error = %redact(&e.to_string()), "vault read-back failed");
                None
            }
        }
    }

    /// A put on a store with conditional writes.
    async fn put_conditional(
        &self,
        upload: &SnapshotUpload,
        path: &Path,
        hash: String,
    ) -> Result<PutOutcome> {
        let known = lock(&self.known).get(&upload.key).cloned();
        let mut seen = match known {
            Some(k) => Seen::Described {
                object: k.into(),
                trusted: false,
            },
            // A todo's first version is almost always new to the vault:
            // create it straight away; the store refuses it if the key exists.
            None if self.may_create_optimistically(upload) => Seen::Absent,
            None => Seen::Unknown,
        };
        let len = upload.bytes.len() as u64;
        let mut failures = 0u32;
        for _ in 0..MAX_ROUNDS {
            let mode = match seen {
                Seen::Unknown => {
                    match self.head(path).await {
                        Ok(Some((meta, attributes))) => {
                            seen = Seen::Described {
                                object: describe(&meta, &attributes),
                                trusted: true,
                            }
                        }
                        Ok(None) => seen = Seen::Absent,
                        Err(e) => {
                            self.after_failure(&mut failures, "reading", &upload.key, &e)
                                .await?;
                        }
                    }
                    continue;
                }
                Seen::Absent => PutMode::Create,
                Seen::Described {
                    ref object,
                    trusted,
                } => {
                    let same_hash = object.hash.as_deref() == Some(hash.as_str());
                    if same_hash && object.size == len {
                        if trusted {
                            return Ok(PutOutcome::Unchanged);
                        }
                        // Remembered, not seen: confirm the vault still holds it.
                        seen = Seen::Unknown;
                        continue;
                    }
                    let older_of_ours = object.workspace.as_ref() == Some(&upload.workspace_id)
                        && object.version.is_some_and(|v| v < upload.version);
                    if older_of_ours && object.update.e_tag.is_some() {
                        PutMode::Update(object.update.clone())
                    } else {
                        // Metadata cannot decide (missing, or a refusal that
                        // core must confirm on the bytes): read the body.
                        match self.read(path).await {
                            Ok(Some((bytes, got))) => {
                                seen = Seen::Read {
                                    bytes,
                                    update: got.update_version(),
                                }
                            }
                            Ok(None) => seen = Seen::Absent,
                            Err(e) => {
                                self.after_failure(&mut failures, "reading", &upload.key, &e)
                                    .await?;
                                seen = Seen::Unknown;
                            }
                        }
                        continue;
                    }
                }
                Seen::Read {
                    ref bytes,
                    ref update,
                } => match decide_put(upload, Some(bytes))? {
                    PutOutcome::Unchanged => return Ok(PutOutcome::Unchanged),
                    PutOutcome::Written => PutMode::Update(update.clone()),
                },
            };

            let options = self.put_options(upload, &hash, mode);
            let carried_attributes = !options.attributes.is_empty();
            let payload = PutPayload::from(Bytes::from(upload.bytes.clone()));
            match self.store.put_opts(path, payload, options).await {
                Ok(result) => {
                    self.remember_write(upload, hash, result.into());
                    return Ok(PutOutcome::Written);
                }
                Err(e) if is_precondition(&e) => {
                    // The key holds something else than this write was
                    // based on: another writer got there first, or (for an
                    // optimistic create) it already existed. Look again.
                    match self.read_back(path, &upload.key).await {
                        Some(Seen::Read { bytes, update }) if bytes == upload.bytes.as_slice() => {
                            // The store refused the write and holds exactly
                            // these bytes: nothing needed uploading.
                            self.remember_write(upload, hash, update);
                            return Ok(PutOutcome::Unchanged);
                        }
                        Some(now) => seen = now,
                        None => {
                            self.after_failure(&mut failures, "reading", &upload.key, &e)
                                .await?;
                            seen = Seen::Unknown;
                        }
                    }
                }
                Err(object_store::Error::NotFound { .. }) => {
                    // Replacing an object that has since been deleted.
                    seen = Seen::Absent;
                }
                Err(object_store::Error::NotImplemented { .. }) if carried_attributes => {
                    tracing::info!(store = %self.description, "the store keeps no object metadata; writing without it");
                    self.attributes.store(false, Ordering::Relaxed);
                }
                Err(e @ object_store::Error::NotImplemented { .. }) => {
                    return Err(Error::storage(redact(&format!(
                        "the store behind the vault at {} offers no conditional writes ({e}); open a local folder with ObjectStoreVault::local",
                        self.description
                    ))));
                }
                Err(e) => {
                    // The write may or may not have happened: read it back.
                    tracing::warn!(key = %upload.key, error = %redact(&e.to_string()), "vault write failed; reading back");
                    match self.read_back(path, &upload.key).await {
                        Some(Seen::Read { bytes, update }) if bytes == upload.bytes.as_slice() => {
                            self.remember_write(upload, hash, update);
                            return Ok(PutOutcome::Written);
                        }
                        Some(now) => seen = now,
                        None => seen = Seen::Unknown,
                    }
                    self.after_failure(&mut failures, "writing", &upload.key, &e)
                        .await?;
                }
            }
        }
        Err(Error::conflict(format!(
            "the vault key {} kept changing during the upload; try again",
            upload.key
        )))
    }

    /// A put in a local folder: look, decide and replace under a file lock
    /// (see [`crate::local`]). A failed attempt changed nothing (the file is
    /// replaced by an atomic rename or not at all) and is tried again.
    async fn put_local(
        &self,
        folder: &Arc<LocalFolder>,
        upload: &SnapshotUpload,
        hash: blake3::Hash,
    ) -> Result<PutOutcome> {
        let write = Arc::new(LocalWrite {
            create_first: self.may_create_optimistically(upload),
            upload: upload.clone(),
            hash,
            pin_limit: self.options.local_pinned_files,
        });
        let mut failures = 0u32;
        loop {
            match folder
                .put(Arc::clone(&write), self.options.lock_timeout)
                .await
            {
                Err(Error::Storage { detail }) => {
                    failures += 1;
                    if failures >= self.options.max_attempts {
                        return Err(Error::Storage { detail });
                    }
                    tracing::warn!(key = %upload.key, error = %detail, "vault write failed; trying again");
                    self.back_off(failures).await;
                }
                Ok(outcome) => {
                    lock(&self.workspaces).insert(upload.key.clone(), upload.workspace_id.clone());
                    return Ok(outcome);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The workspace of one listed object, or `None` (with a warning) when it
    /// cannot be named.
    async fn workspace_of(&self, meta: &ObjectMeta, key: &str) -> Option<WorkspaceId> {
        if self.attributes.load(Ordering::Relaxed) {
            match self.head(&meta.location).await {
                Ok(Some((_, attributes))) => {
                    if let Some(ws) = metadata(&attributes, WORKSPACE_METADATA_KEY)
                        .and_then(|w| WorkspaceId::parse(w).ok())
                    {
                        return Some(ws);
                    }
                }
                // Deleted since it was listed: nothing to report.
                Ok(None) => return None,
                Err(e) => {
                    tracing::warn!(key, error = %redact(&e.to_string()), "vault HEAD failed; reading the body instead");
                }
            }
        }
        match self.read(&meta.location).await {
            Ok(Some((bytes, _))) => match stored_version(&bytes) {
                Some((_, Some(ws))) => Some(ws),
                _ => {
                    tracing::warn!(
                        key,
                        "skipping a vault object that is not a Master TODO document"
                    );
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(key, error = %redact(&e.to_string()), "skipping a vault object that could not be read");
                None
            }
        }
    }
}

/// The parts of a GET kept after its body is read.
struct GetResultMeta {
    meta: ObjectMeta,
    attributes: Attributes,
}

impl GetResultMeta {
    fn update_version(&self) -> UpdateVersion {
        UpdateVersion {
            e_tag: self.meta.e_tag.clone(),
            version: self.meta.version.clone(),
        }
    }
}

/// How many listed objects are handled together (object stores list 1,000
/// per page).
const LIST_PAGE: usize = 1000;

fn listed(key: String, workspace_id: WorkspaceId, meta: &ObjectMeta) -> SnapshotMeta {
    SnapshotMeta {
        key,
        workspace_id,
        size_bytes: meta.size,
        updated_at: to_timestamp(meta),
    }
}

fn snapshot_path(key: &str) -> Result<Path> {
    if todo_id_from_key(key).is_none() {
        return Err(Error::validation(
            ["key"],
            format!("{key:?} is not a vault snapshot key"),
        ));
    }
    Path::parse(key).map_err(|e| Error::validation(["key"], format!("{key:?}: {e}")))
}

#[async_trait]
impl VaultStore for ObjectStoreVault {
    async fn put(&self, upload: &SnapshotUpload) -> Result<PutOutcome> {
        let path = snapshot_path(&upload.key)?;
        let hash = blake3::hash(&upload.bytes);
        let outcome = match &self.locks {
            Some(folder) => self.put_local(folder, upload, hash).await,
            None => {
                self.put_conditional(upload, &path, hash.to_hex().to_string())
                    .await
            }
        };
        if outcome.is_err() {
            // A refused or failed write leaves nothing trustworthy behind.
            lock(&self.known).remove(&upload.key);
            if let Some(folder) = &self.locks {
                folder.forget(&upload.key);
            }
        }
        outcome
    }

    async fn get(&self, key: &str) -> Result<Option<Snapshot>> {
        let Ok(path) = snapshot_path(key) else {
            return Ok(None);
        };
        let Some((bytes, got)) = self
            .read(&path)
            .await
            .map_err(|e| self.storage_error("reading", key, &e))?
        else {
            return Ok(None);
        };
        let workspace = metadata(&got.attributes, WORKSPACE_METADATA_KEY)
            .and_then(|w| WorkspaceId::parse(w).ok())
            .or_else(|| stored_version(&bytes).and_then(|(_, ws)| ws))
            .ok_or_else(|| {
                Error::validation(
                    ["key"],
                    format!("the vault object at {key} is not a Master TODO document"),
                )
            })?;
        lock(&self.workspaces).insert(key.to_owned(), workspace.clone());
        Ok(Some(Snapshot {
            meta: SnapshotMeta {
                key: key.to_owned(),
                workspace_id: workspace,
                size_bytes: got.meta.size,
                updated_at: to_timestamp(&got.meta),
            },
            bytes: bytes.to_vec(),
        }))
    }

    async fn list(&self) -> Result<Vec<SnapshotMeta>> {
        let prefix = Path::from(KEY_PREFIX.trim_end_matches('/'));
        // Page by page: what the cache names is taken at once, the rest is
        // looked up with bounded concurrency before the next page.
        let mut pages = self.store.list(Some(&prefix)).ready_chunks(LIST_PAGE);
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let mut misses = Vec::new();
            {
                let cache = lock(&self.workspaces);
                for item in page {
                    let meta = item.map_err(|e| self.storage_error("listing", KEY_PREFIX, &e))?;
                    if let Some(ws) = cache.get(meta.location.as_ref()) {
                        // The listing's own string becomes the key: no copy.
                        found.push(SnapshotMeta {
                            workspace_id: ws.clone(),
                            size_bytes: meta.size,
                            updated_at: meta.last_modified,
                            key: meta.location.into(),
                        });
                        continue;
                    }
                    let key = meta.location.as_ref().to_owned();
                    if todo_id_from_key(&key).is_some() {
                        misses.push((key, meta));
                    } else {
                        tracing::warn!(
                            key,
                            "skipping a vault object whose key is not a snapshot key"
                        );
                    }
                }
            }
            let named: Vec<_> = futures::stream::iter(misses)
                .map(|(key, meta)| async move {
                    let ws = self.workspace_of(&meta, &key).await;
                    (key, meta, ws)
                })
                .buffer_unordered(self.options.head_concurrency)
                .collect()
                .await;
            let mut cache = lock(&self.workspaces);
            for (key, meta, ws) in named {
                if let Some(ws) = ws {
                    cache.insert(key.clone(), ws.clone());
                    found.push(listed(key, ws, &meta));
                }
            }
        }
        // Keys are unique, so the order is total and an unstable sort exact.
        found.sort_unstable_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.key.cmp(&b.key))
        });
        Ok(found)
    }
}
