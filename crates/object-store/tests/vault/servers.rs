//! Starts and stops the servers the vault is tested against: moto (an
//! S3-compatible server, from PyPI) and Azurite (the Azure Blob Storage
//! emulator, from npm). `.ci/setup.d/40-moto.sh` and `41-azurite.sh` install
//! them under `$TODOVAULT_TOOLS` (default `$HOME/.cache/todovault-ci`); a
//! missing tool fails the test with a message naming the script. Each server
//! listens on 127.0.0.1 on a free port and is killed when its guard drops.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use object_store::ObjectStore;
use todovault_object_store::ObjectStoreVault;

/// Azurite's well-known development account.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known development account key (public, documented).
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Where the CI setup scripts install the servers.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TODOVAULT_TOOLS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache").join("todovault-ci")
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("binding a free port on 127.0.0.1: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("reading the free port: {e}"))
        .port()
}

/// A running server process, killed on drop.
pub struct Server {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    name: &'static str,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Server {
    fn spawn(name: &'static str, mut command: Command, port: u16) -> Server {
        let log = std::env::temp_dir().join(format!("todovault-{name}-{port}.log"));
        let out = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("cloning the log handle: {e}"));
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let mut server = Server {
            child,
            port,
            name,
            log,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!(
                    "{} exited with {status} before listening:\n{log}",
                    self.name
                );
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!(
                    "{} did not listen on port {} within 60 s:\n{log}",
                    self.name, self.port
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Sends one HTTP/1.1 request and returns the status code and body.
pub fn http(port: u16, method: &str, target: &str, headers: &[(&str, String)]) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connecting to 127.0.0.1:{port}: {e}"));
    let mut request = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("sending {method} {target}: {e}"));
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|e| panic!("reading the answer to {method} {target}: {e}"));
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in the answer to {method} {target}: {response}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// moto's server (as `python -m moto.server` builds it), handling one
/// request at a time. Arguments: host, port.
pub const MOTO_ONE_AT_A_TIME: &str = "\
import os, sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault('MOTO_PORT', str(port))
run_simple(host, port, DomainDispatcherApplication(create_backend_app), threaded=False, request_handler=MotoRequestHandler)
";

/// moto in server mode.
pub struct Moto {
    /// The process.
    pub server: Server,
}

impl Moto {
    /// Starts moto on a free port; fails clearly when it is not installed.
    pub fn start() -> Moto {
        let python = tools_dir().join("moto-venv").join("bin").join("python");
        if !python.exists() {
            panic!(
                "moto is not installed ({} is missing): run `bash .ci/setup.d/40-moto.sh`",
                python.display()
            );
        }
        let port = free_port();
        let mut command = Command::new(python);
        // moto checks If-Match / If-None-Match and then writes without a lock,
        // so two racing conditional PUTs can both succeed on its threaded
        // server (real S3 decides them atomically). Served one request at a
        // time, its conditional writes are atomic like S3's.
        command.args(["-c", MOTO_ONE_AT_A_TIME, "127.0.0.1", &port.to_string()]);
        Moto {
            server: Server::spawn("moto", command, port),
        }
    }

    /// Creates a bucket (moto does not check signatures).
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = http(self.server.port, "PUT", &format!("/{bucket}"), &[]);
        assert_eq!(status, 200, "creating bucket {bucket} on moto: {body}");
    }

    /// The object_store options that reach this server.
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", self.server.endpoint()),
            ("aws_allow_http", "true".into()),
            ("aws_access_key_id", "testing".into()),
            ("aws_secret_access_key", "testing".into()),
            ("aws_region", "us-east-1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// A vault at `s3://bucket/prefix` on this server (the bucket is created).
    pub fn vault(&self, bucket: &str, prefix: &str) -> ObjectStoreVault {
        self.create_bucket(bucket);
        self.vault_existing(bucket, prefix)
    }

    /// A vault at `s3://bucket/prefix` in a bucket that exists.
    pub fn vault_existing(&self, bucket: &str, prefix: &str) -> ObjectStoreVault {
        ObjectStoreVault::from_url(&format!("s3://{bucket}/{prefix}"), self.options())
            .unwrap_or_else(|e| panic!("opening the moto vault: {e}"))
    }

    /// The raw store of `bucket`, without any prefix.
    pub fn raw_store(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        let url = url::Url::parse(&format!("s3://{bucket}"))
            .unwrap_or_else(|e| panic!("bucket url: {e}"));
        let (store, _) = object_store::parse_url_opts(&url, self.options())
            .unwrap_or_else(|e| panic!("opening the raw moto store: {e}"));
        Arc::from(store)
    }
}

/// Azurite's blob service.
pub struct Azurite {
    /// The process.
    pub server: Server,
}

impl Azurite {
    /// Starts Azurite on a free port; fails clearly when it is not installed.
    pub fn start() -> Azurite {
        let bin = tools_dir()
            .join("azurite")
            .join("node_modules")
            .join(".bin")
            .join("azurite-blob");
        if !bin.exists() {
            panic!(
                "Azurite is not installed ({} is missing): run `bash .ci/setup.d/41-azurite.sh`",
                bin.display()
            );
        }
        let port = free_port();
        let mut command = Command::new(bin);
        command.args([
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            &port.to_string(),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--loose",
        ]);
        Azurite {
            server: Server::spawn("azurite", command, port),
        }
    }

    /// Creates a container, signing the request with the dev account's key.
    pub fn create_container(&self, container: &str) {
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let version = "2021-08-06";
        let string_to_sign = format!(
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{container}\nrestype:container"
        );
        let key = base64::engine::general_purpose::STANDARD
            .decode(AZURITE_KEY)
            .unwrap_or_else(|e| panic!("the Azurite key is base64: {e}"));
        let tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
            string_to_sign.as_bytes(),
        );
        let signature = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
        let (status, body) = http(
            self.server.port,
            "PUT",
            &format!("/{AZURITE_ACCOUNT}/{container}?restype=container"),
            &[
                ("x-ms-date", date),
                ("x-ms-version", version.to_owned()),
                (
                    "Authorization",
                    format!("SharedKey {AZURITE_ACCOUNT}:{signature}"),
                ),
            ],
        );
        assert_eq!(
            status, 201,
            "creating container {container} on Azurite: {body}"
        );
    }

    /// The object_store options that reach this server.
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("azure_storage_account_name", AZURITE_ACCOUNT.to_owned()),
            ("azure_storage_account_key", AZURITE_KEY.to_owned()),
            (
                "azure_storage_endpoint",
                format!("{}/{AZURITE_ACCOUNT}", self.server.endpoint()),
            ),
            ("azure_allow_http", "true".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// A vault at `az://container/prefix` on this server (the container is
    /// created).
    pub fn vault(&self, container: &str, prefix: &str) -> ObjectStoreVault {
        self.create_container(container);
        self.vault_existing(container, prefix)
    }

    /// A vault at `az://container/prefix` in a container that exists.
    pub fn vault_existing(&self, container: &str, prefix: &str) -> ObjectStoreVault {
        ObjectStoreVault::from_url(&format!("az://{container}/{prefix}"), self.options())
            .unwrap_or_else(|e| panic!("opening the Azurite vault: {e}"))
    }

    /// The raw store of `container`, without any prefix.
    pub fn raw_store(&self, container: &str) -> Arc<dyn ObjectStore> {
        let url = url::Url::parse(&format!("az://{container}"))
            .unwrap_or_else(|e| panic!("container url: {e}"));
        let (store, _) = object_store::parse_url_opts(&url, self.options())
            .unwrap_or_else(|e| panic!("opening the raw Azurite store: {e}"));
        Arc::from(store)
    }
}
