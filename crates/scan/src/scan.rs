//! The scanner: per-file extraction and the parallel scan of a source.

use crate::config::ScanConfig;
use crate::extract::{ExtractBuffers, LineCounter, Opts, Tags, extract_code};
use crate::item::{Hashing, Item, finalize, sort_by_line};
use crate::lang;
use crate::markdown::extract_markdown;
use crate::skip::{BINARY_PROBE, GeneratedMarkers, PathRules, Skip, is_binary, is_minified};
use crate::source::FileSource;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Counts of what a scan did with each file. Every file of the source is
/// counted exactly once: as scanned, as skipped for one reason, or as a read
/// error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Files in the source.
    pub files_total: usize,
    /// Files whose content was scanned.
    pub files_scanned: usize,
    /// Bytes of the scanned files.
    pub bytes_scanned: u64,
    /// Files with a NUL byte in their first 8 KiB.
    pub skipped_binary: usize,
    /// Files over [`ScanConfig::max_file_size`].
    pub skipped_too_large: usize,
    /// `*.min.*` files and files with very long lines.
    pub skipped_minified: usize,
    /// Lock files (`Cargo.lock`, `package-lock.json`, `*.lock`, ...).
    pub skipped_lock: usize,
    /// Files in vendored directories or marked `linguist-vendored`.
    pub skipped_vendored: usize,
    /// Files in generated directories, marked `linguist-generated`, or
    /// carrying a generated-code marker.
    pub skipped_generated: usize,
    /// Files matched by `.todovaultignore` or inside `.git`.
    pub skipped_ignored: usize,
    /// Files whose language is not known.
    pub skipped_unknown_language: usize,
    /// Files (including rule files) that could not be read.
    pub read_errors: usize,
    /// Comment items found.
    pub comments: usize,
    /// Markdown task items found.
    pub tasks: usize,
}

/// The result of [`Scanner::scan`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanOutput {
    /// All items, sorted by path, then line, then order of appearance.
    /// `parent` indices refer to this vector.
    pub items: Vec<Item>,
    /// What happened to each file.
    pub report: ScanReport,
}

/// Why a scan stopped without a result.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The cancel flag was set.
    #[error("scan cancelled")]
    Cancelled,
    /// The worker thread pool could not be created.
    #[error("cannot start scan threads: {0}")]
    ThreadPool(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Scanned(u64),
    Skipped(Skip),
    Binary,
    TooLarge,
    Unknown,
    ReadError,
}

/// What a batch of files yields: its outcome counts, the items of its
/// files in one vector, and for each file with items its index and how
/// many items it has. Counting inside the batch keeps the serial merge at
/// the end proportional to the files with items, not to all files.
#[derive(Default)]
struct BatchResult {
    report: ScanReport,
    items: Vec<Item>,
    files: Vec<(usize, usize)>,
}

/// Buffers a worker reuses from file to file.
#[derive(Default)]
struct Scratch {
    cands: Vec<usize>,
    extract: ExtractBuffers,
    hashing: Hashing,
}

impl ScanReport {
    /// Counts one file's outcome.
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Scanned(n) => {
                self.files_scanned += 1;
                self.bytes_scanned += n;
            }
            Outcome::Skipped(Skip::Ignored) => self.skipped_ignored += 1,
            Outcome::Skipped(Skip::Vendored) => self.skipped_vendored += 1,
            Outcome::Skipped(Skip::Generated) => self.skipped_generated += 1,
            Outcome::Skipped(Skip::Lock) => self.skipped_lock += 1,
            Outcome::Skipped(Skip::Minified) => self.skipped_minified += 1,
            Outcome::Binary => self.skipped_binary += 1,
            Outcome::TooLarge => self.skipped_too_large += 1,
            Outcome::Unknown => self.skipped_unknown_language += 1,
            Outcome::ReadError => self.read_errors += 1,
        }
    }

    /// Adds the counts of `other`.
    fn add(&mut self, other: &ScanReport) {
        // Destructured so that a new field cannot be forgotten here.
        let ScanReport {
            files_total,
            files_scanned,
            bytes_scanned,
            skipped_binary,
            skipped_too_large,
            skipped_minified,
            skipped_lock,
            skipped_vendored,
            skipped_generated,
            skipped_ignored,
            skipped_unknown_language,
            read_errors,
            comments,
            tasks,
        } = *other;
        self.files_total += files_total;
        self.files_scanned += files_scanned;
        self.bytes_scanned += bytes_scanned;
        self.skipped_binary += skipped_binary;
        self.skipped_too_large += skipped_too_large;
        self.skipped_minified += skipped_minified;
        self.skipped_lock += skipped_lock;
        self.skipped_vendored += skipped_vendored;
        self.skipped_generated += skipped_generated;
        self.skipped_ignored += skipped_ignored;
        self.skipped_unknown_language += skipped_unknown_language;
        self.read_errors += read_errors;
        self.comments += comments;
        self.tasks += tasks;
    }
}

/// Finds work items in files: tagged comments in source code and task
/// lists in Markdown.
///
/// ```
/// use std::sync::atomic::AtomicBool;
/// use todovault_scan::{ItemKind, MemorySource, ScanConfig, Scanner};
///
/// let scanner = Scanner::new(ScanConfig::default());
///
/// // One file at a time:
/// let items = scanner.scan_bytes("src/lib.rs", b"let s = \"TODO no\"; // TODO(alice, #12): real\n");
/// assert_eq!(items.len(), 1);
/// assert_eq!(items[0].tag, "TODO");
/// assert_eq!(items[0].text, "real");
/// assert_eq!(items[0].author.as_deref(), Some("alice"));
/// assert_eq!(items[0].issue.as_deref(), Some("#12"));
///
/// // A whole source, in parallel:
/// let mut files = MemorySource::default();
/// files.push("README.md", "- [ ] write docs\n  - [x] outline\n");
/// files.push("node_modules/x/index.js", "// TODO vendored");
/// let out = scanner
///     .scan(&files, &|_done, _total| {}, &AtomicBool::new(false))
///     .expect("not cancelled");
/// assert_eq!(out.items.len(), 2);
/// assert_eq!(out.items[0].kind, ItemKind::Task);
/// assert_eq!(out.items[1].parent, Some(0));
/// assert_eq!(out.report.skipped_vendored, 1);
/// ```
#[derive(Debug, Clone)]
pub struct Scanner {
    config: ScanConfig,
    tags: Tags,
    generated: GeneratedMarkers,
}

impl Scanner {
    /// A scanner with the given configuration.
    pub fn new(config: ScanConfig) -> Self {
        let tags = Tags::new(&config.tags).with_priorities(|t| config.priority_of(t));
        Scanner {
            config,
            tags,
            generated: GeneratedMarkers::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ScanConfig {
        &self.config
    }

    fn opts(&self) -> Opts {
        Opts {
            max_continuation_lines: self.config.max_continuation_lines,
        }
    }

    /// Scans one file's bytes. No skip rule applies except the binary check
    /// (and an unknown language yields nothing). Items' `parent` indices
    /// refer to the returned vector.
    pub fn scan_bytes(&self, path: &str, bytes: &[u8]) -> Vec<Item> {
        match lang::detect(path) {
            Some(language) if !is_binary(bytes) => self.extract(language, path, bytes),
            _ => Vec::new(),
        }
    }

    fn extract(&self, language: &'static lang::Language, path: &str, bytes: &[u8]) -> Vec<Item> {
        let cands = self.candidates(language, bytes, true);
        self.extract_with(language, path, bytes, cands.as_deref())
    }

    /// Extracts one file's items into a new vector.
    fn extract_with(
        &self,
        language: &'static lang::Language,
        path: &str,
        bytes: &[u8],
        cands: Option<&[usize]>,
    ) -> Vec<Item> {
        let mut items = Vec::new();
        let mut scratch = Scratch::default();
        self.extract_into(language, path, bytes, cands, &mut scratch, &mut items);
        items
    }

    /// Candidate tag offsets for a code file (`None` for Markdown).
    fn candidates(
        &self,
        language: &'static lang::Language,
        bytes: &[u8],
        prefilter: bool,
    ) -> Option<Vec<usize>> {
        let syn = language.syntax?;
        Some(
            self.tags
                .candidates(bytes, prefilter && syn.openers_end_in_punctuation()),
        )
    }

    /// Extracts one file's items and appends them to `out`; their `parent`
    /// indices count from the file's first item. Returns how many there
    /// are.
    fn extract_into(
        &self,
        language: &'static lang::Language,
        path: &str,
        bytes: &[u8],
        cands: Option<&[usize]>,
        scratch: &mut Scratch,
        out: &mut Vec<Item>,
    ) -> usize {
        let start = out.len();
        match (language.syntax, cands) {
            (Some(syn), Some(cands)) => {
                if cands.is_empty() {
                    return 0;
                }
                // Every item sits at a candidate.
                out.reserve(cands.len());
                let mut lines = LineCounter::new(bytes);
                extract_code(
                    syn,
                    bytes,
                    (0, bytes.len()),
                    cands,
                    &self.tags,
                    self.opts(),
                    &mut lines,
                    &mut scratch.extract,
                    out,
                );
            }
            (Some(_), None) => return 0,
            (None, _) => out.extend(extract_markdown(
                bytes,
                &self.tags,
                self.opts(),
                self.config.markdown_tasks,
            )),
        }
        if out.len() == start {
            return 0;
        }
        sort_by_line(out, start);
        finalize(&mut out[start..], path, &mut scratch.hashing);
        out.len() - start
    }

    /// Scans file `index`, appending its items to `out` (see
    /// [`Scanner::extract_into`]); returns its outcome and how many items
    /// it has.
    fn scan_one(
        &self,
        source: &dyn FileSource,
        index: usize,
        rules: &PathRules,
        scratch: &mut Scratch,
        out: &mut Vec<Item>,
    ) -> (Outcome, usize) {
        let done = |outcome| (outcome, 0);
        let path = source.path(index);
        if let Some(skip) = rules.classify(path) {
            return done(Outcome::Skipped(skip));
        }
        let Some(language) = lang::detect(path) else {
            return done(Outcome::Unknown);
        };
        if source.size(index) > self.config.max_file_size {
            return done(Outcome::TooLarge);
        }
        let bytes = match source.read(index) {
            Ok(b) => b,
            Err(_) => return done(Outcome::ReadError),
        };
        if bytes.len() as u64 > self.config.max_file_size {
            return done(Outcome::TooLarge);
        }
        // The tag search runs first: it streams the file from memory into the
        // cache, where the content checks below are then cheap, and it
        // answers the binary check on the way.
        let binary = match language.syntax {
            Some(syn) => self.tags.search(
                &bytes,
                syn.openers_end_in_punctuation(),
                BINARY_PROBE,
                &mut scratch.cands,
            ),
            None => is_binary(&bytes),
        };
        if binary {
            return done(Outcome::Binary);
        }
        if is_minified(&bytes) {
            return done(Outcome::Skipped(Skip::Minified));
        }
        if self.generated.is_generated(&bytes) {
            return done(Outcome::Skipped(Skip::Generated));
        }
        // Moved out for the call, which borrows the rest of the scratch.
        let cands = std::mem::take(&mut scratch.cands);
        let found = self.extract_into(
            language,
            path,
            &bytes,
            language.syntax.map(|_| cands.as_slice()),
            scratch,
            out,
        );
        scratch.cands = cands;
        (Outcome::Scanned(bytes.len() as u64), found)
    }

    /// Scans all files of `source` in parallel (on [`ScanConfig::threads`]
    /// threads, all cores by default), applying the skip rules.
    ///
    /// `progress(done, total)` is called from worker threads as files
    /// complete (throttled) and once with `(total, total)` at the end.
    /// `cancel` is checked before each file; once it is set the scan stops
    /// and returns [`ScanError::Cancelled`].
    ///
    /// The output is deterministic: items are sorted by path, then line,
    /// then order of appearance, whatever the thread scheduling.
    pub fn scan(
        &self,
        source: &dyn FileSource,
        progress: &(dyn Fn(usize, usize) + Sync),
        cancel: &AtomicBool,
    ) -> Result<ScanOutput, ScanError> {
        let total = source.len();
        if cancel.load(Ordering::Relaxed) {
            return Err(ScanError::Cancelled);
        }
        let rules = PathRules::load(source, &self.config);
        let done = AtomicUsize::new(0);
        // Files are handed out in small batches so that the shared progress
        // counter is touched once per batch rather than once per file.
        const BATCH: usize = 16;
        let batches = total.div_ceil(BATCH);
        let step = (total / 100).clamp(BATCH, 1024);
        let work = || {
            (0..batches)
                .into_par_iter()
                .map(|b| {
                    let range = b * BATCH..((b + 1) * BATCH).min(total);
                    let files = range.len();
                    let mut out = BatchResult::default();
                    let mut scratch = Scratch::default();
                    // Every file's scan starts by reading its path, and
                    // paths live in allocations of their own: ask for the
                    // batch's paths at once rather than miss on each.
                    for i in range.clone() {
                        prefetch(source.path(i).as_bytes());
                    }
                    for i in range {
                        if cancel.load(Ordering::Relaxed) {
                            return Err(ScanError::Cancelled);
                        }
                        let (outcome, found) =
                            self.scan_one(source, i, &rules, &mut scratch, &mut out.items);
                        out.report.count(outcome);
                        if found > 0 {
                            // From here on `parent` counts from the batch's
                            // first item.
                            let first = out.items.len() - found;
                            for it in &mut out.items[first..] {
                                it.parent = it.parent.map(|p| p + first);
                                match it.kind {
                                    crate::ItemKind::Comment => out.report.comments += 1,
                                    crate::ItemKind::Task => out.report.tasks += 1,
                                }
                            }
                            out.files.push((i, found));
                        }
                    }
                    let before = done.fetch_add(files, Ordering::Relaxed);
                    let d = before + files;
                    if d / step != before / step && d < total {
                        progress(d, total);
                    }
                    Ok(out)
                })
                .collect::<Result<Vec<BatchResult>, ScanError>>()
        };
        let results = match self.config.threads {
            Some(n) => rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build()
                .map_err(|e| ScanError::ThreadPool(e.to_string()))?
                .install(work),
            None => work(),
        }?;
        if cancel.load(Ordering::Relaxed) {
            return Err(ScanError::Cancelled);
        }
        progress(total, total);

        let mut report = ScanReport {
            files_total: total,
            read_errors: rules.read_errors,
            ..ScanReport::default()
        };
        // Files with items: (path, index, batch, first item in the batch,
        // number of items), in source order.
        let mut files: Vec<(&str, usize, usize, usize, usize)> = Vec::new();
        let mut batches = Vec::with_capacity(results.len());
        for (b, batch) in results.into_iter().enumerate() {
            report.add(&batch.report);
            let mut first = 0;
            for &(index, n) in &batch.files {
                files.push((source.path(index), index, b, first, n));
                first += n;
            }
            batches.push(batch.items);
        }
        let mut items = Vec::with_capacity(batches.iter().map(Vec::len).sum());
        // Directory walks and git trees list files in path order; then the
        // batches only need to be joined.
        if files.windows(2).all(|w| w[0].0 <= w[1].0) {
            for mut batch in batches {
                let base = items.len();
                for it in &mut batch {
                    it.parent = it.parent.map(|p| p + base);
                }
                items.append(&mut batch);
            }
        } else {
            // Indices are distinct, so the order is total and an unstable
            // sort gives the same result as a stable one.
            files.sort_unstable_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
            let mut slots: Vec<Vec<Option<Item>>> = batches
                .into_iter()
                .map(|b| b.into_iter().map(Some).collect())
                .collect();
            for &(_, _, b, first, n) in &files {
                // A file's parents are its own items, so `p >= first`.
                let base = items.len();
                let file = slots[b][first..first + n]
                    .iter_mut()
                    .filter_map(Option::take)
                    .map(|mut it| {
                        it.parent = it
                            .parent
                            .and_then(|p| p.checked_sub(first))
                            .map(|q| q + base);
                        it
                    });
                items.extend(file);
            }
        }
        Ok(ScanOutput { items, report })
    }
}

/// Asks the CPU to start loading the first bytes of `bytes` into the
/// cache.
#[inline(always)]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86-64 baseline; a prefetch is only a hint
    // and never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(bytes.as_ptr().cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PIECES: &[&str] = &[
        "TODO", "@FIXME", "HACK:", "XXX(", "BUG #1", "x", "=", "(", "//", "/*", "*/", "#", "--",
        ";", "%", "\"", "'", "`", "\"\"\"", "{-", "-}", "(*", "*)", "<!--", "-->", "\\", "\n", " ",
        "\t", "*", "!", "=begin\n", "\n=end\n", "=pod\n", "\n=cut\n", "[[", "]]", "--[[",
    ];
    const EXTS: &[&str] = &[
        "rs", "c", "py", "rb", "pl", "sh", "lua", "hs", "ml", "html", "sql", "jl", "scm", "tex",
        "yaml", "js", "cs", "cmake", "ps1", "nim",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 800, ..ProptestConfig::default() })]

        /// The candidate prefilter never changes the result.
        #[test]
        fn prefilter_is_exact(
            ext in prop::sample::select(EXTS),
            parts in prop::collection::vec(prop::sample::select(PIECES), 0..60),
        ) {
            let s = Scanner::new(ScanConfig::default());
            let path = format!("f.{ext}");
            let bytes = parts.concat().into_bytes();
            let lang = lang::detect(&path).expect("known extension");
            prop_assert_eq!(
                s.extract_with(lang, &path, &bytes, s.candidates(lang, &bytes, true).as_deref()),
                s.extract_with(lang, &path, &bytes, s.candidates(lang, &bytes, false).as_deref())
            );
        }
    }
}
