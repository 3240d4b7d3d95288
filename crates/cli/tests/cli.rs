//! The `todovault` binary end to end: a real git repository built by the
//! test, a SQLite database and a local vault in a temporary folder.

use std::path::Path;
use std::process::{Command, Output};

fn todovault(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_todovault"))
        .args(args)
        .current_dir(dir)
        .env_remove("TODOVAULT_DB")
        .env_remove("TODOVAULT_VAULT")
        .env_remove("TODOVAULT_TOKENS")
        .output()
        .unwrap_or_else(|e| panic!("cannot run todovault: {e}"))
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = todovault(dir, args);
    assert!(
        out.status.success(),
        "todovault {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap_or_else(|e| {
            panic!("this test needs the git binary to build its fixture repository: {e}")
        });
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fixture_repo(root: &Path) -> std::path::PathBuf {
    let repo = root.join("repo");
    std::fs::create_dir_all(repo.join("src")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(repo.join("README.md"), "# Demo\n\nA demo repository.\n")
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        repo.join("src/main.rs"),
        "fn main() {\n    // TODO(alice): parse arguments\n    let s = \"TODO: not a task\";\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(repo.join("PLAN.md"), "- [ ] write docs\n- [x] ship\n")
        .unwrap_or_else(|e| panic!("{e}"));
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    repo
}

#[test]
fn the_main_job_imports_shows_syncs_and_discovers() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    let repo = fixture_repo(dir);
    let repo_arg = repo.to_string_lossy().into_owned();

    let out = ok(dir, &["import", &repo_arg, "--workspace", "demo"]);
    assert!(out.contains("3 entries, 2 open, 1 completed"), "{out}");
    assert!(
        dir.join("todovault.db").exists(),
        "the default database is ./todovault.db"
    );

    let table = ok(dir, &["todo", "show", "--workspace", "demo"]);
    assert!(
        table.contains("parse arguments") && table.contains("src/main.rs:2"),
        "{table}"
    );
    assert!(
        !table.contains("not a task"),
        "strings are not tasks: {table}"
    );
    let md = ok(
        dir,
        &[
            "todo",
            "show",
            "--workspace",
            "demo",
            "--format",
            "markdown",
        ],
    );
    assert!(md.contains("- [x] ship"), "{md}");
    assert!(md.contains("> A demo repository."), "{md}");
    let json = ok(
        dir,
        &["todo", "show", "--workspace", "demo", "--format", "json"],
    );
    let doc: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(doc["schema"], "todovault/master-todo/v1");
    assert_eq!(doc["entries"].as_array().map(Vec::len), Some(3));

    let out = ok(dir, &["vault", "sync", "--workspace", "demo"]);
    assert!(out.contains("Synced"), "{out}");
    let listed = ok(dir, &["--json", "vault", "discover"]);
    let listed: serde_json::Value =
        serde_json::from_str(&listed).unwrap_or_else(|e| panic!("{e}: {listed}"));
    assert_eq!(listed["todos"][0]["workspaceID"], "demo");
    let key = listed["todos"][0]["key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        dir.join("vault").join(&key).exists(),
        "the default vault is ./vault ({key})"
    );

    let out = ok(
        dir,
        &[
            "vault",
            "import",
            "--workspace",
            "other",
            "--source",
            "demo",
        ],
    );
    assert!(out.contains("into other"), "{out}");
    let other = ok(dir, &["--json", "todo", "show", "--workspace", "other"]);
    let other: serde_json::Value = serde_json::from_str(&other).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(other["imported_from"]["workspace_id"], "demo");

    // A second import of the same repository changes no entry.
    ok(dir, &["import", &repo_arg, "--workspace", "demo"]);
    let again = ok(
        dir,
        &["todo", "show", "--workspace", "demo", "--format", "json"],
    );
    let again: serde_json::Value = serde_json::from_str(&again).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again["entries"], doc["entries"]);
}

#[test]
fn errors_are_one_sentence_on_stderr_with_a_failing_exit_code() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    let cases: [(&[&str], &str); 5] = [
        (
            &["import", "/definitely/not/here", "--workspace", "demo"],
            "was not found",
        ),
        (
            &["todo", "show", "--workspace", "nobody"],
            "has no Master TODO",
        ),
        (
            &["vault", "sync", "--workspace", "nobody"],
            "Workspace not eligible for vault sync",
        ),
        (
            &[
                "status",
                "imp_01HF8Z3Q5K3VCD7Y7N8PQRSTA4",
                "--workspace",
                "demo",
            ],
            "Import job not found",
        ),
        (
            &["import", "ext::sh", "--workspace", "demo"],
            "transport-helper",
        ),
    ];
    for (args, expected) in cases {
        let out = todovault(dir, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(
            stderr
                .lines()
                .last()
                .is_some_and(|l| l.starts_with("error: ")),
            "{args:?}: {stderr}"
        );
    }
    let out = todovault(dir, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no tokens are configured"));
}

#[test]
fn help_teaches_the_first_run() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let help = ok(tmp.path(), &["--help"]);
    assert!(
        help.contains("todovault import . --workspace demo"),
        "{help}"
    );
    for sub in ["serve", "import", "status", "vault", "todo"] {
        assert!(help.contains(sub), "{sub} missing from --help");
    }
}

#[test]
fn serve_answers_the_api_and_stops_cleanly_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::process::Stdio;

    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    let repo = fixture_repo(dir);
    // The command line imports into the database the server then serves.
    ok(
        dir,
        &["import", &repo.to_string_lossy(), "--workspace", "demo"],
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_todovault"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--token",
            "demo=demo-token-0123456789",
        ])
        .current_dir(dir)
        .env_remove("TODOVAULT_TOKENS")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start todovault serve: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let mut lines = BufReader::new(stderr).lines();
    let first = lines
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("serve printed nothing"));
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_owned();

    let get = |path: &str, token: Option<&str>| -> String {
        let mut stream =
            TcpStream::connect(&addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .unwrap_or_else(|e| panic!("{e}"));
        response
    };
    let sync = {
        let mut stream = TcpStream::connect(&addr).unwrap_or_else(|e| panic!("{e}"));
        write!(
            stream,
            "POST /api/v1/workspaces/demo/orchestration/vault/sync HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer demo-token-0123456789\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .unwrap_or_else(|e| panic!("{e}"));
        response
    };
    assert!(
        sync.starts_with("HTTP/1.1 200") && sync.ends_with("{\"synced\":true}"),
        "{sync}"
    );
    let discover = get(
        "/api/v1/workspaces/demo/orchestration/vault/discover",
        Some("demo-token-0123456789"),
    );
    assert!(discover.contains("\"workspaceID\":\"demo\""), "{discover}");
    let denied = get("/api/v1/workspaces/demo/orchestration/vault/discover", None);
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
    let openapi = get("/api/v1/openapi.json", None);
    assert!(openapi.contains("\"openapi\":\"3.1.0\""), "{openapi}");

    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(killed.success());
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        status.success(),
        "serve should exit cleanly on SIGTERM, got {status}"
    );
}

/// Drops a PostgreSQL schema when the test ends, pass or fail.
struct DropSchema(String);

impl Drop for DropSchema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "test",
                "-q",
                "-c",
            ])
            .arg(format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.0))
            .output();
    }
}

#[test]
fn the_command_line_runs_on_postgres_too() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    let repo = fixture_repo(dir);
    let schema = format!("tv_cli_{}", std::process::id());
    let _guard = DropSchema(schema.clone());
    let db = "postgres://postgres@127.0.0.1:5432/test";
    let args = |rest: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec![
            "--db".into(),
            db.into(),
            "--db-schema".into(),
            schema.clone(),
        ];
        v.extend(rest.iter().map(|s| s.to_string()));
        v
    };
    let run = |rest: &[&str]| {
        let a = args(rest);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = todovault(dir, &refs);
        assert!(
            out.status.success(),
            "todovault {refs:?} failed (is PostgreSQL running on 127.0.0.1:5432? .ci/setup.d/30-postgres.sh starts it): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = run(&["import", &repo.to_string_lossy(), "--workspace", "pg"]);
    assert!(out.contains("3 entries, 2 open, 1 completed"), "{out}");
    let table = run(&["todo", "show", "--workspace", "pg"]);
    assert!(table.contains("parse arguments"), "{table}");
    assert!(
        !dir.join("todovault.db").exists(),
        "no SQLite file when --db is a postgres URL"
    );
}
