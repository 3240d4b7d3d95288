//! Skip rules: which files are not scanned, and why.
//!
//! Path rules are checked before a file is read: `.todovaultignore`
//! (gitignore syntax, at the source root), `.git` path components, vendored
//! and generated directories (configurable names, plus `.gitattributes`
//! `linguist-vendored` / `linguist-generated` patterns), lock files, and
//! `*.min.*` names. Content rules run after reading: binary files (a NUL
//! byte in the first 8 KiB), minified files (very long lines) and generated
//! files (an `@generated` or `Code generated ... DO NOT EDIT` marker in the
//! first KiB).

use crate::config::ScanConfig;
use crate::lang::file_name;
use crate::source::FileSource;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use memchr::memmem;

/// Why a file was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    Ignored,
    Vendored,
    Generated,
    Lock,
    Minified,
}

/// The path rules of one source.
#[derive(Debug, Default)]
pub(crate) struct PathRules {
    ignore: Option<Gitignore>,
    vendored: Option<Gitignore>,
    generated: Option<Gitignore>,
    vendored_dirs: Vec<String>,
    generated_dirs: Vec<String>,
    /// [`length_mask`] of the vendored and generated directory names, and
    /// whether one of them is 64 bytes or longer.
    dir_lengths: u64,
    long_dir_name: bool,
    /// Read errors while loading the rule files.
    pub read_errors: usize,
}

const LOCK_FILES: &[&str] = &[
    "Cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "go.sum",
    "poetry.lock",
    "Pipfile.lock",
    "uv.lock",
    "pdm.lock",
    "Gemfile.lock",
    "composer.lock",
    "mix.lock",
    "pubspec.lock",
    "Podfile.lock",
    "flake.lock",
    "packages.lock.json",
    "gradle.lockfile",
    "Package.resolved",
    "conan.lock",
    "deno.lock",
];

/// Bit `n` is set when some name of `names` is `n` bytes long (names of 64
/// bytes or more set no bit and must be compared anyway). Most path
/// components and file names differ in length from every listed name, so
/// one bit test rules them out.
const fn length_mask(names: &[&str]) -> u64 {
    let mut mask = 0u64;
    let mut k = 0;
    while k < names.len() {
        let n = names[k].len();
        mask |= if n < 64 { 1 << n } else { 0 };
        k += 1;
    }
    mask
}

const LOCK_FILE_LENGTHS: u64 = length_mask(LOCK_FILES);

/// Whether a name `len` bytes long may be in a list whose lengths are
/// `mask`.
fn may_match(mask: u64, long_names: bool, len: usize) -> bool {
    if len < 64 {
        mask & (1 << len) != 0
    } else {
        long_names
    }
}

fn build(lines: &[String]) -> Option<Gitignore> {
    if lines.is_empty() {
        return None;
    }
    let mut b = GitignoreBuilder::new(".");
    for l in lines {
        // Invalid patterns are ignored rather than failing the scan.
        let _ = b.add_line(None, l);
    }
    b.build().ok().filter(|g| !g.is_empty())
}

fn matches(g: &Option<Gitignore>, path: &str) -> bool {
    let Some(g) = g else { return false };
    let p = path.trim_start_matches('/');
    if p.is_empty() {
        return false;
    }
    g.matched_path_or_any_parents(p, false).is_ignore()
}

impl PathRules {
    /// Loads `.todovaultignore` and `.gitattributes` from the source root.
    pub(crate) fn load(source: &dyn FileSource, config: &ScanConfig) -> PathRules {
        let dirs: Vec<&str> = config
            .vendored_dirs
            .iter()
            .chain(&config.generated_dirs)
            .map(String::as_str)
            .collect();
        let mut rules = PathRules {
            vendored_dirs: config.vendored_dirs.clone(),
            generated_dirs: config.generated_dirs.clone(),
            dir_lengths: length_mask(&dirs),
            long_dir_name: dirs.iter().any(|d| d.len() >= 64),
            ..PathRules::default()
        };
        let mut ignore_lines = Vec::new();
        let mut vendored = Vec::new();
        let mut generated = Vec::new();
        for i in 0..source.len() {
            let path = source.path(i);
            if path != ".todovaultignore" && path != ".gitattributes" {
                continue;
            }
            let bytes = match source.read(i) {
                Ok(b) => b,
                Err(_) => {
                    rules.read_errors += 1;
                    continue;
                }
            };
            let text = String::from_utf8_lossy(&bytes);
            if path == ".todovaultignore" {
                ignore_lines.extend(text.lines().map(str::to_string));
            } else {
                parse_gitattributes(&text, &mut vendored, &mut generated);
            }
        }
        rules.ignore = build(&ignore_lines);
        rules.vendored = build(&vendored);
        rules.generated = build(&generated);
        rules
    }

    /// The skip reason decided by the path alone, if any.
    pub(crate) fn classify(&self, path: &str) -> Option<Skip> {
        // A byte split: paths are short, and `str::split` pays for a
        // general searcher on every call.
        let mut vendored_dir = false;
        let mut generated_dir = false;
        let mut rest = path.trim_end_matches('/').as_bytes();
        while let Some(slash) = rest.iter().position(|&b| b == b'/') {
            let c = &rest[..slash];
            rest = &rest[slash + 1..];
            if c == b".git" {
                return Some(Skip::Ignored);
            }
            if !c.is_empty() && may_match(self.dir_lengths, self.long_dir_name, c.len()) {
                vendored_dir |= self.vendored_dirs.iter().any(|d| d.as_bytes() == c);
                generated_dir |= self.generated_dirs.iter().any(|d| d.as_bytes() == c);
            }
        }
        if rest == b".git" {
            return Some(Skip::Ignored);
        }
        if matches(&self.ignore, path) {
            return Some(Skip::Ignored);
        }
        if vendored_dir || matches(&self.vendored, path) {
            return Some(Skip::Vendored);
        }
        if generated_dir || matches(&self.generated, path) {
            return Some(Skip::Generated);
        }
        let name = file_name(path);
        if (may_match(LOCK_FILE_LENGTHS, false, name.len()) && LOCK_FILES.contains(&name))
            || (name.ends_with(".lock") && name.len() > 5)
        {
            return Some(Skip::Lock);
        }
        if name.as_bytes().windows(5).any(|w| w == b".min.") {
            return Some(Skip::Minified);
        }
        None
    }
}

fn parse_gitattributes(text: &str, vendored: &mut Vec<String>, generated: &mut Vec<String>) {
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let Some(pattern) = parts.next() else {
            continue;
        };
        for attr in parts {
            let (name, on) =
                if let Some(n) = attr.strip_prefix('-').or_else(|| attr.strip_prefix('!')) {
                    (n, false)
                } else if let Some((n, v)) = attr.split_once('=') {
                    (n, !matches!(v, "false" | "0"))
                } else {
                    (attr, true)
                };
            let list = match name {
                "linguist-vendored" => &mut *vendored,
                "linguist-generated" => &mut *generated,
                _ => continue,
            };
            list.push(if on {
                pattern.to_string()
            } else {
                format!("!{pattern}")
            });
        }
    }
}

/// How many leading bytes the binary check looks at.
pub(crate) const BINARY_PROBE: usize = 8192;

/// Whether the bytes look binary: a NUL byte in the first 8 KiB.
pub(crate) fn is_binary(bytes: &[u8]) -> bool {
    memchr::memchr(0, &bytes[..bytes.len().min(BINARY_PROBE)]).is_some()
}

/// Whether there is no newline in `bytes[from..from + window]`.
fn long_line_at(bytes: &[u8], from: usize, window: usize) -> bool {
    let end = bytes.len().min(from + window);
    from + window <= bytes.len() && memchr::memchr(b'\n', &bytes[from..end]).is_none()
}

/// Whether the bytes look minified: the first line is longer than 4 KiB, or
/// at two of three sample points (start, one third, two thirds) the next
/// 1 KiB has no line break.
pub(crate) fn is_minified(bytes: &[u8]) -> bool {
    // One search answers both questions about the start of the file.
    let first_newline =
        memchr::memchr(b'\n', &bytes[..bytes.len().min(4096)]).unwrap_or(usize::MAX);
    if bytes.len() >= 4096 && first_newline == usize::MAX {
        return true;
    }
    if bytes.len() < 3 * 1024 {
        return false;
    }
    let n = bytes.len();
    let long_at_start = first_newline >= 1024;
    let long_later = [n / 3, 2 * n / 3]
        .iter()
        .filter(|&&p| long_line_at(bytes, p, 1024))
        .count();
    usize::from(long_at_start) + long_later >= 2
}

/// Finders for the generated-file markers.
#[derive(Debug, Clone)]
pub(crate) struct GeneratedMarkers {
    generated: memmem::Finder<'static>,
    at_generated: memmem::Finder<'static>,
    code_generated: memmem::Finder<'static>,
    do_not_edit: memmem::Finder<'static>,
}

impl GeneratedMarkers {
    pub(crate) fn new() -> Self {
        GeneratedMarkers {
            generated: memmem::Finder::new(b"generated").into_owned(),
            at_generated: memmem::Finder::new(b"@generated").into_owned(),
            code_generated: memmem::Finder::new(b"Code generated").into_owned(),
            do_not_edit: memmem::Finder::new(b"DO NOT EDIT").into_owned(),
        }
    }

    /// Whether the first KiB carries a generated-file marker.
    pub(crate) fn is_generated(&self, bytes: &[u8]) -> bool {
        let head = &bytes[..bytes.len().min(1024)];
        if self.generated.find(head).is_none() {
            return false;
        }
        self.at_generated.find(head).is_some()
            || (self.code_generated.find(head).is_some() && self.do_not_edit.find(head).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemorySource;

    #[test]
    fn configured_directory_names_of_any_length() {
        let long = "d".repeat(70);
        let config = ScanConfig {
            vendored_dirs: vec![long.clone(), "v".to_string()],
            generated_dirs: vec!["gen".to_string()],
            ..ScanConfig::default()
        };
        let rules = PathRules::load(&MemorySource::default(), &config);
        assert_eq!(
            rules.classify(&format!("a/{long}/b.c")),
            Some(Skip::Vendored)
        );
        assert_eq!(rules.classify(&format!("a/{long}x/b.c")), None);
        assert_eq!(rules.classify("v/b.c"), Some(Skip::Vendored));
        assert_eq!(rules.classify("a/gen/b.c"), Some(Skip::Generated));
        assert_eq!(rules.classify("node_modules/b.c"), None);
    }

    #[test]
    fn path_rules() {
        let mut src = MemorySource::default();
        src.push(".todovaultignore", "secret/\n*.gen.rs\n!keep.gen.rs\n");
        src.push(".gitattributes", "docs/api/** linguist-generated\nlibs/** linguist-vendored\nlibs/own/** -linguist-vendored\n");
        let rules = PathRules::load(&src, &ScanConfig::default());
        assert_eq!(rules.classify("secret/a.rs"), Some(Skip::Ignored));
        assert_eq!(rules.classify("x/y.gen.rs"), Some(Skip::Ignored));
        assert_eq!(rules.classify("x/keep.gen.rs"), None);
        assert_eq!(rules.classify("docs/api/a.js"), Some(Skip::Generated));
        assert_eq!(rules.classify("libs/z/a.c"), Some(Skip::Vendored));
        assert_eq!(rules.classify("libs/own/a.c"), None);
        assert_eq!(
            rules.classify("web/node_modules/x/i.js"),
            Some(Skip::Vendored)
        );
        // Directory names count as directories only, anywhere in the path.
        assert_eq!(rules.classify("vendor"), None);
        assert_eq!(rules.classify("src/vendor"), None);
        assert_eq!(rules.classify("/vendor//a.c"), Some(Skip::Vendored));
        assert_eq!(rules.classify("a/build/b/c.rs"), Some(Skip::Generated));
        assert_eq!(rules.classify("a/.git"), Some(Skip::Ignored));
        assert_eq!(rules.classify(".git/config"), Some(Skip::Ignored));
        assert_eq!(rules.classify("a/.github/ci.yml"), None);
        assert_eq!(rules.classify("x/Cargo.lock"), Some(Skip::Lock));
        assert_eq!(rules.classify("x/Cargo.locks"), None);
        assert_eq!(rules.classify("x/my.lock"), Some(Skip::Lock));
        assert_eq!(rules.classify("x/app.min.js"), Some(Skip::Minified));
        assert_eq!(rules.classify("target/debug/a.rs"), Some(Skip::Generated));
        assert_eq!(rules.classify("src/build.rs"), None);
        assert_eq!(rules.classify("a/.git/config"), Some(Skip::Ignored));
        assert_eq!(rules.classify("Cargo.lock"), Some(Skip::Lock));
        assert_eq!(rules.classify("sub/yarn.lock"), Some(Skip::Lock));
        assert_eq!(rules.classify("go.sum"), Some(Skip::Lock));
        assert_eq!(rules.classify("js/app.min.js"), Some(Skip::Minified));
        assert_eq!(rules.classify("/abs/path.rs"), None);
    }

    #[test]
    fn content_rules() {
        assert!(is_binary(b"abc\0def"));
        assert!(!is_binary(b"abc"));
        assert!(is_minified(&vec![b'a'; 5000]));
        let normal: Vec<u8> = b"let x = 1;\n".repeat(1000);
        assert!(!is_minified(&normal));
        let m = GeneratedMarkers::new();
        assert!(m.is_generated(b"// Code generated by protoc. DO NOT EDIT.\n"));
        assert!(m.is_generated(b"# @generated\n"));
        assert!(!m.is_generated(b"// hand written\n"));
    }

    /// The rule as stated, one window at a time.
    fn minified_by_definition(bytes: &[u8]) -> bool {
        let long = |from: usize, window: usize| {
            from + window <= bytes.len() && !bytes[from..from + window].contains(&b'\n')
        };
        let n = bytes.len();
        long(0, 4096)
            || (n >= 3 * 1024
                && [0, n / 3, 2 * n / 3]
                    .iter()
                    .filter(|&&p| long(p, 1024))
                    .count()
                    >= 2)
    }

    #[test]
    fn minified_check_follows_its_definition() {
        for len in [
            0, 100, 1023, 1024, 3071, 3072, 4095, 4096, 5000, 9000, 20_000,
        ] {
            for line in [10, 500, 1023, 1024, 1500, 3000, 4095, 4096, 7000] {
                for offset in [0, 1, 700, 2500] {
                    let bytes: Vec<u8> = (0..len)
                        .map(|i| {
                            if (i + offset) % (line + 1) == line {
                                b'\n'
                            } else {
                                b'a'
                            }
                        })
                        .collect();
                    assert_eq!(
                        is_minified(&bytes),
                        minified_by_definition(&bytes),
                        "len {len}, line {line}, offset {offset}"
                    );
                }
            }
        }
    }
}
