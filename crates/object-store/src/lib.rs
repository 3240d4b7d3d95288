//! # todovault-object-store
//!
//! The vault on object storage: a [`VaultStore`](todovault_core::VaultStore)
//! over any [`object_store::ObjectStore`] — Amazon S3 and S3-compatible
//! servers, Google Cloud Storage, Azure Blob Storage, a local folder, or
//! memory — so a Master TODO travels the same way from a laptop folder as
//! from a bucket shared by many hosts.
//!
//! ```
//! # async fn demo() -> todovault_core::Result<()> {
//! use todovault_object_store::ObjectStoreVault;
//!
//! // `s3://bucket/prefix`, `gs://…`, `az://container/prefix` and
//! // `file:///path` work the same way (each behind its cargo feature).
//! let vault = ObjectStoreVault::from_url("memory:///team-a", Vec::<(String, String)>::new())?;
//! # let _ = vault;
//! # Ok(())
//! # }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! What a vault guarantees:
//!
//! - Snapshots live at `vault/todo/<ULID>.json` under the URL's path prefix;
//!   listings return keys without that prefix.
//! - An older version never replaces a newer one and two hosts syncing at
//!   once never lose an update: writes are conditional (`If-None-Match: *`
//!   to create, `If-Match: <etag>` to replace) where the store offers them,
//!   and guarded by an OS file lock in a local folder, which does not.
//! - A write whose outcome is unknown (a timeout, a lost response) is settled
//!   by reading the object back, never guessed.
//! - Unchanged content is not uploaded again: a content hash kept in the
//!   object's metadata lets a HEAD request decide without downloading.
//! - Readers never see a partial document: every write replaces the whole
//!   object atomically.

#![warn(missing_docs)]

mod local;
mod open;
mod redact;
mod vault;

pub use object_store;
pub use vault::{
    CONTENT_HASH_METADATA_KEY, DOCUMENT_VERSION_METADATA_KEY, ObjectStoreVault, VaultOptions,
    WORKSPACE_METADATA_KEY,
};
