//! OCI 1.1 referrers in a registry, both ways: listing what refers to a manifest (the
//! referrers API, else the `sha256-<hex>` tag of the referrers tag schema, for
//! registries without that API such as Distribution's `registry:2`), and attaching an
//! artifact to one.
//!
//! Attaching is complete or absent: the artifact's blobs go up first, then its
//! manifest by digest, and only then, when the registry did not index the `subject`
//! itself (no `OCI-Subject` header), the tag schema's index is updated.

use anyhow::{Context, Result};

use super::Registry;
use crate::oci::Descriptor;
use crate::oci::media_type::OCI_MANIFEST;
use crate::oci::referrer::{self, Artifact, EMPTY_CONFIG, Referrer};
use crate::store::{Cache, Digest};

/// Everything that refers to `subject` in this repository, in the order the registry
/// lists it.
pub fn list(registry: &Registry, subject: &Digest) -> Result<Vec<Referrer>> {
    let index = match registry.referrers_index(subject)? {
        Some(index) => Some(index),
        None => registry.find_manifest(&referrer::fallback_tag(subject))?,
    };
    let Some(index) = index else {
        return Ok(Vec::new());
    };
    referrer::parse_index(&index.bytes).with_context(|| {
        format!(
            "the referrers of {}@{subject} cannot be read",
            registry.display()
        )
    })
}

/// The referrers of `subject` whose artifact type is `artifact_type`.
pub fn of_type(
    registry: &Registry,
    subject: &Digest,
    artifact_type: &str,
) -> Result<Vec<Referrer>> {
    Ok(list(registry, subject)?
        .into_iter()
        .filter(|r| r.artifact_type == artifact_type)
        .collect())
}

/// Attaches `artifact` to the manifest `subject` describes; returns how it is listed.
pub fn attach(
    registry: &Registry,
    cache: &Cache,
    subject: &Descriptor,
    artifact: &Artifact,
) -> Result<Referrer> {
    let refused = || {
        format!(
            "{} refused the {} attached to {}: check that it accepts OCI 1.1 artifacts, or push with --no-attest",
            registry.display(),
            artifact.artifact_type,
            subject.digest
        )
    };
    for bytes in [EMPTY_CONFIG, artifact.bytes.as_slice()] {
        let digest = cache.put_blob(bytes)?;
        registry
            .push_blob(cache, &digest, bytes.len() as u64, None)
            .with_context(refused)?;
    }
    let manifest = artifact.manifest(subject)?;
    let listed = artifact.referrer(&manifest);
    let indexed = registry
        .put_manifest(listed.manifest.digest.as_str(), OCI_MANIFEST, &manifest)
        .with_context(refused)?;
    if !indexed {
        add_to_fallback(registry, &subject.digest, &listed).with_context(refused)?;
    }
    Ok(listed)
}

/// The bytes of a referrer's one blob (its document), verified against its digest.
pub fn document(registry: &Registry, cache: &Cache, listed: &Referrer) -> Result<Vec<u8>> {
    let manifest = registry.manifest(listed.manifest.digest.as_str())?;
    let manifest: oci_spec::image::ImageManifest = serde_json::from_slice(&manifest.bytes)
        .with_context(|| format!("the referrer {} is not a manifest", listed.manifest.digest))?;
    let blob = manifest
        .layers()
        .first()
        .with_context(|| format!("the referrer {} names no document", listed.manifest.digest))?;
    let digest: Digest = blob.digest().to_string().parse()?;
    registry.fetch_blob(cache, &digest, blob.size(), &|_| {})?;
    cache.read_blob(&digest)
}

/// Adds `listed` to the index under `subject`'s fallback tag.
fn add_to_fallback(registry: &Registry, subject: &Digest, listed: &Referrer) -> Result<()> {
    let tag = referrer::fallback_tag(subject);
    let existing = registry.find_manifest(&tag)?;
    let index = referrer::add_to_index(existing.as_ref().map(|f| f.bytes.as_slice()), listed)?;
    if existing.is_some_and(|e| e.bytes == index) {
        return Ok(());
    }
    registry.put_manifest(&tag, crate::oci::media_type::OCI_INDEX, &index)?;
    Ok(())
}
