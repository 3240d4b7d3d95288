//! How a [`PostgresStore`](crate::PostgresStore) connects: the connection
//! string, the schema its tables live in, pool size and history bound.
//!
//! The connection string is kept only to connect; everything shown in logs
//! and errors (its `Debug`, [`PostgresConfig::describe`]) leaves the password
//! out.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use todovault_core::{Error, Result};

/// The schema used when none is configured.
pub const DEFAULT_SCHEMA: &str = "todovault";

/// The longest schema name accepted. PostgreSQL names are at most 63 bytes,
/// and the schema's notification channel adds a 15-byte prefix to it.
pub const MAX_SCHEMA_LEN: usize = 48;

/// Settings of a [`PostgresStore`](crate::PostgresStore).
///
/// ```
/// use todovault_postgres::PostgresConfig;
///
/// let config = PostgresConfig::new("postgres://app:secret@db.internal:5432/todovault")
///     .schema("todovault_prod")
///     .pool_size(16)
///     .history_limit(100);
/// assert!(!format!("{config:?}").contains("secret"));
/// ```
#[derive(Clone)]
pub struct PostgresConfig {
    pub(crate) url: String,
    pub(crate) schema: String,
    pub(crate) pool_size: usize,
    pub(crate) history_limit: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) listen: bool,
}

impl PostgresConfig {
    /// Settings for the database at `url`: a `postgres://user:password@host:port/db`
    /// URL or a `host=… user=… dbname=…` string. Defaults: schema
    /// [`DEFAULT_SCHEMA`], a pool of 8 connections, 50 replaced Master TODO
    /// versions kept per workspace, 10 s connect timeout, LISTEN/NOTIFY on.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: DEFAULT_SCHEMA.to_owned(),
            pool_size: 8,
            history_limit: 50,
            connect_timeout: Duration::from_secs(10),
            listen: true,
        }
    }

    /// The schema holding the tables (created if missing). Letters, digits
    /// and `_`, starting with a letter or `_`, at most [`MAX_SCHEMA_LEN`]
    /// characters, not starting with `pg_`. Case is kept: the name is always
    /// quoted.
    pub fn schema(mut self, name: impl Into<String>) -> Self {
        self.schema = name.into();
        self
    }

    /// Connections in the pool (at least 1).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// Replaced Master TODO versions kept per workspace (0 keeps none).
    pub fn history_limit(mut self, limit: usize) -> Self {
        self.history_limit = limit;
        self
    }

    /// How long connecting (and waiting for a free pooled connection) may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Whether to hold a LISTEN connection that wakes idle workers when a job
    /// becomes due (on by default; off saves one connection per host).
    pub fn listen(mut self, on: bool) -> Self {
        self.listen = on;
        self
    }

    /// The configured schema name (unvalidated).
    pub fn schema_name(&self) -> &str {
        &self.schema
    }

    /// Where this connects, without the password: `user@host:port/db`.
    pub fn describe(&self) -> String {
        match tokio_postgres::Config::from_str(&self.url) {
            Ok(pg) => describe_pg(&pg),
            Err(_) => "an unparsable connection string".to_owned(),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        validate_schema(&self.schema)?;
        if self.pool_size == 0 {
            return Err(Error::validation(
                ["pool_size"],
                "the PostgreSQL pool needs at least one connection",
            ));
        }
        if self.connect_timeout.is_zero() {
            return Err(Error::validation(
                ["connect_timeout"],
                "the PostgreSQL connect timeout must be more than zero",
            ));
        }
        Ok(())
    }

    /// The parsed connection settings, or a validation error that never
    /// repeats the password.
    pub(crate) fn pg_config(&self) -> Result<tokio_postgres::Config> {
        let mut pg = tokio_postgres::Config::from_str(&self.url).map_err(|e| {
            Error::validation(
                ["url"],
                format!(
                    "invalid PostgreSQL connection string: {}",
                    self.redactor().clean(&e.to_string())
                ),
            )
        })?;
        pg.connect_timeout(self.connect_timeout);
        if pg.get_application_name().is_none() {
            pg.application_name("todovault");
        }
        Ok(pg)
    }

    pub(crate) fn redactor(&self) -> Redactor {
        let parsed = tokio_postgres::Config::from_str(&self.url)
            .ok()
            .and_then(|pg| {
                pg.get_password()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
            });
        Redactor {
            secret: parsed
                .or_else(|| guess_password(&self.url))
                .filter(|p| !p.is_empty()),
        }
    }
}

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("database", &self.describe())
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("history_limit", &self.history_limit)
            .field("connect_timeout", &self.connect_timeout)
            .field("listen", &self.listen)
            .finish()
    }
}

pub(crate) fn describe_pg(pg: &tokio_postgres::Config) -> String {
    let host = pg
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let port = pg.get_ports().first().copied().unwrap_or(5432);
    let user = pg.get_user().unwrap_or("(default user)");
    let db = pg.get_dbname().unwrap_or("(default database)");
    format!("{user}@{host}:{port}/{db}")
}

/// Removes the connection string's password from messages.
#[derive(Debug, Clone, Default)]
pub(crate) struct Redactor {
    secret: Option<String>,
}

impl Redactor {
    pub(crate) fn clean(&self, message: &str) -> String {
        match &self.secret {
            Some(secret) => message.replace(secret.as_str(), "***"),
            None => message.to_owned(),
        }
    }
}

/// The password of a connection string that did not parse, so it can still
/// be kept out of the error: `scheme://user:PASSWORD@…` or `password=PASSWORD`.
fn guess_password(url: &str) -> Option<String> {
    if let Some(rest) = url.split_once("://").map(|(_, r)| r) {
        let userinfo = rest.rsplit_once('@').map(|(u, _)| u)?;
        return userinfo.split_once(':').map(|(_, p)| p.to_owned());
    }
    let at = url.find("password=")?;
    let value = &url[at + "password=".len()..];
    let value = value.trim_start_matches('\'');
    let end = value
        .find(|c: char| c.is_whitespace() || c == '\'')
        .unwrap_or(value.len());
    Some(value[..end].to_owned())
}

/// Checks a schema name: see [`PostgresConfig::schema`].
pub fn validate_schema(name: &str) -> Result<()> {
    let refuse = |why: &str| {
        Err(Error::validation(
            ["schema"],
            format!("invalid PostgreSQL schema name {name:?}: {why}"),
        ))
    };
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return refuse("it is empty");
    };
    if name.len() > MAX_SCHEMA_LEN {
        return refuse(&format!("it is longer than {MAX_SCHEMA_LEN} characters"));
    }
    if !(first.is_ascii_alphabetic() || first == '_') {
        return refuse("it must start with a letter or '_'");
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return refuse("only letters, digits and '_' are allowed");
    }
    if name.to_ascii_lowercase().starts_with("pg_") {
        return refuse("names starting with pg_ are reserved by PostgreSQL");
    }
    Ok(())
}

/// `name` as a quoted SQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_checked() {
        for good in ["todovault", "tv_test_01abc", "_x", "Mixed_Case"] {
            assert!(validate_schema(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1abc",
            "a-b",
            "a b",
            "x\"; drop table y; --",
            "pg_catalog",
            &"a".repeat(MAX_SCHEMA_LEN + 1),
        ] {
            let err = validate_schema(bad).err();
            assert!(
                matches!(err, Some(Error::Validation { .. })),
                "{bad:?} must be refused, got {err:?}"
            );
        }
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("Mixed"), "\"Mixed\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn passwords_never_show() {
        let config = PostgresConfig::new("postgres://app:s3cr3t@db:5433/prod");
        assert_eq!(config.describe(), "app@db:5433/prod");
        assert!(!format!("{config:?}").contains("s3cr3t"));
        assert_eq!(
            config.redactor().clean("auth failed for s3cr3t"),
            "auth failed for ***"
        );
        let kv = PostgresConfig::new("host=db user=app password=hunter2 dbname=x");
        assert_eq!(kv.redactor().clean("x hunter2 y"), "x *** y");
        // Unparsable strings still keep their password out of the error.
        let broken = PostgresConfig::new("postgres://app:letmein@db:notaport/x");
        let err = broken
            .pg_config()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!err.contains("letmein"), "{err}");
        assert!(
            err.contains("invalid PostgreSQL connection string"),
            "{err}"
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        let base = PostgresConfig::new("postgres://u@h/d");
        assert!(base.validate().is_ok());
        assert!(base.clone().pool_size(0).validate().is_err());
        assert!(base.clone().schema("bad-name").validate().is_err());
        assert!(
            base.clone()
                .connect_timeout(Duration::ZERO)
                .validate()
                .is_err()
        );
    }
}
