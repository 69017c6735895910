//! The `.deb`s of a resolution into the cache: several at once, one progress bar, each
//! checked against the sha256 its index (or the lock) pinned before it is kept.

use anyhow::{Context, Result};
use rayon::prelude::*;
use reqwest::StatusCode;
use reqwest::blocking::Client;

use super::Resolution;
use super::packages::Origin;
use super::release::snapshot_stamp;
use super::remote::{MIRROR_VAR, Mirrors, SECURITY_VAR};
use crate::debian::DebPackage;
use crate::store::http::{self, DownloadError};
use crate::store::{Cache, Progress};

/// Downloads at once: the archive's CDN answers many small requests well.
const PARALLEL: usize = 8;

pub fn fetch(
    res: &Resolution,
    mirrors: &Mirrors,
    client: &Client,
    cache: &Cache,
    progress: &Progress,
) -> Result<()> {
    let mut missing = Vec::new();
    for package in &res.packages {
        if !cache.has_blob(&package.digest()?) {
            missing.push(package);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let total = missing.iter().map(|p| p.size).sum();
    let task = progress.bytes(total, &format!("Debian packages ({})", missing.len()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(PARALLEL.min(missing.len()))
        .build()
        .context("cannot start download threads")?;
    pool.install(|| {
        missing.par_iter().try_for_each(|package| {
            let origin = if res.from_security.contains(&package.name) {
                Origin::Security
            } else {
                Origin::Main
            };
            download(res, package, origin, mirrors, client, cache, &|n| {
                task.inc(n)
            })
        })
    })?;
    task.finish();
    Ok(())
}

fn download(
    res: &Resolution,
    package: &DebPackage,
    origin: Origin,
    mirrors: &Mirrors,
    client: &Client,
    cache: &Cache,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    let base = mirrors.base(origin);
    let url = format!("{base}/{}", package.filename);
    let digest = package.digest()?;
    let what = format!(
        "{} {} ({})",
        package.name, package.version, package.architecture
    );
    http::download(cache, &digest, Some(package.size), &|| client.get(&url), &mut |chunk| {
        on_bytes(chunk.len() as u64)
    })
    .map_err(|err| match err {
        DownloadError::Mismatch(_) | DownloadError::TooLarge(_) => anyhow::anyhow!(
            "the .deb of {what} from {} does not match the sha256 its index lists: the mirror is damaged or tampered with; nothing was cached",
            http::host(base)
        ),
        DownloadError::Status(StatusCode::NOT_FOUND) => {
            let (var, archive) = match origin {
                Origin::Main => (MIRROR_VAR, "debian"),
                Origin::Security => (SECURITY_VAR, "debian-security"),
            };
            let stamp = snapshot_stamp(&res.date).unwrap_or_else(|| "<date>".to_owned());
            anyhow::anyhow!(
                "{} no longer has {what} (404): fetch it from the archive's snapshot with {var}=https://snapshot.debian.org/archive/{archive}/{stamp}/",
                http::redact(base)
            )
        }
        other => anyhow::anyhow!("cannot download {what} from {}: {other}", http::host(base)),
    })
}
