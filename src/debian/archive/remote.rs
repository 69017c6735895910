//! The archive over HTTP: which mirrors serve which suites, each suite's signed release
//! and its `Packages` index, every byte checked against the signature or hash above it.

use std::io::Read;

use anyhow::{Context, Result, bail};
use reqwest::StatusCode;
use reqwest::blocking::Client;

use super::keyring::Keyring;
use super::packages::{Candidate, Origin, read_index};
use super::release::Release;
use crate::store::http::{self, DownloadError};
use crate::store::{Cache, Digest, Progress};

pub const MIRROR_VAR: &str = "PYSHIP_DEBIAN_MIRROR";
pub const SECURITY_VAR: &str = "PYSHIP_DEBIAN_SECURITY_MIRROR";
const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
const DEFAULT_SECURITY: &str = "http://deb.debian.org/debian-security";
/// The most an index's listed size reserves up front (Debian's largest is ~60 MB).
const INDEX_HINT_LIMIT: u64 = 256 << 20;

/// Where SUITE, SUITE-updates and SUITE-security come from, without trailing slashes.
#[derive(Debug, Clone)]
pub struct Mirrors {
    pub main: String,
    pub security: Option<String>,
}

impl Mirrors {
    pub fn from_env() -> Mirrors {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let main = var(MIRROR_VAR).unwrap_or_else(|| DEFAULT_MIRROR.to_owned());
        let security = match var(SECURITY_VAR) {
            Some(v) if v == "none" => None,
            Some(v) => Some(v),
            None => Some(DEFAULT_SECURITY.to_owned()),
        };
        Mirrors {
            main: main.trim_end_matches('/').to_owned(),
            security: security.map(|s| s.trim_end_matches('/').to_owned()),
        }
    }

    /// The variable that names the mirror of `origin`, for errors that ask to change it.
    pub fn variable(origin: Origin) -> &'static str {
        match origin {
            Origin::Main => MIRROR_VAR,
            Origin::Security => SECURITY_VAR,
        }
    }

    pub fn base(&self, origin: Origin) -> &str {
        match origin {
            Origin::Main => &self.main,
            Origin::Security => self.security.as_deref().unwrap_or(&self.main),
        }
    }

    /// The suites to read, in order: the release, its updates and its security fixes.
    pub fn suites(&self, suite: &str) -> Vec<(String, Origin)> {
        let mut out = vec![
            (suite.to_owned(), Origin::Main),
            (format!("{suite}-updates"), Origin::Main),
        ];
        if self.security.is_some() {
            out.push((format!("{suite}-security"), Origin::Security));
        }
        out
    }
}

/// Why a release could not be had; `Unreachable` lets a cached resolution stand in.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the mirror has no such suite")]
    Missing,
    #[error("cannot reach {host}: {cause}: set {variable} to a mirror you can reach")]
    Unreachable {
        host: String,
        cause: String,
        variable: &'static str,
    },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Fetches and verifies `dists/SUITE/InRelease`.
pub fn release(
    client: &Client,
    mirrors: &Mirrors,
    origin: Origin,
    suite: &str,
    keyring: &Keyring,
) -> Result<Release, FetchError> {
    let base = mirrors.base(origin);
    let unreachable = |cause: String| FetchError::Unreachable {
        host: http::host(base),
        cause,
        variable: Mirrors::variable(origin),
    };
    let url = format!("{base}/dists/{suite}/InRelease");
    let response =
        http::send_idempotent(|| client.get(&url)).map_err(|err| unreachable(http::cause(&err)))?;
    match response.status() {
        StatusCode::NOT_FOUND => return Err(FetchError::Missing),
        status if !status.is_success() => {
            return Err(anyhow::anyhow!(
                "{} answered {status} for the InRelease of {suite}",
                http::redact(base)
            )
            .into());
        }
        _ => {}
    }
    let mut bytes = Vec::new();
    response
        .take(64 << 20)
        .read_to_end(&mut bytes)
        .map_err(|err| unreachable(err.to_string()))?;
    let text = keyring.verify(&bytes, suite)?;
    let release = Release::parse(&text)
        .with_context(|| format!("the InRelease of {suite} at {}", http::redact(base)))?;
    if !release.is_named(suite) {
        return Err(anyhow::anyhow!(
            "the InRelease at {}/dists/{suite} calls itself {}: the mirror serves the wrong suite",
            http::redact(base),
            release
                .codename
                .as_deref()
                .or(release.suite.as_deref())
                .unwrap_or("nothing")
        )
        .into());
    }
    release
        .check_fresh(jiff::Timestamp::now())
        .with_context(|| format!("the InRelease of {suite}"))?;
    Ok(release)
}

/// One suite as read: where it lives and its verified release.
pub struct Suite<'a> {
    pub name: &'a str,
    pub origin: Origin,
    pub base: &'a str,
    pub release: &'a Release,
}

/// The `main` index of `suite` for `architecture`, fetched into the cache by the hash
/// the release signed (or taken from it), and read.
pub fn packages(
    client: &Client,
    cache: &Cache,
    suite: &Suite,
    architecture: &str,
    progress: &Progress,
) -> Result<Vec<Candidate>> {
    let Suite {
        name: suite,
        origin,
        base,
        release,
    } = *suite;
    let Some(file) = release.packages_index("main", architecture) else {
        bail!(
            "{suite} has no packages for {architecture}: Debian architectures are amd64 and arm64"
        );
    };
    let digest: Digest = format!("sha256:{}", file.sha256).parse()?;
    if !cache.has_blob(&digest) {
        let url = format!("{base}/dists/{suite}/{}", file.path);
        let shown = format!("{}/dists/{suite}/{}", http::redact(base), file.path);
        let task = progress.bytes(file.size, &format!("{suite} {architecture} index"));
        http::download(cache, &digest, Some(file.size), &|| client.get(&url), &mut |chunk| {
            task.inc(chunk.len() as u64)
        })
        .map_err(|err| match err {
                DownloadError::Mismatch(_) | DownloadError::TooLarge(_) => anyhow::anyhow!(
                    "{shown} does not match the sha256 its signed InRelease lists: the mirror is damaged or tampered with; nothing was cached"
                ),
                other => anyhow::anyhow!("cannot download {shown}: {other}"),
            })?;
        task.finish();
    }
    let compressed = cache.open_blob(&digest)?;
    // Sized once from the release's listing of the plain index: growing a buffer of
    // tens of MB by doubling costs more than parsing it.
    let plain = file
        .path
        .rsplit_once('.')
        .map_or(file.path.as_str(), |(p, _)| p);
    let listed = release
        .files
        .iter()
        .find(|f| f.path == plain)
        .map_or(0, |f| f.size);
    let mut text = String::with_capacity(listed.min(INDEX_HINT_LIMIT) as usize);
    let read = if file.path.ends_with(".xz") {
        liblzma::read::XzDecoder::new(compressed).read_to_string(&mut text)
    } else {
        flate2::read::GzDecoder::new(compressed).read_to_string(&mut text)
    };
    read.with_context(|| format!("cannot decompress {suite}'s {}", file.path))?;
    read_index(&text, architecture, origin)
        .with_context(|| format!("{suite}'s {} is not a valid Packages index", file.path))
}
