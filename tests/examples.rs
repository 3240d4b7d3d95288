//! The examples that need no external service run as part of the tests.
//!
//! `cargo test --workspace --examples` (the README's test command) builds
//! them into `target/<profile>/examples/`, next to this test's own folder.

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap_or_else(|| panic!("unexpected test location {}", exe.display()));
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "example {name} is not built at {}; run `cargo build --examples` first (scripts/test does)",
        path.display()
    );
    path
}

fn run(name: &str, args: &[&str]) -> String {
    let out = Command::new(example(name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run example {name}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "example {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn in_memory_runs_the_whole_flow() {
    let out = run("in_memory", &[]);
    assert!(out.contains(r#""status":"completed""#), "{out}");
    assert!(out.contains("[Pending] handle empty input"), "{out}");
    assert!(!out.contains("not a task"), "{out}");
    assert!(
        out.contains(r#"{"imported":true,"targetWorkspaceID":"ws_staging_07"}"#),
        "{out}"
    );
}

#[test]
fn embed_sqlite_local_imports_this_repository() {
    let state = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state_arg = state.path().to_string_lossy().into_owned();
    let out = run(
        "embed_sqlite_local",
        &[env!("CARGO_MANIFEST_DIR"), &state_arg],
    );
    assert!(out.contains("entries imported from"), "{out}");
    assert!(out.contains("vault: vault/todo/"), "{out}");
    assert!(state.path().join("todovault.db").exists());
}

#[test]
fn axum_host_mounts_the_router_behind_its_own_auth() {
    let out = run("axum_host", &[]);
    assert!(
        out.contains("GET discover as acme -> 200 OK {\"todos\":[]}"),
        "{out}"
    );
    assert!(out.contains("GET discover without a key -> 401"), "{out}");
    assert!(
        out.contains("POST another workspace's sync -> 403"),
        "{out}"
    );
}

#[test]
fn s3_vault_explains_its_configuration_when_unset() {
    let out = Command::new(example("s3_vault"))
        .env_remove("TODOVAULT_S3_URL")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TODOVAULT_S3_URL"));
}
