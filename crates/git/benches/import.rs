//! Import of a large repository over `file://`, side by side with the
//! reference measured in the same run: `git clone --depth 1 --bare` of the
//! same URL plus a regex search (`regex::bytes`,
//! `\b(TODO|FIXME|HACK|XXX|BUG)\b`) over the same files.
//!
//! "Ours" is `GitSource::fetch_snapshot` (shallow fetch into a temporary
//! bare repository, tree listing) followed by reading every file from the
//! snapshot and running the same search; it runs in a child process so its
//! peak memory (VmHWM) is its own. Both searches use every core (rayon).
//!
//! ```text
//! cargo bench -p todovault-git --bench import
//! TODOVAULT_BENCH_FILES=50000 TODOVAULT_BENCH_MB=500 TODOVAULT_BENCH_RUNS=3 cargo bench -p todovault-git --bench import
//! TODOVAULT_BENCH_REPO=/path/to/repo.git cargo bench -p todovault-git --bench import
//! ```
//!
//! The generated repository is cached under `<target>/todovault-bench/`, so
//! it is built once per size.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use todovault_core::policy::Limits;
use todovault_core::source::{CancelFlag, FetchRequest, Progress, RepoSnapshot};
use todovault_git::{GitSource, GitSourceOptions};

const PATTERN: &str = r"\b(TODO|FIXME|HACK|XXX|BUG)\b";
const CHILD: &str = "TODOVAULT_BENCH_CHILD";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    cmd
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e} (the benchmark needs the git binary)"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// A deterministic pseudo-random generator (xorshift), so the generated
/// repository is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const WORDS: &[&str] = &[
    "let", "fn", "return", "if", "else", "match", "self", "value", "result", "error", "config",
    "request", "response", "buffer", "index", "count", "len", "map", "filter", "into", "from",
    "async", "await", "pub", "struct", "impl", "for", "in", "while", "loop", "break", "Some",
    "None", "Ok", "Err", "String", "Vec", "Option", "Result", "u64", "usize", "bool", "true",
    "false", "const", "static", "mut", "ref", "where", "type", "trait", "use", "mod", "crate",
];

/// One file of generated source: code-like lines, a few tagged comments.
fn file_contents(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 80);
    while out.len() < size {
        match rng.below(40) {
            0 => out.extend_from_slice(b"    // TODO: handle the remaining cases here\n"),
            1 => out.extend_from_slice(b"    // FIXME(bench): this allocates too much\n"),
            _ => {
                out.extend_from_slice(b"    ");
                for _ in 0..(4 + rng.below(8)) {
                    out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
                    out.push(b' ');
                }
                out.extend_from_slice(format!("{};\n", rng.next() % 100_000).as_bytes());
            }
        }
    }
    out
}

/// Builds (once) a bare repository of about `files` files and `mb` MiB in
/// one commit, with `git fast-import`.
fn generated_repo(files: u64, mb: u64) -> PathBuf {
    let dir = target_dir().join("todovault-bench");
    let repo = dir.join(format!("repo-{files}f-{mb}mb.git"));
    if repo.join("todovault-bench-complete").exists() {
        return repo;
    }
    eprintln!(
        "building the benchmark repository {} (once)…",
        repo.display()
    );
    let _ = std::fs::remove_dir_all(&repo);
    std::fs::create_dir_all(&repo).unwrap_or_else(|e| panic!("mkdir: {e}"));
    run(
        git(&repo).args(["init", "-q", "--bare", "-b", "main"]),
        "git init",
    );
    let mut child = git(&repo)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("git fast-import: {e}"));
    let mut stdin = std::io::BufWriter::new(
        child
            .stdin
            .take()
            .unwrap_or_else(|| panic!("fast-import stdin")),
    );
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let total = mb << 20;
    let mean = (total / files.max(1)) as usize;
    let mut paths = Vec::with_capacity(files as usize);
    let exts = ["rs", "ts", "py", "go", "c", "java", "md"];
    for i in 0..files {
        // Sizes vary from a tenth to twice the mean; a few are over 1 MiB.
        let size = if i % 10_000 == 9_999 {
            (3 << 20) / 2
        } else {
            mean / 10 + rng.below((mean * 19 / 10) as u64) as usize
        };
        let data = file_contents(&mut rng, size);
        write!(stdin, "blob\nmark :{}\ndata {}\n", i + 1, data.len())
            .and_then(|()| stdin.write_all(&data))
            .and_then(|()| stdin.write_all(b"\n"))
            .unwrap_or_else(|e| panic!("fast-import: {e}"));
        let ext = exts[(i % exts.len() as u64) as usize];
        paths.push(format!(
            "pkg{:03}/mod{:02}/file{i}.{ext}",
            i / 1000,
            (i / 50) % 20
        ));
    }
    write!(
        stdin,
        "commit refs/heads/main\ncommitter Bench <bench@example.com> 1700000000 +0000\ndata 6\nbench\n"
    )
    .unwrap_or_else(|e| panic!("fast-import: {e}"));
    for (i, p) in paths.iter().enumerate() {
        writeln!(stdin, "M 100644 :{} {p}", i + 1).unwrap_or_else(|e| panic!("fast-import: {e}"));
    }
    drop(stdin);
    let status = child.wait().unwrap_or_else(|e| panic!("fast-import: {e}"));
    assert!(status.success(), "git fast-import failed");
    // One well-compressed pack, as a server would hold.
    run(git(&repo).args(["repack", "-a", "-d", "-q"]), "git repack");
    std::fs::write(repo.join("todovault-bench-complete"), b"").unwrap_or_else(|e| panic!("{e}"));
    repo
}

/// Peak resident memory of this process, in KiB.
fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resident anonymous memory (heap, stacks) of this process, in KiB: what
/// the import holds, as opposed to file pages of the mapped pack.
fn rss_anon_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("RssAnon:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// With `TODOVAULT_BENCH_MEMORY` set, prints the child's resident memory
/// (anonymous and file-backed) at `when`, to see what the peak is made of.
fn report_memory(when: &str) {
    if std::env::var_os("TODOVAULT_BENCH_MEMORY").is_none() {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let fields: Vec<&str> = status
        .lines()
        .filter(|l| {
            l.starts_with("Vm") && (l.contains("HWM") || l.contains("RSS")) || l.starts_with("Rss")
        })
        .collect();
    eprintln!(
        "memory {when}: {}",
        fields
            .join(", ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// The child: fetch + search with the git source, printing
/// `elapsed_ms fetch_ms files bytes matches vmhwm_kib anon_peak_kib`.
fn child_main(url: &str, temp: &Path) {
    let re = regex::bytes::Regex::new(PATTERN).unwrap_or_else(|e| panic!("{e}"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let source = GitSource::new(GitSourceOptions {
        allow_file: true,
        allow_local_paths: true,
        allow_private_hosts: true,
        temp_dir: Some(temp.to_owned()),
        ..GitSourceOptions::default()
    });
    let request = FetchRequest {
        url: url.to_owned(),
        display_url: url.to_owned(),
        git_ref: None,
        limits: Limits {
            max_fetch_bytes: u64::MAX,
            max_files: u64::MAX,
            ..Limits::default()
        },
    };
    let anon_peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, on) = (anon_peak.clone(), sampling.clone());
        std::thread::spawn(move || {
            while on.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(rss_anon_kib(), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let started = Instant::now();
    let snap = runtime
        .block_on(source.fetch_snapshot(&request, &Progress::new(), &CancelFlag::new()))
        .unwrap_or_else(|e| panic!("fetch: {e}"));
    let fetched = started.elapsed();
    report_memory("after fetch");
    let (bytes, matches) = (0..snap.len())
        .into_par_iter()
        .map(|i| {
            let data = snap.read(i).unwrap_or_else(|e| panic!("read: {e}"));
            (data.len() as u64, re.find_iter(&data).count() as u64)
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let elapsed = started.elapsed();
    report_memory("after search");
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let _ = sampler.join();
    println!(
        "{} {} {} {} {} {} {}",
        elapsed.as_millis(),
        fetched.as_millis(),
        snap.len(),
        bytes,
        matches,
        vm_hwm_kib(),
        anon_peak.load(std::sync::atomic::Ordering::Relaxed)
    );
}

struct Ours {
    total: Duration,
    fetch: Duration,
    files: u64,
    bytes: u64,
    matches: u64,
    peak_kib: u64,
    anon_kib: u64,
}

fn run_ours(url: &str, temp: &Path) -> Ours {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(exe)
        .env(CHILD, "1")
        .arg(url)
        .arg(temp)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("child: {e}"));
    assert!(out.status.success(), "the import child failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.split_whitespace().count() == 7)
        .unwrap_or_else(|| panic!("child printed no result: {text}"));
    let v: Vec<u64> = line
        .split_whitespace()
        .map(|x| x.parse().unwrap_or_else(|e| panic!("{x}: {e}")))
        .collect();
    Ours {
        total: Duration::from_millis(v[0]),
        fetch: Duration::from_millis(v[1]),
        files: v[2],
        bytes: v[3],
        matches: v[4],
        peak_kib: v[5],
        anon_kib: v[6],
    }
}

/// The reference: `git clone --depth 1 --bare`, then the same search over
/// the same files (from a checkout prepared outside the timing).
fn run_reference(url: &str, scratch: &Path, checkout: &Path) -> (Duration, Duration, u64, u64) {
    let re = regex::bytes::Regex::new(PATTERN).unwrap_or_else(|e| panic!("{e}"));
    let clone = scratch.join("reference.git");
    let _ = std::fs::remove_dir_all(&clone);
    let started = Instant::now();
    run(
        git(scratch)
            .args(["clone", "-q", "--depth", "1", "--bare", url])
            .arg(&clone),
        "git clone --depth 1 --bare",
    );
    let cloned = started.elapsed();
    let files = list_files(checkout);
    let (bytes, matches) = files
        .par_iter()
        .map(|p| {
            let data = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (data.len() as u64, re.find_iter(&data).count() as u64)
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let total = started.elapsed();
    let _ = std::fs::remove_dir_all(&clone);
    (total, cloned, bytes, matches)
}

fn list_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if e.file_name() == ".git" {
                continue;
            }
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if std::env::var_os(CHILD).is_some() {
        let url = args.get(1).unwrap_or_else(|| panic!("child: no url"));
        let temp = args.get(2).unwrap_or_else(|| panic!("child: no temp dir"));
        child_main(url, Path::new(temp));
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` does not run
    // the (long) measurement.
    if !args.iter().any(|a| a == "--bench") {
        println!("import benchmark: run with `cargo bench -p todovault-git --bench import`");
        return;
    }
    let runs = env_num("TODOVAULT_BENCH_RUNS", 3).max(1);
    let (url, label) = match std::env::var("TODOVAULT_BENCH_REPO") {
        Ok(repo) if repo.contains("://") => (repo.clone(), repo),
        Ok(repo) => {
            let abs = std::fs::canonicalize(&repo).unwrap_or_else(|e| panic!("{repo}: {e}"));
            (format!("file://{}", abs.display()), repo)
        }
        Err(_) => {
            let files = env_num("TODOVAULT_BENCH_FILES", 50_000);
            let mb = env_num("TODOVAULT_BENCH_MB", 500);
            let repo = generated_repo(files, mb);
            let abs = std::fs::canonicalize(&repo).unwrap_or_else(|e| panic!("{e}"));
            (
                format!("file://{}", abs.display()),
                format!("generated: {files} files, {mb} MiB"),
            )
        }
    };
    let scratch = tempfile::Builder::new()
        .prefix("todovault-bench-")
        .tempdir_in(target_dir())
        .unwrap_or_else(|e| panic!("scratch dir: {e}"));
    let checkout = scratch.path().join("checkout");
    run(
        git(scratch.path())
            .args(["clone", "-q", "--depth", "1", &url])
            .arg(&checkout),
        "git clone (checkout for the reference search)",
    );
    let temp = scratch.path().join("ours");
    std::fs::create_dir_all(&temp).unwrap_or_else(|e| panic!("{e}"));

    println!("import benchmark: {label} ({url}), {runs} run(s), best of each");
    let mut best_ours: Option<Ours> = None;
    let mut best_ref: Option<(Duration, Duration, u64, u64)> = None;
    for _ in 0..runs {
        let reference = run_reference(&url, scratch.path(), &checkout);
        let ours = run_ours(&url, &temp);
        if best_ref.as_ref().is_none_or(|b| reference.0 < b.0) {
            best_ref = Some(reference);
        }
        let peak = best_ours
            .as_ref()
            .map_or(0, |b| b.peak_kib)
            .max(ours.peak_kib);
        if best_ours.as_ref().is_none_or(|b| ours.total < b.total) {
            best_ours = Some(Ours {
                peak_kib: peak,
                ..ours
            });
        } else if let Some(b) = best_ours.as_mut() {
            b.peak_kib = peak;
        }
    }
    let (Some(ours), Some(reference)) = (best_ours, best_ref) else {
        return;
    };
    assert_eq!(
        (ours.bytes, ours.matches),
        (reference.2, reference.3),
        "both sides must read the same bytes and find the same matches"
    );
    let ratio = ours.total.as_secs_f64() / reference.0.as_secs_f64();
    println!();
    println!(
        "| {:<44} | {:>9} | {:>9} | {:>9} |",
        "measure", "fetch", "total", "peak RSS"
    );
    println!("|{:-<46}|{:-<11}|{:-<11}|{:-<11}|", "", "", "", "");
    println!(
        "| {:<44} | {:>9} | {:>9} | {:>9} |",
        "todovault-git fetch + read + search",
        secs(ours.fetch),
        secs(ours.total),
        format!("{} MiB", ours.peak_kib / 1024)
    );
    println!(
        "| {:<44} | {:>9} | {:>9} | {:>9} |",
        "git clone --depth 1 --bare + regex search",
        secs(reference.1),
        secs(reference.0),
        "-"
    );
    println!();
    println!(
        "files: {}, bytes read: {} MiB, matches: {}",
        ours.files,
        ours.bytes >> 20,
        ours.matches
    );
    println!(
        "ratio (ours / reference): {ratio:.2}x (target <= 1.30x); peak memory {} MiB (target < 300 MiB), of which heap (peak RssAnon) {} MiB; the rest is file pages of the mapped pack",
        ours.peak_kib / 1024,
        ours.anon_kib / 1024
    );
}
