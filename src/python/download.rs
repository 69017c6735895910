//! Fetching locked wheels and sdists into the cache: in parallel, each verified against
//! the hash the lock recorded before it is kept (files the lock gives by path too), with the index's login (see `index`) sent to
//! that index's host only. Transient failures are retried and broken downloads
//! resumed (`store::http::download`); what still fails is told apart: a network
//! failure names the host, only whole wrong bytes are called a hash mismatch. No
//! message shows a URL's user info.

use anyhow::Result;
use rayon::prelude::*;
use reqwest::blocking::Client;

use crate::python::index::{Download, NamedIndex};
use crate::python::wheel::WheelChoice;
use crate::store::Cache;
use crate::store::http::{self, DownloadError};
use crate::store::progress::Progress;

/// Parallel downloads: enough to hide index latency, few enough to be polite.
const PARALLEL: usize = 8;

pub fn wheels(
    wheels: &[WheelChoice],
    indexes: &[NamedIndex],
    cache: &Cache,
    client: &Client,
    progress: &Progress,
) -> Result<()> {
    let missing: Vec<&WheelChoice> = wheels
        .iter()
        .filter(|w| !cache.has_blob(&w.sha256))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let total = missing.iter().map(|w| w.size.unwrap_or(0)).sum();
    let task = progress.bytes(total, &format!("downloading {} files", missing.len()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(PARALLEL)
        .build()?;
    pool.install(|| {
        missing
            .par_iter()
            .try_for_each(|wheel| fetch(wheel, indexes, cache, client, &|n| task.inc(n)))
    })?;
    task.finish();
    Ok(())
}

fn fetch(
    wheel: &WheelChoice,
    indexes: &[NamedIndex],
    cache: &Cache,
    client: &Client,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    if let Some(path) = reqwest::Url::parse(&wheel.url)
        .ok()
        .filter(|url| url.scheme() == "file")
        .and_then(|url| url.to_file_path().ok())
    {
        return import(wheel, &path, cache);
    }
    let download = Download::new(&wheel.url, wheel.index.as_deref(), indexes)?;
    let host = http::host(download.url.as_str());
    let request = || {
        let request = client.get(download.url.clone());
        match &download.login {
            Some(login) => request.basic_auth(&login.user, login.password.as_ref()),
            None => request,
        }
    };
    let result = http::download(cache, &wheel.sha256, wheel.size, &request, &mut |chunk| {
        on_bytes(chunk.len() as u64)
    });
    let Err(err) = result else {
        return Ok(());
    };
    let name = &wheel.filename;
    Err(match err {
        DownloadError::Unauthorized(_) => anyhow::anyhow!(
            "cannot download {name}: {host} asks for a login{}: set UV_INDEX_<NAME>_USERNAME and _PASSWORD for its [[tool.uv.index]], or add {host} to ~/.netrc",
            if download.login.is_some() {
                " and refused the one given"
            } else {
                ""
            }
        ),
        DownloadError::Status(status) => {
            anyhow::anyhow!("cannot download {name} from {host}: the index answered {status}")
        }
        DownloadError::Network(cause) => anyhow::anyhow!(
            "the download of {name} from {host} broke off ({cause}): check your network or index and build again"
        ),
        DownloadError::TooLarge(size) => anyhow::anyhow!(
            "{host} sent more than the {size} bytes uv.lock gives for {name}: the file changed on the index or the lock is corrupt; run `uv lock --refresh-package {}` and review the change",
            wheel.package
        ),
        DownloadError::Mismatch(mismatch) => anyhow::anyhow!(
            "{name} does not match the hash in uv.lock ({mismatch}): the file changed on the index or the lock is corrupt; run `uv lock --refresh-package {}` and review the change",
            wheel.package
        ),
        DownloadError::Cache(err) => err.context(format!("cannot store {name} in the cache")),
    })
}

/// A file the lock gives by path (`source = { path = … }`), checked against its hash
/// like a download.
fn import(wheel: &WheelChoice, path: &std::path::Path, cache: &Cache) -> Result<()> {
    let name = &wheel.filename;
    match cache.import_file(path, Some(&wheel.sha256)) {
        Ok(_) => Ok(()),
        Err(err) if err.is::<crate::store::cache::DigestMismatch>() => Err(anyhow::anyhow!(
            "{} does not match the hash in uv.lock ({err}): the file changed since it was locked; run `uv lock` and review the change",
            path.display()
        )),
        Err(err) => Err(err.context(format!(
            "cannot read {name}, locked at {}: restore it or run `uv lock`",
            path.display()
        ))),
    }
}
