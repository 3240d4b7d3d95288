//! Accuracy corpus: every fixture under `tests/corpus/` is scanned and its
//! items compared exactly with the sibling `.expected` file.
//!
//! Expected-file format, one item per line (lines starting with `#` and
//! blank lines are ignored):
//!
//! ```text
//! line|tag|author|issue|text
//! ```
//!
//! Markdown tasks add two columns: `|checked=true|parent=<line of parent task>`
//! (`parent=-` when there is none). Empty author/issue fields mean `None`.
//! Every fixture is written so that each expected item's text contains
//! "yes" and no extracted text may contain "NOPE", which the test also checks.

use std::fmt::Write as _;
use std::path::Path;
use todovault_scan::{Item, ItemKind, ScanConfig, Scanner};

fn render(items: &[Item]) -> String {
    let mut out = String::new();
    for it in items {
        let _ = write!(
            out,
            "{}|{}|{}|{}|{}",
            it.line,
            it.tag,
            it.author.as_deref().unwrap_or(""),
            it.issue.as_deref().unwrap_or(""),
            it.text
        );
        if it.kind == ItemKind::Task {
            let parent = it
                .parent
                .and_then(|p| items.get(p))
                .map_or("-".to_string(), |p| p.line.to_string());
            let _ = write!(
                out,
                "|checked={}|parent={}",
                it.checked.unwrap_or(false),
                parent
            );
        }
        out.push('\n');
    }
    out
}

fn normalize_expected(s: &str) -> String {
    s.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn corpus_matches_expected_exactly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let scanner = Scanner::new(ScanConfig::default());
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_none_or(|e| e != "expected"))
        .collect();
    entries.sort();
    let bless = std::env::var_os("TODOVAULT_BLESS").is_some();
    let mut failures = String::new();
    let mut languages = std::collections::BTreeSet::new();
    let mut total_items = 0;
    for path in &entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        let lang = todovault_scan::language_of(name)
            .unwrap_or_else(|| panic!("fixture {name} has no known language"));
        languages.insert(lang);
        let bytes = std::fs::read(path).expect("read fixture");
        let items = scanner.scan_bytes(name, &bytes);
        total_items += items.len();
        for it in &items {
            assert!(
                !it.text.contains("NOPE"),
                "{name}:{} extracted a negative: {it:?}",
                it.line
            );
            assert!(
                it.text.contains("yes"),
                "{name}:{} item without 'yes': {it:?}",
                it.line
            );
        }
        let got = render(&items);
        let exp_path = dir.join(format!("{name}.expected"));
        if bless {
            std::fs::write(&exp_path, &got).expect("write expected");
            continue;
        }
        let expected = std::fs::read_to_string(&exp_path)
            .map(|s| normalize_expected(&s))
            .unwrap_or_else(|_| panic!("missing {}", exp_path.display()));
        if got != expected {
            let _ = writeln!(failures, "=== {name}");
            let exp: Vec<&str> = expected.lines().collect();
            let g: Vec<&str> = got.lines().collect();
            for l in &exp {
                if !g.contains(l) {
                    let _ = writeln!(failures, "  missing (false negative): {l}");
                }
            }
            for l in &g {
                if !exp.contains(l) {
                    let _ = writeln!(failures, "  unexpected (false positive): {l}");
                }
            }
            if exp.iter().all(|l| g.contains(l)) && g.iter().all(|l| exp.contains(l)) {
                let _ = writeln!(failures, "  same items, different order");
            }
        }
    }
    assert!(failures.is_empty(), "corpus mismatches:\n{failures}");
    assert!(
        languages.len() >= 30,
        "only {} languages: {languages:?}",
        languages.len()
    );
    assert!(total_items >= 100, "only {total_items} items in the corpus");
}
