//! The build's check that every wheel's compiled code finds the libraries it links,
//! in the wheels or in the base, with the base package that adds a missing one.

use anyhow::Result;

use crate::oci::facts::BaseFacts;
use crate::python::linkage::{self, Linkage};
use crate::python::wheel::{ArtifactKind, WheelChoice};
use crate::store::{Cache, Progress};
use crate::transport::debian::SCHEME;

/// Warns, one line per library, of what the wheels link that neither they nor the base
/// have: importing that module would fail at the service's first start.
pub fn warn_missing(
    wheels: &[WheelChoice],
    facts: &BaseFacts,
    base: &str,
    cache: &Cache,
    progress: &Progress,
) -> Result<()> {
    let mut linked = Vec::new();
    for wheel in wheels.iter().filter(|w| w.kind == ArtifactKind::Wheel) {
        // Advisory: a wheel that cannot be read here was installed all the same.
        let path = cache.blob_path(&wheel.sha256);
        let Ok(linkage) = Linkage::of_wheel(&path, wheel.sha256.hex(), cache) else {
            continue;
        };
        if !linkage.needs.is_empty() {
            linked.push((wheel.package.clone(), linkage));
        }
    }
    for missing in linkage::missing(&linked, &facts.libraries) {
        let fix = match (
            base.strip_prefix(SCHEME),
            linkage::debian_package_guess(&missing.library),
        ) {
            (Some(_), Some(package)) => format!(
                "add its package to the base: --base {base}+{package} or [tool.pyship] base-packages = [\"{package}\"] (check the name at https://packages.debian.org/)"
            ),
            _ => "use a base that has it, or a wheel of the package that bundles it".to_owned(),
        };
        progress.warn(&format!(
            "warning: {}'s {} links {}, which neither the wheels nor {base} have (importing it will fail): {fix}",
            missing.package,
            missing.member.rsplit('/').next().unwrap_or(&missing.member),
            missing.library,
        ));
    }
    Ok(())
}
