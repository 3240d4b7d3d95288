//! What the engine accepts: repository URL rules, limits, and who may import
//! whose vault snapshots.
//!
//! The defaults are the secure ones: `https://` only, no hosts on loopback,
//! private or link-local addresses, no transport helpers (`ext::`), nothing
//! starting with `-`, and no vault import across workspaces. A host loosens
//! them explicitly:
//!
//! ```
//! use todovault_core::policy::{Policy, UrlPolicy};
//!
//! let cli = Policy::default()
//!     .with_urls(UrlPolicy { allow_local_paths: true, allow_file: true, ..UrlPolicy::default() })
//!     .allow_cross_workspace_imports();
//! assert!(cli.urls.check("/srv/repos/app").is_ok());
//! assert!(Policy::default().urls.check("/srv/repos/app").is_err());
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ids::{WorkspaceId, shorten};

/// The contract's message for a missing or empty `repoUrl`.
pub const REPO_URL_REQUIRED: &str = "repoUrl must be a non-empty string";

/// Size, count and time limits. Each one, when hit, fails the operation with
/// a sentence naming the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bytes a repository fetch may transfer.
    pub max_fetch_bytes: u64,
    /// Files a snapshot may hold.
    pub max_files: u64,
    /// Files larger than this are not scanned (skipped, not an error).
    pub max_file_bytes: u64,
    /// Wall-clock time one import attempt may take.
    pub job_timeout: Duration,
    /// Largest Master TODO document stored or uploaded.
    pub max_snapshot_bytes: u64,
    /// Largest JSON request body a transport accepts.
    pub max_body_bytes: usize,
    /// Most entries a Master TODO may hold.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_fetch_bytes: 2 << 30,
            max_files: 500_000,
            max_file_bytes: 1 << 20,
            job_timeout: Duration::from_secs(600),
            max_snapshot_bytes: 64 << 20,
            max_body_bytes: 64 << 10,
            max_entries: 200_000,
        }
    }
}

/// Which repository URLs are accepted. The default accepts public
/// `https://` URLs only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// `http://` (plain text).
    pub allow_http: bool,
    /// `ssh://` and scp-like `user@host:path`.
    pub allow_ssh: bool,
    /// `git://`.
    pub allow_git: bool,
    /// `file://`.
    pub allow_file: bool,
    /// Plain paths such as `/srv/repo` or `./repo`.
    pub allow_local_paths: bool,
    /// Hosts on loopback, private, link-local and similar addresses.
    pub allow_private_hosts: bool,
}

/// What kind of location a repository URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoLocation {
    /// A network URL (`https`, `http`, `ssh`, `git`).
    Remote,
    /// A `file://` URL.
    FileUrl,
    /// A plain local path.
    LocalPath,
}

/// A repository URL that passed the policy.
#[derive(Clone, PartialEq, Eq)]
pub struct CheckedUrl {
    /// The URL to fetch, credentials included, without the `#ref` part.
    pub url: String,
    /// The same with credentials redacted: safe to store, log and show.
    pub display: String,
    /// The `#ref` suffix, if any.
    pub git_ref: Option<String>,
    /// The kind of location.
    pub location: RepoLocation,
    /// Host and port for network URLs (for the address check).
    pub host: Option<(String, u16)>,
}

impl fmt::Debug for CheckedUrl {
    // Never print credentials, even in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckedUrl")
            .field("display", &self.display)
            .field("git_ref", &self.git_ref)
            .field("location", &self.location)
            .finish()
    }
}

fn refuse(message: impl Into<String>) -> Error {
    Error::validation(["repoUrl"], message)
}

impl UrlPolicy {
    /// Checks a URL without touching the network. See
    /// [`UrlPolicy::check_resolved`] for the address check of host names.
    pub fn check(&self, raw: &str) -> Result<CheckedUrl> {
        if raw.trim().is_empty() {
            return Err(refuse(REPO_URL_REQUIRED));
        }
        if raw.len() > 4096 {
            return Err(refuse("repoUrl is longer than 4096 characters"));
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(refuse(
                "repoUrl must not contain spaces or control characters",
            ));
        }
        if raw.starts_with('-') {
            return Err(refuse("repoUrl must not start with '-'"));
        }
        let (body, git_ref) = match raw.split_once('#') {
            Some((body, r)) => (body, Some(check_ref(r)?)),
            None => (raw, None),
        };
        if let Some((helper, _)) = body.split_once("::")
            && !helper.contains('/')
        {
            return Err(refuse(format!(
                "repoUrl uses git's transport-helper syntax ('{}::'), which is never allowed",
                shorten(helper)
            )));
        }
        if body.contains("://") {
            return self.check_url(body, git_ref);
        }
        if is_scp_like(body) {
            if !self.allow_ssh {
                return Err(refuse(
                    "repoUrl is an SSH address, which this server does not allow; use an https:// URL",
                ));
            }
            let (user, rest) = match body.find('@') {
                Some(at) if body.find(':').is_none_or(|colon| at < colon) => {
                    (Some(&body[..at]), &body[at + 1..])
                }
                _ => (None, body),
            };
            let host = rest.split_once(':').map_or(rest, |(h, _)| h).to_owned();
            // `git@` is the conventional user, not a secret; any other user
            // name is dropped from what is shown and stored.
            let display = if user.is_none_or(|u| u == "git") {
                body.to_owned()
            } else {
                rest.to_owned()
            };
            self.check_host_literal(&host)?;
            return Ok(CheckedUrl {
                url: body.to_owned(),
                display,
                git_ref,
                location: RepoLocation::Remote,
                host: Some((host, 22)),
            });
        }
        if !self.allow_local_paths {
            return Err(refuse(
                "repoUrl must be an https:// URL; local paths are not allowed here",
            ));
        }
        Ok(CheckedUrl {
            url: body.to_owned(),
            display: body.to_owned(),
            git_ref,
            location: RepoLocation::LocalPath,
            host: None,
        })
    }

    fn check_url(&self, body: &str, git_ref: Option<String>) -> Result<CheckedUrl> {
        let mut url = url::Url::parse(body)
            .map_err(|e| refuse(format!("repoUrl is not a valid URL: {e}")))?;
        let scheme = url.scheme().to_owned();
        let (allowed, location) = match scheme.as_str() {
            "https" => (true, RepoLocation::Remote),
            "http" => (self.allow_http, RepoLocation::Remote),
            "ssh" | "git+ssh" | "ssh+git" => (self.allow_ssh, RepoLocation::Remote),
            "git" => (self.allow_git, RepoLocation::Remote),
            "file" => (self.allow_file, RepoLocation::FileUrl),
            other => {
                return Err(refuse(format!(
                    "repoUrl scheme '{}' is not supported; use https://",
                    shorten(other)
                )));
            }
        };
        if !allowed {
            return Err(refuse(format!(
                "repoUrl scheme '{scheme}' is not allowed here; use https://"
            )));
        }
        let host = if location == RepoLocation::Remote {
            let host = url
                .host_str()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| refuse("repoUrl has no host"))?
                .to_owned();
            if host.starts_with('-') {
                return Err(refuse("repoUrl host must not start with '-'"));
            }
            self.check_host_literal(&host)?;
            let port = url
                .port_or_known_default()
                .unwrap_or(match scheme.as_str() {
                    "git" => 9418,
                    "ssh" | "git+ssh" | "ssh+git" => 22,
                    _ => 443,
                });
            Some((host, port))
        } else {
            None
        };
        let full = url.to_string();
        // Credentials are dropped from what is shown and stored, so the same
        // repository keeps one identity when its token changes.
        // Clearing them only fails for URLs that cannot hold credentials,
        // which have none to clear.
        let _ = url.set_password(None);
        let _ = url.set_username("");
        Ok(CheckedUrl {
            url: full,
            display: url.to_string(),
            git_ref,
            location,
            host,
        })
    }

    fn check_host_literal(&self, host: &str) -> Result<()> {
        if self.allow_private_hosts {
            return Ok(());
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let lower = bare.to_ascii_lowercase();
        if lower == "localhost" || lower.ends_with(".localhost") {
            return Err(refuse(format!(
                "repoUrl host {} is a loopback address, which is not allowed",
                shorten(host)
            )));
        }
        if let Ok(ip) = bare.parse::<IpAddr>()
            && let Some(kind) = forbidden_address_kind(ip)
        {
            return Err(refuse(format!(
                "repoUrl host {} is a {kind} address, which is not allowed",
                shorten(host)
            )));
        }
        Ok(())
    }

    /// Resolves the URL's host name and refuses it when any address is
    /// loopback, private, link-local or similar (unless allowed). A name that
    /// does not resolve passes here; the fetch then fails with its own error.
    /// Sources should re-check the addresses they connect to with
    /// [`forbidden_address_kind`], since DNS answers may change.
    pub async fn check_resolved(&self, checked: &CheckedUrl) -> Result<()> {
        if self.allow_private_hosts {
            return Ok(());
        }
        let Some((host, port)) = &checked.host else {
            return Ok(());
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<IpAddr>().is_ok() {
            return Ok(()); // literal addresses were checked already
        }
        let Ok(addrs) = tokio::net::lookup_host((bare, *port)).await else {
            return Ok(());
        };
        for addr in addrs {
            if let Some(kind) = forbidden_address_kind(addr.ip()) {
                return Err(refuse(format!(
                    "repoUrl host {} resolves to a {kind} address, which is not allowed",
                    shorten(host)
                )));
            }
        }
        Ok(())
    }
}

fn check_ref(r: &str) -> Result<String> {
    let ok = !r.is_empty()
        && !r.starts_with('-')
        && !r.contains("..")
        && r.len() <= 255
        && r.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '.' | '-'));
    if ok {
        Ok(r.to_owned())
    } else {
        Err(refuse(
            "repoUrl's '#ref' must be a branch, tag or commit name (letters, digits, '/', '_', '.', '-')",
        ))
    }
}

/// `user@host:path` or `host:path` with no `/` before the colon (git's
/// scp-like syntax), but not a Windows drive letter.
fn is_scp_like(s: &str) -> bool {
    match s.split_once(':') {
        Some((before, _)) => !before.is_empty() && !before.contains('/') && before.len() > 1,
        None => false,
    }
}

/// Why an address may not be fetched from, or `None` when it is public.
pub fn forbidden_address_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_kind(v4);
            }
            v6_kind(v6)
        }
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_broadcast() || ip.is_multicast() {
        Some("broadcast or multicast")
    } else {
        None
    }
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("broadcast or multicast")
    } else {
        None
    }
}

/// Who asks for a vault import, from which workspace, into which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultImportScope<'a> {
    /// The workspace performing the import (the path workspace).
    pub caller: &'a WorkspaceId,
    /// The workspace that produced the snapshot.
    pub source: &'a WorkspaceId,
    /// The workspace receiving it.
    pub target: &'a WorkspaceId,
}

impl VaultImportScope<'_> {
    /// Whether everything happens within the caller's own workspace.
    pub fn is_own(&self) -> bool {
        self.caller == self.source && self.caller == self.target
    }
}

type ScopeRule = Arc<dyn Fn(&VaultImportScope<'_>) -> bool + Send + Sync>;

/// Everything the engine enforces on input.
#[derive(Clone, Default)]
pub struct Policy {
    /// Repository URL rules.
    pub urls: UrlPolicy,
    /// Limits.
    pub limits: Limits,
    cross_workspace: Option<ScopeRule>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("urls", &self.urls)
            .field("limits", &self.limits)
            .field("cross_workspace", &self.cross_workspace.is_some())
            .finish()
    }
}

impl Policy {
    /// Replaces the repository URL rules.
    pub fn with_urls(mut self, urls: UrlPolicy) -> Self {
        self.urls = urls;
        self
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Allows vault imports across workspaces when `rule` says so. Imports
    /// within the caller's own workspace are always allowed.
    pub fn with_cross_workspace_rule(
        mut self,
        rule: impl Fn(&VaultImportScope<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.cross_workspace = Some(Arc::new(rule));
        self
    }

    /// Allows every vault import across workspaces (single-tenant hosts,
    /// the command line).
    pub fn allow_cross_workspace_imports(self) -> Self {
        self.with_cross_workspace_rule(|_| true)
    }

    /// Whether a vault import in this scope is allowed.
    pub fn allows_vault_import(&self, scope: &VaultImportScope<'_>) -> bool {
        scope.is_own()
            || self
                .cross_workspace
                .as_ref()
                .is_some_and(|rule| rule(scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<CheckedUrl>) -> String {
        match r {
            Err(Error::Validation {
                property_names,
                message,
            }) => {
                assert_eq!(property_names, vec!["repoUrl".to_owned()]);
                message
            }
            other => panic!("expected a repoUrl validation error, got {other:?}"),
        }
    }

    #[test]
    fn the_default_accepts_public_https_and_drops_credentials_from_the_display() {
        let p = UrlPolicy::default();
        let c = p
            .check("https://user:s3cret@example.com/org/repo.git#main")
            .unwrap();
        assert_eq!(c.url, "https://user:s3cret@example.com/org/repo.git");
        assert_eq!(c.display, "https://example.com/org/repo.git");
        assert_eq!(c.git_ref.as_deref(), Some("main"));
        assert!(!format!("{c:?}").contains("s3cret"));
        let c = p.check("https://token@example.com/r").unwrap();
        assert_eq!(c.display, "https://example.com/r");
    }

    #[test]
    fn every_refusal_says_why() {
        let p = UrlPolicy::default();
        assert_eq!(message(p.check("")), REPO_URL_REQUIRED);
        assert_eq!(message(p.check("   ")), REPO_URL_REQUIRED);
        assert!(message(p.check("-uhttps://x")).contains("must not start with '-'"));
        assert!(message(p.check("ext::sh -c touch% /tmp/pwned")).contains("spaces"));
        assert!(message(p.check("ext::sh")).contains("transport-helper"));
        assert!(message(p.check("fd::17")).contains("transport-helper"));
        assert!(message(p.check("http://example.com/r")).contains("scheme 'http' is not allowed"));
        assert!(message(p.check("ssh://example.com/r")).contains("scheme 'ssh'"));
        assert!(message(p.check("git://example.com/r")).contains("scheme 'git'"));
        assert!(message(p.check("file:///srv/r")).contains("scheme 'file'"));
        assert!(message(p.check("ftp://example.com/r")).contains("not supported"));
        assert!(message(p.check("git@example.com:org/r.git")).contains("SSH"));
        assert!(message(p.check("/srv/repo")).contains("local paths"));
        assert!(message(p.check("./repo")).contains("local paths"));
        assert!(message(p.check("https://localhost/r")).contains("loopback"));
        assert!(message(p.check("https://127.0.0.1/r")).contains("loopback"));
        assert!(message(p.check("https://[::1]/r")).contains("loopback"));
        assert!(message(p.check("https://10.1.2.3/r")).contains("private"));
        assert!(message(p.check("https://192.168.0.1/r")).contains("private"));
        assert!(message(p.check("https://172.16.5.4/r")).contains("private"));
        assert!(message(p.check("https://169.254.169.254/r")).contains("link-local"));
        assert!(message(p.check("https://[fe80::1]/r")).contains("link-local"));
        assert!(message(p.check("https://[fd00::1]/r")).contains("private"));
        assert!(message(p.check("https://[::ffff:127.0.0.1]/r")).contains("loopback"));
        assert!(message(p.check("https://0.0.0.0/r")).contains("unspecified"));
        assert!(message(p.check("https://example.com/r#--upload-pack=x")).contains("#ref"));
        assert!(message(p.check("https://example.com/r#a..b")).contains("#ref"));
        assert!(message(p.check("https://")).contains("not a valid URL"));
        assert!(message(p.check(&format!("https://e.com/{}", "a".repeat(5000)))).contains("4096"));
    }

    #[test]
    fn hosts_can_loosen_each_rule_explicitly() {
        let p = UrlPolicy {
            allow_http: true,
            allow_ssh: true,
            allow_git: true,
            allow_file: true,
            allow_local_paths: true,
            allow_private_hosts: true,
        };
        assert!(p.check("http://127.0.0.1:8080/r.git").is_ok());
        assert_eq!(
            p.check("file:///srv/r").unwrap().location,
            RepoLocation::FileUrl
        );
        assert_eq!(p.check("/srv/r").unwrap().location, RepoLocation::LocalPath);
        let scp = p.check("deploy@example.com:org/r.git").unwrap();
        assert_eq!(scp.display, "example.com:org/r.git");
        assert_eq!(
            p.check("git@example.com:r.git").unwrap().display,
            "git@example.com:r.git"
        );
        assert!(p.check("ext::sh").is_err(), "helpers stay refused");
        assert!(p.check("-x").is_err(), "a leading '-' stays refused");
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        let p = UrlPolicy {
            allow_http: true,
            ..UrlPolicy::default()
        };
        // A name (not `localhost`, which is refused without a lookup) that
        // the system resolver maps to loopback through /etc/hosts.
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let name = hosts
            .lines()
            .filter(|l| l.starts_with("127."))
            .flat_map(|l| l.split_whitespace().skip(1))
            .find(|n| !n.starts_with('#') && !n.to_ascii_lowercase().contains("localhost"))
            .unwrap_or_else(|| {
                panic!("this test needs a non-localhost name for 127.x in /etc/hosts (e.g. the machine's hostname)")
            })
            .to_owned();
        let c = p
            .check(&format!("http://{name}:1/r"))
            .unwrap_or_else(|e| panic!("{e}"));
        let err = p.check_resolved(&c).await.unwrap_err();
        assert!(
            err.to_string().contains("resolves to a loopback address"),
            "{err}"
        );
    }

    #[test]
    fn cross_workspace_imports_need_a_rule() {
        let a = WorkspaceId::parse("a").unwrap();
        let b = WorkspaceId::parse("b").unwrap();
        let own = VaultImportScope {
            caller: &a,
            source: &a,
            target: &a,
        };
        let foreign = VaultImportScope {
            caller: &a,
            source: &b,
            target: &a,
        };
        assert!(Policy::default().allows_vault_import(&own));
        assert!(!Policy::default().allows_vault_import(&foreign));
        let p = Policy::default().with_cross_workspace_rule(|s| s.source.as_str() == "b");
        assert!(p.allows_vault_import(&foreign));
    }
}
