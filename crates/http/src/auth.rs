//! Who is calling: the [`Authenticator`] trait and the default bearer-token
//! authenticator.
//!
//! An authenticator turns a request's headers into the caller's workspace.
//! The router then requires the path workspace to be the caller's (403
//! otherwise). Hosts with their own authentication implement the trait, or
//! use [`ExtensionAuthenticator`] to read a [`Caller`] their own middleware
//! put into the request's extensions.
//!
//! ```
//! use todovault_http::auth::BearerTokens;
//!
//! let tokens = BearerTokens::new()
//!     .with_token("s3cret-prod-token-42", "ws_prod_42")
//!     .unwrap();
//! assert_eq!(tokens.len(), 1);
//! ```

use std::fmt;

use async_trait::async_trait;
use axum::http::request::Parts;
use todovault_core::{Error, Result, WorkspaceId};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The workspace the caller acts for.
    pub workspace: WorkspaceId,
}

/// Turns a request into the caller's workspace.
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// The caller, or [`Error::Unauthorized`] when the request carries no
    /// valid credentials.
    async fn authenticate(&self, parts: &Parts) -> Result<Caller>;
}

/// Bearer tokens mapped to workspaces: `Authorization: Bearer <token>`.
///
/// Tokens are compared in constant time, so response timing does not reveal
/// how much of a guess was right.
#[derive(Clone, Default)]
pub struct BearerTokens {
    tokens: Vec<(Vec<u8>, WorkspaceId)>,
}

impl fmt::Debug for BearerTokens {
    // Never print the tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerTokens")
            .field("count", &self.tokens.len())
            .finish()
    }
}

impl BearerTokens {
    /// No tokens: every request is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a token for a workspace. Tokens must be at least 16 characters
    /// of visible ASCII, so a typo'd configuration fails loudly.
    pub fn with_token(mut self, token: &str, workspace: &str) -> Result<Self> {
        self.add(token, workspace)?;
        Ok(self)
    }

    /// Adds a token for a workspace (see [`BearerTokens::with_token`]).
    pub fn add(&mut self, token: &str, workspace: &str) -> Result<()> {
        let workspace = WorkspaceId::parse(workspace)
            .map_err(|e| Error::validation(["token"], format!("token workspace: {e}")))?;
        if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::validation(
                ["token"],
                format!(
                    "the token for workspace {workspace} must be at least 16 visible ASCII characters"
                ),
            ));
        }
        self.tokens.push((token.as_bytes().to_vec(), workspace));
        Ok(())
    }

    /// Parses `WS=TOKEN` lines (blank lines and `#` comments ignored), as in a
    /// tokens file or the `TODOVAULT_TOKENS` variable (comma- or
    /// newline-separated).
    pub fn parse_list(text: &str) -> Result<Self> {
        let mut tokens = Self::new();
        for item in text.split([',', '\n']) {
            let item = item.trim();
            if item.is_empty() || item.starts_with('#') {
                continue;
            }
            let (ws, token) = item.split_once('=').ok_or_else(|| {
                Error::validation(["token"], "tokens are given as WORKSPACE=TOKEN")
            })?;
            tokens.add(token.trim(), ws.trim())?;
        }
        Ok(tokens)
    }

    /// How many tokens are configured.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether no token is configured.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const BEARER_EXPECTED: &str =
    "Send 'Authorization: Bearer <token>' with a token issued for this workspace";

#[async_trait]
impl Authenticator for BearerTokens {
    async fn authenticate(&self, parts: &Parts) -> Result<Caller> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::unauthorized(BEARER_EXPECTED))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| Error::unauthorized(BEARER_EXPECTED))?;
        // Check every token so timing does not depend on which one matched.
        let mut found = None;
        for (known, ws) in &self.tokens {
            if constant_time_eq(known, token.as_bytes()) {
                found = Some(ws.clone());
            }
        }
        found
            .map(|workspace| Caller { workspace })
            .ok_or_else(|| Error::unauthorized("The bearer token is not valid"))
    }
}

/// Reads the [`Caller`] that the host's own middleware stored in the
/// request's extensions (for hosts that authenticate before the router).
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtensionAuthenticator;

#[async_trait]
impl Authenticator for ExtensionAuthenticator {
    async fn authenticate(&self, parts: &Parts) -> Result<Caller> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Error::unauthorized("The request was not authenticated"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(auth: Option<&str>) -> Parts {
        let mut b = axum::http::Request::builder().uri("/");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(())
            .map(|r| r.into_parts().0)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn bearer_tokens_map_to_workspaces_and_refuse_the_rest() {
        let tokens =
            BearerTokens::parse_list("ws_a=aaaaaaaaaaaaaaaa1, ws_b=bbbbbbbbbbbbbbbb2\n# c\n")
                .unwrap_or_else(|e| panic!("{e}"));
        let caller = tokens
            .authenticate(&parts(Some("Bearer bbbbbbbbbbbbbbbb2")))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(caller.workspace.as_str(), "ws_b");
        for bad in [
            None,
            Some("Bearer nope-nope-nope-nope"),
            Some("Basic abc"),
            Some("Bearer "),
        ] {
            let err = tokens.authenticate(&parts(bad)).await.unwrap_err();
            assert_eq!(err.status_code(), 401, "{bad:?}");
        }
    }

    #[test]
    fn weak_or_malformed_token_configuration_is_refused() {
        assert!(BearerTokens::new().with_token("short", "ws").is_err());
        assert!(
            BearerTokens::new()
                .with_token("long-enough-token-1", "bad ws")
                .is_err()
        );
        assert!(BearerTokens::parse_list("no-equals-sign").is_err());
        assert!(
            !format!(
                "{:?}",
                BearerTokens::parse_list("ws=aaaaaaaaaaaaaaaaaaaa").unwrap_or_default()
            )
            .contains("aaaa")
        );
    }
}
