//! `GitSource` on its own, against real repositories built by the tests:
//! what a fetch lists and reads, refs, limits, every refusal, and how
//! failures read.

mod support;

use std::time::{Duration, Instant};

use support::{Fixture, GitHttpServer, StallingServer, entries};
use todovault_core::policy::Limits;
use todovault_core::source::{CancelFlag, FetchRequest, ImportError, Progress, RepoSnapshot};
use todovault_git::{GitSnapshot, GitSource, GitSourceOptions, Skipped};

fn open_options(temp: &std::path::Path) -> GitSourceOptions {
    GitSourceOptions {
        allow_private_hosts: true,
        allow_file: true,
        allow_local_paths: true,
        stall_timeout: Duration::from_secs(5),
        temp_dir: Some(temp.to_owned()),
        ..GitSourceOptions::default()
    }
}

fn request(url: &str) -> FetchRequest {
    FetchRequest {
        url: url.to_owned(),
        display_url: url.to_owned(),
        git_ref: None,
        limits: Limits::default(),
    }
}

async fn fetch(source: &GitSource, req: &FetchRequest) -> Result<GitSnapshot, ImportError> {
    source
        .fetch_snapshot(req, &Progress::new(), &CancelFlag::new())
        .await
}

fn files(snap: &GitSnapshot) -> Vec<(String, String)> {
    (0..snap.len())
        .map(|i| {
            let bytes = snap
                .read(i)
                .unwrap_or_else(|e| panic!("read {}: {e}", snap.path(i)));
            assert_eq!(bytes.len() as u64, snap.size(i), "size of {}", snap.path(i));
            (
                snap.path(i).to_owned(),
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        })
        .collect()
}

fn permanent(r: Result<GitSnapshot, ImportError>) -> String {
    match r {
        Err(ImportError::Permanent(m)) => m,
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

fn sample() -> Fixture {
    let f = Fixture::new("app");
    f.write("README.md", "# App\n\nDoes things.\n")
        .write("src/lib.rs", "fn a() {}\n// TODO: alpha\n");
    f.commit("first");
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_url_is_fetched_shallow_and_read_from_the_tree() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let f = sample();
    let first = f.git(&["rev-parse", "HEAD"]);
    f.write("src/lib.rs", "fn a() {}\n// TODO: alpha\n// FIXME: beta\n");
    let second = f.commit("second");
    assert_ne!(first, second);

    let source = GitSource::new(open_options(temp.path()));
    let progress = Progress::new();
    let snap = source
        .fetch_snapshot(&request(&f.file_url()), &progress, &CancelFlag::new())
        .await
        .unwrap_or_else(|e| panic!("fetch: {e}"));
    assert_eq!(snap.commit(), second);
    assert_eq!(progress.percent(), 100);
    assert_eq!(
        files(&snap),
        vec![
            ("README.md".into(), "# App\n\nDoes things.\n".into()),
            (
                "src/lib.rs".into(),
                "fn a() {}\n// TODO: alpha\n// FIXME: beta\n".into()
            ),
        ]
    );
    assert!(snap.is_temporary());
    let path = snap
        .temp_path()
        .unwrap_or_else(|| panic!("a fetch has a temp dir"))
        .to_owned();
    assert!(path.starts_with(temp.path()));
    // Shallow: only the newest commit came over.
    let shallow = std::fs::read_to_string(path.join("shallow")).unwrap_or_default();
    assert!(shallow.contains(&second), "shallow file: {shallow:?}");
    assert!(
        !path.join("HEAD").exists() || !path.join("index").exists(),
        "bare, no checkout"
    );
    drop(snap);
    assert!(
        !path.exists(),
        "the snapshot removes its temp dir when dropped"
    );
    assert!(entries(temp.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smart_http_on_loopback_is_fetched_when_private_hosts_are_allowed() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let f = sample();
    let head = f.git(&["rev-parse", "HEAD"]);
    let server = GitHttpServer::start(f.root());
    let source = GitSource::new(open_options(temp.path()));
    let progress = Progress::new();
    let snap = source
        .fetch_snapshot(
            &request(&server.url("app/.git")),
            &progress,
            &CancelFlag::new(),
        )
        .await
        .unwrap_or_else(|e| panic!("fetch: {e}"));
    assert_eq!(snap.commit(), head);
    assert_eq!(snap.len(), 2);
    assert_eq!(progress.percent(), 100);
    let seen = server.seen.lock().map(|s| s.join("\n")).unwrap_or_default();
    assert!(seen.contains("git-upload-pack"), "{seen}");
    drop(snap);
    assert!(entries(temp.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ref_picks_a_branch_a_tag_or_a_commit() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let f = sample();
    let first = f.git(&["rev-parse", "HEAD"]);
    f.git(&["tag", "-a", "v1", "-m", "release one"]);
    f.git(&["branch", "old"]);
    f.write("NEW.md", "new\n");
    let second = f.commit("second");
    f.write("NEWER.md", "newer\n");
    let third = f.commit("third");
    let server = GitHttpServer::start(f.root());
    let source = GitSource::new(open_options(temp.path()));
    for url in [f.file_url(), server.url("app/.git")] {
        for (r, want) in [
            (Some("old"), &first),
            (Some("v1"), &first),
            (Some("refs/heads/main"), &third),
            (Some(second.as_str()), &second),
            (None, &third),
        ] {
            let mut req = request(&url);
            req.git_ref = r.map(str::to_owned);
            let snap = fetch(&source, &req)
                .await
                .unwrap_or_else(|e| panic!("fetch {url} at {r:?}: {e}"));
            assert_eq!(&snap.commit(), want, "{url} at {r:?}");
        }
        let mut req = request(&url);
        req.git_ref = Some("no-such-branch".into());
        let message = permanent(fetch(&source, &req).await);
        assert!(
            message.contains("the ref 'no-such-branch' was not found in repository"),
            "{message}"
        );
    }
    assert!(entries(temp.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_path_is_opened_in_place_at_head_or_a_ref() {
    let f = sample();
    let first = f.git(&["rev-parse", "HEAD"]);
    f.write("NEW.md", "new\n");
    let second = f.commit("second");
    // Uncommitted changes are not part of any commit and are not read.
    f.write("src/lib.rs", "// TODO: not committed\n");
    let source = GitSource::new(GitSourceOptions {
        allow_local_paths: true,
        ..GitSourceOptions::default()
    });
    let path = f.dir().display().to_string();
    let snap = fetch(&source, &request(&path))
        .await
        .unwrap_or_else(|e| panic!("open: {e}"));
    assert_eq!(snap.commit(), second);
    assert!(!snap.is_temporary(), "no clone of a local repository");
    assert!(
        files(&snap)
            .iter()
            .all(|(_, c)| !c.contains("not committed"))
    );
    let mut req = request(&path);
    req.git_ref = Some(first.clone());
    assert_eq!(
        fetch(&source, &req)
            .await
            .map(|s| s.commit().to_owned())
            .ok(),
        Some(first)
    );
    req.git_ref = Some("nope".into());
    assert!(permanent(fetch(&source, &req).await).contains("the ref 'nope' was not found"));
    let missing = format!("{}/missing", f.root().display());
    let message = permanent(fetch(&source, &request(&missing)).await);
    assert!(message.contains("was not found"), "{message}");
    let not_git = f.root().display().to_string();
    let message = permanent(fetch(&source, &request(&not_git)).await);
    assert!(message.contains("is not a git repository"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submodules_symlinks_lfs_pointers_binary_and_odd_names_are_handled() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sub = Fixture::new("lib");
    sub.write("lib.rs", "// TODO: inside the submodule\n");
    let sub_head = sub.commit("lib");
    let f = Fixture::new("app");
    f.write("src/main.rs", "// TODO: main\n")
        .write("big.txt", vec![b'a'; 3 << 20])
        .write("logo.png", [0x89, b'P', b'N', b'G', 0, 0, 0xff, 0xfe, 0])
        .write(
            "assets/video.mp4",
            format!(
                "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize 123456789\n",
                "a".repeat(64)
            ),
        )
        .write_raw_name("odd", b"caf\xe9.rs", b"// TODO: latin-1 name\n")
        .symlink("/etc/passwd", "passwd-link")
        .symlink("../../outside", "src/escape");
    // A gitlink, as `git submodule add` records it, without a clone.
    f.git(&["add", "-A"]);
    f.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{sub_head},vendor/lib"),
    ]);
    f.git(&["commit", "-q", "-m", "everything odd"]);
    let source = GitSource::new(open_options(temp.path()));
    let mut req = request(&f.file_url());
    req.limits.max_file_bytes = 1 << 20;
    let snap = fetch(&source, &req)
        .await
        .unwrap_or_else(|e| panic!("fetch: {e}"));
    assert_eq!(
        snap.skipped(),
        Skipped {
            submodules: 1,
            symlinks: 2,
            lfs_pointers: 1
        }
    );
    let paths: Vec<&str> = (0..snap.len()).map(|i| snap.path(i)).collect();
    assert_eq!(
        paths,
        vec!["big.txt", "logo.png", "odd/caf\u{fffd}.rs", "src/main.rs"]
    );
    // The huge file is listed with its size (the extractor skips it).
    assert_eq!(snap.size(0), 3 << 20);
    assert!(snap.size(0) > req.limits.max_file_bytes);
    assert_eq!(
        snap.read(2).map(|b| b.into_owned()).ok(),
        Some(b"// TODO: latin-1 name\n".to_vec())
    );
    assert_eq!(snap.read(1).map(|b| b.len()).ok(), Some(9));
    assert!(snap.read(99).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_from_many_threads_at_once_gives_every_file() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let f = Fixture::new("app");
    for i in 0..200 {
        f.write(
            &format!("src/m{i:03}.rs"),
            format!("// TODO: item {i}\n{}", "x\n".repeat(i)),
        );
    }
    f.commit("many");
    let source = GitSource::new(open_options(temp.path()));
    let snap = fetch(&source, &request(&f.file_url()))
        .await
        .unwrap_or_else(|e| panic!("fetch: {e}"));
    assert_eq!(snap.len(), 200);
    let snap = &snap;
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for i in (t..200).step_by(4) {
                    let bytes = snap.read(i).unwrap_or_else(|e| panic!("read: {e}"));
                    let text = String::from_utf8_lossy(&bytes);
                    assert!(text.starts_with(&format!("// TODO: item {i}\n")), "{text}");
                }
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_on_fetched_bytes_and_file_count_fail_with_a_sentence() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let f = Fixture::new("app");
    // Incompressible content, so the pack is as large as the files.
    let mut noise = Vec::with_capacity(2 << 20);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    while noise.len() < 2 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.extend_from_slice(&x.to_le_bytes());
    }
    f.write("noise.bin", &noise);
    for i in 0..20 {
        f.write(&format!("f{i}.txt"), format!("{i}\n"));
    }
    f.commit("big");
    let server = GitHttpServer::start(f.root());
    let source = GitSource::new(open_options(temp.path()));
    for url in [f.file_url(), server.url("app/.git")] {
        let mut req = request(&url);
        req.limits.max_fetch_bytes = 512 << 10;
        let message = permanent(fetch(&source, &req).await);
        assert_eq!(
            message,
            format!("repository {url} is larger than the fetch limit of 524288 bytes")
        );
        let mut req = request(&url);
        req.limits.max_files = 10;
        let message = permanent(fetch(&source, &req).await);
        assert_eq!(message, "the repository has more than 10 files, the limit");
    }
    assert!(
        entries(temp.path()).is_empty(),
        "temp dirs are removed on errors"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_repositories_fail_with_a_sentence_a_user_understands() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let f = sample();
    let server = GitHttpServer::start(f.root());
    let source = GitSource::new(open_options(temp.path()));
    for url in [
        format!("file://{}/missing", f.root().display()),
        server.url("missing.git"),
    ] {
        let message = permanent(fetch(&source, &request(&url)).await);
        assert_eq!(
            message,
            format!("repository {url} was not found; check the URL and that it is accessible")
        );
    }
    // An empty repository has nothing to import.
    let empty = Fixture::new("empty");
    let message = permanent(fetch(&source, &request(&empty.file_url())).await);
    assert!(message.contains("has no commits to import"), "{message}");
    // Nothing listens on the port any more.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        format!(
            "http://{}/r.git",
            l.local_addr().unwrap_or_else(|e| panic!("{e}"))
        )
    };
    match fetch(&source, &request(&gone)).await {
        Err(ImportError::Transient(m)) => {
            assert_eq!(
                m,
                format!("could not reach the server of repository {gone}")
            )
        }
        other => panic!("expected a transient failure, got {other:?}"),
    }
    assert!(entries(temp.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_a_clear_error() {
    let f = sample();
    let server = GitHttpServer::start(f.root());
    let secure = GitSource::new(GitSourceOptions::default());
    let cases = [
        (f.file_url(), "scheme 'file' is not allowed"),
        (f.dir().display().to_string(), "local paths are not allowed"),
        (
            server.url("app/.git"),
            "loopback address, which is not allowed",
        ),
        (
            "http://localhost:1/r.git".to_owned(),
            "loopback address, which is not allowed",
        ),
        (
            "https://10.0.0.1/r.git".to_owned(),
            "private address, which is not allowed",
        ),
        (
            "https://169.254.169.254/r.git".to_owned(),
            "link-local address, which is not allowed",
        ),
        ("ext::sh -c evil".to_owned(), "spaces"),
        ("ext::sh".to_owned(), "transport-helper"),
        (
            "-uhttps://example.com/r".to_owned(),
            "must not start with '-'",
        ),
    ];
    for (url, expected) in cases {
        let message = permanent(fetch(&secure, &request(&url)).await);
        assert!(message.contains(expected), "{url}: {message}");
    }
    assert!(
        server.seen.lock().map(|s| s.is_empty()).unwrap_or(false),
        "nothing was fetched"
    );

    // A name that resolves to loopback is refused at fetch time, too.
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let name = hosts
        .lines()
        .filter(|l| l.starts_with("127."))
        .flat_map(|l| l.split_whitespace().skip(1))
        .find(|n| !n.starts_with('#') && !n.to_ascii_lowercase().contains("localhost"))
        .unwrap_or_else(|| panic!("this test needs a non-localhost name for 127.x in /etc/hosts (e.g. the machine's hostname)"))
        .to_owned();
    let url = server.url("app/.git").replace("127.0.0.1", &name);
    let message = permanent(fetch(&secure, &request(&url)).await);
    assert!(
        message.contains(&format!(
            "repository host {name} resolves to a loopback address"
        )),
        "{message}"
    );
    assert!(
        server.seen.lock().map(|s| s.is_empty()).unwrap_or(false),
        "nothing was fetched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_the_url_never_appear_in_errors() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let f = sample();
    let server = GitHttpServer::start(f.root());
    let source = GitSource::new(open_options(temp.path()));
    let secret = "s3cr3t-T0KEN";
    for (url, display) in [
        (
            server
                .url("app/.git")
                .replace("http://", &format!("http://alice:{secret}@")),
            server.url("app/.git"),
        ),
        (
            server
                .url("missing.git")
                .replace("http://", &format!("http://{secret}@")),
            server.url("missing.git"),
        ),
    ] {
        let req = FetchRequest {
            url: url.clone(),
            display_url: display.clone(),
            git_ref: None,
            limits: Limits::default(),
        };
        let err = match fetch(&source, &req).await {
            Err(e) => e,
            Ok(s) => panic!("credentials are not sent over plain http, yet {url} gave {s:?}"),
        };
        let message = err.to_string();
        assert!(!message.contains(secret), "{message}");
        assert!(!message.contains("alice"), "{message}");
        assert!(message.contains(&display), "{message}");
    }
    // They were never sent in clear text either.
    let seen = server.seen.lock().map(|s| s.join("\n")).unwrap_or_default();
    assert!(
        !seen.to_ascii_lowercase().contains("authorization"),
        "{seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_stalled_fetch_promptly_and_removes_its_temp_dir() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = StallingServer::start();
    let source = GitSource::new(GitSourceOptions {
        stall_timeout: Duration::from_secs(2),
        ..open_options(temp.path())
    });
    let cancel = CancelFlag::new();
    let canceller = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            cancel.cancel();
        })
    };
    let started = Instant::now();
    let result = source
        .fetch_snapshot(&request(&server.url("r.git")), &Progress::new(), &cancel)
        .await;
    let _ = canceller.await;
    assert!(matches!(result, Err(ImportError::Cancelled)), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert!(server.accepted() >= 1, "the fetch reached the server");
    // The blocking side gives up within the stall timeout and cleans up.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !entries(temp.path()).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        entries(temp.path()).is_empty(),
        "{:?}",
        entries(temp.path())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out_as_a_transient_failure() {
    let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = StallingServer::start();
    let source = GitSource::new(GitSourceOptions {
        stall_timeout: Duration::from_secs(1),
        ..open_options(temp.path())
    });
    let url = server.url("r.git");
    match fetch(&source, &request(&url)).await {
        Err(ImportError::Transient(m)) => assert_eq!(
            m,
            format!("the server of repository {url} did not answer in time")
        ),
        other => panic!("expected a transient timeout, got {other:?}"),
    }
    assert!(entries(temp.path()).is_empty());
}
