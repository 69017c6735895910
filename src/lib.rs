//! pyship: a Python web service in, a production container image out.
//!
//! Data flows one way: project → plan → layers → image → output. `ARCHITECTURE.md`
//! is the map of the modules below.

mod build;
mod cache;
pub mod cli;
pub mod contract;
mod debian;
pub mod dockerfile;
mod dockerignore;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod git;
mod init;
pub mod lint;
mod oci;
mod promote;
mod python;
mod sbom;
mod secrets;
mod sign;
mod store;
mod transport;
mod verify;
