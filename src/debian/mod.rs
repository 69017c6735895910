//! Python bases made from Debian's binary packages, without running any of them:
//! `archive/` reads a suite's signed release, its package indexes and the `.deb` files,
//! each checked against the hash the step above it signed, and resolves the closure a
//! Python interpreter needs; `rootfs/` unpacks that closure into one reproducible layer
//! and makes what the packages' maintainer scripts would have made (the CA bundle, the
//! dpkg status database, the users). `transport::debian` turns both into a base image.

// Its caller is `transport::debian`; until that joins, parts of it are used only by tests.
#[allow(dead_code)]
pub mod rootfs;

use serde::{Deserialize, Serialize};

/// A Debian base as the user names it: `deb:SUITE[+PACKAGE...]`, plus
/// `[tool.pyship] base-packages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseSpec {
    /// The suite or codename as written: `bookworm`, `trixie`, `stable`.
    pub suite: String,
    /// Runtime packages asked for beyond the interpreter's closure, in the order given.
    pub extra: Vec<String>,
}

/// One binary package of a resolved base, pinned by the sha256 of its `.deb` (the blob
/// the cache holds it under).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DebPackage {
    pub name: String,
    /// The Debian version, epoch included (`1:2.3-4+deb12u1`).
    pub version: String,
    /// `amd64`, `arm64` or `all`.
    pub architecture: String,
    /// The source package when its name differs from the binary's, for SBOMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The path under the archive's root (`pool/main/p/python3.11/...deb`).
    pub filename: String,
    pub size: u64,
    /// Lowercase hex sha256 of the `.deb`.
    pub sha256: String,
}

impl DebPackage {
    /// The cache digest of its `.deb`; `sha256` was checked to be 64 hex digits when
    /// the index or lock was read.
    pub fn digest(&self) -> anyhow::Result<crate::store::Digest> {
        format!("sha256:{}", self.sha256).parse()
    }
}
