//! Turning gix's errors into [`ImportError`]s a user can act on, without
//! ever letting credentials through.
//!
//! gix's messages are detailed and may quote the URL it was given, which
//! holds the credentials. They are therefore never shown: each failure is
//! classified (not found, access refused, unreachable, too slow, …) into a
//! sentence naming the redacted URL, and the detail goes to the log only
//! after [`Redactor::redact`] has removed every secret.

use todovault_core::source::ImportError;

/// Removes the credentials of one URL from any text.
#[derive(Clone)]
pub(crate) struct Redactor {
    url: String,
    display: String,
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for `url`, shown as `display`.
    pub(crate) fn new(url: &str, display: &str) -> Self {
        let mut secrets = Vec::new();
        if let Ok(parsed) = url::Url::parse(url) {
            for raw in [parsed.password().unwrap_or(""), parsed.username()] {
                if raw.is_empty() || raw == "git" {
                    continue;
                }
                secrets.push(raw.to_owned());
                let decoded = percent_decode(raw);
                if decoded != raw {
                    secrets.push(decoded);
                }
            }
        }
        // Longest first, so a secret containing another is removed whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self {
            url: url.to_owned(),
            display: display.to_owned(),
            secrets,
        }
    }

    /// The URL safe to show.
    pub(crate) fn display(&self) -> &str {
        &self.display
    }

    /// `text` with the full URL replaced by the display URL and every
    /// credential replaced by `***`.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = if self.url != self.display && !self.url.is_empty() {
            text.replace(&self.url, &self.display)
        } else {
            text.to_owned()
        };
        for secret in &self.secrets {
            out = out.replace(secret.as_str(), "***");
        }
        out
    }
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn gix_chain_text(err: &gix::Error) -> String {
    err.iter_errors()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

fn io_kinds(err: &gix::Error) -> Vec<std::io::ErrorKind> {
    err.iter_errors()
        .filter_map(|e| e.downcast_ref::<std::io::Error>().map(|io| io.kind()))
        .collect()
}

/// What kind of failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    NotFound,
    AccessRefused,
    ClearTextCredentials,
    TimedOut,
    Unreachable,
    NotAGitServer,
    Other,
}

/// Classifies a gix error from its classes, I/O kinds and messages.
pub(crate) fn classify(err: &gix::Error) -> Failure {
    use gix::error::Class;
    let text = gix_chain_text(err).to_ascii_lowercase();
    let kinds = io_kinds(err);
    let class = err.classify().dominant_class();
    if text.contains("credentials in clear text") {
        Failure::ClearTextCredentials
    } else if text.contains("status 404")
        || text.contains("status 410")
        || text.contains("not found")
        || text.contains("does not appear to be a git repository")
        || text.contains("could not verify that")
        || text.contains("could not access remote repository")
        || text.contains("no such file or directory")
        || matches!(class, Some(Class::NotFound))
    {
        Failure::NotFound
    } else if text.contains("status 401")
        || text.contains("status 403")
        || text.contains("authentication")
        || kinds.contains(&std::io::ErrorKind::PermissionDenied)
        || matches!(
            class,
            Some(Class::Unauthenticated | Class::PermissionDenied)
        )
    {
        Failure::AccessRefused
    } else if text.contains("timed out")
        || text.contains("timeout")
        || kinds.contains(&std::io::ErrorKind::TimedOut)
    {
        Failure::TimedOut
    } else if text.contains("dumb' protocol") || text.contains("smart' protocol") {
        Failure::NotAGitServer
    } else if text.contains("connect")
        || text.contains("dns")
        || text.contains("resolve")
        || text.contains("connection")
        || text.contains("broken pipe")
        || text.contains("unexpected end of file")
        || text.contains("unexpectedeof")
        || matches!(class, Some(Class::Retryable))
        || kinds.iter().any(|k| {
            matches!(
                k,
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::NotConnected
            )
        })
    {
        Failure::Unreachable
    } else {
        Failure::Other
    }
}

/// The sentence for a failure of fetching `display`.
pub(crate) fn import_error(failure: Failure, display: &str) -> ImportError {
    match failure {
        Failure::NotFound => ImportError::Permanent(format!(
            "repository {display} was not found; check the URL and that it is accessible"
        )),
        Failure::AccessRefused => ImportError::Permanent(format!(
            "access to repository {display} was refused; check the credentials in the URL and the repository's permissions"
        )),
        Failure::ClearTextCredentials => ImportError::Permanent(format!(
            "credentials are never sent over plain http; use an https:// URL for repository {display}"
        )),
        Failure::NotAGitServer => ImportError::Permanent(format!(
            "the server of {display} did not answer as a git server (smart HTTP); check the URL"
        )),
        Failure::TimedOut => ImportError::Transient(format!(
            "the server of repository {display} did not answer in time"
        )),
        Failure::Unreachable => ImportError::Transient(format!(
            "could not reach the server of repository {display}"
        )),
        Failure::Other => ImportError::Transient(format!(
            "fetching repository {display} failed; see the server log for details"
        )),
    }
}

/// Maps a gix error to an [`ImportError`], logging the redacted detail.
pub(crate) fn from_gix(err: &gix::Error, redactor: &Redactor, what: &str) -> ImportError {
    let failure = classify(err);
    tracing::warn!(
        repo = %redactor.display(),
        ?failure,
        detail = %redactor.redact(&gix_chain_text(err)),
        "{what} failed"
    );
    import_error(failure, redactor.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_the_url_and_every_credential() {
        let r = Redactor::new(
            "https://alice:s%3Acret@example.com/r.git",
            "https://example.com/r.git",
        );
        let text = "failed for https://alice:s%3Acret@example.com/r.git (user alice, pass s:cret / s%3Acret)";
        let out = r.redact(text);
        assert!(
            !out.contains("s:cret") && !out.contains("s%3Acret"),
            "{out}"
        );
        assert!(!out.contains("alice"), "{out}");
        assert!(out.contains("https://example.com/r.git"), "{out}");
        let token = Redactor::new("https://tok123@example.com/r", "https://example.com/r");
        assert_eq!(token.redact("x tok123 y"), "x *** y");
        let plain = Redactor::new("/srv/repo", "/srv/repo");
        assert_eq!(plain.redact("/srv/repo missing"), "/srv/repo missing");
    }

    #[test]
    fn every_failure_has_a_sentence_naming_the_repository() {
        for failure in [
            Failure::NotFound,
            Failure::AccessRefused,
            Failure::ClearTextCredentials,
            Failure::NotAGitServer,
            Failure::TimedOut,
            Failure::Unreachable,
            Failure::Other,
        ] {
            let e = import_error(failure, "https://example.com/r");
            assert!(e.to_string().contains("https://example.com/r"), "{e}");
        }
        assert!(matches!(
            import_error(Failure::NotFound, "x"),
            ImportError::Permanent(_)
        ));
        assert!(matches!(
            import_error(Failure::TimedOut, "x"),
            ImportError::Transient(_)
        ));
    }
}
