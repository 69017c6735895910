//! Locked packages without a wheel for the target, built from their sdist: downloaded
//! and hash-checked like wheels beforehand (`download`), built once per sdist — the
//! wheel is remembered by the sdist's sha256 — and refused together when any of them
//! built into code for this machine only.

use anyhow::{Context, Result};

use super::indexes::BuildIndexes;
use super::{Batch, BuiltWheel};
use crate::python::index::NamedIndex;
use crate::python::target::Target;
use crate::python::wheel::{ArtifactKind, WheelChoice};
use crate::store::{Cache, Progress};

/// The cache records, by sdist sha256, of the wheels built from them.
const RECORDS: &str = "sdist-wheels-v1";

/// `choices` with each sdist replaced by the wheel built from it. Sdists must be in the
/// cache already.
pub fn built(
    choices: &[WheelChoice],
    target: &Target,
    indexes: &[NamedIndex],
    cache: &Cache,
    progress: &Progress,
) -> Result<Vec<WheelChoice>> {
    let cached: Vec<Option<BuiltWheel>> = choices.iter().map(|c| cached(c, cache)).collect();
    let missing = choices
        .iter()
        .zip(&cached)
        .filter(|(c, wheel)| c.kind == ArtifactKind::Sdist && wheel.is_none())
        .count();
    let mut batch = Batch::new(target, missing, "building sdists", cache, progress)?;
    let mut installed = Vec::with_capacity(choices.len());
    for (choice, cached) in choices.iter().zip(cached) {
        if choice.kind == ArtifactKind::Wheel {
            installed.push(choice.clone());
            continue;
        }
        let wheel = match cached {
            Some(wheel) => wheel,
            None => {
                let what = format!(
                    "{} {} from {}",
                    choice.package, choice.version, choice.filename
                );
                let build = |builder: &super::Builder, scratch: &std::path::Path| {
                    // pip tells an sdist by its file name, which the blob's path lacks.
                    let sdist = scratch.join(&choice.filename);
                    std::fs::copy(cache.blob_path(&choice.sha256), &sdist).with_context(|| {
                        format!("cannot copy {} out of the cache", choice.filename)
                    })?;
                    let out = scratch.join("wheel");
                    std::fs::create_dir(&out)?;
                    let indexes = BuildIndexes::new(choice.index.as_deref(), indexes)?;
                    builder.build(&sdist, &what, &indexes, &[], &out)
                };
                let built = batch.build(&what, &choice.package, Some(&choice.version), build)?;
                let Some(wheel) = built else { continue };
                cache.put_record(RECORDS, choice.sha256.hex(), &wheel)?;
                wheel
            }
        };
        installed.push(WheelChoice {
            filename: wheel.filename,
            sha256: wheel.sha256,
            kind: ArtifactKind::Wheel,
            ..choice.clone()
        });
    }
    batch.finish(&format!("pin a version that publishes wheels for {target}"))?;
    Ok(installed)
}

/// The wheel an earlier build made from this sdist, when it is still in the cache.
fn cached(choice: &WheelChoice, cache: &Cache) -> Option<BuiltWheel> {
    if choice.kind != ArtifactKind::Sdist {
        return None;
    }
    cache
        .record::<BuiltWheel>(RECORDS, choice.sha256.hex())
        .filter(|wheel| cache.has_blob(&wheel.sha256))
}
