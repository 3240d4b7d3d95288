//! Writes to a vault in a local folder.
//!
//! `LocalFileSystem` cannot replace a file only if it is still the version
//! that was read (no `If-Match`), so a replace holds an exclusive `flock` on
//! the key's lock file while it looks, decides and renames. The lock files
//! live in `vault/.locks/`, beside the snapshots' folder but outside what a
//! listing walks; they stay empty and are reused. The kernel drops a lock
//! when its holder exits, so a crashed writer never blocks the vault.
//!
//! Files are written the way `LocalFileSystem` writes them — a staging file
//! `<file>#<n>` renamed over the snapshot (or hard-linked to it, for a key
//! that must not exist yet) — so readers never see a partial document and
//! listings skip unfinished writes. The whole look-decide-write of one put
//! is a single trip to the blocking pool.
//!
//! Two things keep a put from doing more system calls than needed:
//!
//! - **Creates need no lock.** A key that holds nothing is written with
//!   `link(2)`, which fails if the file appeared meanwhile; a writer that saw
//!   the key empty never renames over it. So a todo's first version goes
//!   straight to the folder, as [`VaultOptions::optimistic_create`] does on
//!   object stores.
//! - **What this vault wrote is not read back.** After each write the vault
//!   keeps the staging file open (a [`Pin`]) together with the version it
//!   wrote. An open file cannot be freed, so no other file can take its
//!   inode number: while the key's file still has that device, inode, size
//!   and modification time, it is the very file this vault wrote, and the
//!   next put decides from memory. Any other writer renames a new file in,
//!   which changes the inode, and the put reads the body as before. At most
//!   [`VaultOptions::local_pinned_files`] files are kept open.
//!
//! [`VaultOptions::optimistic_create`]: crate::VaultOptions::optimistic_create
//! [`VaultOptions::local_pinned_files`]: crate::VaultOptions::local_pinned_files

use std::collections::HashMap;
use std::fs::{File, Metadata, OpenOptions, TryLockError};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use todovault_core::vault::{KEY_PREFIX, PutOutcome, SnapshotUpload, decide_put};
use todovault_core::{Error, Result, WorkspaceId};

/// A vault folder: where its snapshots and lock files are, and what this
/// vault last wrote at each key.
#[derive(Debug)]
pub(crate) struct LocalFolder {
    root: PathBuf,
    locks_dir: PathBuf,
    pins: Mutex<HashMap<String, Pin>>,
    /// Cleared when the folder's file system refuses hard links; creates
    /// then happen under the key's lock, by rename.
    hard_links: AtomicBool,
}

/// One write to make, owned so it can move to the blocking pool.
#[derive(Debug)]
pub(crate) struct LocalWrite {
    /// The snapshot.
    pub(crate) upload: SnapshotUpload,
    /// BLAKE3 of its bytes.
    pub(crate) hash: blake3::Hash,
    /// Whether to try a lock-free create first (a todo's first version at
    /// a key this vault has not met).
    pub(crate) create_first: bool,
    /// How many written files the folder keeps open at most.
    pub(crate) pin_limit: usize,
}

/// What identifies one file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

#[cfg(unix)]
fn fingerprint(m: &Metadata) -> Option<Fingerprint> {
    use std::os::unix::fs::MetadataExt;
    Some(Fingerprint {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
    })
}

/// Without inode numbers a file cannot be recognised: always read it.
#[cfg(not(unix))]
fn fingerprint(_: &Metadata) -> Option<Fingerprint> {
    None
}

/// A file this vault wrote, kept open so its inode number stays its own,
/// with the key's lock file (unlocked) for the next put there.
#[derive(Debug)]
struct Pin {
    _file: File,
    lock: Option<File>,
    fingerprint: Fingerprint,
    hash: blake3::Hash,
    workspace: WorkspaceId,
    version: u64,
}

/// How the first trip to the blocking pool ended.
enum Step {
    Done(PutOutcome),
    /// Another writer holds the key's lock: wait for it with this file.
    Busy(File, Option<Pin>),
}

fn lock_map<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LocalFolder {
    /// The vault in folder `root`, keeping lock files in
    /// `root/vault/.locks` (created on first use).
    pub(crate) fn new(root: PathBuf) -> Self {
        Self {
            locks_dir: root.join("vault").join(".locks"),
            root,
            pins: Mutex::new(HashMap::new()),
            hard_links: AtomicBool::new(true),
        }
    }

    /// Forgets what this vault wrote at `key` (closing its files).
    pub(crate) fn forget(&self, key: &str) {
        let pin = lock_map(&self.pins).remove(key);
        drop(pin);
    }

    /// Forgets everything this vault wrote.
    pub(crate) fn forget_all(&self) {
        let pins = std::mem::take(&mut *lock_map(&self.pins));
        drop(pins);
    }

    /// Writes `write` unless the folder holds it already or a newer version:
    /// one trip to the blocking pool, plus a wait of up to `timeout` when
    /// another writer holds the key's lock.
    pub(crate) async fn put(
        self: &Arc<Self>,
        write: Arc<LocalWrite>,
        timeout: Duration,
    ) -> Result<PutOutcome> {
        let folder = Arc::clone(self);
        let first = Arc::clone(&write);
        let step = tokio::task::spawn_blocking(move || folder.first_step(&first))
            .await
            .map_err(Error::internal)??;
        let (lock_file, pin) = match step {
            Step::Done(outcome) => return Ok(outcome),
            Step::Busy(file, pin) => (file, pin),
        };
        let name = lock_name(&write.upload.key);
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
            match lock_file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    if started.elapsed() >= timeout {
                        return Err(Error::storage(format!(
                            "another writer held the vault lock for {name} for more than {} s",
                            timeout.as_secs_f32()
                        )));
                    }
                }
                Err(TryLockError::Error(e)) => {
                    return Err(Error::storage(format!(
                        "locking the vault lock file for {name}: {e}"
                    )));
                }
            }
        }
        let folder = Arc::clone(self);
        tokio::task::spawn_blocking(move || folder.locked(&write, lock_file, pin))
            .await
            .map_err(Error::internal)?
    }

    fn first_step(&self, write: &LocalWrite) -> Result<Step> {
        let key = &write.upload.key;
        if write.create_first && self.hard_links.load(Ordering::Relaxed) {
            let file = self.file_of(key);
            match self.create(write, &file) {
                Ok(Created::Written(pin)) => {
                    if let Some(mut pin) = pin.filter(|_| write.pin_limit > 0) {
                        // The key's lock file is made now, once, so that the
                        // next put here finds it open.
                        pin.lock = self.open_lock(key).ok();
                        self.keep(key, pin, write.pin_limit);
                    }
                    return Ok(Step::Done(PutOutcome::Written));
                }
                // The key exists (or cannot be created without the lock):
                // look and decide under its lock.
                Ok(Created::Exists) => {}
                Err(e) => return Err(self.io_error("writing", key, &e)),
            }
        }
        // Taken out of the map, the pin and its open lock file serve this put
        // alone: a concurrent put on the key in this process opens a lock
        // file of its own, which the kernel then keeps apart from this one.
        let mut pin = lock_map(&self.pins).remove(key);
        let name = lock_name(key);
        let lock_file = match pin.as_mut().and_then(|p| p.lock.take()) {
            Some(file) => file,
            None => self.open_lock(key).map_err(|e| {
                Error::storage(format!("opening the vault lock file for {name}: {e}"))
            })?,
        };
        match lock_file.try_lock() {
            Ok(()) => self.locked(write, lock_file, pin).map(Step::Done),
            Err(TryLockError::WouldBlock) => Ok(Step::Busy(lock_file, pin)),
            Err(TryLockError::Error(e)) => Err(Error::storage(format!(
                "locking the vault lock file for {name}: {e}"
            ))),
        }
    }

    /// Looks, decides and writes while `lock` is held, then releases it and
    /// keeps what was written (or still stands) for the next put.
    fn locked(&self, write: &LocalWrite, lock: File, pin: Option<Pin>) -> Result<PutOutcome> {
        let key = &write.upload.key;
        let (outcome, pin) = self.look_decide_write(write, pin);
        // Unlocked, the lock file stays open with the pin; if unlocking
        // fails, closing it releases the lock.
        let lock = lock.unlock().ok().map(|()| lock);
        if let Some(mut pin) = pin {
            pin.lock = lock;
            self.keep(key, pin, write.pin_limit);
        }
        outcome
    }

    /// The locked part of a put: what it did, and what the key now holds if
    /// it is a file this vault wrote.
    fn look_decide_write(
        &self,
        write: &LocalWrite,
        mut pin: Option<Pin>,
    ) -> (Result<PutOutcome>, Option<Pin>) {
        let key = &write.upload.key;
        let file = self.file_of(key);
        let io = |what: &str, e: std::io::Error| self.io_error(what, key, &e);
        // A writer without the lock can only create the file, never replace
        // it: at most one round sees it appear.
        for _ in 0..3 {
            let found = match look(pin.take(), &file) {
                Ok(found) => found,
                Err(e) => return (Err(io("reading", e)), None),
            };
            let replace = match found {
                Found::Absent => {
                    if self.hard_links.load(Ordering::Relaxed) {
                        match self.create(write, &file) {
                            Ok(Created::Written(new)) => return (Ok(PutOutcome::Written), new),
                            Ok(Created::Exists) => continue,
                            Err(e) => return (Err(io("writing", e)), None),
                        }
                    }
                    // No hard links here, so no writer creates without
                    // the lock: a rename cannot overwrite anything.
                    Ok(true)
                }
                Found::Ours(ours) => {
                    if ours.hash == write.hash {
                        return (Ok(PutOutcome::Unchanged), Some(ours));
                    }
                    if ours.workspace == write.upload.workspace_id
                        && ours.version < write.upload.version
                    {
                        Ok(true)
                    } else {
                        // A refusal is confirmed on the bytes, by core.
                        match read_if_exists(&file) {
                            Ok(Some(bytes)) => {
                                pin = Some(ours);
                                decide(write, &bytes)
                            }
                            Ok(None) => continue,
                            Err(e) => return (Err(io("reading", e)), None),
                        }
                    }
                }
                Found::Bytes(bytes) => decide(write, &bytes),
            };
            return match replace {
                Err(e) => (Err(e), pin),
                Ok(false) => (Ok(PutOutcome::Unchanged), pin),
                Ok(true) => match self.replace(write, &file) {
                    Ok(new) => (Ok(PutOutcome::Written), new),
                    Err(e) => (Err(io("writing", e)), None),
                },
            };
        }
        (
            Err(Error::conflict(format!(
                "the vault key {key} kept changing during the upload; try again"
            ))),
            None,
        )
    }

    /// Writes a staging file and links it to `file` if `file` does not
    /// exist.
    fn create(&self, write: &LocalWrite, file: &Path) -> std::io::Result<Created> {
        let (staged, staging) = stage(write, file)?;
        let linked = std::fs::hard_link(&staging, file);
        let _ = std::fs::remove_file(&staging);
        match linked {
            Ok(()) => Ok(Created::Written(staged.into_pin(write))),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(Created::Exists),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(e),
            Err(e) => {
                // This file system has no hard links: from now on creates
                // run under the lock, by rename.
                tracing::info!(folder = %self.root.display(), error = %e, "the vault folder refuses hard links; creating under the file lock");
                self.hard_links.store(false, Ordering::Relaxed);
                Ok(Created::Exists)
            }
        }
    }

    /// Writes a staging file and renames it over `file`.
    fn replace(&self, write: &LocalWrite, file: &Path) -> std::io::Result<Option<Pin>> {
        let (staged, staging) = stage(write, file)?;
        if let Err(e) = std::fs::rename(&staging, file) {
            let _ = std::fs::remove_file(&staging);
            return Err(e);
        }
        Ok(staged.into_pin(write))
    }

    /// Opens (creating it if need be) the key's lock file.
    fn open_lock(&self, key: &str) -> std::io::Result<File> {
        let name = lock_name(key);
        open_creating(
            &self.locks_dir.join(format!("{name}.lock")),
            &self.locks_dir,
        )
    }

    /// Keeps `pin` for the key, within the limit.
    fn keep(&self, key: &str, pin: Pin, limit: usize) {
        if limit == 0 {
            return;
        }
        let mut pins = lock_map(&self.pins);
        let mut evicted = None;
        if pins.len() >= limit
            && !pins.contains_key(key)
            && let Some(any) = pins.keys().next().cloned()
        {
            evicted = pins.remove(&any);
        }
        let previous = pins.insert(key.to_owned(), pin);
        drop(pins);
        // Closed outside the map's lock.
        drop((evicted, previous));
    }

    /// The snapshot's file, as LocalFileSystem lays keys out (snapshot keys
    /// are plain ASCII, so no segment needs encoding).
    fn file_of(&self, key: &str) -> PathBuf {
        key.split('/')
            .fold(self.root.clone(), |path, part| path.join(part))
    }

    fn io_error(&self, what: &str, key: &str, e: &std::io::Error) -> Error {
        Error::storage(format!(
            "{what} {key} in the vault at file://{}: {e}",
            self.root.display()
        ))
    }
}

/// How a create ended.
enum Created {
    /// The file is ours, remembered by this pin where files have one.
    Written(Option<Pin>),
    /// The file existed (or this file system cannot create without the
    /// lock); nothing was written.
    Exists,
}

/// What a key's file holds, as far as a locked put needs to know.
enum Found {
    Absent,
    /// The file this vault wrote last.
    Ours(Pin),
    Bytes(Vec<u8>),
}

/// What the key's file holds: from `pin` when it is still the file this
/// vault wrote, else from disk.
fn look(pin: Option<Pin>, file: &Path) -> std::io::Result<Found> {
    if let Some(pin) = pin {
        match std::fs::metadata(file) {
            Ok(meta) if fingerprint(&meta) == Some(pin.fingerprint) => {
                return Ok(Found::Ours(pin));
            }
            // Someone else wrote it since: the pin is stale.
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Found::Absent),
            Err(e) => return Err(e),
        }
    }
    Ok(match read_if_exists(file)? {
        Some(bytes) => Found::Bytes(bytes),
        None => Found::Absent,
    })
}

/// A new staging file beside `file` holding the snapshot, as
/// `LocalFileSystem` names them (`<file>#<n>`, skipped by listings), still
/// open.
fn stage(write: &LocalWrite, file: &Path) -> std::io::Result<(Staged, PathBuf)> {
    let mut n = 1u32;
    let mut made_parent = false;
    let (mut handle, staging) = loop {
        let mut staging = file.as_os_str().to_owned();
        staging.push(format!("#{n}"));
        let staging = PathBuf::from(staging);
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&staging)
        {
            Ok(handle) => break (handle, staging),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => n += 1,
            Err(e) if e.kind() == ErrorKind::NotFound => match file.parent() {
                Some(parent) if !made_parent => {
                    std::fs::create_dir_all(parent)?;
                    made_parent = true;
                }
                _ => return Err(e),
            },
            Err(e) => return Err(e),
        }
    };
    let written = handle
        .write_all(&write.upload.bytes)
        .and_then(|()| handle.metadata());
    match written {
        Ok(meta) => Ok((
            Staged {
                fingerprint: fingerprint(&meta),
                file: handle,
            },
            staging,
        )),
        Err(e) => {
            drop(handle);
            let _ = std::fs::remove_file(&staging);
            Err(e)
        }
    }
}

/// A written staging file, still open.
struct Staged {
    file: File,
    fingerprint: Option<Fingerprint>,
}

impl Staged {
    /// What to remember once the staging file is the key's file (nothing
    /// where files have no fingerprint).
    fn into_pin(self, write: &LocalWrite) -> Option<Pin> {
        Some(Pin {
            _file: self.file,
            lock: None,
            fingerprint: self.fingerprint?,
            hash: write.hash,
            workspace: write.upload.workspace_id.clone(),
            version: write.upload.version,
        })
    }
}

/// Whether `write` goes over `existing` (core decides; a conflict is an
/// error).
fn decide(write: &LocalWrite, existing: &[u8]) -> Result<bool> {
    Ok(decide_put(&write.upload, Some(existing))? == PutOutcome::Written)
}

/// The lock's name: the key's ULID.
fn lock_name(key: &str) -> &str {
    key.strip_prefix(KEY_PREFIX)
        .and_then(|k| k.strip_suffix(".json"))
        .unwrap_or(key)
}

fn open_creating(path: &Path, dir: &Path) -> std::io::Result<File> {
    let open = || {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
    };
    match open() {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)?;
            open()
        }
        other => other,
    }
}

fn read_if_exists(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
