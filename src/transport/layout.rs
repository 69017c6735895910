//! An OCI image layout on disk (`oci:DIR[:TAG]`): `index.json`, `oci-layout` and
//! `blobs/sha256/`.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use oci_spec::image::{ImageIndex, ImageManifest};

use super::{ResolvedImage, from_manifest, pick_platform};
use crate::oci::Reference;
use crate::oci::image::Image;
use crate::oci::media_type::{OCI_INDEX, OCI_LAYOUT_FILE};
use crate::oci::platform::ImagePlatform;
use crate::store::{Cache, Digest};

/// The image tagged `tag` (or the first one) for `platform`; its blobs are copied into
/// the cache, each checked against its digest.
pub fn resolve(
    dir: &Path,
    tag: Option<&str>,
    platform: ImagePlatform,
    cache: &Cache,
) -> Result<ResolvedImage> {
    let index_path = dir.join("index.json");
    let index: ImageIndex = serde_json::from_slice(
        &fs::read(&index_path)
            .with_context(|| format!("{} is not an OCI layout (no index.json)", dir.display()))?,
    )
    .with_context(|| format!("{} is not a valid OCI index", index_path.display()))?;
    let blob = |digest: &str| -> Result<Vec<u8>> {
        let d: Digest = digest.parse()?;
        let path = dir.join("blobs/sha256").join(d.hex());
        let bytes =
            fs::read(&path).with_context(|| format!("{} lacks blob {digest}", dir.display()))?;
        if Digest::of(&bytes) != d {
            bail!("{} has a corrupt blob {digest}", dir.display());
        }
        Ok(bytes)
    };
    let entry = index
        .manifests()
        .iter()
        .find(|m| {
            tag.is_none_or(|tag| {
                m.annotations()
                    .as_ref()
                    .and_then(|a| a.get("org.opencontainers.image.ref.name"))
                    .is_some_and(|n| n == tag)
            })
        })
        .with_context(|| {
            format!(
                "{} has no image{}",
                dir.display(),
                tag.map(|t| format!(" tagged {t}")).unwrap_or_default()
            )
        })?;
    let mut digest = entry.digest().to_string();
    let mut bytes = blob(&digest)?;
    if entry.media_type().to_string() == OCI_INDEX {
        let nested: ImageIndex = serde_json::from_slice(&bytes)?;
        digest = pick_platform(&nested, platform, &dir.display().to_string())?;
        bytes = blob(&digest)?;
    }
    let manifest: ImageManifest =
        serde_json::from_slice(&bytes).context("the layout's manifest is not valid")?;
    for layer in manifest.layers() {
        let digest: Digest = layer.digest().to_string().parse()?;
        cache.import_file(&dir.join("blobs/sha256").join(digest.hex()), Some(&digest))?;
    }
    cache.put_blob(&blob(manifest.config().digest().as_ref())?)?;
    let name = format!(
        "oci:{}{}",
        dir.display(),
        tag.map(|t| format!(":{t}")).unwrap_or_default()
    );
    from_manifest(name, digest.parse()?, &manifest, cache, None)
}

/// Writes the layout: blobs first, `index.json` last (by rename), so a reader never
/// sees an index naming a blob that is not there.
pub fn write(dir: &Path, image: &Image, tag: &Reference, cache: &Cache) -> Result<()> {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).with_context(|| format!("cannot create {}", dir.display()))?;
    fs::write(dir.join("oci-layout"), OCI_LAYOUT_FILE)?;
    for digest in image.blobs() {
        let dest = blobs.join(digest.hex());
        if dest.is_file() {
            continue;
        }
        let tmp = blobs.join(format!(".{}.partial", digest.hex()));
        if fs::hard_link(cache.blob_path(digest), &tmp).is_err() {
            fs::copy(cache.blob_path(digest), &tmp)
                .with_context(|| format!("cannot write blob {digest} into {}", dir.display()))?;
        }
        fs::rename(&tmp, &dest)?;
    }
    let index = index_json(image, tag);
    crate::store::atomic::write_file(&dir.join("index.json"), |out| Ok(out.write_all(&index)?))
}

/// The `index.json` naming `image` under `tag`.
pub fn index_json(image: &Image, tag: &Reference) -> Vec<u8> {
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": Image::MEDIA_TYPE,
            "digest": image.manifest_digest.to_string(),
            "size": image.manifest.len(),
            "annotations": {
                "org.opencontainers.image.ref.name": tag.tag.clone().unwrap_or_else(|| "latest".into()),
                "io.containerd.image.name": tag.to_string(),
            }
        }]
    });
    serde_json::to_vec(&index).expect("static JSON")
}
