//! # todovault
//!
//! Keep a workspace's **Master TODO** portable. todovault imports a git
//! repository into a workspace as a Master TODO (a durable background job that
//! clients poll), syncs that Master TODO to object storage (the *vault*), lists
//! what the vault holds, and imports a vault snapshot into another workspace.
//!
//! This crate is the facade: it re-exports [`todovault_core`] and, behind
//! cargo features, the backend crates. See the README for the set-up commands.

pub use todovault_core as core;
pub use todovault_core::*;

#[cfg(feature = "object-store")]
pub use todovault_object_store::ObjectStoreVault;

#[cfg(feature = "sqlite")]
pub use todovault_sqlite as sqlite;

#[cfg(feature = "object-store")]
pub use todovault_object_store as object_store;

#[cfg(feature = "postgres")]
pub use todovault_postgres as postgres;

#[cfg(feature = "git")]
pub use todovault_git as git;

#[cfg(feature = "http")]
pub use todovault_http as http;

// The README's embedding example compiles and runs as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
