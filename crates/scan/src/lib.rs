//! todovault's scanner: turns a repository's files into work items.
//!
//! The scanner finds tagged comments (`TODO`, `FIXME`, `HACK`, `XXX`, `BUG`
//! by default) in source code of 40+ languages, only inside comments — never
//! in string literals, identifiers or other code — and task list items in
//! Markdown. Files come from a [`FileSource`] ([`MemorySource`] for blobs of
//! a git tree, [`DirSource`] for a directory) and are scanned in parallel.
//!
//! Speed comes from a prefilter: every file is first searched for the tag
//! words (64 bytes at a time with AVX-512 or AVX2 where the CPU has them,
//! with aho-corasick's vectorised search elsewhere), and only files holding a
//! whole-word candidate are lexed, and only as far as their last candidate.
//!
//! Modules:
//! - `lang`: the language table (comment markers, string syntaxes) and
//!   language detection by file name or extension;
//! - `lexer`: the byte lexer that finds comments;
//! - `tagsearch`: the vectorised search for the tag words;
//! - `extract`: tag recognition, metadata and continuation lines;
//! - `markdown`: task lists and HTML comments in Markdown;
//! - `skip`: the skip rules (binary, size, minified, lock, vendored,
//!   generated, `.todovaultignore`);
//! - `item`, `config`, `source`, `scan`: the public types.
//!
//! See [`Scanner`] for an example.

mod byteset;
mod config;
mod extract;
mod item;
mod lang;
mod lexer;
mod markdown;
mod scan;
mod skip;
mod source;
mod tagsearch;

pub use config::ScanConfig;
pub use item::{Item, ItemKind, Priority, TASK_TAG, fingerprint};
pub use scan::{ScanError, ScanOutput, ScanReport, Scanner};
pub use source::{DirSource, FileSource, MemorySource};

/// Names of the supported languages, for documentation and diagnostics.
pub fn language_of(path: &str) -> Option<&'static str> {
    lang::detect(path).map(|l| l.name)
}

/// Helpers shared by the unit tests of several modules.
#[cfg(test)]
mod test_support {
    /// Every text of up to three of `pieces`, the empty one included, for
    /// exhaustive checks of whitespace handling.
    pub(crate) fn texts_of_three(pieces: &[&str]) -> Vec<String> {
        let mut texts = vec![String::new()];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    texts.push(format!("{a}{b}{c}"));
                }
            }
        }
        texts
    }

    /// `t` with whitespace normalised the reference way.
    pub(crate) fn normalized(t: &str) -> String {
        t.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}
