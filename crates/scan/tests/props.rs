//! Property tests: no input makes the scanner panic, and scanning is
//! deterministic.

use proptest::prelude::*;
use std::sync::atomic::AtomicBool;
use todovault_scan::{MemorySource, ScanConfig, Scanner};

const EXTENSIONS: &[&str] = &[
    "rs", "c", "cpp", "cs", "go", "java", "kt", "scala", "swift", "m", "js", "ts", "tsx", "php",
    "py", "rb", "pl", "sh", "ps1", "lua", "sql", "hs", "ex", "erl", "clj", "scm", "r", "jl",
    "dart", "zig", "nim", "ml", "fs", "yaml", "toml", "tf", "html", "vue", "xml", "css", "scss",
    "tex", "proto", "graphql", "md",
];
const NAMES: &[&str] = &["Dockerfile", "Makefile", "CMakeLists.txt"];

/// Fragments that exercise the lexers' special cases.
const PIECES: &[&str] = &[
    "TODO",
    "@FIXME",
    "HACK:",
    "XXX(",
    "BUG #1",
    "(alice)",
    "//",
    "/*",
    "*/",
    "#",
    "--",
    ";",
    "%",
    "\"",
    "'",
    "`",
    "\"\"\"",
    "'''",
    "r#\"",
    "\"#",
    "R\"x(",
    ")x\"",
    "@\"",
    "<<EOF\n",
    "\nEOF\n",
    "<<<EOT\n",
    "[[",
    "]]",
    "--[==[",
    "]==]",
    "{-",
    "-}",
    "(*",
    "*)",
    "#|",
    "|#",
    "#=",
    "=#",
    "#[",
    "]#",
    "<!--",
    "-->",
    "<script>",
    "</script>",
    "<style>",
    "\\",
    "\\\\",
    "\n",
    " ",
    "\t",
    "'a",
    "'\\''",
    "$'",
    "?#",
    "=begin\n",
    "\n=end\n",
    "=pod\n",
    "\n=cut\n",
    "- [ ] ",
    "- [x] ",
    "\n  ",
    "```\n",
    "{id|",
    "|id}",
    "\u{e9}",
    "\u{fffd}",
    "\r\n",
];

fn any_path() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(EXTENSIONS).prop_map(|e| format!("dir/file.{e}")),
        prop::sample::select(NAMES).prop_map(|n| format!("dir/{n}")),
    ]
}

fn structured() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(PIECES), 0..80).prop_map(|v| v.concat().into_bytes())
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..400), structured()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 800, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_is_deterministic(path in any_path(), data in bytes()) {
        let s = Scanner::new(ScanConfig::default());
        let a = s.scan_bytes(&path, &data);
        let b = s.scan_bytes(&path, &data);
        prop_assert_eq!(&a, &b);
        for (i, it) in a.iter().enumerate() {
            prop_assert!(it.line >= 1);
            prop_assert!(it.parent.is_none_or(|p| p < i));
            prop_assert_eq!(it.fingerprint.len(), 32);
        }
        let lines: Vec<u32> = a.iter().map(|i| i.line).collect();
        let mut sorted = lines.clone();
        sorted.sort_unstable();
        prop_assert_eq!(&lines, &sorted);
    }

    #[test]
    fn source_scan_matches_per_file_scan(files in prop::collection::vec((any_path(), structured()), 1..12)) {
        let s = Scanner::new(ScanConfig { threads: Some(2), ..ScanConfig::default() });
        let src: MemorySource = files.iter().cloned().collect();
        let out = s.scan(&src, &|_, _| {}, &AtomicBool::new(false)).expect("scan");
        let again = s.scan(&src, &|_, _| {}, &AtomicBool::new(false)).expect("scan");
        prop_assert_eq!(&out, &again);
        let mut expected = 0;
        for (p, d) in &files {
            if d.len() <= 1 << 20 {
                expected += s.scan_bytes(p, d).len();
            }
        }
        // Content skip rules (minified, generated) never apply to these inputs
        // unless they are long; allow fewer items only when a file was skipped.
        let skipped = out.report.skipped_minified + out.report.skipped_generated;
        prop_assert!(out.items.len() == expected || skipped > 0);
    }
}
