//! OS file locks for vaults in a local folder.
//!
//! `LocalFileSystem` cannot replace a file only if it is still the version
//! that was read (no `If-Match`), so a write there holds an exclusive
//! `flock` on a lock file while it reads, decides and replaces. The lock
//! files live in `vault/.locks/`, beside the snapshots' folder but outside
//! what a listing walks; they stay empty and are reused. The kernel drops a
//! lock when its holder exits, so a crashed writer never blocks the vault.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use todovault_core::{Error, Result};

/// Where a local vault keeps its lock files.
#[derive(Debug, Clone)]
pub(crate) struct FileLocks {
    dir: PathBuf,
    /// The folder the snapshots' keys are relative to.
    pub(crate) root: PathBuf,
}

/// An exclusive lock, released when dropped (closing the file releases it).
#[derive(Debug)]
pub(crate) struct HeldLock {
    _file: File,
}

impl FileLocks {
    /// Lock files for the vault in folder `root`, kept in
    /// `root/vault/.locks` (created on first use).
    pub(crate) fn new(root: PathBuf) -> Self {
        Self {
            dir: root.join("vault").join(".locks"),
            root,
        }
    }

    /// Waits up to `timeout` for the exclusive lock named `name`, then reads
    /// `file` (`None` if it does not exist). Opening, locking and reading
    /// happen in one trip to the blocking pool when the lock is free.
    pub(crate) async fn acquire_and_read(
        &self,
        name: &str,
        file: PathBuf,
        timeout: Duration,
    ) -> Result<(HeldLock, Option<Vec<u8>>)> {
        let path = self.dir.join(format!("{name}.lock"));
        let dir = self.dir.clone();
        let read_path = file.clone();
        let (lock_file, first_read) = tokio::task::spawn_blocking(move || {
            let lock_file = open_creating(&path, &dir)?;
            match lock_file.try_lock() {
                Ok(()) => {
                    let bytes = read_if_exists(&read_path)?;
                    Ok((lock_file, Some(bytes)))
                }
                Err(TryLockError::WouldBlock) => Ok((lock_file, None)),
                Err(TryLockError::Error(e)) => Err(e),
            }
        })
        .await
        .map_err(Error::internal)?
        .map_err(|e| {
            Error::storage(format!("locking or reading the vault file for {name}: {e}"))
        })?;
        if let Some(bytes) = first_read {
            return Ok((HeldLock { _file: lock_file }, bytes));
        }

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
        let held = HeldLock { _file: lock_file };
        let bytes = tokio::task::spawn_blocking(move || read_if_exists(&file))
            .await
            .map_err(Error::internal)?
            .map_err(|e| Error::storage(format!("reading the vault file for {name}: {e}")))?;
        Ok((held, bytes))
    }
}

fn open_creating(path: &std::path::Path, dir: &std::path::Path) -> std::io::Result<File> {
    let open = || {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
    };
    match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)?;
            open()
        }
        other => other,
    }
}

fn read_if_exists(path: &std::path::Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
