//! The build's result for scripts (`--format json`): what was built, from what, and
//! where it went. `verify` reads it back to find the dependency layer by its role.

use serde::{Deserialize, Serialize};

use super::OwnLayer;
use super::plan::Plan;
use crate::oci::image::Image;
use crate::python::wheel::ArtifactKind;
use crate::transport::ResolvedImage;

#[derive(Debug, Serialize, Deserialize)]
pub struct BuildSummary {
    pub image: String,
    pub digest: String,
    /// Each destination's pinned reference (`…@sha256:…`).
    pub outputs: Vec<String>,
    /// The tagged references a push set (`repository:tag`), in order.
    #[serde(default)]
    pub tags: Vec<String>,
    pub base: BaseSummary,
    pub python: PythonSummary,
    pub platform: String,
    pub command: Vec<String>,
    pub packages: Vec<PackageSummary>,
    /// pyship's own layers, in image order.
    pub layers: Vec<LayerSummary>,
}

/// A multi-platform build's result: the index, where it went, and each platform's
/// own summary (its `outputs` are its manifest's pinned references).
#[derive(Debug, Serialize, Deserialize)]
pub struct IndexSummary {
    pub image: String,
    /// The image index's digest.
    pub digest: String,
    pub outputs: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub platforms: Vec<BuildSummary>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct BaseSummary {
    pub name: String,
    pub digest: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PythonSummary {
    pub interpreter: String,
    pub version: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PackageSummary {
    pub name: String,
    pub version: String,
    /// The file the lock gives: a wheel, or the sdist built into one.
    pub wheel: String,
    #[serde(default)]
    pub from: PackageOrigin,
}

/// Where an installed package came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageOrigin {
    /// A wheel from an index (or a path the lock gives).
    #[default]
    Wheel,
    /// An sdist, built into a wheel.
    Sdist,
    /// The project or a workspace member or path dependency, built from its source tree.
    Local,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct LayerSummary {
    pub role: LayerRole,
    pub digest: String,
    pub size: u64,
    pub created_by: String,
}

/// What one of pyship's layers holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayerRole {
    /// The `app` user and the venv's links to the base's interpreter.
    Runtime,
    /// The locked third-party dependencies: unchanged by a source edit.
    Dependencies,
    /// The project's own files.
    Project,
}

impl BuildSummary {
    pub fn new(
        plan: &Plan,
        base: &ResolvedImage,
        image: &Image,
        own: &[OwnLayer],
        outputs: Vec<String>,
        tags: Vec<String>,
    ) -> BuildSummary {
        BuildSummary {
            image: plan.tag.to_string(),
            digest: image.manifest_digest.to_string(),
            outputs,
            tags,
            base: BaseSummary {
                name: base.name.clone(),
                digest: base.manifest_digest.to_string(),
            },
            python: PythonSummary {
                interpreter: plan.interpreter.path.clone(),
                version: plan.deps.target.python_full.clone(),
            },
            platform: plan.deps.target.platform.to_string(),
            command: plan.entrypoint.command.clone(),
            packages: plan
                .deps
                .wheels
                .iter()
                .map(|w| (w, PackageOrigin::from(w.kind)))
                .chain(plan.local.iter().map(|w| (w, PackageOrigin::Local)))
                .map(|(w, from)| PackageSummary {
                    name: w.package.clone(),
                    version: w.version.clone(),
                    wheel: w.filename.clone(),
                    from,
                })
                .collect(),
            layers: own
                .iter()
                .map(|o| LayerSummary {
                    role: o.role,
                    digest: o.layer.digest.to_string(),
                    size: o.layer.size,
                    created_by: o.created_by.clone(),
                })
                .collect(),
        }
    }

    /// The layer that holds `role`, if the build wrote one.
    pub fn layer(&self, role: LayerRole) -> Option<&LayerSummary> {
        self.layers.iter().find(|l| l.role == role)
    }
}

impl From<ArtifactKind> for PackageOrigin {
    fn from(kind: ArtifactKind) -> PackageOrigin {
        match kind {
            ArtifactKind::Wheel => PackageOrigin::Wheel,
            ArtifactKind::Sdist => PackageOrigin::Sdist,
        }
    }
}
