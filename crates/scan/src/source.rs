//! Sources of files to scan: an in-memory list and a directory walker.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A set of files to scan, addressable by index so it can be read in
/// parallel.
pub trait FileSource: Sync {
    /// Number of files.
    fn len(&self) -> usize;
    /// Repository-relative, `/`-separated path of file `index` (non-UTF-8
    /// paths are converted lossily by the source).
    fn path(&self, index: usize) -> &str;
    /// Size in bytes, known without reading (used to skip large files).
    fn size(&self, index: usize) -> u64;
    /// The bytes of file `index`.
    fn read(&self, index: usize) -> io::Result<Cow<'_, [u8]>>;
    /// Whether there are no files.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Files held in memory as `(path, bytes)` pairs, for example the blobs of
/// a git tree.
///
/// ```
/// use todovault_scan::{FileSource, MemorySource};
/// let mut src = MemorySource::new(vec![("a.rs".to_string(), b"// TODO: x".to_vec())]);
/// src.push("b.py", "# FIXME y");
/// assert_eq!(src.len(), 2);
/// assert_eq!(src.path(1), "b.py");
/// assert_eq!(src.size(0), 10);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemorySource {
    files: Vec<(String, Vec<u8>)>,
}

impl MemorySource {
    /// A source over the given files.
    pub fn new(files: Vec<(String, Vec<u8>)>) -> Self {
        MemorySource { files }
    }

    /// Adds a file.
    pub fn push(&mut self, path: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.files.push((path.into(), bytes.into()));
    }
}

impl FromIterator<(String, Vec<u8>)> for MemorySource {
    fn from_iter<I: IntoIterator<Item = (String, Vec<u8>)>>(iter: I) -> Self {
        MemorySource::new(iter.into_iter().collect())
    }
}

impl FileSource for MemorySource {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn path(&self, index: usize) -> &str {
        self.files.get(index).map_or("", |f| f.0.as_str())
    }

    fn size(&self, index: usize) -> u64 {
        self.files.get(index).map_or(0, |f| f.1.len() as u64)
    }

    fn read(&self, index: usize) -> io::Result<Cow<'_, [u8]>> {
        match self.files.get(index) {
            Some(f) => Ok(Cow::Borrowed(&f.1)),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no such file index",
            )),
        }
    }
}

#[derive(Debug)]
struct DirEntry {
    rel: String,
    abs: PathBuf,
    /// `u64::MAX` until first asked for.
    size: AtomicU64,
}

/// The regular files under a directory, in path order. Symbolic links are
/// not followed (and not listed); `.git` directories are skipped. Sizes are
/// read from file metadata on first use (without reading the file).
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use todovault_scan::{DirSource, FileSource};
/// let dir = std::env::temp_dir().join(format!("tv-doc-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("src"))?;
/// std::fs::write(dir.join("src/main.rs"), "// TODO: x\n")?;
/// let src = DirSource::open(&dir)?;
/// assert_eq!(src.len(), 1);
/// assert_eq!(src.path(0), "src/main.rs");
/// assert_eq!(src.size(0), 11);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct DirSource {
    root: PathBuf,
    entries: Vec<DirEntry>,
}

impl DirSource {
    /// Walks `root` and lists its regular files. Fails if `root` cannot be
    /// read; unreadable subdirectories are skipped.
    pub fn open(root: impl AsRef<Path>) -> io::Result<Self> {
        let root = root.as_ref().to_path_buf();
        let mut entries = Vec::new();
        let mut stack: Vec<(PathBuf, String)> = vec![(root.clone(), String::new())];
        let mut first = true;
        while let Some((dir, prefix)) = stack.pop() {
            let rd = match std::fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if first => return Err(e),
                Err(_) => continue,
            };
            first = false;
            for ent in rd {
                let Ok(ent) = ent else { continue };
                let Ok(ft) = ent.file_type() else { continue };
                let name = ent.file_name();
                let name = name.to_string_lossy();
                if name == ".git" {
                    continue;
                }
                let rel = if prefix.is_empty() {
                    name.into_owned()
                } else {
                    format!("{prefix}/{name}")
                };
                if ft.is_dir() {
                    stack.push((ent.path(), rel));
                } else if ft.is_file() {
                    entries.push(DirEntry {
                        rel,
                        abs: ent.path(),
                        size: AtomicU64::new(u64::MAX),
                    });
                }
            }
        }
        entries.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
        Ok(DirSource { root, entries })
    }

    /// The directory this source walked.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl FileSource for DirSource {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn path(&self, index: usize) -> &str {
        self.entries.get(index).map_or("", |e| e.rel.as_str())
    }

    fn size(&self, index: usize) -> u64 {
        let Some(e) = self.entries.get(index) else {
            return 0;
        };
        let cached = e.size.load(Ordering::Relaxed);
        if cached != u64::MAX {
            return cached;
        }
        let size = std::fs::symlink_metadata(&e.abs).map_or(0, |m| m.len());
        e.size.store(size, Ordering::Relaxed);
        size
    }

    fn read(&self, index: usize) -> io::Result<Cow<'_, [u8]>> {
        let Some(e) = self.entries.get(index) else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no such file index",
            ));
        };
        let mut f = File::open(&e.abs)?;
        let hint = e.size.load(Ordering::Relaxed);
        let cap = if hint == u64::MAX {
            8 * 1024
        } else {
            usize::try_from(hint).unwrap_or(0).saturating_add(1)
        };
        let mut buf = Vec::with_capacity(cap);
        f.read_to_end(&mut buf)?;
        Ok(Cow::Owned(buf))
    }
}
