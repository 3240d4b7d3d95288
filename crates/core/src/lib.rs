//! # todovault-core
//!
//! The engine behind todovault: it keeps a workspace's **Master TODO**
//! portable. It imports a git repository into a workspace as a Master TODO (a
//! durable background job that clients poll), syncs that Master TODO to
//! object storage (the *vault*), lists what the vault holds, and imports a
//! vault snapshot into another workspace.
//!
//! The crate knows no backend. It defines:
//!
//! - the [Master TODO document](document) and its typed [ids],
//! - four store traits — [`JobStore`], [`TodoStore`], [`VaultStore`],
//!   [`RepoSource`] — and the [`Extractor`] step, all object safe so hosts
//!   pass `Arc<dyn …>`,
//! - the [`Orchestrator`], whose methods are the five endpoints of the API
//!   contract, and the [job runner](runner) that executes imports,
//! - [in-memory stores](memory) and, behind the `testkit` feature, the
//!   conformance suites every backend runs against itself.
//!
//! Errors are one [`Error`] type whose variants map 1:1 onto the contract's
//! HTTP statuses and JSON envelopes.

#![warn(missing_docs)]

pub mod api;
pub mod document;
pub mod error;
pub mod extract;
pub mod ids;
pub mod jobs;
pub mod memory;
pub mod merge;
pub mod orchestrator;
pub mod policy;
pub mod runner;
#[cfg(feature = "scan")]
pub mod scan_extractor;
pub mod source;
#[cfg(any(test, feature = "testkit", doctest))]
pub mod testkit;
pub mod todos;
pub mod vault;

pub use document::{CreatedBy, Entry, EntryStatus, MasterTodo, Origin, Phase, Priority};
pub use error::{Error, Result};
pub use extract::{Extractor, WorkItem, WorkItemKind};
pub use ids::{EntryId, ImportJobId, PhaseId, TodoId, WorkspaceId};
pub use jobs::{ImportJob, JobState, JobStore};
pub use orchestrator::{Orchestrator, OrchestratorBuilder};
pub use policy::{Limits, Policy, UrlPolicy};
pub use runner::{RunnerConfig, Workers};
pub use source::{RepoSnapshot, RepoSource};
pub use todos::TodoStore;
pub use vault::VaultStore;
