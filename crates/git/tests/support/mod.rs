//! What the git source's tests share: fixture repositories built with the
//! `git` binary in temporary directories, a smart-HTTP server (`git
//! http-backend` as CGI behind a small HTTP/1.1 server on 127.0.0.1), and a
//! server that accepts connections and never answers.
//!
//! The `git` binary is installed by `.ci/setup.d/30-git.sh`; without it the
//! tests fail saying so.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A `git` command with no user or system configuration and a fixed
/// identity, so fixtures are the same on every machine.
pub fn git_command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Fixture")
        .env("GIT_AUTHOR_EMAIL", "fixture@example.com")
        .env("GIT_COMMITTER_NAME", "Fixture")
        .env("GIT_COMMITTER_EMAIL", "fixture@example.com")
        .env("GIT_TERMINAL_PROMPT", "0");
    cmd
}

/// Runs `git args` in `dir`, returning stdout; panics with git's error.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_command(dir).args(args).output().unwrap_or_else(|e| {
        panic!(
            "running `git {}` failed: {e}. These tests need the git binary; install it with .ci/setup.d/30-git.sh",
            args.join(" ")
        )
    });
    assert!(
        out.status.success(),
        "`git {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A repository with a worktree, inside a root directory that may hold
/// several (the root is what the HTTP server serves).
pub struct Fixture {
    root: tempfile::TempDir,
    name: String,
}

impl Fixture {
    /// An empty repository named `name` on branch `main`.
    pub fn new(name: &str) -> Self {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let dir = root.path().join(name);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir: {e}"));
        git(&dir, &["init", "-q", "-b", "main"]);
        // Lets a fetch name a commit id that no ref points at.
        git(&dir, &["config", "uploadpack.allowAnySHA1InWant", "true"]);
        Self {
            root,
            name: name.to_owned(),
        }
    }

    /// The root directory holding the repository.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The repository's worktree.
    pub fn dir(&self) -> PathBuf {
        self.root.path().join(&self.name)
    }

    /// The repository's `file://` URL.
    pub fn file_url(&self) -> String {
        format!("file://{}", self.dir().display())
    }

    /// Writes a file (creating directories).
    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) -> &Self {
        let full = self.dir().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir: {e}"));
        }
        std::fs::write(&full, contents).unwrap_or_else(|e| panic!("write {path}: {e}"));
        self
    }

    /// Writes a file whose name is not UTF-8.
    pub fn write_raw_name(&self, dir: &str, name: &[u8], contents: &[u8]) -> &Self {
        use std::os::unix::ffi::OsStrExt;
        let full = self.dir().join(dir).join(std::ffi::OsStr::from_bytes(name));
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir: {e}"));
        }
        std::fs::write(&full, contents).unwrap_or_else(|e| panic!("write raw name: {e}"));
        self
    }

    /// Creates a symbolic link `link` pointing at `target`.
    pub fn symlink(&self, target: &str, link: &str) -> &Self {
        std::os::unix::fs::symlink(target, self.dir().join(link))
            .unwrap_or_else(|e| panic!("symlink: {e}"));
        self
    }

    /// Removes a file.
    pub fn remove(&self, path: &str) -> &Self {
        std::fs::remove_file(self.dir().join(path)).unwrap_or_else(|e| panic!("rm {path}: {e}"));
        self
    }

    /// Commits everything; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        git(&self.dir(), &["add", "-A"]);
        git(&self.dir(), &["commit", "-q", "-m", message]);
        git(&self.dir(), &["rev-parse", "HEAD"])
    }

    /// Runs git in the repository.
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.dir(), args)
    }
}

/// `git http-backend` behind a small HTTP/1.1 server on 127.0.0.1, serving
/// every repository under a root directory. Stops when dropped.
pub struct GitHttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Request lines and headers seen, for assertions.
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl GitHttpServer {
    /// Serves `root` on a free port.
    pub fn start(root: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let root = root.to_owned();
        let thread = {
            let stop = Arc::clone(&stop);
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let root = root.clone();
                    let seen = Arc::clone(&seen);
                    std::thread::spawn(move || {
                        if let Err(e) = serve_cgi(stream, &root, &seen) {
                            eprintln!("test http server: {e}");
                        }
                    });
                }
            })
        };
        Self {
            addr,
            stop,
            thread: Some(thread),
            seen,
        }
    }

    /// `http://127.0.0.1:<port>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Request> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("").to_owned();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (target.clone(), String::new()),
    };
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let mut req = Request {
        method,
        path,
        query,
        headers,
        body: Vec::new(),
    };
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|e| std::io::Error::other(format!("bad chunk size: {e}")))?;
            let mut chunk = vec![0; n];
            reader.read_exact(&mut chunk)?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
            if n == 0 {
                break;
            }
            req.body.extend_from_slice(&chunk);
        }
    } else if let Some(len) = req.header("content-length").and_then(|v| v.parse().ok()) {
        req.body = vec![0; len];
        reader.read_exact(&mut req.body)?;
    }
    Ok(req)
}

fn serve_cgi(stream: TcpStream, root: &Path, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let req = read_request(&mut reader)?;
    if let Ok(mut seen) = seen.lock() {
        seen.push(format!("{} {}?{}", req.method, req.path, req.query));
        for (n, v) in &req.headers {
            seen.push(format!("{n}: {v}"));
        }
    }
    let mut cmd = git_command(root);
    cmd.arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &req.method)
        .env("PATH_INFO", &req.path)
        .env("QUERY_STRING", &req.query)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(ct) = req.header("content-type") {
        cmd.env("CONTENT_TYPE", ct);
    }
    if let Some(p) = req.header("git-protocol") {
        cmd.env("GIT_PROTOCOL", p);
    }
    if let Some(enc) = req.header("content-encoding") {
        cmd.env("HTTP_CONTENT_ENCODING", enc);
    }
    let mut child = cmd.spawn()?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no stdin"))?;
    let body = req.body;
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout"))?
        .read_to_end(&mut out)?;
    let _ = writer.join();
    let _ = child.wait();

    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)));
    let (head, body) = match split {
        Some((p, n)) => (
            String::from_utf8_lossy(&out[..p]).into_owned(),
            &out[p + n..],
        ),
        None => (String::new(), &out[..]),
    };
    let mut status = "200 OK".to_owned();
    let mut headers = String::new();
    for line in head.lines() {
        match line.split_once(':') {
            Some((n, v)) if n.eq_ignore_ascii_case("status") => status = v.trim().to_owned(),
            Some(_) => {
                headers.push_str(line);
                headers.push_str("\r\n");
            }
            None => {}
        }
    }
    let mut stream = reader.into_inner();
    write!(
        stream,
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
}

/// A server that accepts connections and never answers. Stops (closing
/// every connection) when dropped.
pub struct StallingServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// How many connections were accepted.
    pub accepted: Arc<Mutex<usize>>,
}

impl StallingServer {
    /// Listens on a free port.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(Mutex::new(0));
        let thread = {
            let stop = Arc::clone(&stop);
            let accepted = Arc::clone(&accepted);
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(s) = stream {
                        held.push(s);
                        if let Ok(mut n) = accepted.lock() {
                            *n += 1;
                        }
                    }
                }
                drop(held);
            })
        };
        Self {
            addr,
            stop,
            thread: Some(thread),
            accepted,
        }
    }

    /// `http://127.0.0.1:<port>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.lock().map(|n| *n).unwrap_or(0)
    }
}

impl Drop for StallingServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Entries directly inside `dir` (to check temporary directories are gone).
pub fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}
