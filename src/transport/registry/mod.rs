//! A registry (`host/repository:tag` or `@sha256:…`): images resolved through the
//! distribution API, pushed blob by blob with the tags set last, copied between
//! repositories by mount, and the artifacts that refer to them.

mod auth;
mod client;
pub mod copy;
pub mod referrers;

use std::collections::HashSet;

use anyhow::{Context, Result};
use oci_spec::image::{ImageIndex, ImageManifest};
use reqwest::blocking::Client;

pub use auth::pushing_to;
pub use client::Registry;

use super::{PushTarget, ResolvedImage, from_manifest, pick_platform};
use crate::oci::image::{Image, Index};
use crate::oci::media_type;
use crate::oci::platform::ImagePlatform;
use crate::oci::{Descriptor, Reference};
use crate::store::{Cache, Digest, Progress};

/// The manifest of `reference` for `platform`, with its config fetched into the cache.
pub fn resolve(
    reference: &Reference,
    platform: ImagePlatform,
    client: &Client,
    cache: &Cache,
) -> Result<ResolvedImage> {
    let registry = Registry::new(client, reference);
    let mut fetched = registry.manifest(&reference.tag_or_digest())?;
    if media_type::is_index(&fetched.media_type) {
        let index: ImageIndex =
            serde_json::from_slice(&fetched.bytes).context("the base's index is not valid JSON")?;
        let digest = pick_platform(&index, platform, &reference.to_string())?;
        fetched = registry.manifest(&digest)?;
    }
    let manifest: ImageManifest = serde_json::from_slice(&fetched.bytes)
        .with_context(|| format!("{reference} has a manifest pyship cannot read"))?;
    let config_digest: Digest = manifest.config().digest().to_string().parse()?;
    registry.fetch_blob(cache, &config_digest, manifest.config().size(), &|_| {})?;
    from_manifest(
        reference.to_string(),
        fetched.digest,
        &manifest,
        cache,
        Some((registry, reference.clone())),
    )
}

/// Runs once a pushed manifest is in the registry by digest and before any tag names
/// it: what must be beside the image before it can be pulled by name (its SBOMs,
/// provenance and signatures).
pub type BeforeTag<'a> = &'a dyn Fn(&Registry, &Descriptor) -> Result<()>;

/// Pushes every blob of `image` once (base layers mounted from the base's repository
/// when it is on the same registry, else fetched from it when the cache lacks them),
/// then the manifest by its digest, runs `before_tag`, and sets each tag last. Returns
/// the pinned reference, then one reference per tag.
pub fn push(
    target: &PushTarget,
    image: &Image,
    base: &ResolvedImage,
    cache: &Cache,
    client: &Client,
    progress: &Progress,
    before_tag: BeforeTag<'_>,
) -> Result<Vec<String>> {
    let reference = &target.repository;
    let mut registry = Registry::new(client, reference);
    let base_registry = base.registry.as_ref().map(|(registry, _)| registry);
    if let Some((base_session, base_reference)) = &base.registry
        && base_session.same_registry(&registry)
    {
        registry = registry.mounting_from(&base_reference.repository);
    }
    let base_digests: HashSet<&Digest> = base.layers.iter().map(|l| &l.digest).collect();
    let task = progress.items(
        image.layers.len() as u64 + 1,
        &format!("pushing to {}", reference.name()),
    );
    use rayon::prelude::*;
    image
        .layers
        .par_iter()
        .try_for_each(|layer| -> Result<()> {
            let digest = &layer.digest;
            let source = base_registry.filter(|_| base_digests.contains(digest));
            registry.push_blob(cache, digest, layer.size, source)?;
            task.inc(1);
            Ok(())
        })?;
    let config_size = std::fs::metadata(cache.blob_path(&image.config_digest))
        .with_context(|| {
            format!(
                "the image config {} is not in the cache: build again",
                image.config_digest
            )
        })?
        .len();
    registry.push_blob(cache, &image.config_digest, config_size, None)?;
    task.inc(1);
    task.finish();
    put_and_tag(
        &registry,
        target,
        &image.descriptor(),
        &image.manifest,
        before_tag,
    )
}

/// Puts `manifest` (of `descriptor`) by its digest, runs `before_tag`, then sets each
/// of `target`'s tags. Returns the pinned reference, then one reference per tag.
fn put_and_tag(
    registry: &Registry,
    target: &PushTarget,
    descriptor: &Descriptor,
    manifest: &[u8],
    before_tag: BeforeTag<'_>,
) -> Result<Vec<String>> {
    let reference = &target.repository;
    let media_type = descriptor.media_type.as_str();
    registry.put_manifest(&descriptor.digest.to_string(), media_type, manifest)?;
    before_tag(registry, descriptor)?;
    for tag in &target.tags {
        registry.put_manifest(tag, media_type, manifest)?;
    }
    let mut written = vec![reference.pinned(&descriptor.digest)];
    written.extend(
        target
            .tags
            .iter()
            .map(|tag| format!("{}:{tag}", reference.name())),
    );
    Ok(written)
}

/// Puts a multi-platform index whose every manifest is already in the registry: by
/// its digest first, runs `before_tag`, then sets each tag. Returns the pinned
/// reference, then one reference per tag.
pub fn push_index(
    target: &PushTarget,
    index: &Index,
    client: &Client,
    before_tag: BeforeTag<'_>,
) -> Result<Vec<String>> {
    let registry = Registry::new(client, &target.repository);
    put_and_tag(
        &registry,
        target,
        &index.descriptor(),
        &index.bytes,
        before_tag,
    )
}
