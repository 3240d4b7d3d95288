//! # todovault-git
//!
//! [`GitSource`]: todovault's [`RepoSource`] over [gix](https://docs.rs/gix),
//! pure Rust — no `git` binary is needed for `https://`.
//!
//! A fetch is shallow (depth 1) into a temporary bare repository with no
//! checkout: files are read straight from the commit's tree, so there is no
//! worktree and nothing a symbolic link could escape through. The returned
//! [`GitSnapshot`] lists the tree's files with their sizes (from the object
//! headers, without loading contents) and reads each file on demand from
//! any thread, so a large repository is streamed rather than held in
//! memory. The snapshot owns the temporary directory and removes it when
//! dropped; every error and cancel path removes it too.
//!
//! - **Which commit**: the remote's default branch, or the `#ref` of the
//!   URL (`FetchRequest::git_ref`: a branch, tag or commit id).
//! - **What is listed**: regular and executable files. Submodules
//!   (gitlinks) are not followed, symbolic links are not followed (their
//!   target is not a file to scan), and Git LFS pointer files are skipped
//!   (their content is not fetched); all three are counted, logged with
//!   `tracing::info!` and available from [`GitSnapshot::skipped`]. Paths
//!   that are not UTF-8 are converted lossily.
//! - **Progress** maps gix's own counters (the server counting and
//!   compressing objects, objects received and indexed, deltas resolved)
//!   onto the fetch band, live; **cancel** raises the interrupt flag gix
//!   polls, and the `fetch` future returns at once.
//! - **Where it may connect**: at fetch time, host names are resolved again
//!   and refused when any address is loopback, private, link-local or
//!   similar (unless [`GitSourceOptions::allow_private_hosts`]); the HTTP
//!   client resolves through the same rule, so no connection it opens goes
//!   elsewhere. `file://` URLs and local paths are honoured only when
//!   enabled. Redirects are not followed unless enabled, since a redirect
//!   to a literal private address could not be checked.
//! - **Credentials** in the URL are used for the fetch and appear nowhere
//!   else: errors name the redacted URL, and logged details are redacted.
//!   They are only ever sent over `https://`; a plain `http://` URL with
//!   credentials is refused. No credential helper or prompt is ever used,
//!   and no global git configuration is read.
//! - **Limits**: more bytes received than `Limits::max_fetch_bytes` or more
//!   files than `Limits::max_files` fail with a sentence saying so; files
//!   larger than `Limits::max_file_bytes` are listed with their size, for
//!   the extractor to skip. The job's wall-clock limit is enforced by the
//!   runner through the cancel flag.
//!
//! ```no_run
//! use std::sync::Arc;
//! use todovault_git::{GitSource, GitSourceOptions};
//! use todovault_core::policy::UrlPolicy;
//!
//! let urls = UrlPolicy::default();
//! let source = Arc::new(GitSource::new(GitSourceOptions::from_url_policy(&urls)));
//! // Orchestrator::builder().source(source) …
//! # let _ = source;
//! ```

#![warn(missing_docs)]

mod errors;
mod fetch;
mod net;
mod progress;
mod snapshot;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use todovault_core::policy::{RepoLocation, UrlPolicy};
use todovault_core::source::{
    CancelFlag, FetchRequest, ImportError, Progress, RepoSnapshot, RepoSource,
};

pub use snapshot::{GitSnapshot, Skipped};

use crate::errors::Redactor;
use crate::net::HostCheck;

/// How a [`GitSource`] fetches. The default is the secure one: public
/// network hosts only, no `file://`, no local paths, no redirects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSourceOptions {
    /// Hosts resolving to loopback, private, link-local and similar
    /// addresses may be fetched from.
    pub allow_private_hosts: bool,
    /// `file://` URLs are fetched (through `git upload-pack`, which must be
    /// installed).
    pub allow_file: bool,
    /// Plain local paths are opened in place (no clone).
    pub allow_local_paths: bool,
    /// HTTP redirects of the first request are followed (as git does).
    /// Names they lead to are checked like any other, but a redirect to a
    /// literal private address cannot be, so this is off unless private
    /// hosts are allowed anyway or the host trusts its servers.
    pub follow_redirects: bool,
    /// How long connecting to a server may take.
    pub connect_timeout: Duration,
    /// How long a server may send nothing before the fetch fails.
    pub stall_timeout: Duration,
    /// Where temporary repositories are created (the system's temporary
    /// directory when `None`).
    pub temp_dir: Option<PathBuf>,
}

impl Default for GitSourceOptions {
    fn default() -> Self {
        Self {
            allow_private_hosts: false,
            allow_file: false,
            allow_local_paths: false,
            follow_redirects: false,
            connect_timeout: Duration::from_secs(20),
            stall_timeout: Duration::from_secs(120),
            temp_dir: None,
        }
    }
}

impl GitSourceOptions {
    /// Options matching what `urls` allows: private hosts, `file://` and
    /// local paths exactly when the policy allows them.
    pub fn from_url_policy(urls: &UrlPolicy) -> Self {
        Self {
            allow_private_hosts: urls.allow_private_hosts,
            allow_file: urls.allow_file,
            allow_local_paths: urls.allow_local_paths,
            follow_redirects: urls.allow_private_hosts,
            ..Self::default()
        }
    }
}

/// A [`RepoSource`] fetching git repositories with gix.
#[derive(Debug, Clone, Default)]
pub struct GitSource {
    options: GitSourceOptions,
}

impl GitSource {
    /// A source with `options`.
    pub fn new(options: GitSourceOptions) -> Self {
        Self { options }
    }

    /// The options in force.
    pub fn options(&self) -> &GitSourceOptions {
        &self.options
    }

    /// Like [`RepoSource::fetch`], returning the concrete snapshot (with
    /// [`GitSnapshot::skipped`]).
    pub async fn fetch_snapshot(
        &self,
        request: &FetchRequest,
        progress: &Progress,
        cancel: &CancelFlag,
    ) -> Result<GitSnapshot, ImportError> {
        cancel.check()?;
        let redactor = Redactor::new(&request.url, &request.display_url);
        let checked = self.check_url(request)?;
        if checked.location == RepoLocation::Remote
            && !self.options.allow_private_hosts
            && let Some((host, port)) = checked.host.clone()
        {
            let display = request.display_url.clone();
            let lookup = tokio::task::spawn_blocking(move || net::check_host(&host, port));
            let outcome = tokio::select! {
                r = lookup => r.map_err(|e| ImportError::Transient(format!("the host check stopped unexpectedly: {e}")))?,
                () = cancelled(cancel) => return Err(ImportError::Cancelled),
            };
            match outcome {
                Ok(()) => {}
                Err(HostCheck::Refused(message)) => return Err(ImportError::Permanent(message)),
                Err(HostCheck::Unresolved) => {
                    return Err(ImportError::Transient(format!(
                        "the host of repository {display} could not be resolved; check the URL"
                    )));
                }
            }
        }
        let job = fetch::Job {
            url: checked.url.clone(),
            git_ref: request.git_ref.clone().or(checked.git_ref),
            max_fetch_bytes: request.limits.max_fetch_bytes,
            max_files: request.limits.max_files,
            redactor,
            options: self.options.clone(),
            progress: progress.clone(),
            cancel: cancel.clone(),
        };
        let location = checked.location;
        // gix is blocking: it runs on the blocking pool. When the job is
        // cancelled this future returns at once; the blocking side sees the
        // same flag and stops, dropping (removing) its temporary directory.
        let work = tokio::task::spawn_blocking(move || match location {
            RepoLocation::LocalPath => fetch::open_local(&job, std::path::Path::new(&job.url)),
            RepoLocation::FileUrl | RepoLocation::Remote => fetch::fetch_remote(&job),
        });
        tokio::select! {
            r = work => r.map_err(|e| ImportError::Transient(format!("the fetch stopped unexpectedly: {e}")))?,
            () = cancelled(cancel) => Err(ImportError::Cancelled),
        }
    }

    /// Applies this source's own rules (file URLs, local paths, private
    /// hosts) on top of the scheme rules the engine already enforced.
    fn check_url(
        &self,
        request: &FetchRequest,
    ) -> Result<todovault_core::policy::CheckedUrl, ImportError> {
        let policy = UrlPolicy {
            allow_http: true,
            allow_ssh: true,
            allow_git: true,
            allow_file: self.options.allow_file,
            allow_local_paths: self.options.allow_local_paths,
            allow_private_hosts: self.options.allow_private_hosts,
        };
        let checked = policy
            .check(&request.url)
            .map_err(|e| ImportError::Permanent(refusal_sentence(&e)))?;
        if let Ok(parsed) = url::Url::parse(&checked.url)
            && parsed.scheme() == "http"
            && (!parsed.username().is_empty() || parsed.password().is_some())
        {
            return Err(errors::import_error(
                errors::Failure::ClearTextCredentials,
                &request.display_url,
            ));
        }
        if checked.location == RepoLocation::FileUrl && fetch::file_url_path(&checked.url).is_none()
        {
            return Err(ImportError::Permanent(format!(
                "{} is not a local file URL",
                request.display_url
            )));
        }
        Ok(checked)
    }
}

/// The message of a policy refusal, without the error's type name.
fn refusal_sentence(e: &todovault_core::Error) -> String {
    match e {
        todovault_core::Error::Validation { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Resolves once `cancel` is raised.
async fn cancelled(cancel: &CancelFlag) {
    while !cancel.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[async_trait]
impl RepoSource for GitSource {
    async fn fetch(
        &self,
        request: &FetchRequest,
        progress: &Progress,
        cancel: &CancelFlag,
    ) -> Result<Box<dyn RepoSnapshot>, ImportError> {
        let snapshot = self.fetch_snapshot(request, progress, cancel).await?;
        Ok(Box::new(snapshot))
    }
}
