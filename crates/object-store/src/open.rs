//! Opening a vault from a URL: `s3://bucket/prefix`, `gs://bucket/prefix`,
//! `az://container/prefix`, `file:///path` and `memory:///prefix`.
//!
//! Cloud stores are configured by the options given (object_store's keys,
//! e.g. `aws_endpoint`, `azure_storage_account_name`,
//! `google_service_account`) over the usual environment variables (`AWS_*`,
//! `GOOGLE_*`, `AZURE_*`); an option given wins over the environment. A key
//! the store does not know is refused rather than silently ignored.

use std::sync::Arc;

use object_store::ObjectStoreScheme;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, parse_url_opts};
use todovault_core::{Error, Result};
use url::Url;

use crate::redact::redact;
use crate::vault::ObjectStoreVault;

impl ObjectStoreVault {
    /// Opens the vault at `url` with store `options` (object_store
    /// configuration keys and values).
    ///
    /// | URL | store | feature |
    /// |---|---|---|
    /// | `s3://bucket/prefix` | Amazon S3 or an S3-compatible server (`aws_endpoint`) | `aws` |
    /// | `gs://bucket/prefix` | Google Cloud Storage | `gcp` |
    /// | `az://container/prefix` | Azure Blob Storage (`azure_storage_account_name`, …) | `azure` |
    /// | `file:///path` | a local folder, with file locks | `fs` (default) |
    /// | `memory:///prefix` | memory, for tests | always |
    ///
    /// The URL's path is the prefix the vault lives under; snapshot keys are
    /// `vault/todo/<ULID>.json` below it. Bad URLs, unknown option keys and
    /// schemes whose feature is off are [`Error::Validation`] errors (on
    /// property `url`), without echoing any credential.
    pub fn from_url<I, K, V>(url: &str, options: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let shown = redact(url);
        let parsed = Url::parse(url)
            .map_err(|e| invalid(format!("the vault URL {shown} is not a URL: {e}")))?;
        let (scheme, path) = ObjectStoreScheme::parse(&parsed).map_err(|e| {
            invalid(format!(
                "the vault URL {shown} names no supported store: {}",
                redact(&e.to_string())
            ))
        })?;
        let options: Vec<(String, String)> = options
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_ascii_lowercase(), v.into()))
            .collect();

        match scheme {
            ObjectStoreScheme::Local => open_local(&parsed, &shown, &options),
            ObjectStoreScheme::Memory => {
                refuse_options(&options, "memory")?;
                let prefix = Path::parse(path)
                    .map_err(|e| invalid(format!("the vault URL {shown} has a bad path: {e}")))?;
                let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
                Ok(Self::assemble(with_prefix(store, prefix), shown, None))
            }
            cloud => {
                let env_prefix = cloud_env_prefix(&cloud, &shown)?;
                for (key, _) in &options {
                    check_option_key(&cloud, key, &shown)?;
                }
                // The environment first, so options given explicitly win.
                let env: Vec<(String, String)> = std::env::vars()
                    .filter(|(k, _)| k.starts_with(env_prefix))
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .filter(|(k, _)| check_option_key(&cloud, k, &shown).is_ok())
                    .collect();
                let (store, prefix) = parse_url_opts(&parsed, env.into_iter().chain(options))
                    .map_err(|e| {
                        invalid(format!(
                            "the vault at {shown} cannot be opened: {}",
                            redact(&e.to_string())
                        ))
                    })?;
                let store: Arc<dyn ObjectStore> = Arc::from(store);
                Ok(Self::assemble(with_prefix(store, prefix), shown, None))
            }
        }
    }
}

fn invalid(message: String) -> Error {
    Error::validation(["url"], message)
}

fn with_prefix(store: Arc<dyn ObjectStore>, prefix: Path) -> Arc<dyn ObjectStore> {
    if prefix.as_ref().is_empty() {
        store
    } else {
        Arc::new(PrefixStore::new(store, prefix))
    }
}

fn refuse_options(options: &[(String, String)], kind: &str) -> Result<()> {
    match options.first() {
        None => Ok(()),
        Some((key, _)) => Err(invalid(format!(
            "a {kind} vault takes no options, but {key:?} was given"
        ))),
    }
}

#[cfg(feature = "fs")]
fn open_local(url: &Url, shown: &str, options: &[(String, String)]) -> Result<ObjectStoreVault> {
    refuse_options(options, "local folder")?;
    let root = url
        .to_file_path()
        .map_err(|()| invalid(format!("the vault URL {shown} is not a local path")))?;
    ObjectStoreVault::local(root)
}

#[cfg(not(feature = "fs"))]
fn open_local(_: &Url, shown: &str, _: &[(String, String)]) -> Result<ObjectStoreVault> {
    Err(invalid(format!(
        "the vault URL {shown} needs the `fs` feature of todovault-object-store"
    )))
}

/// The environment variables a cloud store reads, or an error naming the
/// cargo feature that is off.
fn cloud_env_prefix(scheme: &ObjectStoreScheme, shown: &str) -> Result<&'static str> {
    let (prefix, feature, enabled) = match scheme {
        ObjectStoreScheme::AmazonS3 => ("AWS_", "aws", cfg!(feature = "aws")),
        ObjectStoreScheme::GoogleCloudStorage => ("GOOGLE_", "gcp", cfg!(feature = "gcp")),
        ObjectStoreScheme::MicrosoftAzure => ("AZURE_", "azure", cfg!(feature = "azure")),
        _ => {
            return Err(invalid(format!(
                "the vault URL {shown} names a store the vault does not support"
            )));
        }
    };
    if enabled {
        Ok(prefix)
    } else {
        Err(invalid(format!(
            "the vault URL {shown} needs the `{feature}` feature of todovault-object-store"
        )))
    }
}

/// Whether the store of `scheme` knows configuration `key`.
fn check_option_key(scheme: &ObjectStoreScheme, key: &str, shown: &str) -> Result<()> {
    let known = match scheme {
        #[cfg(feature = "aws")]
        ObjectStoreScheme::AmazonS3 => key.parse::<object_store::aws::AmazonS3ConfigKey>().is_ok(),
        #[cfg(feature = "gcp")]
        ObjectStoreScheme::GoogleCloudStorage => {
            key.parse::<object_store::gcp::GoogleConfigKey>().is_ok()
        }
        #[cfg(feature = "azure")]
        ObjectStoreScheme::MicrosoftAzure => {
            key.parse::<object_store::azure::AzureConfigKey>().is_ok()
        }
        _ => false,
    };
    if known {
        Ok(())
    } else {
        Err(invalid(format!(
            "the vault at {shown} has no option {key:?}"
        )))
    }
}
