//! VaultStore on object_store: S3, GCS, Azure, local filesystem and memory.
