//! The vault's tests: core's conformance suite against memory, a local
//! folder, moto (S3) and Azurite (Azure); backend-specific checks of
//! conditional writes and metadata; fault injection; URL handling.
//!
//! moto and Azurite are started by the tests themselves (see `servers`),
//! after `.ci/setup.d/40-moto.sh` and `41-azurite.sh` installed them.

mod azure;
mod checks;
mod common;
mod conformance;
mod fault_store;
mod faults;
mod local;
mod s3;
mod servers;
mod urls;
