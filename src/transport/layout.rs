//! An OCI image layout on disk (`oci:DIR[:TAG]`): `index.json`, `oci-layout` and
//! `blobs/sha256/`.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use oci_spec::image::{ImageIndex, ImageManifest};

use super::{ResolvedImage, from_manifest, pick_platform};
use crate::oci::image::{Image, Index};
use crate::oci::media_type::{OCI_INDEX, OCI_LAYOUT_FILE};
use crate::oci::platform::ImagePlatform;
use crate::oci::{Descriptor, Reference};
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
    write_named(
        dir,
        image.blobs(),
        &index_json(&image.descriptor(), tag),
        cache,
    )
}

/// Writes a multi-platform image: every platform's blobs, then the image index, then
/// `index.json` naming that index under `tag`.
pub fn write_index(
    dir: &Path,
    images: &[&Image],
    index: &Index,
    tag: &Reference,
    cache: &Cache,
) -> Result<()> {
    let mut blobs: Vec<&Digest> = images.iter().flat_map(|i| i.blobs()).collect();
    blobs.push(&index.digest);
    write_named(dir, blobs, &index_json(&index.descriptor(), tag), cache)
}

fn write_named(dir: &Path, digests: Vec<&Digest>, index: &[u8], cache: &Cache) -> Result<()> {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).with_context(|| format!("cannot create {}", dir.display()))?;
    crate::store::atomic::write_file(&dir.join("oci-layout"), |out| {
        Ok(out.write_all(OCI_LAYOUT_FILE)?)
    })?;
    for digest in digests {
        write_blob(&blobs, digest, cache)
            .with_context(|| format!("cannot write blob {digest} into {}", dir.display()))?;
    }
    crate::store::atomic::write_file(&dir.join("index.json"), |out| Ok(out.write_all(index)?))
}

/// Puts the cached blob into `blobs` under its digest: a hard link when the filesystem
/// allows, else a copy, either way through a temporary name of its own and a rename.
/// A leftover temporary file (even one hard-linked to the cached blob) is never opened
/// for writing, so it cannot truncate or alter the cache.
fn write_blob(blobs: &Path, digest: &Digest, cache: &Cache) -> Result<()> {
    if !cache.has_blob(digest) {
        bail!("the cache lost blob {digest} (or it was damaged): build again");
    }
    let source = cache.blob_path(digest);
    let dest = blobs.join(digest.hex());
    if same_file(&source, &dest) {
        return Ok(());
    }
    // What earlier versions left behind when interrupted; unlinking a name never
    // changes the file it names.
    fs::remove_file(blobs.join(format!(".{}.partial", digest.hex()))).ok();
    let linked = tempfile::Builder::new()
        .prefix(".")
        .suffix(".partial")
        .make_in(blobs, |tmp| fs::hard_link(&source, tmp));
    let tmp = match linked {
        Ok(linked) => linked.into_temp_path(),
        Err(_) => {
            let mut copy = crate::store::atomic::temp_file_in(blobs, None)?;
            let mut from = cache.open_blob(digest)?;
            std::io::copy(&mut from, &mut copy)?;
            copy.into_temp_path()
        }
    };
    tmp.persist(&dest).map_err(|err| err.error)?;
    Ok(())
}

/// True when both paths name one file (a layout blob hard-linked from the cache).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The `index.json` naming `manifest` (an image's, or a multi-platform index) under `tag`.
pub fn index_json(manifest: &Descriptor, tag: &Reference) -> Vec<u8> {
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": manifest.media_type,
            "digest": manifest.digest.to_string(),
            "size": manifest.size,
            "annotations": {
                "org.opencontainers.image.ref.name": tag.tag.clone().unwrap_or_else(|| "latest".into()),
                "io.containerd.image.name": tag.to_string(),
            }
        }]
    });
    serde_json::to_vec(&index).expect("static JSON")
}
