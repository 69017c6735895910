//! Where a finished image goes: an OCI image layout, a docker-archive tar, the local
//! Docker or Podman engine, or a registry. Each output is complete or absent: files are
//! written beside their destination and renamed into place, and a pushed tag is set
//! only after every blob it names is in the registry.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use reqwest::blocking::Client;

use crate::base::BaseImage;
use crate::cache::Cache;
use crate::image::Image;
use crate::progress::Progress;
use crate::reference::Reference;
use crate::registry::Registry;

/// An output as given on the command line.
#[derive(Debug, Clone)]
pub enum Output {
    OciLayout(PathBuf),
    DockerArchive(PathBuf),
    Load,
    Push(Reference),
}

impl std::str::FromStr for Output {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Output> {
        if let Some(dir) = text.strip_prefix("oci:") {
            return Ok(Output::OciLayout(dir.into()));
        }
        if let Some(file) = text.strip_prefix("docker-archive:") {
            return Ok(Output::DockerArchive(file.into()));
        }
        bail!(
            "{text:?} is not an output: use oci:DIR or docker-archive:FILE (or --load / --push REF)"
        )
    }
}

/// Writes `image` to `output`; returns the pinned reference to print.
pub fn write(
    output: &Output,
    image: &Image,
    base: &BaseImage,
    tag: &Reference,
    cache: &Cache,
    client: &Client,
    progress: &Progress,
) -> Result<String> {
    match output {
        Output::OciLayout(dir) => {
            write_oci_layout(dir, image, tag, cache)?;
            Ok(format!("oci:{}@{}", dir.display(), image.manifest_digest))
        }
        Output::DockerArchive(file) => {
            atomic_file(file, |out| write_docker_archive(out, image, tag, cache))?;
            Ok(format!(
                "docker-archive:{}@{}",
                file.display(),
                image.manifest_digest
            ))
        }
        Output::Load => load(image, tag, cache),
        Output::Push(reference) => push(reference, image, base, cache, client, progress),
    }
}

fn blob_names(image: &Image) -> Vec<&crate::cache::Digest> {
    let mut digests = vec![&image.config_digest];
    digests.extend(image.layers.iter().map(|(d, _, _)| d));
    digests.push(&image.manifest_digest);
    digests
}

/// An OCI image layout: blobs first, `index.json` last (by rename), so a reader never
/// sees an index naming a blob that is not there.
fn write_oci_layout(dir: &Path, image: &Image, tag: &Reference, cache: &Cache) -> Result<()> {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).with_context(|| format!("cannot create {}", dir.display()))?;
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    for digest in blob_names(image) {
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
    atomic_file(&dir.join("index.json"), |out| Ok(out.write_all(&index)?))
}

fn index_json(image: &Image, tag: &Reference) -> Vec<u8> {
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
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

/// One tar that is both an OCI layout and a `docker save` archive, so `docker load`,
/// `podman load` and `skopeo` all read it.
fn write_docker_archive(
    out: &mut dyn Write,
    image: &Image,
    tag: &Reference,
    cache: &Cache,
) -> Result<()> {
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
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let docker_manifest = serde_json::json!([{
        "Config": format!("blobs/sha256/{}", image.config_digest.hex()),
        "RepoTags": [tag.to_string()],
        "Layers": image.layers.iter().map(|(d, _, _)| format!("blobs/sha256/{}", d.hex())).collect::<Vec<_>>(),
    }]);
    add("manifest.json", &serde_json::to_vec(&docker_manifest)?)?;
    add("index.json", &index_json(image, tag))?;
    for digest in blob_names(image) {
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

/// Writes a file through a temporary sibling and renames it into place.
fn atomic_file(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write into {}", dir.display()))?;
    let mut out = std::io::BufWriter::new(tmp);
    write(&mut out)?;
    let tmp = out.into_inner().map_err(|e| e.into_error())?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Streams a docker-archive into `docker load` (or `podman load` when Docker is absent).
pub fn load(image: &Image, tag: &Reference, cache: &Cache) -> Result<String> {
    let engine = engine()?;
    let mut child = Command::new(&engine)
        .arg("load")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run `{engine} load`"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let written = write_docker_archive(&mut stdin, image, tag, cache);
    drop(stdin);
    let result = child.wait_with_output()?;
    if !result.status.success() {
        let stderr = String::from_utf8_lossy(&result.stderr);
        bail!(
            "`{engine} load` failed: {}: is the engine running? (`{engine} info`)",
            stderr.trim().lines().last().unwrap_or("")
        );
    }
    written?;
    Ok(format!("{tag} ({}@{})", tag.name(), image.manifest_digest))
}

/// The container engine CLI: `$PYSHIP_ENGINE`, else docker, else podman.
pub fn engine() -> Result<String> {
    if let Ok(engine) = std::env::var("PYSHIP_ENGINE") {
        return Ok(engine);
    }
    for candidate in ["docker", "podman"] {
        let found = Command::new(candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if found.is_ok_and(|s| s.success()) {
            return Ok(candidate.to_owned());
        }
    }
    bail!(
        "--load needs docker or podman on PATH: install one, or use --output oci:DIR / --push REF"
    )
}

fn push(
    reference: &Reference,
    image: &Image,
    base: &BaseImage,
    cache: &Cache,
    client: &Client,
    progress: &Progress,
) -> Result<String> {
    let registry = Registry::new(client, reference);
    let mount_from = base
        .registry_reference()
        .filter(|b| b.registry == reference.registry)
        .map(|b| b.repository.clone());
    let base_digests: std::collections::HashSet<_> =
        base.layers.iter().map(|l| &l.digest).collect();
    let task = progress.items(
        image.layers.len() as u64 + 1,
        &format!("pushing to {}", reference.name()),
    );
    use rayon::prelude::*;
    image
        .layers
        .par_iter()
        .try_for_each(|(digest, _, _)| -> Result<()> {
            let from = if base_digests.contains(digest) {
                mount_from.as_deref()
            } else {
                None
            };
            if from.is_none() && !cache.has_blob(digest) && !registry.has_blob(digest)? {
                bail!("layer {digest} is not in the cache: build again");
            }
            registry.push_blob(cache, digest, from)?;
            task.inc(1);
            Ok(())
        })?;
    registry.push_blob(cache, &image.config_digest, None)?;
    task.inc(1);
    let tag = reference.tag.clone().unwrap_or_else(|| "latest".to_owned());
    let target = if reference.digest.is_some() {
        image.manifest_digest.to_string()
    } else {
        tag
    };
    registry.put_manifest(&target, Image::MEDIA_TYPE, &image.manifest)?;
    task.finish();
    Ok(reference.pinned(&image.manifest_digest))
}
