//! Scanner throughput benchmark (a plain binary that prints a table).
//!
//! Generates a large tree of realistic mixed-language source (in memory and
//! on disk under a temporary directory) and, when `TODOVAULT_BENCH_DIR` is
//! set, also measures that directory. For each dataset it prints, side by
//! side from the same run:
//!
//! - in memory: the scanner over a `MemorySource` versus a reference search
//!   of the same bytes with `regex::bytes::Regex` `\b(TODO|FIXME|HACK|XXX|BUG)\b`
//!   (parallel over files with rayon, same thread count, no comment
//!   awareness), best of nine rounds in which the two take turns at going
//!   first;
//! - on disk: the scanner over a `DirSource` (walk included) versus
//!   `rg -n '\b(TODO|FIXME|HACK|XXX|BUG)\b' DIR`, and the scanning process's
//!   peak resident memory (VmHWM), measured in a child process so the
//!   in-memory data set does not count.
//!
//! Run with `cargo bench -p todovault-scan --bench scan`.
//! `TODOVAULT_BENCH_FILES` overrides the number of generated files (20000).

use rayon::prelude::*;
use regex::bytes::Regex;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use todovault_scan::{DirSource, FileSource, MemorySource, ScanConfig, Scanner};

const PATTERN: &str = r"\b(TODO|FIXME|HACK|XXX|BUG)\b";
const CHILD_ENV: &str = "TODOVAULT_BENCH_CHILD_DIR";

/// Small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "parser", "buffer", "request", "handler", "config", "value", "index", "cache", "stream",
    "token", "node", "client", "server", "record", "result", "error", "offset", "length", "window",
    "frame", "state", "event", "queue", "entry", "batch", "limit", "timeout",
];
const AUTHORS: &[&str] = &["alice", "bob", "carol", "dave", "erin"];
const TAGS: &[&str] = &["TODO", "TODO", "TODO", "FIXME", "HACK", "XXX", "BUG"];

struct Lang {
    ext: &'static str,
    line: &'static str,
    /// Lines of a code block; `@I` identifier, `@N` number, `@W` words.
    block: &'static [&'static str],
}

const LANGS: &[Lang] = &[
    Lang {
        ext: "rs",
        line: "//",
        block: &[
            "/// Returns the @W for the given input.",
            "pub fn @I_@N(input: &str, count: usize) -> Result<Vec<String>, Error> {",
            "    let mut out = Vec::with_capacity(count);",
            "    for (i, part) in input.split(',').enumerate() {",
            "        if part.is_empty() || i > @N { continue; }",
            "        out.push(format!(\"{}-{}\", part.trim(), i)); // keep the @W",
            "    }",
            "    let label: &'static str = \"@W\";",
            "    Ok(out)",
            "}",
            "",
        ],
    },
    Lang {
        ext: "c",
        line: "//",
        block: &[
            "/* Computes the @W of a buffer. */",
            "static int @I_@N(const char *buf, size_t len) {",
            "    int acc = 0;",
            "    for (size_t i = 0; i < len; i++) {",
            "        if (buf[i] == '\\n') acc += @N; /* count lines */",
            "        else acc ^= buf[i];",
            "    }",
            "    printf(\"%s: %d\\n\", \"@W\", acc);",
            "    return acc;",
            "}",
            "",
        ],
    },
    Lang {
        ext: "py",
        line: "#",
        block: &[
            "def @I_@N(items, limit=@N):",
            "    \"\"\"Return the @W of the items.\"\"\"",
            "    result = []",
            "    for i, item in enumerate(items):  # walk the @W",
            "        if i > limit:",
            "            break",
            "        result.append(f\"{item}-{i}\")",
            "    return {'name': '@W', 'count': len(result)}",
            "",
        ],
    },
    Lang {
        ext: "js",
        line: "//",
        block: &[
            "export function @I@N(items, opts = {}) {",
            "  const out = items.filter((x) => x.@I !== undefined); // drop the @W",
            "  const label = `@W ${out.length}`;",
            "  if (out.length > @N) {",
            "    return { label, total: out.length / 2 };",
            "  }",
            "  return { label: '@W', total: 0 };",
            "}",
            "",
        ],
    },
    Lang {
        ext: "ts",
        line: "//",
        block: &[
            "export async function @I@N(client: Client, id: string): Promise<Result> {",
            "  const res = await client.get(`/api/@W/${id}`);",
            "  if (!res.ok) {",
            "    throw new Error(\"failed to load @W\");",
            "  }",
            "  /* parse the @W */",
            "  return res.json() as Result;",
            "}",
            "",
        ],
    },
    Lang {
        ext: "go",
        line: "//",
        block: &[
            "// @I@N returns the @W.",
            "func @I@N(ctx context.Context, in []byte) (int, error) {",
            "\tn := 0",
            "\tfor _, b := range in {",
            "\t\tif b == '\\n' {",
            "\t\t\tn += @N",
            "\t\t}",
            "\t}",
            "\treturn n, fmt.Errorf(\"@W: %d\", n)",
            "}",
            "",
        ],
    },
    Lang {
        ext: "java",
        line: "//",
        block: &[
            "    /** Loads the @W. */",
            "    public List<String> @I@N(Map<String, Integer> input) {",
            "        List<String> out = new ArrayList<>();",
            "        for (Map.Entry<String, Integer> e : input.entrySet()) {",
            "            if (e.getValue() > @N) out.add(e.getKey() + \"@W\");",
            "        }",
            "        return out; // the @W",
            "    }",
            "",
        ],
    },
    Lang {
        ext: "sh",
        line: "#",
        block: &[
            "@I_@N() {",
            "  local dir=\"$1\" # the @W",
            "  for f in \"$dir\"/*; do",
            "    [ -f \"$f\" ] && echo \"@W: $f\"",
            "  done",
            "  return @N",
            "}",
            "",
        ],
    },
    Lang {
        ext: "yaml",
        line: "#",
        block: &[
            "@I_@N:",
            "  name: \"@W\"",
            "  replicas: @N # scaled @W",
            "  labels:",
            "    app: @I",
            "",
        ],
    },
    Lang {
        ext: "cpp",
        line: "//",
        block: &[
            "template <typename T>",
            "std::vector<T> @I_@N(const std::vector<T>& in) {",
            "    std::vector<T> out;",
            "    std::copy_if(in.begin(), in.end(), std::back_inserter(out),",
            "                 [](const T& x) { return x > @N; }); // @W",
            "    std::cout << \"@W\" << out.size() << '\\n';",
            "    return out;",
            "}",
            "",
        ],
    },
    Lang {
        ext: "rb",
        line: "#",
        block: &[
            "def @I_@N(items)",
            "  items.map { |x| \"#{x}-@W\" } # the @W",
            "    .select { |x| x.length > @N }",
            "end",
            "",
        ],
    },
];

fn fill(template: &str, rng: &mut Rng, out: &mut String) {
    let mut rest = template;
    while let Some(k) = rest.find('@') {
        out.push_str(&rest[..k]);
        let code = rest.as_bytes().get(k + 1).copied();
        match code {
            Some(b'I') => out.push_str(rng.pick(WORDS)),
            Some(b'N') => out.push_str(&rng.below(1000).to_string()),
            Some(b'W') => {
                out.push_str(rng.pick(WORDS));
                out.push(' ');
                out.push_str(rng.pick(WORDS));
            }
            _ => {
                out.push('@');
                rest = &rest[k + 1..];
                continue;
            }
        }
        rest = &rest[k + 2..];
    }
    out.push_str(rest);
}

/// A Markdown document: mostly prose, headings, lists and code fences; one
/// in five documents also has a short task list.
fn gen_markdown(target: usize, rng: &mut Rng) -> String {
    let mut s = String::from("# The @W guide\n\n");
    let tasks_at = if rng.chance(20) {
        target / 2
    } else {
        usize::MAX
    };
    while s.len() < target {
        if s.len() >= tasks_at && !s.contains("- [ ]") {
            s.push_str("## Open work\n\n");
            for k in 0..3 + rng.below(6) {
                let indent = if k > 0 && rng.chance(30) { "  " } else { "" };
                let mark = if rng.chance(40) { "x" } else { " " };
                s.push_str(&format!("{indent}- [{mark}] "));
                fill("finish the @W\n", rng, &mut s);
            }
            s.push('\n');
        }
        match rng.below(5) {
            0 => fill("## About the @W\n\n", rng, &mut s),
            1 => {
                s.push_str("```sh\n");
                fill("cargo run -- --@I @N # the @W\n", rng, &mut s);
                s.push_str("```\n\n");
            }
            2 => {
                for _ in 0..3 {
                    fill("- the `@I` option sets the @W\n", rng, &mut s);
                }
                s.push('\n');
            }
            _ => {
                for _ in 0..4 {
                    fill(
                        "The @W is kept in a [@W](https://example.com/@I) so that *@W* stays fast. ",
                        rng,
                        &mut s,
                    );
                }
                s.push_str("\n\n");
            }
        }
    }
    s
}

/// One generated file: realistic code with occasional tags in comments,
/// strings and identifiers.
fn gen_file(i: usize, rng: &mut Rng) -> (String, Vec<u8>) {
    let dir = format!("src/m{}/s{}", i % 37, (i / 37) % 7);
    let target = 1024 + rng.below(19 * 1024) as usize;
    if rng.chance(5) {
        return (
            format!("{dir}/doc{i}.md"),
            gen_markdown(target, rng).into_bytes(),
        );
    }
    let lang = &LANGS[rng.below(LANGS.len() as u64) as usize];
    let mut s = String::with_capacity(target + 1024);
    let tagged = rng.chance(8);
    let stringy = rng.chance(3);
    while s.len() < target {
        if tagged && rng.chance(10) {
            let tag = rng.pick(TAGS);
            let author = rng.pick(AUTHORS);
            s.push_str(&format!("{} {tag}({author}): ", lang.line));
            fill("handle the @W case\n", rng, &mut s);
        }
        if stringy && rng.chance(10) {
            fill(
                "const TODO_@I = \"see the TODO list for @W\";\n",
                rng,
                &mut s,
            );
        }
        for line in lang.block {
            fill(line, rng, &mut s);
            s.push('\n');
        }
    }
    (format!("{dir}/f{i}.{}", lang.ext), s.into_bytes())
}

fn generate(n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .into_par_iter()
        .map(|i| {
            gen_file(
                i,
                &mut Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0x1234_5677)),
            )
        })
        .collect()
}

fn best<T>(runs: usize, f: impl FnMut() -> T) -> (Duration, T) {
    let (wall, _, r) = best_with_cpu(runs, f);
    (wall, r)
}

/// CPU time consumed so far by all threads of this process (from
/// `/proc/self/task/*/schedstat`, nanosecond resolution).
fn cpu_time() -> Duration {
    let mut ns = 0u64;
    if let Ok(rd) = std::fs::read_dir("/proc/self/task") {
        for e in rd.flatten() {
            if let Ok(s) = std::fs::read_to_string(e.path().join("schedstat")) {
                ns += s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(ns)
}

/// One run of `f`: wall time, CPU time of all threads, result.
fn timed<T>(f: &mut impl FnMut() -> T) -> (Duration, Duration, T) {
    let c = cpu_time();
    let t = Instant::now();
    let r = f();
    (t.elapsed(), cpu_time().saturating_sub(c), r)
}

/// Best wall time and best CPU time (all threads) over `runs` runs.
fn best_with_cpu<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration, T) {
    let (mut best, mut best_cpu, mut last) = timed(&mut f);
    for _ in 1..runs {
        let (wall, cpu, r) = timed(&mut f);
        best = best.min(wall);
        best_cpu = best_cpu.min(cpu);
        last = r;
    }
    (best, best_cpu, last)
}

/// Best wall time, best CPU time and the last result of a measured closure.
type Best<T> = (Duration, Duration, T);

/// Best wall and CPU times of `a` and of `b` over `runs` rounds that run
/// each once, taking turns at going first, so that a slow spell of the
/// machine weighs on both sides alike rather than on one.
fn best_of_both<A, B>(
    runs: usize,
    mut a: impl FnMut() -> A,
    mut b: impl FnMut() -> B,
) -> (Best<A>, Best<B>) {
    let mut best_a = timed(&mut a);
    let mut best_b = timed(&mut b);
    for round in 1..runs {
        let (ra, rb) = if round % 2 == 0 {
            let ra = timed(&mut a);
            (ra, timed(&mut b))
        } else {
            let rb = timed(&mut b);
            (timed(&mut a), rb)
        };
        best_a = (best_a.0.min(ra.0), best_a.1.min(ra.1), ra.2);
        best_b = (best_b.0.min(rb.0), best_b.1.min(rb.1), rb.2);
    }
    (best_a, best_b)
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-9)
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Worker threads: rayon's global pool (all cores unless
/// `RAYON_NUM_THREADS` says otherwise), used by both sides.
fn threads() -> usize {
    rayon::current_num_threads()
}

fn scanner() -> Scanner {
    Scanner::new(ScanConfig::default())
}

/// Child mode: scan a directory and report time and peak memory.
fn child(dir: &str) {
    let s = scanner();
    let never = AtomicBool::new(false);
    let (d, out) = best(5, || {
        let src = DirSource::open(dir).expect("open dir");
        s.scan(&src, &|_, _| {}, &never).expect("scan")
    });
    println!(
        "RESULT {} {} {} {} {}",
        d.as_secs_f64(),
        vm_hwm_kib(),
        out.items.len(),
        out.report.files_scanned,
        out.report.bytes_scanned
    );
}

struct DiskResult {
    secs: f64,
    hwm_kib: u64,
    items: usize,
}

fn disk_scan(dir: &Path) -> Option<DiskResult> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe)
        .env(CHILD_ENV, dir)
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("RESULT "))?;
    let f: Vec<&str> = line.split_whitespace().collect();
    Some(DiskResult {
        secs: f.get(1)?.parse().ok()?,
        hwm_kib: f.get(2)?.parse().ok()?,
        items: f.get(3)?.parse().ok()?,
    })
}

fn rg_time(dir: &Path) -> Option<Duration> {
    let ok = Command::new("rg")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .ok()?;
    if !ok.success() {
        return None;
    }
    let (d, _) = best(5, || {
        Command::new("rg")
            .args(["-n", "-j", &threads().to_string(), "--no-messages", PATTERN])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    });
    Some(d)
}

fn report(name: &str, files: Vec<(String, Vec<u8>)>, dir: &Path) {
    let total_bytes: u64 = files.iter().map(|f| f.1.len() as u64).sum();
    let n_files = files.len();
    let mb = total_bytes as f64 / 1e6;
    println!();
    println!(
        "== {name}: {n_files} files, {mb:.1} MB, {} threads",
        threads()
    );

    // (a) in memory
    let src = MemorySource::new(files);
    let s = scanner();
    let never = AtomicBool::new(false);
    let re = Regex::new(PATTERN).expect("regex");
    let ((t_scan, c_scan, out), (t_ref, c_ref, matches)) = best_of_both(
        9,
        || s.scan(&src, &|_, _| {}, &never).expect("scan"),
        || {
            (0..src.len())
                .into_par_iter()
                .map(|i| match src.read(i) {
                    Ok(b) => re.find_iter(&b).count(),
                    Err(_) => 0,
                })
                .sum::<usize>()
        },
    );
    drop(src);
    let ratio = t_scan.as_secs_f64() / t_ref.as_secs_f64().max(1e-9);
    let cpu_ratio = c_scan.as_secs_f64() / c_ref.as_secs_f64().max(1e-9);
    println!("(a) in memory                 wall      MB/s    found            cpu (all threads)");
    println!(
        "    scanner (MemorySource)  {:>7.1} ms {:>8.0} {:>8} items    {:>7.1} ms   (scanned {} files, {:.1} MB)",
        t_scan.as_secs_f64() * 1e3,
        mbps(total_bytes, t_scan),
        out.items.len(),
        c_scan.as_secs_f64() * 1e3,
        out.report.files_scanned,
        out.report.bytes_scanned as f64 / 1e6
    );
    println!(
        "    reference regex         {:>7.1} ms {:>8.0} {:>8} matches  {:>7.1} ms",
        t_ref.as_secs_f64() * 1e3,
        mbps(total_bytes, t_ref),
        matches,
        c_ref.as_secs_f64() * 1e3
    );
    println!(
        "    ratio scanner/reference {ratio:>7.2}x wall, {cpu_ratio:.2}x cpu   (target <= 1.5x, >= 1000 MB/s)"
    );

    // (b) on disk
    println!("(b) on disk                   time      MB/s    found");
    match disk_scan(dir) {
        Some(d) => {
            println!(
                "    scanner (DirSource)     {:>7.1} ms {:>8.0} {:>8} items   peak memory (VmHWM) {:.1} MiB (target < 64 MiB)",
                d.secs * 1e3,
                total_bytes as f64 / 1e6 / d.secs.max(1e-9),
                d.items,
                d.hwm_kib as f64 / 1024.0
            );
            match rg_time(dir) {
                Some(rg) => {
                    println!(
                        "    ripgrep -n              {:>7.1} ms {:>8.0}",
                        rg.as_secs_f64() * 1e3,
                        mbps(total_bytes, rg)
                    );
                    println!(
                        "    ratio scanner/ripgrep   {:>7.2}x   (target <= 1.2x)",
                        d.secs / rg.as_secs_f64().max(1e-9)
                    );
                }
                None => println!("    ripgrep not installed: apt-get install ripgrep"),
            }
        }
        None => println!("    disk scan child process failed"),
    }
}

fn load_dir(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(src) = DirSource::open(dir) else {
        return Vec::new();
    };
    (0..src.len())
        .filter_map(|i| {
            src.read(i)
                .ok()
                .map(|b| (src.path(i).to_string(), b.into_owned()))
        })
        .collect()
}

fn main() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(&dir);
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("TODOVAULT_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = Instant::now();
    let files = generate(n);
    for (p, b) in &files {
        let path = tmp.path().join(p);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, b).expect("write");
    }
    eprintln!(
        "generated {} files in {:.1} s",
        files.len(),
        t.elapsed().as_secs_f64()
    );
    report("generated tree", files, tmp.path());
    if let Ok(dir) = std::env::var("TODOVAULT_BENCH_DIR") {
        let dir = Path::new(&dir);
        report(
            &format!("TODOVAULT_BENCH_DIR={}", dir.display()),
            load_dir(dir),
            dir,
        );
    }
}
