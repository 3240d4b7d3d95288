//! Where a fetch may connect: the address check made at fetch time, and the
//! DNS resolver handed to the HTTP client so every connection it opens
//! (redirects included) is checked against the same rule.
//!
//! Core's `UrlPolicy` refuses literal loopback, private and link-local
//! addresses when an import starts; names are resolved again here because
//! DNS answers change between then and the fetch.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};

use todovault_core::policy::forbidden_address_kind;

/// Why a host was refused: the sentence shown to the user.
pub(crate) type Refusal = Arc<Mutex<Option<String>>>;

/// The first forbidden address among `addrs`, with its kind.
fn first_forbidden(addrs: impl IntoIterator<Item = IpAddr>) -> Option<(IpAddr, &'static str)> {
    addrs
        .into_iter()
        .find_map(|ip| forbidden_address_kind(ip).map(|kind| (ip, kind)))
}

/// The sentence for a host that resolves to a forbidden address.
pub(crate) fn refusal_message(host: &str, kind: &str) -> String {
    format!(
        "repository host {host} resolves to a {kind} address, which is not allowed; only public hosts may be imported from"
    )
}

/// Resolves `host` (blocking) and returns a refusal when any of its
/// addresses is loopback, private, link-local or similar. A name that does
/// not resolve is an error of its own.
pub(crate) fn check_host(host: &str, port: u16) -> Result<(), HostCheck> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<IpAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => (bare, port)
            .to_socket_addrs()
            .map_err(|_| HostCheck::Unresolved)?
            .map(|a| a.ip())
            .collect(),
    };
    if addrs.is_empty() {
        return Err(HostCheck::Unresolved);
    }
    match first_forbidden(addrs) {
        Some((_, kind)) => Err(HostCheck::Refused(refusal_message(bare, kind))),
        None => Ok(()),
    }
}

/// Why [`check_host`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostCheck {
    /// The name does not resolve.
    Unresolved,
    /// The name resolves to a forbidden address; the sentence says which.
    Refused(String),
}

/// A resolver for the HTTP client that refuses names resolving to
/// forbidden addresses, remembering why so the fetch error can say so.
pub(crate) struct PublicOnlyResolver {
    pub(crate) refusal: Refusal,
}

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let refusal = Arc::clone(&self.refusal);
        Box::pin(async move {
            let lookup = host.clone();
            let addrs: Vec<SocketAddr> = tokio::task::spawn_blocking(move || {
                (lookup.as_str(), 0u16)
                    .to_socket_addrs()
                    .map(|a| a.collect::<Vec<_>>())
            })
            .await
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
            if let Some((_, kind)) = first_forbidden(addrs.iter().map(|a| a.ip())) {
                let message = refusal_message(&host, kind);
                if let Ok(mut slot) = refusal.lock() {
                    *slot = Some(message.clone());
                }
                return Err(message.into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_private_hosts_are_refused_public_ones_pass() {
        match check_host("127.0.0.1", 80) {
            Err(HostCheck::Refused(m)) => assert!(m.contains("loopback"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        match check_host("localhost", 80) {
            Err(HostCheck::Refused(m)) => assert!(m.contains("loopback"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        match check_host("[fd00::1]", 80) {
            Err(HostCheck::Refused(m)) => assert!(m.contains("private"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(check_host("93.184.215.14", 443), Ok(()));
        assert_eq!(
            check_host("no-such-host.invalid", 443),
            Err(HostCheck::Unresolved)
        );
    }
}
