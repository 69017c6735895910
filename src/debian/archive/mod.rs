//! `deb:SUITE[+PACKAGE...]` for one Debian architecture → a verified, pinned list of
//! `.deb`s, and those `.deb`s in the cache.
//!
//! The chain of trust is apt's: the suite's `InRelease` verified against the archive
//! keys (`keyring`), the `Packages` index by the sha256 the release lists (`remote`),
//! each `.deb` by the sha256 its index paragraph lists (`fetch`). `closure` picks the
//! packages a Python interpreter needs; `lock` pins them in `pyship-base.lock`; a
//! resolution is cached for a day so a second build reads nothing from the network.

pub(crate) mod closure;
mod deb822;
mod fetch;
pub(crate) mod keyring;
mod lock;
pub(crate) mod packages;
pub(crate) mod relation;
pub(crate) mod release;
mod remote;
mod resolve;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;
use reqwest::blocking::Client;
use serde::{Deserialize, Serialize};

use super::{BaseSpec, DebPackage};
use crate::store::{Cache, Progress};

pub use lock::FILE_NAME as LOCK_FILE_NAME;

/// What a build asks of the archive.
pub struct Request<'a> {
    pub spec: &'a BaseSpec,
    /// Debian architecture: `amd64` or `arm64`.
    pub architecture: &'a str,
    /// The project's X.Y; `None`: the suite's default `python3`.
    pub python: Option<(u64, u64)>,
    /// The project's `pyship-base.lock`, used when it exists.
    pub lock_file: Option<&'a Path>,
    /// Write or refresh this architecture's part of the lock.
    pub update_lock: bool,
    /// Read the archive again even if a recent resolution is cached.
    pub refresh: bool,
}

/// A base resolved to exact packages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// `bookworm`.
    pub codename: String,
    /// `12.8` (the release's Version), or the suite name if it has none.
    pub release: String,
    /// The InRelease `Date`.
    pub date: String,
    pub python: (u64, u64),
    /// `/usr/bin/python3.11`.
    pub interpreter: String,
    /// The closure, sorted by name.
    pub packages: Vec<DebPackage>,
    /// Dependencies deliberately left out (shells, package managers, script helpers).
    pub omitted: Vec<String>,
    /// Where the `.deb`s come from, without logins.
    pub mirror: String,
    /// Where the security fixes come from, without logins, when any were taken.
    #[serde(default)]
    pub security_mirror: Option<String>,
    /// The packages whose `.deb` comes from the security mirror.
    #[serde(default)]
    pub from_security: BTreeSet<String>,
}

/// Resolves the request: from the lock when it exists (and is not being updated),
/// else from a resolution cached less than a day ago, else from the archive.
pub fn resolve(
    req: &Request,
    client: &Client,
    cache: &Cache,
    progress: &Progress,
) -> Result<Resolution> {
    let settings = resolve::Settings::from_env()?;
    resolve::resolve(req, &settings, client, cache, progress)
}

/// Gets every `.deb` of the resolution into the cache, in parallel, each checked
/// against its sha256; those already cached are not downloaded.
pub fn fetch(res: &Resolution, client: &Client, cache: &Cache, progress: &Progress) -> Result<()> {
    fetch::fetch(res, &remote::Mirrors::from_env(), client, cache, progress)
}
