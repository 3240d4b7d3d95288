//! The blocking work: a shallow fetch into a temporary bare repository, or
//! opening a local repository in place, then listing the commit.
//!
//! Everything here runs on tokio's blocking pool (see [`crate::GitSource`]).
//! The temporary directory is owned by a `TempDir` from the first moment, so
//! it is removed on every way out: success (by the snapshot, when dropped),
//! an error, a cancel or a panic.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use gix::remote::Direction;
use gix::remote::fetch::{Shallow, Tags};
use todovault_core::source::{CancelFlag, ImportError, Progress};

use crate::GitSourceOptions;
use crate::errors::{Redactor, from_gix};
use crate::net::{PublicOnlyResolver, Refusal};
use crate::progress::{Interruption, Tracker, Watch};
use crate::snapshot::{GitSnapshot, ListContext};

/// A per-thread cap on gix's cache of decompressed delta bases: several
/// threads read at once, and the default (tens of MiB each) would add up.
const DELTA_BASE_CACHE: &str = "core.deltaBaseCacheLimit=16m";

/// What the blocking fetch needs, owned so it can move to another thread.
pub(crate) struct Job {
    pub(crate) url: String,
    pub(crate) git_ref: Option<String>,
    pub(crate) max_fetch_bytes: u64,
    pub(crate) max_files: u64,
    pub(crate) redactor: Redactor,
    pub(crate) options: GitSourceOptions,
    pub(crate) progress: Progress,
    pub(crate) cancel: CancelFlag,
}

fn open_options() -> gix::open::Options {
    // Isolated: no global or system git config, no environment, so nothing
    // on the host (URL rewrites, credential helpers, proxies) changes what
    // is fetched or where credentials go.
    gix::open::Options::isolated().config_overrides([DELTA_BASE_CACHE])
}

/// Opens the repository at a local path in place and lists the commit of
/// `git_ref` (HEAD when none).
pub(crate) fn open_local(job: &Job, path: &Path) -> Result<GitSnapshot, ImportError> {
    let shown = job.redactor.display().to_owned();
    if !path.exists() {
        return Err(ImportError::Permanent(format!(
            "repository {shown} was not found; check the path"
        )));
    }
    let repo = gix::open_opts(path, open_options()).map_err(|e| {
        tracing::warn!(repo = %shown, detail = %job.redactor.redact(&e.to_string()), "opening a local repository failed");
        ImportError::Permanent(format!(
            "{shown} is not a git repository; check the path"
        ))
    })?;
    job.cancel.check()?;
    let commit = local_commit(&repo, job.git_ref.as_deref()).ok_or_else(|| match &job.git_ref {
        Some(r) => ImportError::Permanent(format!(
            "the ref '{r}' was not found in repository {shown}; name a branch, tag or commit that exists"
        )),
        None => ImportError::Permanent(format!("repository {shown} has no commits to import")),
    })?;
    job.progress.set_fraction(crate::progress::FETCH_DONE);
    GitSnapshot::list(
        repo.into_sync(),
        commit,
        None,
        &ListContext {
            redactor: &job.redactor,
            max_files: job.max_files,
            progress: &job.progress,
            cancel: &job.cancel,
        },
    )
}

/// The commit `git_ref` (a branch, tag, full ref name or commit id; HEAD
/// when `None`) names in a local repository.
fn local_commit(repo: &gix::Repository, git_ref: Option<&str>) -> Option<gix::ObjectId> {
    let id = match git_ref {
        None => repo.head_id().ok()?.detach(),
        Some(r) => match repo.try_find_reference(r).ok().flatten() {
            Some(mut reference) => reference.peel_to_id().ok()?.detach(),
            None => gix::ObjectId::from_hex(r.as_bytes()).ok()?,
        },
    };
    repo.find_object(id)
        .ok()?
        .peel_to_commit()
        .ok()
        .map(|c| c.id)
}

/// Fetches the commit of `git_ref` (the default branch when none) with
/// depth 1 into a temporary bare repository, and lists it.
pub(crate) fn fetch_remote(job: &Job) -> Result<GitSnapshot, ImportError> {
    let shown = job.redactor.display().to_owned();
    let temp_root = job
        .options
        .temp_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir);
    let temp = tempfile::Builder::new()
        .prefix("todovault-fetch-")
        .tempdir_in(&temp_root)
        .map_err(|e| {
            tracing::warn!(dir = %temp_root.display(), error = %e, "creating a temporary directory failed");
            ImportError::Transient(
                "the server could not create a temporary directory for the fetch".to_owned(),
            )
        })?;
    let repo = gix::ThreadSafeRepository::init_opts(
        temp.path(),
        gix::create::Kind::Bare,
        gix::create::Options::default(),
        open_options(),
    )
    .map_err(|e| from_gix(&e, &job.redactor, "creating the temporary repository"))?;

    let tracker = Tracker::new();
    let watch = Watch::new(
        tracker.clone(),
        &job.cancel,
        &job.progress,
        job.max_fetch_bytes,
    );
    let refusal: Refusal = Arc::new(Mutex::new(None));
    let fetched = std::thread::scope(|scope| {
        scope.spawn(|| watch.run());
        let result = receive(&repo, job, tracker, &watch, &refusal);
        watch.finish();
        result
    });
    let commit = match fetched {
        Ok(commit) => commit,
        Err(err) => {
            return Err(match watch.reason() {
                Interruption::Cancelled => ImportError::Cancelled,
                Interruption::TooLarge => too_large(job, &shown),
                Interruption::None => {
                    if let Some(message) = refusal.lock().ok().and_then(|r| r.clone()) {
                        ImportError::Permanent(message)
                    } else {
                        err
                    }
                }
            });
        }
    };
    if watch.bytes_received() > job.max_fetch_bytes {
        return Err(too_large(job, &shown));
    }
    job.cancel.check()?;
    GitSnapshot::list(
        repo,
        commit,
        Some(temp),
        &ListContext {
            redactor: &job.redactor,
            max_files: job.max_files,
            progress: &job.progress,
            cancel: &job.cancel,
        },
    )
}

fn too_large(job: &Job, shown: &str) -> ImportError {
    ImportError::Permanent(format!(
        "repository {shown} is larger than the fetch limit of {} bytes",
        job.max_fetch_bytes
    ))
}

/// The refspec to fetch: the remote's HEAD, or the named ref or commit.
fn refspec(git_ref: Option<&str>) -> String {
    match git_ref {
        None => "HEAD".to_owned(),
        Some(r) => r.to_owned(),
    }
}

/// Connects, negotiates a depth-1 fetch and receives the pack. Returns the
/// commit to list.
fn receive(
    repo: &gix::ThreadSafeRepository,
    job: &Job,
    mut tracker: Tracker,
    watch: &Watch<'_>,
    refusal: &Refusal,
) -> Result<gix::ObjectId, ImportError> {
    let repo = repo.to_thread_local();
    let redactor = &job.redactor;
    let shown = redactor.display();
    let fail = |what: &'static str| move |e: gix::Error| from_gix(&e, redactor, what);
    let spec = refspec(job.git_ref.as_deref());
    let remote = repo
        .remote_at(job.url.as_str())
        .map_err(fail("preparing the fetch"))?
        .with_fetch_tags(Tags::None)
        .with_refspecs([spec.as_str()], Direction::Fetch)
        .map_err(|e| {
            tracing::warn!(repo = %shown, detail = %redactor.redact(&e.to_string()), "invalid ref");
            ImportError::Permanent(format!(
                "'{spec}' is not a valid branch, tag or commit name"
            ))
        })?;
    let mut connection = remote
        .connect(Direction::Fetch)
        .map_err(fail("connecting"))?;
    connection.set_credentials(url_credentials(&job.url));
    if let Some(http) = http_options(&repo, &job.url, &job.options, refusal) {
        connection.set_transport_options(http);
    }
    let prepared = connection
        .prepare_fetch(&mut tracker, gix::remote::ref_map::Options::default())
        .map_err(fail("listing the repository's refs"))?;
    let commit = pick_commit(prepared.ref_map(), job.git_ref.as_deref()).ok_or_else(|| {
        match &job.git_ref {
            Some(r) => ImportError::Permanent(format!(
                "the ref '{r}' was not found in repository {shown}; name a branch, tag or commit that exists"
            )),
            None => ImportError::Permanent(format!(
                "repository {shown} has no commits to import"
            )),
        }
    })?;
    let depth = NonZeroU32::MIN;
    prepared
        .with_shallow(Shallow::DepthAtRemote(depth))
        .receive(&mut tracker, &watch.interrupt)
        .map_err(fail("fetching"))?;
    if watch.interrupt.load(Ordering::SeqCst) {
        return Err(ImportError::Cancelled);
    }
    // An annotated tag points at a tag object; the files are its commit's.
    let commit = repo
        .find_object(commit)
        .and_then(|o| o.peel_to_commit())
        .map(|c| c.id)
        .map_err(|e| {
            tracing::warn!(repo = %shown, detail = %redactor.redact(&e.to_string()), "peeling the fetched ref");
            ImportError::Permanent(format!(
                "the ref fetched from repository {shown} does not name a commit"
            ))
        })?;
    Ok(commit)
}

/// The object the fetched ref names, preferring branches over tags when a
/// short name matches both.
fn pick_commit(
    ref_map: &gix::remote::fetch::RefMap,
    git_ref: Option<&str>,
) -> Option<gix::ObjectId> {
    let ids: Vec<(Option<String>, gix::ObjectId)> = ref_map
        .mappings
        .iter()
        .filter_map(|m| {
            let name = m.remote.as_name().map(|n| n.to_string());
            m.remote.as_id().map(|id| (name, id.to_owned()))
        })
        .collect();
    if let Some(r) = git_ref
        && let Some((_, id)) = ids
            .iter()
            .find(|(name, _)| name.as_deref() == Some(&format!("refs/heads/{r}")))
    {
        return Some(*id);
    }
    ids.first().map(|(_, id)| *id)
}

/// Hands gix the credentials of an `https://` URL (a token alone is sent as
/// the user name) once when the server asks, and never anything else: no
/// helper, no prompt.
fn url_credentials(
    url: &str,
) -> impl FnMut(
    gix::credentials::helper::Action,
) -> gix::Result<Option<gix::credentials::protocol::Outcome>>
+ 'static {
    let parsed = url::Url::parse(url).ok();
    let mut offered = false;
    move |action| {
        let gix::credentials::helper::Action::Get(ctx) = action else {
            return Ok(None);
        };
        // Never over plain text: only https gets the URL's credentials.
        let Some(parsed) = parsed
            .as_ref()
            .filter(|u| u.scheme() == "https" && !u.username().is_empty())
        else {
            return Ok(None);
        };
        if offered {
            return Ok(None);
        }
        offered = true;
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("v={}", s.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        Ok(Some(gix::credentials::protocol::Outcome {
            credentials: gix::sec::identity::Credentials::UsernamePassword {
                username: decode(parsed.username()),
                password: decode(parsed.password().unwrap_or("")),
                oauth_refresh_token: None,
            },
            next: ctx.into(),
        }))
    }
}

/// HTTP options: timeouts, redirects and (unless private hosts are
/// allowed) a resolver that refuses private addresses. `None` for
/// transports that are not HTTP.
fn http_options(
    repo: &gix::Repository,
    url: &str,
    options: &GitSourceOptions,
    refusal: &Refusal,
) -> Option<Box<dyn std::any::Any>> {
    use gix::protocol::transport::client::blocking_io::http;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return None;
    }
    let base = repo
        .transport_options(gix::bstr::BStr::new(url), None)
        .ok()
        .flatten();
    let mut opts = base
        .and_then(|b| b.downcast::<http::Options>().ok())
        .map(|b| *b)
        .unwrap_or_default();
    opts.connect_timeout = Some(options.connect_timeout);
    opts.follow_redirects = if options.follow_redirects {
        http::options::FollowRedirects::Initial
    } else {
        http::options::FollowRedirects::None
    };
    let allow_private = options.allow_private_hosts;
    let stall = options.stall_timeout;
    let connect = options.connect_timeout;
    let refusal = Arc::clone(refusal);
    let backend = http::reqwest::Options {
        configure_client: Some(Box::new(move |builder| {
            let builder = builder.timeout(stall).connect_timeout(connect);
            Ok(if allow_private {
                builder
            } else {
                builder.dns_resolver(Arc::new(PublicOnlyResolver {
                    refusal: Arc::clone(&refusal),
                }))
            })
        })),
        configure_request: None,
    };
    opts.backend = Some(Arc::new(Mutex::new(backend)));
    Some(Box::new(opts))
}

/// Where a `file://` URL points.
pub(crate) fn file_url_path(url: &str) -> Option<PathBuf> {
    url::Url::parse(url).ok()?.to_file_path().ok()
}
