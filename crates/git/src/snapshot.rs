//! [`GitSnapshot`]: the files of one commit, read straight from the
//! repository's object database.
//!
//! Listing walks the commit's tree and records each blob's path, id and size
//! (from the object header, without loading the contents). Contents are read
//! on demand, by index, from any thread: each thread gets its own
//! thread-local handle on the shared repository, so the extractor can read
//! in parallel while only the files being read are in memory.
//!
//! What is not a file to scan is left out and counted: gitlinks
//! (submodules are not followed), symbolic links (their target is a path,
//! not content, and is never followed) and Git LFS pointer files (the
//! content lives elsewhere and is not fetched).

use std::borrow::Cow;

use gix::objs::tree::EntryKind;
use todovault_core::source::{CancelFlag, ImportError, Progress, RepoSnapshot};

use crate::errors::{Redactor, from_gix};
use crate::progress::FETCH_DONE;

/// Git LFS pointer files start with this line and are smaller than 1 KiB.
const LFS_POINTER_PREFIX: &[u8] = b"version https://git-lfs.github.com/spec/v1\n";
const LFS_POINTER_MAX: u64 = 1024;

/// Entries of a commit's tree that are not listed as files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Gitlinks: submodules are not followed.
    pub submodules: u64,
    /// Symbolic links: their target is not content, and is never followed.
    pub symlinks: u64,
    /// Git LFS pointer files: the content they point to is not fetched.
    pub lfs_pointers: u64,
}

struct FileEntry {
    path: String,
    id: gix::ObjectId,
    size: u64,
}

/// The files of one commit of a git repository.
///
/// Owns the temporary repository a fetch created (if any) and removes it
/// when dropped.
pub struct GitSnapshot {
    repo: gix::ThreadSafeRepository,
    local: thread_local::ThreadLocal<gix::Repository>,
    commit: String,
    files: Vec<FileEntry>,
    skipped: Skipped,
    // Dropped last (fields drop in order), after every handle on the
    // repository inside it.
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for GitSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitSnapshot")
            .field("commit", &self.commit)
            .field("files", &self.files.len())
            .field("skipped", &self.skipped)
            .finish()
    }
}

/// What [`GitSnapshot::list`] needs besides the repository.
pub(crate) struct ListContext<'a> {
    pub(crate) redactor: &'a Redactor,
    pub(crate) max_files: u64,
    pub(crate) progress: &'a Progress,
    pub(crate) cancel: &'a CancelFlag,
}

impl GitSnapshot {
    /// Lists the tree of `commit` in `repo`.
    pub(crate) fn list(
        repo: gix::ThreadSafeRepository,
        commit: gix::ObjectId,
        temp: Option<tempfile::TempDir>,
        ctx: &ListContext<'_>,
    ) -> Result<Self, ImportError> {
        let local = repo.to_thread_local();
        let gix_err = |e: gix::Error| from_gix(&e, ctx.redactor, "reading the fetched commit");
        let mut recorder = gix::traverse::tree::Recorder::default();
        local
            .find_commit(commit)
            .map_err(gix_err)?
            .tree()
            .map_err(gix_err)?
            .traverse()
            .breadthfirst(&mut recorder)
            .map_err(gix_err)?;
        ctx.cancel.check()?;

        let total = recorder.records.len().max(1);
        let mut skipped = Skipped::default();
        let mut files = Vec::new();
        for (n, entry) in recorder.records.into_iter().enumerate() {
            if n % 1024 == 0 {
                ctx.cancel.check()?;
                ctx.progress
                    .set_fraction(FETCH_DONE + (1.0 - FETCH_DONE) * n as f64 / total as f64);
            }
            match entry.mode.kind() {
                EntryKind::Tree => continue,
                EntryKind::Commit => {
                    skipped.submodules += 1;
                    continue;
                }
                EntryKind::Link => {
                    skipped.symlinks += 1;
                    continue;
                }
                EntryKind::Blob | EntryKind::BlobExecutable => {}
            }
            let size = local.find_header(entry.oid).map_err(gix_err)?.size();
            if (LFS_POINTER_PREFIX.len() as u64..LFS_POINTER_MAX).contains(&size)
                && is_lfs_pointer(&local, entry.oid)
            {
                skipped.lfs_pointers += 1;
                continue;
            }
            if files.len() as u64 >= ctx.max_files {
                return Err(ImportError::Permanent(format!(
                    "the repository has more than {} files, the limit",
                    ctx.max_files
                )));
            }
            files.push(FileEntry {
                path: String::from_utf8_lossy(&entry.filepath).into_owned(),
                id: entry.oid,
                size,
            });
        }
        files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        if skipped != Skipped::default() {
            tracing::info!(
                repo = %ctx.redactor.display(),
                submodules = skipped.submodules,
                symlinks = skipped.symlinks,
                lfs_pointers = skipped.lfs_pointers,
                "entries that are not files to scan were skipped (submodules are not followed, symbolic links are not followed, LFS content is not fetched)"
            );
        }
        ctx.progress.set_fraction(1.0);
        Ok(Self {
            repo,
            local: thread_local::ThreadLocal::new(),
            commit: commit.to_string(),
            files,
            skipped,
            _temp: temp,
        })
    }

    /// What was left out of the listing, by kind.
    pub fn skipped(&self) -> Skipped {
        self.skipped
    }

    /// Whether the snapshot lives in a temporary repository of its own
    /// (a fetch) rather than in a repository opened in place.
    pub fn is_temporary(&self) -> bool {
        self._temp.is_some()
    }

    /// The temporary directory holding the fetched repository, if any.
    pub fn temp_path(&self) -> Option<&std::path::Path> {
        self._temp.as_ref().map(|t| t.path())
    }

    fn repo(&self) -> &gix::Repository {
        self.local.get_or(|| self.repo.to_thread_local())
    }
}

fn is_lfs_pointer(repo: &gix::Repository, id: gix::ObjectId) -> bool {
    repo.find_object(id)
        .map(|o| o.data.starts_with(LFS_POINTER_PREFIX))
        .unwrap_or(false)
}

impl RepoSnapshot for GitSnapshot {
    fn commit(&self) -> &str {
        &self.commit
    }
    fn len(&self) -> usize {
        self.files.len()
    }
    fn path(&self, index: usize) -> &str {
        self.files.get(index).map_or("", |f| f.path.as_str())
    }
    fn size(&self, index: usize) -> u64 {
        self.files.get(index).map_or(0, |f| f.size)
    }
    fn read(&self, index: usize) -> std::io::Result<Cow<'_, [u8]>> {
        let file = self.files.get(index).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file index")
        })?;
        let object = self
            .repo()
            .find_object(file.id)
            .map_err(|e| std::io::Error::other(format!("could not read {}: {e}", file.path)))?;
        Ok(Cow::Owned(object.detach().data))
    }
}

// The snapshot is read from many threads; the thread-local handles make
// that sound, and this keeps it so.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<GitSnapshot>();
};
