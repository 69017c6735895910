//! The base image: resolved from a registry, an OCI layout or a docker-archive down to
//! one platform's manifest and config. Its layers are fetched into the cache only
//! when pyship looks inside them or an output needs their bytes.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};
use reqwest::blocking::Client;

use crate::cache::{Cache, Digest};
use crate::progress::Progress;
use crate::reference::Reference;
use crate::registry::{DOCKER_LIST, OCI_INDEX, Registry};
use crate::target::ImagePlatform;

/// Where the base comes from, as the user wrote it.
#[derive(Debug, Clone)]
pub enum BaseSource {
    Registry(Reference),
    OciLayout {
        dir: PathBuf,
        tag: Option<String>,
    },
    DockerArchive(PathBuf),
    /// An image in the local Docker or Podman engine, read through `save`.
    Engine(String),
}

/// One layer of the base, as its manifest lists it.
#[derive(Debug, Clone)]
pub struct BaseLayer {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
}

/// An image resolved to one platform: the base of a build, or the image `verify` reads.
pub struct BaseImage {
    /// How the user named it, for the `base.name` annotation.
    pub name: String,
    pub manifest_digest: Digest,
    pub config: ImageConfiguration,
    pub config_digest: Digest,
    pub layers: Vec<BaseLayer>,
    /// The manifest's annotations (none for docker-archives).
    pub annotations: std::collections::BTreeMap<String, String>,
    registry: Option<(Registry, Reference)>,
}

impl std::str::FromStr for BaseSource {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<BaseSource> {
        if let Some(rest) = text.strip_prefix("oci:") {
            let (dir, tag) = match rest.rsplit_once(':') {
                Some((dir, tag)) if !tag.contains('/') && !dir.is_empty() => {
                    (dir, Some(tag.to_owned()))
                }
                _ => (rest, None),
            };
            return Ok(BaseSource::OciLayout {
                dir: dir.into(),
                tag,
            });
        }
        if let Some(file) = text.strip_prefix("docker-archive:") {
            return Ok(BaseSource::DockerArchive(file.into()));
        }
        if let Some(name) = text.strip_prefix("docker:") {
            return Ok(BaseSource::Engine(name.to_owned()));
        }
        Ok(BaseSource::Registry(text.parse()?))
    }
}

impl BaseImage {
    pub fn resolve(
        source: &BaseSource,
        platform: ImagePlatform,
        client: &Client,
        cache: &Cache,
    ) -> Result<BaseImage> {
        match source {
            BaseSource::Registry(reference) => from_registry(reference, platform, client, cache),
            BaseSource::OciLayout { dir, tag } => {
                from_oci_layout(dir, tag.as_deref(), platform, cache)
            }
            BaseSource::DockerArchive(file) => from_docker_archive(file, cache),
            BaseSource::Engine(name) => from_engine(name, cache),
        }
    }

    /// The registry repository the base lives in, for cross-repository mounts.
    pub fn registry_reference(&self) -> Option<&Reference> {
        self.registry.as_ref().map(|(_, reference)| reference)
    }

    /// Hands each layer's tar stream, in order, to `each`: from the cache, or straight
    /// from the registry while the layer downloads into the cache, so reading a new base
    /// costs about one pass instead of a download and then a read.
    pub fn read_layers(
        &self,
        cache: &Cache,
        progress: &Progress,
        mut each: impl FnMut(&BaseLayer, Box<dyn std::io::Read>) -> Result<()>,
    ) -> Result<()> {
        let missing: u64 = self
            .layers
            .iter()
            .filter(|l| !cache.has_blob(&l.digest))
            .map(|l| l.size)
            .sum();
        let bar = progress.bytes(missing, "pulling and reading the base");
        for layer in &self.layers {
            let registry = match &self.registry {
                Some((registry, _)) if !cache.has_blob(&layer.digest) => registry,
                _ => {
                    each(layer, crate::layer_read::open(cache, layer)?)?;
                    continue;
                }
            };
            let (reader, mut writer) = std::io::pipe()?;
            let read = std::thread::scope(|scope| {
                let bar = &bar;
                let download = scope.spawn(move || {
                    registry.fetch_blob_tee(cache, &layer.digest, &|n| bar.inc(n), &mut writer)
                });
                let read = crate::layer_read::decompress(layer, reader)
                    .and_then(|stream| each(layer, stream));
                // The download's verdict comes first: bytes read before a digest mismatch
                // must not count.
                download
                    .join()
                    .map_err(|_| anyhow::anyhow!("the download of {} failed", layer.digest))??;
                read
            });
            read?;
        }
        bar.finish();
        Ok(())
    }

    /// Makes sure every layer is in the cache, downloading what is missing in parallel.
    pub fn fetch_layers(&self, cache: &Cache, progress: &Progress) -> Result<()> {
        let missing: Vec<&BaseLayer> = self
            .layers
            .iter()
            .filter(|l| !cache.has_blob(&l.digest))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let Some((registry, _)) = &self.registry else {
            bail!(
                "base layer {} is missing from the cache: pass the base again",
                missing[0].digest
            );
        };
        let total = missing.iter().map(|l| l.size).sum();
        let bar = progress.bytes(total, "pulling base layers");
        use rayon::prelude::*;
        missing
            .par_iter()
            .try_for_each(|layer| registry.fetch_blob(cache, &layer.digest, &|n| bar.inc(n)))?;
        bar.finish();
        Ok(())
    }
}

fn from_registry(
    reference: &Reference,
    platform: ImagePlatform,
    client: &Client,
    cache: &Cache,
) -> Result<BaseImage> {
    let registry = Registry::new(client, reference);
    let mut fetched = registry.manifest(&reference.tag_or_digest())?;
    if fetched.media_type == OCI_INDEX || fetched.media_type == DOCKER_LIST {
        let index: ImageIndex =
            serde_json::from_slice(&fetched.bytes).context("the base's index is not valid JSON")?;
        let digest = pick_platform(&index, platform, &reference.to_string())?;
        fetched = registry.manifest(&digest)?;
    }
    let manifest: ImageManifest = serde_json::from_slice(&fetched.bytes)
        .with_context(|| format!("{reference} has a manifest pyship cannot read"))?;
    let config_digest: Digest = manifest.config().digest().to_string().parse()?;
    registry.fetch_blob(cache, &config_digest, &|_| {})?;
    let config = read_config(cache, &config_digest)?;
    Ok(BaseImage {
        name: reference.to_string(),
        manifest_digest: fetched.digest,
        config,
        config_digest,
        layers: layers_of(&manifest)?,
        annotations: annotations_of(&manifest),
        registry: Some((registry, reference.clone())),
    })
}

fn pick_platform(index: &ImageIndex, platform: ImagePlatform, name: &str) -> Result<String> {
    let mut offered = Vec::new();
    for entry in index.manifests() {
        let Some(p) = entry.platform() else { continue };
        let (os, arch) = (p.os().to_string(), p.architecture().to_string());
        if os == "linux" && arch == platform.oci_arch() {
            return Ok(entry.digest().to_string());
        }
        if os != "unknown" {
            offered.push(format!("{os}/{arch}"));
        }
    }
    bail!(
        "{name} has no {platform} image (it offers {}): choose another --platform or base",
        offered.join(", ")
    )
}

fn layers_of(manifest: &ImageManifest) -> Result<Vec<BaseLayer>> {
    manifest
        .layers()
        .iter()
        .map(|layer| {
            Ok(BaseLayer {
                digest: layer.digest().to_string().parse()?,
                size: layer.size(),
                media_type: layer.media_type().to_string(),
            })
        })
        .collect()
}

fn read_config(cache: &Cache, digest: &Digest) -> Result<ImageConfiguration> {
    let bytes = cache.read_blob(digest)?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("the base's config {digest} is not an image config"))
}

fn from_oci_layout(
    dir: &Path,
    tag: Option<&str>,
    platform: ImagePlatform,
    cache: &Cache,
) -> Result<BaseImage> {
    let index_path = dir.join("index.json");
    let index: ImageIndex = serde_json::from_slice(
        &std::fs::read(&index_path)
            .with_context(|| format!("{} is not an OCI layout (no index.json)", dir.display()))?,
    )
    .with_context(|| format!("{} is not a valid OCI index", index_path.display()))?;
    let blob = |digest: &str| -> Result<Vec<u8>> {
        let d: Digest = digest.parse()?;
        let path = dir.join("blobs/sha256").join(d.hex());
        let bytes = std::fs::read(&path)
            .with_context(|| format!("{} lacks blob {digest}", dir.display()))?;
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
    let layers = layers_of(&manifest)?;
    for layer in &layers {
        import_file(
            cache,
            &dir.join("blobs/sha256").join(layer.digest.hex()),
            Some(&layer.digest),
        )?;
    }
    let config_digest: Digest = manifest.config().digest().to_string().parse()?;
    cache.put_blob(&blob(config_digest.as_str())?)?;
    Ok(BaseImage {
        name: format!(
            "oci:{}{}",
            dir.display(),
            tag.map(|t| format!(":{t}")).unwrap_or_default()
        ),
        manifest_digest: digest.parse()?,
        config: read_config(cache, &config_digest)?,
        config_digest,
        annotations: annotations_of(&manifest),
        layers,
        registry: None,
    })
}

fn annotations_of(manifest: &ImageManifest) -> std::collections::BTreeMap<String, String> {
    manifest
        .annotations()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// Saves an image from the local engine to a scratch archive and reads that.
fn from_engine(name: &str, cache: &Cache) -> Result<BaseImage> {
    let engine = crate::output::engine()?;
    let scratch = tempfile::tempdir_in(cache.root().join("tmp"))?;
    let archive = scratch.path().join("image.tar");
    let out = std::process::Command::new(&engine)
        .args(["save", "-o"])
        .arg(&archive)
        .arg(name)
        .output()
        .with_context(|| format!("cannot run `{engine} save`"))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        bail!(
            "`{engine} save {name}` failed: {}: check the image name with `{engine} images`",
            why.trim().lines().last().unwrap_or("")
        );
    }
    let mut image = from_docker_archive(&archive, cache)?;
    image.name = format!("docker:{name}");
    Ok(image)
}

/// Copies a file into the cache, checking the digest when one is expected.
fn import_file(cache: &Cache, path: &Path, expected: Option<&Digest>) -> Result<Digest> {
    if let Some(d) = expected
        && cache.has_blob(d)
    {
        return Ok(d.clone());
    }
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (digest, _) = cache.write_blob(expected, |out| {
        std::io::copy(&mut file, out)?;
        Ok(())
    })?;
    Ok(digest)
}

/// A `docker save` archive: `manifest.json` names the config and layer files.
fn from_docker_archive(file: &Path, cache: &Cache) -> Result<BaseImage> {
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
    let config_digest = import_file(cache, &staging.path().join(config_file), None)?;
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
            crate::layer::LAYER_MEDIA_TYPE
        } else {
            "application/vnd.oci.image.layer.v1.tar"
        };
        let digest = import_file(cache, &path, None)?;
        let size = std::fs::metadata(cache.blob_path(&digest))?.len();
        layers.push(BaseLayer {
            digest,
            size,
            media_type: media_type.to_owned(),
        });
    }
    Ok(BaseImage {
        name: format!("docker-archive:{}", file.display()),
        manifest_digest: config_digest.clone(),
        config: read_config(cache, &config_digest)?,
        config_digest,
        layers,
        annotations: Default::default(),
        registry: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_resolves_to_the_target_platform_or_says_what_it_offers() {
        let digest = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let index: ImageIndex = serde_json::from_value(serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                { "mediaType": crate::registry::OCI_MANIFEST, "digest": digest('a'), "size": 1, "platform": { "os": "linux", "architecture": "amd64" } },
                { "mediaType": crate::registry::OCI_MANIFEST, "digest": digest('b'), "size": 1, "platform": { "os": "linux", "architecture": "arm64", "variant": "v8" } },
                { "mediaType": crate::registry::OCI_MANIFEST, "digest": digest('c'), "size": 1, "platform": { "os": "unknown", "architecture": "unknown" } },
            ]
        }))
        .unwrap();
        assert_eq!(
            pick_platform(&index, ImagePlatform::Amd64, "py").unwrap(),
            digest('a')
        );
        assert_eq!(
            pick_platform(&index, ImagePlatform::Arm64, "py").unwrap(),
            digest('b')
        );
        let only_amd: ImageIndex = serde_json::from_value(serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{ "mediaType": crate::registry::OCI_MANIFEST, "digest": digest('a'), "size": 1, "platform": { "os": "linux", "architecture": "amd64" } }]
        }))
        .unwrap();
        let err = pick_platform(&only_amd, ImagePlatform::Arm64, "py")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("has no linux/arm64 image (it offers linux/amd64)"),
            "{err}"
        );
    }

    #[test]
    fn parses_sources() {
        assert!(
            matches!("oci:/tmp/x:v1".parse::<BaseSource>().unwrap(), BaseSource::OciLayout { tag: Some(t), .. } if t == "v1")
        );
        assert!(matches!(
            "oci:/tmp/x".parse::<BaseSource>().unwrap(),
            BaseSource::OciLayout { tag: None, .. }
        ));
        assert!(matches!(
            "docker-archive:b.tar".parse::<BaseSource>().unwrap(),
            BaseSource::DockerArchive(_)
        ));
        assert!(matches!(
            "python:3.12-slim".parse::<BaseSource>().unwrap(),
            BaseSource::Registry(_)
        ));
    }
}
