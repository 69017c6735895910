//! What `pyship build --push` attaches to the image it pushes, after the manifest is in
//! the registry and before any tag names it: both SBOMs (read from the image's own
//! layers, with the lock's wheel hashes), the SLSA provenance, and with a key, a
//! Sigstore signature over the image and over each of those.
//!
//! Everything is made before the push starts, so a failure to read a layer or the
//! lockfile leaves the registry untouched.

use anyhow::Result;
use reqwest::blocking::Client;

use super::plan::Plan;
use super::provenance::{self, Invocation};
use crate::oci::Descriptor;
use crate::oci::image::Image;
use crate::oci::referrer::Artifact;
use crate::sbom::{self, BuildFacts, InstalledWheel, Inventory};
use crate::sign::PrivateKey;
use crate::store::{Cache, Progress};
use crate::transport::ResolvedImage;
use crate::transport::registry::{Registry, referrers};

/// The documents to attach, and the key to sign them and the image with.
pub struct Attestations {
    artifacts: Vec<Artifact>,
    key: Option<PrivateKey>,
}

/// What [`Attestations::prepare`] reads.
pub struct Sources<'a> {
    pub plan: &'a Plan,
    pub base: &'a ResolvedImage,
    pub image: &'a Image,
    /// The pushed repository, `registry/repository`.
    pub repository: String,
    /// The files the lock was read from.
    pub lockfiles: Vec<std::path::PathBuf>,
    pub started_on: String,
}

impl Attestations {
    /// Signatures only: what `--no-attest --sign-key` attaches.
    pub fn signature_only(key: PrivateKey) -> Attestations {
        Attestations {
            artifacts: Vec::new(),
            key: Some(key),
        }
    }

    /// Reads the built image's layers for its SBOMs and writes its provenance.
    pub fn prepare(
        sources: &Sources<'_>,
        key: Option<PrivateKey>,
        client: &Client,
        cache: &Cache,
        progress: &Progress,
    ) -> Result<Attestations> {
        let Sources {
            plan, base, image, ..
        } = *sources;
        let resolved =
            ResolvedImage::built(sources.repository.clone(), image, base, client, cache)?;
        let build = BuildFacts {
            wheels: plan
                .deps
                .wheels
                .iter()
                .map(|w| InstalledWheel {
                    name: w.package.clone(),
                    version: w.version.clone(),
                    filename: w.filename.clone(),
                    sha256: w.sha256.clone(),
                })
                .collect(),
            project: Some(plan.project.name.clone()),
        };
        let inventory =
            Inventory::read(&sources.repository, &resolved, cache, progress)?.with_build(&build);
        let timestamp = sbom::timestamp(&resolved)?;
        let mut artifacts = Vec::new();
        for format in [sbom::Format::Cyclonedx, sbom::Format::Spdx] {
            let document = sbom::render(&inventory, format, &timestamp)?;
            artifacts.push(Artifact::new(format.media_type(), document));
        }
        let invocation = Invocation {
            started_on: sources.started_on.clone(),
            finished_on: provenance::now(),
        };
        artifacts.push(provenance::statement(
            plan,
            base,
            image,
            &sources.repository,
            &sources.lockfiles,
            &invocation,
        )?);
        progress.line(&format!(
            "attest  SBOMs of {} Python and {} OS packages, provenance{}",
            inventory.python.len(),
            inventory.debs.len(),
            if key.is_some() { ", signatures" } else { "" }
        ));
        Ok(Attestations { artifacts, key })
    }

    /// Attaches every document to the image `subject` describes (its manifest is
    /// `manifest`), each signed when there is a key, and the image's signature last.
    pub fn attach(
        &self,
        registry: &Registry,
        cache: &Cache,
        subject: &Descriptor,
        manifest: &[u8],
    ) -> Result<()> {
        for artifact in &self.artifacts {
            let listed = referrers::attach(registry, cache, subject, artifact)?;
            if let Some(key) = &self.key {
                let bytes = artifact.manifest(subject)?;
                crate::sign::attach(registry, cache, key, &listed.manifest, &bytes)?;
            }
        }
        if let Some(key) = &self.key {
            crate::sign::attach(registry, cache, key, subject, manifest)?;
        }
        Ok(())
    }
}
