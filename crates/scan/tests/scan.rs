//! Behaviour of the public scanner API: fingerprints, skip rules, parallel
//! determinism, progress and cancellation, directory sources.

use std::borrow::Cow;
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use todovault_scan::{
    DirSource, FileSource, Item, ItemKind, MemorySource, Priority, ScanConfig, ScanError,
    ScanOutput, Scanner,
};

fn scanner() -> Scanner {
    Scanner::new(ScanConfig::default())
}

fn scan(source: &dyn FileSource) -> ScanOutput {
    scanner()
        .scan(source, &|_, _| {}, &AtomicBool::new(false))
        .expect("scan")
}

fn find<'a>(items: &'a [Item], text: &str) -> &'a Item {
    items
        .iter()
        .find(|i| i.text == text)
        .unwrap_or_else(|| panic!("no item {text:?} in {items:#?}"))
}

#[test]
fn fingerprint_survives_moves_reindent_and_inserted_lines() {
    let s = scanner();
    let original = "fn a() {}\n// TODO: refactor the parser\nfn b() {}\n";
    let moved =
        "fn a() {}\n\n\n// unrelated\nfn b() {\n        // TODO:   refactor   the parser\n}\n";
    let edited = "fn a() {}\n// TODO: refactor the lexer\nfn b() {}\n";
    let fp = |src: &str| {
        let items = s.scan_bytes("src/p.rs", src.as_bytes());
        assert_eq!(items.len(), 1, "{items:?}");
        (items[0].line, items[0].fingerprint.clone())
    };
    let (l1, f1) = fp(original);
    let (l2, f2) = fp(moved);
    let (_, f3) = fp(edited);
    assert_eq!((l1, l2), (2, 6));
    assert_eq!(
        f1, f2,
        "moving, re-indenting and inserting lines keeps the fingerprint"
    );
    assert_ne!(f1, f3, "editing the text changes the fingerprint");
    assert_eq!(f1.len(), 32);
    assert!(f1.bytes().all(|b| b.is_ascii_hexdigit()));
    // The same item in another file is another item.
    let other = s.scan_bytes("src/q.rs", original.as_bytes());
    assert_ne!(other[0].fingerprint, f1);
}

#[test]
fn identical_items_get_occurrence_indexed_fingerprints() {
    let s = scanner();
    let items = s.scan_bytes("a.py", b"# TODO: same\nx = 1\n# TODO: same\n");
    assert_eq!(items.len(), 2);
    assert_ne!(items[0].fingerprint, items[1].fingerprint);
    // Inserting a third copy above keeps the first two fingerprints in order.
    let more = s.scan_bytes(
        "a.py",
        b"# TODO: same\n# TODO: other\n# TODO: same\nx\n# TODO: same\n",
    );
    assert_eq!(more[0].fingerprint, items[0].fingerprint);
    assert_eq!(more[2].fingerprint, items[1].fingerprint);
}

#[test]
fn priorities_follow_tags_and_config() {
    let items = scanner().scan_bytes(
        "a.rs",
        b"// TODO a\n// FIXME b\n// BUG c\n// HACK d\n// XXX e\n",
    );
    let p: Vec<Priority> = items.iter().map(|i| i.priority).collect();
    use Priority::*;
    assert_eq!(p, vec![Medium, High, High, Low, Low]);
    let mut config = ScanConfig {
        tags: vec!["NOTE".into()],
        ..ScanConfig::default()
    };
    config.priorities.insert("NOTE".into(), Critical);
    let items = Scanner::new(config).scan_bytes("a.rs", b"// NOTE: x\n// TODO: not a tag now\n");
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0].tag.as_str(), items[0].priority),
        ("NOTE", Critical)
    );

    // Markdown: tasks take the priority of `TASK`, HTML comments their tag's.
    let mut config = ScanConfig::default();
    config
        .priorities
        .insert(todovault_scan::TASK_TAG.into(), Critical);
    let items = Scanner::new(config).scan_bytes("a.md", b"- [ ] a\n\n<!-- FIXME: b -->\n");
    let p: Vec<(&str, Priority)> = items.iter().map(|i| (i.tag.as_str(), i.priority)).collect();
    assert_eq!(p, vec![("TASK", Critical), ("FIXME", High)]);
}

#[test]
fn continuation_limit_is_configurable() {
    let src = b"// TODO: a\n// b\n// c\n// d\n";
    assert_eq!(scanner().scan_bytes("a.rs", src)[0].text, "a b c d");
    let config = ScanConfig {
        max_continuation_lines: 1,
        ..ScanConfig::default()
    };
    assert_eq!(Scanner::new(config).scan_bytes("a.rs", src)[0].text, "a b");
    // A trailing comment on the next line is not a continuation.
    let items = scanner().scan_bytes("a.rs", b"x(); // TODO: a\ny(); // b\n");
    assert_eq!(items[0].text, "a");
}

struct Failing(MemorySource);

impl FileSource for Failing {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn path(&self, index: usize) -> &str {
        self.0.path(index)
    }
    fn size(&self, index: usize) -> u64 {
        self.0.size(index)
    }
    fn read(&self, index: usize) -> io::Result<Cow<'_, [u8]>> {
        if self.0.path(index).contains("unreadable") {
            Err(io::Error::other("boom"))
        } else {
            self.0.read(index)
        }
    }
}

#[test]
fn every_skip_rule_is_counted() {
    let mut m = MemorySource::default();
    m.push("src/ok.rs", "// TODO: kept\n");
    m.push("img.rs", b"// TODO: x\0binary".to_vec());
    m.push("big.rs", format!("// TODO: big\n{}", "x\n".repeat(600_000)));
    m.push("app.min.js", "// TODO: min");
    m.push(
        "long.js",
        format!("// TODO: long\nvar a='{}';", "a".repeat(10_000)),
    );
    m.push("Cargo.lock", "# TODO: lock");
    m.push("sub/yarn.lock", "# TODO: lock");
    m.push("web/node_modules/x/a.js", "// TODO: vendored");
    m.push("third/lib.c", "// TODO: vendored by attribute");
    m.push("dist/app.js", "// TODO: generated dir");
    m.push("gen/api.go", "// TODO: generated by attribute");
    m.push(
        "pb/x.go",
        "// Code generated by protoc-gen-go. DO NOT EDIT.\n// TODO: generated\n",
    );
    m.push("secret/k.py", "# TODO: ignored");
    m.push("notes.txt", "TODO: unknown language");
    m.push("unreadable.rs", "// TODO: x");
    m.push(
        ".gitattributes",
        "third/** linguist-vendored\ngen/** linguist-generated=true\n",
    );
    m.push(".todovaultignore", "# comment\nsecret/\n");
    let out = scanner()
        .scan(&Failing(m), &|_, _| {}, &AtomicBool::new(false))
        .expect("scan");
    let r = &out.report;
    assert_eq!(r.files_total, 17);
    assert_eq!(r.files_scanned, 1);
    assert_eq!(r.bytes_scanned, 14);
    assert_eq!(r.skipped_binary, 1);
    assert_eq!(r.skipped_too_large, 1);
    assert_eq!(r.skipped_minified, 2);
    assert_eq!(r.skipped_lock, 2);
    assert_eq!(r.skipped_vendored, 2);
    assert_eq!(r.skipped_generated, 3);
    assert_eq!(r.skipped_ignored, 1);
    assert_eq!(
        r.skipped_unknown_language, 3,
        "notes.txt, .gitattributes, .todovaultignore"
    );
    assert_eq!(r.read_errors, 1);
    assert_eq!(r.comments, 1);
    assert_eq!(out.items.len(), 1);
    assert_eq!(out.items[0].path, "src/ok.rs");
}

#[test]
fn max_file_size_uses_size_before_reading() {
    struct Lying;
    impl FileSource for Lying {
        fn len(&self) -> usize {
            1
        }
        fn path(&self, _: usize) -> &str {
            "a.rs"
        }
        fn size(&self, _: usize) -> u64 {
            u64::MAX
        }
        fn read(&self, _: usize) -> io::Result<Cow<'_, [u8]>> {
            panic!("a file over the size limit must not be read")
        }
    }
    let out = scan(&Lying);
    assert_eq!(out.report.skipped_too_large, 1);
}

fn mixed_source(n: usize) -> MemorySource {
    let mut m = MemorySource::default();
    for i in (0..n).rev() {
        match i % 4 {
            0 => m.push(
                format!("d{}/f{i}.rs", i % 7),
                format!("fn f() {{}}\n// TODO: item {i}\n/* FIXME: second {i} */\n"),
            ),
            1 => m.push(
                format!("d{}/f{i}.md", i % 7),
                format!("- [ ] task {i}\n  - [x] child {i}\n    - [ ] grandchild {i}\n"),
            ),
            2 => m.push(
                format!("d{}/f{i}.py", i % 7),
                format!("s = 'TODO: no {i}'  # HACK: hack {i}\n"),
            ),
            _ => m.push(format!("d{}/f{i}.txt", i % 7), "TODO: unknown"),
        }
    }
    m
}

#[test]
fn parallel_scan_is_deterministic_and_sorted() {
    let m = mixed_source(400);
    let outs: Vec<ScanOutput> = [Some(1), Some(2), Some(3), None]
        .into_iter()
        .map(|threads| {
            let config = ScanConfig {
                threads,
                ..ScanConfig::default()
            };
            Scanner::new(config)
                .scan(&m, &|_, _| {}, &AtomicBool::new(false))
                .expect("scan")
        })
        .collect();
    for o in &outs[1..] {
        assert_eq!(o, &outs[0]);
    }
    let items = &outs[0].items;
    assert_eq!(items.len(), 100 * 2 + 100 * 3 + 100);
    for w in items.windows(2) {
        assert!((w[0].path.as_str(), w[0].line) <= (w[1].path.as_str(), w[1].line));
    }
    for (i, it) in items.iter().enumerate() {
        if it.kind == ItemKind::Task && it.text.starts_with("child") {
            let p = &items[it.parent.expect("child has a parent")];
            assert_eq!(p.path, it.path);
            assert_eq!(p.text, it.text.replace("child", "task"));
            assert!(it.parent < Some(i));
        }
        if it.text.starts_with("grandchild") {
            let p = &items[it.parent.expect("grandchild has a parent")];
            assert_eq!(p.text, it.text.replace("grandchild", "child"));
        }
    }
    assert_eq!(outs[0].report.tasks, 300);
    assert_eq!(outs[0].report.comments, 300);
}

/// Sources in path order take a shorter way through the final merge; it
/// must give the same output, `parent` indices included.
#[test]
fn sources_in_path_order_scan_the_same() {
    let m = mixed_source(400);
    let mut files: Vec<(String, Vec<u8>)> = (0..m.len())
        .map(|i| {
            let bytes = m.read(i).expect("in memory").into_owned();
            (m.path(i).to_string(), bytes)
        })
        .collect();
    files.sort();
    let sorted = MemorySource::new(files);
    let never = AtomicBool::new(false);
    let a = scanner().scan(&m, &|_, _| {}, &never).expect("scan");
    let b = scanner().scan(&sorted, &|_, _| {}, &never).expect("scan");
    assert!(a.items.iter().any(|it| it.parent.is_some()));
    assert_eq!(a, b);
}

#[test]
fn progress_reaches_total_and_cancel_stops() {
    let m = mixed_source(2000);
    let calls = Mutex::new(Vec::new());
    let out = scanner()
        .scan(
            &m,
            &|d, t| calls.lock().expect("lock").push((d, t)),
            &AtomicBool::new(false),
        )
        .expect("scan");
    let calls = calls.into_inner().expect("lock");
    assert_eq!(calls.last(), Some(&(2000, 2000)));
    assert!(calls.len() > 2);
    assert!(calls.iter().all(|&(d, t)| d <= t && t == 2000));
    assert_eq!(out.report.files_total, 2000);

    let cancel = AtomicBool::new(true);
    assert!(matches!(
        scanner().scan(&m, &|_, _| {}, &cancel),
        Err(ScanError::Cancelled)
    ));

    let cancel = AtomicBool::new(false);
    let r = scanner().scan(
        &m,
        &|d, _| {
            if d >= 100 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
        &cancel,
    );
    assert!(matches!(r, Err(ScanError::Cancelled)));
}

#[test]
fn dir_source_walks_without_following_links() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("src/deep")).expect("mkdir");
    std::fs::create_dir_all(root.join(".git/objects")).expect("mkdir");
    std::fs::create_dir_all(root.join("outside")).expect("mkdir");
    std::fs::write(root.join("src/deep/a.rs"), "// TODO: deep\n").expect("write");
    std::fs::write(root.join("src/b.go"), "package b // FIXME: go\n").expect("write");
    std::fs::write(root.join(".git/config"), "# TODO: git\n").expect("write");
    std::fs::write(root.join(".todovaultignore"), "ignored.rs\n").expect("write");
    std::fs::write(root.join("ignored.rs"), "// TODO: ignored\n").expect("write");
    std::fs::write(root.join("outside/x.rs"), "// TODO: via link\n").expect("write");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root.join("outside"), root.join("src/link")).expect("symlink");
        std::os::unix::fs::symlink(root.join("src/b.go"), root.join("src/c.go")).expect("symlink");
    }
    let src = DirSource::open(root).expect("open");
    let paths: Vec<&str> = (0..src.len()).map(|i| src.path(i)).collect();
    assert_eq!(
        paths,
        vec![
            ".todovaultignore",
            "ignored.rs",
            "outside/x.rs",
            "src/b.go",
            "src/deep/a.rs"
        ]
    );
    let out = scan(&src);
    let texts: Vec<(&str, &str)> = out
        .items
        .iter()
        .map(|i| (i.path.as_str(), i.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        vec![
            ("outside/x.rs", "via link"),
            ("src/b.go", "go"),
            ("src/deep/a.rs", "deep")
        ]
    );
    assert_eq!(out.report.skipped_ignored, 1);
    assert_eq!(find(&out.items, "deep").line, 1);
    assert!(DirSource::open(root.join("missing")).is_err());
}

#[test]
fn scan_bytes_only_skips_binary_and_unknown() {
    let s = scanner();
    assert_eq!(s.scan_bytes("node_modules/x.js", b"// TODO: x").len(), 1);
    assert_eq!(s.scan_bytes("a.min.js", b"// TODO: x").len(), 1);
    assert!(s.scan_bytes("a.js", b"// TODO: x\0").is_empty());
    assert!(s.scan_bytes("a.unknown", b"// TODO: x").is_empty());
    // Invalid UTF-8 is fine; text is converted lossily.
    let items = s.scan_bytes("a.c", b"/* TODO: caf\xe9 */");
    assert_eq!(items[0].text, "caf\u{fffd}");
}
