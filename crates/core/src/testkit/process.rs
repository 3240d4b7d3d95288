//! A test harness for test binaries that run themselves as child processes.
//!
//! Some promises only show across real processes: several engine hosts on
//! one database, a worker killed with SIGKILL in the middle of an import. A
//! test target for them sets `harness = false` and owns `main`: run with a
//! role variable set, the binary becomes the child process the tests start
//! (so no separately built binary has to be found); run without it, it runs
//! the tests through [`run_tests`], which understands the arguments cargo
//! passes and reports in cargo's test format.
//!
//! ```no_run
//! use std::process::ExitCode;
//! use std::time::Duration;
//! use todovault_core::testkit::process::{ChildProcess, child_command, run_tests};
//!
//! const ROLE: &str = "MY_CRATE_TEST_ROLE";
//!
//! fn main() -> ExitCode {
//!     if let Ok(role) = std::env::var(ROLE) {
//!         println!("ready"); // … then do the child's work for `role` …
//!         return ExitCode::SUCCESS;
//!     }
//!     run_tests(&[("a_child_says_ready", a_child_says_ready)])
//! }
//!
//! fn a_child_says_ready() {
//!     let mut child = ChildProcess::spawn("worker", child_command(ROLE, "worker"));
//!     child.expect_line("ready", Duration::from_secs(30));
//!     child.stop(Duration::from_secs(30));
//! }
//! ```

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// One test: its name and the function that runs it (a test fails by
/// panicking).
pub type Test<'a> = (&'a str, fn());

/// Runs `tests` as cargo's test harness would for the arguments this process
/// was given, and returns the exit code to end `main` with.
///
/// Understands `--list`, `--exact`, `--ignored` (none of these tests is
/// ignored, so it selects none) and name filters; other options are accepted
/// and have no effect. Prints `test <name> ... ok` / `FAILED` per test, the
/// names of the failures, and cargo's closing
/// `test result: ok. N passed; M failed; …` line.
pub fn run_tests(tests: &[Test<'_>]) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in select(tests, &args) {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    let selected = select(tests, &args);
    let started = Instant::now();
    println!("\nrunning {} tests", selected.len());
    let mut failed = Vec::new();
    for (name, test) in &selected {
        match std::panic::catch_unwind(test) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(*name);
            }
        }
    }
    if !failed.is_empty() {
        println!("\nfailures:");
        for name in &failed {
            println!("    {name}");
        }
    }
    let summary = Summary {
        passed: selected.len() - failed.len(),
        failed: failed.len(),
        filtered_out: tests.len() - selected.len(),
        elapsed: started.elapsed(),
    };
    println!("\n{summary}\n");
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        // What cargo's own harness exits with when a test fails.
        ExitCode::from(101)
    }
}

/// The tests the arguments select, in their order.
fn select<'t, 'a>(tests: &'t [Test<'a>], args: &[String]) -> Vec<&'t Test<'a>> {
    let only_ignored = args.iter().any(|a| a == "--ignored");
    let exact = args.iter().any(|a| a == "--exact");
    let filters: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    tests
        .iter()
        .filter(|(name, _)| {
            !only_ignored
                && (filters.is_empty()
                    || filters
                        .iter()
                        .any(|f| if exact { name == f } else { name.contains(f) }))
        })
        .collect()
}

/// The closing line of a run, in cargo's format (CI reads it).
struct Summary {
    passed: usize,
    failed: usize,
    filtered_out: usize,
    elapsed: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "test result: {}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out; \
             finished in {:.2}s",
            if self.failed == 0 { "ok" } else { "FAILED" },
            self.passed,
            self.failed,
            self.filtered_out,
            self.elapsed.as_secs_f64()
        )
    }
}

/// The running test binary, to start again as a child process.
pub fn test_binary() -> PathBuf {
    std::env::current_exe()
        .unwrap_or_else(|e| panic!("cannot find the test binary to run again: {e}"))
}

/// A command that runs this test binary again with `role_var` set to `role`,
/// stdin and stdout piped and stderr shared with the tests. Add the child's
/// own variables to it and start it with [`ChildProcess::spawn`].
pub fn child_command(role_var: &str, role: &str) -> Command {
    let mut cmd = Command::new(test_binary());
    cmd.env(role_var, role)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

/// A child process the test started, killed and reaped when dropped (also
/// when the test panics).
///
/// Its stdout is read line by line on a thread of its own, so waiting for a
/// line can time out. Closing its stdin is how the tests ask a child to shut
/// down.
pub struct ChildProcess {
    child: Child,
    name: String,
    lines: Receiver<std::io::Result<String>>,
}

impl ChildProcess {
    /// Starts `command` (with stdout piped, as [`child_command`] sets it);
    /// `name` says which child a failure is about.
    pub fn spawn(name: &str, mut command: Command) -> ChildProcess {
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start child process {name}: {e}"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("child process {name} was started without a stdout pipe"));
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let failed = line.is_err();
                if send.send(line).is_err() || failed {
                    return;
                }
            }
        });
        ChildProcess {
            child,
            name: name.to_owned(),
            lines,
        }
    }

    /// The next line the child prints, `None` once its stdout is closed.
    /// Panics when no line comes `within` the time given.
    pub fn next_line(&mut self, within: Duration) -> Option<String> {
        match self.lines.recv_timeout(within) {
            Ok(Ok(line)) => Some(line),
            Ok(Err(e)) => panic!("reading child process {}: {e}", self.name),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                panic!("child process {} said nothing within {within:?}", self.name)
            }
        }
    }

    /// Panics unless the next line the child prints, `within` the time
    /// given, is `wanted`.
    pub fn expect_line(&mut self, wanted: &str, within: Duration) {
        let line = self.next_line(within);
        assert!(
            line.as_deref().map(str::trim) == Some(wanted),
            "child process {} said {line:?} instead of {wanted:?}",
            self.name
        );
    }

    /// Kills it with SIGKILL, as a crash or the OOM killer would, and reaps
    /// it.
    pub fn kill(&mut self) {
        if let Err(e) = self.child.kill() {
            // Only a child that already ended cannot be killed.
            if self.child.try_wait().ok().flatten().is_none() {
                panic!("cannot kill child process {}: {e}", self.name);
            }
        }
        let _ = self.child.wait();
    }

    /// Closes its stdin (the request to shut down) and waits for it to exit;
    /// panics when it is still running after `within`.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + within;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(None) => panic!("child process {} did not exit within {within:?}", self.name),
                Err(e) => panic!("waiting for child process {}: {e}", self.name),
            }
        }
    }

    /// [`wait`](Self::wait)s for it and panics unless it exited successfully.
    pub fn stop(mut self, within: Duration) {
        let status = self.wait(within);
        assert!(
            status.success(),
            "child process {} exited with {status}",
            self.name
        );
    }

    /// [`wait`](Self::wait)s for it and returns how it exited with what it
    /// printed that was not read yet.
    pub fn output(mut self, within: Duration) -> (ExitStatus, String) {
        let status = self.wait(within);
        let mut rest = String::new();
        // The child has exited, so its stdout ends as soon as it is drained.
        while let Some(line) = self.next_line(within) {
            rest.push_str(&line);
            rest.push('\n');
        }
        (status, rest)
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass() {}

    const TESTS: &[Test<'static>] = &[
        ("claims_are_exclusive", pass),
        ("claims_survive_a_kill", pass),
        ("documents_are_whole", pass),
    ];

    fn names(args: &[&str]) -> Vec<&'static str> {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        select(TESTS, &args).iter().map(|(n, _)| *n).collect()
    }

    #[test]
    fn arguments_select_tests_as_cargo_does() {
        assert_eq!(names(&[]).len(), 3, "no filter selects everything");
        assert_eq!(
            names(&["claims", "--nocapture"]),
            ["claims_are_exclusive", "claims_survive_a_kill"],
            "a filter matches part of a name; options are not filters"
        );
        assert_eq!(names(&["claims", "--exact"]), Vec::<&str>::new());
        assert_eq!(
            names(&["--exact", "documents_are_whole"]),
            ["documents_are_whole"]
        );
        assert_eq!(
            names(&["kill", "whole"]),
            ["claims_survive_a_kill", "documents_are_whole"]
        );
        assert!(names(&["--ignored"]).is_empty(), "none is ignored");
    }

    #[test]
    fn the_closing_line_is_cargo_s() {
        let ok = Summary {
            passed: 4,
            failed: 0,
            filtered_out: 1,
            elapsed: Duration::from_millis(5540),
        };
        assert_eq!(
            ok.to_string(),
            "test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out; \
             finished in 5.54s"
        );
        let failed = Summary {
            passed: 1,
            failed: 2,
            filtered_out: 0,
            elapsed: Duration::from_millis(20),
        };
        assert_eq!(
            failed.to_string(),
            "test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; \
             finished in 0.02s"
        );
    }
}
