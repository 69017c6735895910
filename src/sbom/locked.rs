//! The lock's wheels behind an image pyship built: for each distribution pyship
//! installed (its INSTALLER says so), the wheel its project's lock pins for that name
//! and version whose tags are exactly those the installed WHEEL file lists. The image
//! keeps no wheel hash of its own, so this is how `pyship sbom --project` gives the
//! same hashes as the SBOM a push attaches.

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result};
use uv_distribution_filename::WheelFilename;

use super::inventory::{BuildFacts, InstalledWheel, PythonDist};
use crate::oci::platform::ImagePlatform;
use crate::python::lock::{Lock, LockedPackage, Selection, normalize};
use crate::python::target::Target;
use crate::store::{Cache, Progress};
use crate::transport::ResolvedImage;

/// What the project at `dir` says about the distributions in `python`, installed in
/// `image` for `platform`.
pub fn build_facts(
    dir: &Path,
    python: &[PythonDist],
    image: &ResolvedImage,
    platform: ImagePlatform,
    cache: &Cache,
    progress: &Progress,
) -> Result<BuildFacts> {
    let project = crate::python::workspace::project(dir, None)?;
    let lock = Lock::read(&project, None).with_context(|| {
        format!(
            "--project {}: its lock gives the wheel hashes",
            dir.display()
        )
    })?;
    // The lock's packages for the image's own Python, libc and platform, with every
    // extra and group: only those whose files match what is installed are used.
    let facts = image.facts(cache, progress)?;
    let Some(interpreter) = facts.interpreters.first() else {
        return Ok(BuildFacts::default());
    };
    let python_full = interpreter.full_version();
    let target = match facts.libc {
        Some(libc) => Target::new(platform, libc, &python_full)?,
        None => Target::bookworm(platform, &python_full)?,
    };
    let everything = Selection {
        extras: Vec::new(),
        all_extras: true,
        groups: project.dependency_groups.keys().cloned().collect(),
    };
    let packages = lock.runtime_packages(&project, &target.marker_environment(), &everything)?;
    let wheels = python
        .iter()
        .filter(|dist| dist.installer.as_deref() == Some("pyship"))
        .filter_map(|dist| locked_wheel(&packages, dist))
        .collect();
    Ok(BuildFacts {
        wheels,
        project: Some(project.name),
    })
}

/// The locked wheel `dist` was installed from, when exactly one matches.
fn locked_wheel(packages: &[LockedPackage], dist: &PythonDist) -> Option<InstalledWheel> {
    let package = packages.iter().find(|p| {
        normalize(&p.name) == normalize(&dist.name) && p.version.as_deref() == Some(&dist.version)
    })?;
    let mut matches = package.wheels.iter().filter_map(|artifact| {
        let filename = artifact.filename()?;
        if tags(filename)? != dist.wheel_tags {
            return None;
        }
        Some(InstalledWheel {
            name: package.name.clone(),
            version: dist.version.clone(),
            filename: filename.to_owned(),
            sha256: artifact.hash.as_deref()?.parse().ok()?,
        })
    });
    let found = matches.next()?;
    matches.next().is_none().then_some(found)
}

/// Every `python-abi-platform` tag a wheel's filename stands for, as WHEEL lists them.
fn tags(filename: &str) -> Option<BTreeSet<String>> {
    let parsed = WheelFilename::from_str(filename).ok()?;
    let mut tags = BTreeSet::new();
    for python in parsed.python_tags() {
        for abi in parsed.abi_tags() {
            for platform in parsed.platform_tags() {
                tags.insert(format!("{python}-{abi}-{platform}"));
            }
        }
    }
    Some(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filename_stands_for_every_tag_combination() {
        let tags =
            tags("pydantic_core-2.27.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
                .unwrap();
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        assert_eq!(
            tags,
            [
                "cp311-cp311-manylinux2014_x86_64",
                "cp311-cp311-manylinux_2_17_x86_64"
            ]
        );
        assert_eq!(
            tags_of("six-1.16.0-py2.py3-none-any.whl"),
            ["py2-none-any", "py3-none-any"]
        );
    }

    fn tags_of(filename: &str) -> Vec<String> {
        tags(filename).unwrap().into_iter().collect()
    }
}
