//! Fetching locked wheels into the cache: in parallel, each verified against the hash
//! the lock recorded before it is kept.

use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use reqwest::blocking::Client;

use crate::python::wheel::WheelChoice;
use crate::store::Cache;
use crate::store::atomic::copy_with_progress;
use crate::store::cache::DigestMismatch;
use crate::store::progress::Progress;

/// Parallel downloads: enough to hide index latency, few enough to be polite.
const PARALLEL: usize = 8;

pub fn wheels(
    wheels: &[WheelChoice],
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
    let task = progress.bytes(total, &format!("downloading {} wheels", missing.len()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(PARALLEL)
        .build()?;
    pool.install(|| {
        missing
            .par_iter()
            .try_for_each(|wheel| fetch(wheel, cache, client, &|n| task.inc(n)))
    })?;
    task.finish();
    Ok(())
}

fn fetch(
    wheel: &WheelChoice,
    cache: &Cache,
    client: &Client,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    let mut response = client.get(&wheel.url).send().with_context(|| {
        format!(
            "cannot download {} from {}: check your network or index",
            wheel.filename,
            host(&wheel.url)
        )
    })?;
    if !response.status().is_success() {
        bail!(
            "cannot download {}: the index answered {}",
            wheel.filename,
            response.status()
        );
    }
    cache
        .write_blob(Some(&wheel.sha256), |out| {
            copy_with_progress(&mut response, out, |chunk| on_bytes(chunk.len() as u64))
        })
        .map_err(|err| match err.downcast_ref::<DigestMismatch>() {
            Some(mismatch) => anyhow::anyhow!(
                "{} does not match the hash in uv.lock ({mismatch}): the file changed on the index or the lock is corrupt; run `uv lock --refresh-package {}` and review the change",
                wheel.filename,
                wheel.package
            ),
            None => err.context(format!(
                "the download of {} from {} broke off: check your network or index and build again",
                wheel.filename,
                host(&wheel.url)
            )),
        })?;
    Ok(())
}

fn host(url: &str) -> &str {
    url.split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(url)
}
