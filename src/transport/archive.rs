//! A docker-archive tar (`docker-archive:FILE`): what `docker save` writes. The one
//! pyship writes is at the same time an OCI image layout, so `docker load`, `podman
//! load` and `skopeo` all read it.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result};

use super::ResolvedImage;
use crate::oci::image::Image;
use crate::oci::media_type::{OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYOUT_FILE};
use crate::oci::{Descriptor, Reference};
use crate::store::Cache;

/// Reads a `docker save` archive: `manifest.json` names the config and layer files.
pub fn resolve(file: &Path, cache: &Cache) -> Result<ResolvedImage> {
    let staging = tempfile::tempdir_in(cache.root().join("tmp"))?;
    let reader = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    tar::Archive::new(reader)
        .unpack(staging.path())
        .with_context(|| format!("{} is not a docker-archive (tar)", file.display()))?;
    let manifest_path = staging.path().join("manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).with_context(|| {
            format!(
                "{} has no manifest.json: is it from `docker save`?",
                file.display()
            )
        })?)?;
    let image = manifest
        .get(0)
        .context("the archive's manifest.json lists no image")?;
    let config_file = image["Config"]
        .as_str()
        .context("manifest.json has no Config")?;
    let config_digest = cache.import_file(&staging.path().join(config_file), None)?;
    let mut layers = Vec::new();
    for layer in image["Layers"]
        .as_array()
        .context("manifest.json has no Layers")?
    {
        let path = staging
            .path()
            .join(layer.as_str().context("a layer path is not a string")?);
        let mut magic = [0u8; 2];
        File::open(&path)?.read_exact(&mut magic).ok();
        let media_type = if magic == [0x1f, 0x8b] {
            OCI_LAYER_GZIP
        } else {
            OCI_LAYER_TAR
        };
        let digest = cache.import_file(&path, None)?;
        let size = std::fs::metadata(cache.blob_path(&digest))?.len();
        layers.push(Descriptor {
            media_type: media_type.to_owned(),
            digest,
            size,
        });
    }
    Ok(ResolvedImage {
        name: format!("docker-archive:{}", file.display()),
        manifest_digest: config_digest.clone(),
        config: super::read_config(cache, &config_digest)?,
        config_digest,
        layers,
        annotations: Default::default(),
        registry: None,
    })
}

/// Writes `image` as one tar that is both an OCI layout and a `docker save` archive.
pub fn write(out: &mut dyn Write, image: &Image, tag: &Reference, cache: &Cache) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut add = |path: &str, bytes: &[u8]| -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        tar.append_data(&mut header, path, bytes)?;
        Ok(())
    };
    add("oci-layout", OCI_LAYOUT_FILE)?;
    let docker_manifest = serde_json::json!([{
        "Config": format!("blobs/sha256/{}", image.config_digest.hex()),
        "RepoTags": [tag.to_string()],
        "Layers": image.layers.iter().map(|l| format!("blobs/sha256/{}", l.digest.hex())).collect::<Vec<_>>(),
    }]);
    add("manifest.json", &serde_json::to_vec(&docker_manifest)?)?;
    add("index.json", &super::layout::index_json(image, tag))?;
    for digest in image.blobs() {
        let file = cache.open_blob(digest)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(file.metadata()?.len());
        header.set_mode(0o644);
        header.set_mtime(0);
        tar.append_data(&mut header, format!("blobs/sha256/{}", digest.hex()), file)?;
    }
    tar.into_inner()?.flush()?;
    Ok(())
}
