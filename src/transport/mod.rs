//! Where images live, one module per place, each reading and writing: a registry, an
//! OCI image layout, a docker-archive tar, and the local Docker or Podman engine.
//! Reading resolves an image to one platform's manifest and config; its layers reach
//! the cache only when pyship looks inside them or an output needs their bytes.
//! Writing is complete or absent: files are renamed into place, and a pushed tag is
//! set only after every blob it names is in the registry.

pub mod archive;
pub mod debian;
pub mod engine;
pub mod layout;
pub mod registry;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};
use reqwest::blocking::Client;

use crate::oci::facts::{self, BaseFacts, FactsScan};
use crate::oci::image::Image;
use crate::oci::media_type;
use crate::oci::platform::ImagePlatform;
use crate::oci::walk::{self, ReadLayers, Walk};
use crate::oci::{Descriptor, Reference};
use crate::store::{Cache, Digest, Progress};
use registry::Registry;

/// Where an image to read comes from, as the user wrote it.
#[derive(Debug, Clone)]
pub enum ImageSource {
    Registry(Reference),
    OciLayout {
        dir: PathBuf,
        tag: Option<String>,
    },
    DockerArchive(PathBuf),
    /// An image in the local Docker or Podman engine, read through `save`.
    Engine(String),
    /// A base pyship assembles from Debian's packages: `deb:SUITE[+PACKAGE...]`.
    Debian(debian::DebianSource),
}

/// Where a finished image goes, as given on the command line.
#[derive(Debug, Clone)]
pub enum Destination {
    OciLayout(PathBuf),
    DockerArchive(PathBuf),
    Load,
    Push(PushTarget),
}

/// A repository to push to and the tags to set there: the blobs go up once, then the
/// manifest under each tag. No tags pushes the manifest by its digest only.
#[derive(Debug, Clone)]
pub struct PushTarget {
    /// The repository (its tag and digest unset).
    pub repository: Reference,
    pub tags: Vec<String>,
}

impl PushTarget {
    /// `repository` (any tag or digest it carries dropped) with `tags`.
    pub fn new(repository: &Reference, tags: Vec<String>) -> PushTarget {
        PushTarget {
            repository: Reference {
                tag: None,
                digest: None,
                ..repository.clone()
            },
            tags,
        }
    }

    /// The reference under the first tag, the name the image is given elsewhere.
    pub fn first_reference(&self) -> Reference {
        Reference {
            tag: self.tags.first().cloned(),
            ..self.repository.clone()
        }
    }
}

/// An image resolved to one platform: the base of a build, or the image `verify` reads.
pub struct ResolvedImage {
    /// How the user named it, for the `base.name` annotation.
    pub name: String,
    pub manifest_digest: Digest,
    pub config: ImageConfiguration,
    pub config_digest: Digest,
    /// The layers as its manifest lists them.
    pub layers: Vec<Descriptor>,
    /// The manifest's annotations (none for docker-archives).
    pub annotations: BTreeMap<String, String>,
    registry: Option<(Registry, Reference)>,
}

impl std::str::FromStr for ImageSource {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<ImageSource> {
        if let Some(rest) = text.strip_prefix("oci:") {
            let (dir, tag) = match rest.rsplit_once(':') {
                Some((dir, tag)) if !tag.contains('/') && !dir.is_empty() => {
                    (dir, Some(tag.to_owned()))
                }
                _ => (rest, None),
            };
            return Ok(ImageSource::OciLayout {
                dir: dir.into(),
                tag,
            });
        }
        if let Some(file) = text.strip_prefix("docker-archive:") {
            return Ok(ImageSource::DockerArchive(file.into()));
        }
        if let Some(rest) = text.strip_prefix(debian::SCHEME) {
            return Ok(ImageSource::Debian(debian::DebianSource::parse(rest)?));
        }
        if let Some(name) = text.strip_prefix("docker:") {
            return Ok(ImageSource::Engine(name.to_owned()));
        }
        Ok(ImageSource::Registry(text.parse()?))
    }
}

impl std::str::FromStr for Destination {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Destination> {
        if let Some(dir) = text.strip_prefix("oci:") {
            return Ok(Destination::OciLayout(dir.into()));
        }
        if let Some(file) = text.strip_prefix("docker-archive:") {
            return Ok(Destination::DockerArchive(file.into()));
        }
        bail!(
            "{text:?} is not an output: use oci:DIR or docker-archive:FILE (or --load / --push REF)"
        )
    }
}

impl ImageSource {
    /// Reads the manifest and config of the image for `platform`.
    pub fn resolve(
        &self,
        platform: ImagePlatform,
        client: &Client,
        cache: &Cache,
    ) -> Result<ResolvedImage> {
        match self {
            ImageSource::Registry(reference) => {
                registry::resolve(reference, platform, client, cache)
            }
            ImageSource::OciLayout { dir, tag } => {
                layout::resolve(dir, tag.as_deref(), platform, cache)
            }
            ImageSource::DockerArchive(file) => archive::resolve(file, cache),
            ImageSource::Engine(name) => engine::Engine::detect()?.resolve(name, cache),
            ImageSource::Debian(source) => source.resolve(platform, client, cache),
        }
    }
}

impl Destination {
    /// Writes `image` here; returns the pinned reference to print, then any tagged ones.
    /// A push runs `before_tag` once the manifest is in the registry by digest and
    /// before any tag names it.
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &self,
        image: &Image,
        base: &ResolvedImage,
        tag: &Reference,
        cache: &Cache,
        client: &Client,
        progress: &Progress,
        before_tag: registry::BeforeTag<'_>,
    ) -> Result<Vec<String>> {
        match self {
            Destination::OciLayout(dir) => {
                layout::write(dir, image, tag, cache)?;
                Ok(vec![format!(
                    "oci:{}@{}",
                    dir.display(),
                    image.manifest_digest
                )])
            }
            Destination::DockerArchive(file) => {
                crate::store::atomic::write_file(file, |out| {
                    archive::write(out, image, tag, cache)
                })?;
                Ok(vec![format!(
                    "docker-archive:{}@{}",
                    file.display(),
                    image.manifest_digest
                )])
            }
            Destination::Load => Ok(vec![engine::Engine::detect()?.load(image, tag, cache)?]),
            Destination::Push(target) => {
                registry::push(target, image, base, cache, client, progress, before_tag)
            }
        }
    }
}

impl ResolvedImage {
    /// An image just built on `base`, named `name`: its own layers are in the cache, and
    /// the base's are in the cache or are read from the base's registry.
    pub fn built(
        name: String,
        image: &Image,
        base: &ResolvedImage,
        client: &Client,
        cache: &Cache,
    ) -> Result<ResolvedImage> {
        let manifest: ImageManifest = serde_json::from_slice(&image.manifest)
            .context("the manifest pyship wrote does not read back")?;
        let registry = base
            .registry_reference()
            .map(|reference| (Registry::new(client, reference), reference.clone()));
        from_manifest(
            name,
            image.manifest_digest.clone(),
            &manifest,
            cache,
            registry,
        )
    }

    /// The registry session the image was read through, if it came from one.
    pub fn registry(&self) -> Option<&Registry> {
        self.registry.as_ref().map(|(registry, _)| registry)
    }

    /// The registry repository the image lives in, for cross-repository mounts.
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
        mut each: impl FnMut(&Descriptor, Box<dyn std::io::Read>) -> Result<()>,
    ) -> Result<()> {
        self.read_layers_where(
            cache,
            progress,
            |_| true,
            |_, layer, stream| match stream {
                Some(stream) => each(layer, stream),
                None => Ok(()),
            },
        )
    }

    /// [`ResolvedImage::read_layers`] for the layers `wanted` picks by index; the
    /// others are handed over in their turn without a stream, for a reader that
    /// remembers what they hold.
    pub fn read_layers_where(
        &self,
        cache: &Cache,
        progress: &Progress,
        wanted: impl Fn(usize) -> bool,
        mut each: impl FnMut(usize, &Descriptor, Option<Box<dyn std::io::Read>>) -> Result<()>,
    ) -> Result<()> {
        let missing: u64 = (self.layers.iter().enumerate())
            .filter(|(n, l)| wanted(*n) && !cache.has_blob(&l.digest))
            .map(|(_, l)| l.size)
            .sum();
        let bar = progress.bytes(missing, "pulling and reading the base");
        for (n, layer) in self.layers.iter().enumerate() {
            if !wanted(n) {
                each(n, layer, None)?;
                continue;
            }
            let registry = match &self.registry {
                Some((registry, _)) if !cache.has_blob(&layer.digest) => registry,
                _ => {
                    each(n, layer, Some(walk::open(cache, layer)?))?;
                    continue;
                }
            };
            let (reader, mut writer) = std::io::pipe()?;
            let read = std::thread::scope(|scope| {
                let bar = &bar;
                let download = scope.spawn(move || {
                    registry.fetch_blob_tee(
                        cache,
                        &layer.digest,
                        layer.size,
                        &|n| bar.inc(n),
                        &mut writer,
                    )
                });
                let read =
                    walk::decompress(layer, reader).and_then(|stream| each(n, layer, Some(stream)));
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

    /// What pyship needs to know from inside the image, from the cache or by reading
    /// its layers (downloading what is missing as it reads); remembered by config digest.
    pub fn facts(&self, cache: &Cache, progress: &Progress) -> Result<BaseFacts> {
        if let Some(facts) = self.cached_facts(cache) {
            return Ok(facts);
        }
        self.read_facts(
            &|each| {
                self.read_layers(cache, progress, |layer, stream| {
                    each(stream).with_context(|| format!("cannot read base layer {}", layer.digest))
                })
            },
            cache,
        )
    }

    /// Reads and remembers the facts of this image from `layers`, its layers' tar
    /// streams in order, wherever they come from.
    pub fn read_facts(&self, layers: ReadLayers<'_>, cache: &Cache) -> Result<BaseFacts> {
        let mut walk = Walk::default();
        let mut scan = FactsScan::default();
        layers(&mut |stream| {
            walk.layer(stream, |path, index, entry| scan.visit(path, index, entry))
        })?;
        let facts = scan.finish(&walk, &self.config);
        self.remember_facts(cache, &facts)?;
        Ok(facts)
    }

    /// The facts an earlier run read from this image, if any.
    pub fn cached_facts(&self, cache: &Cache) -> Option<BaseFacts> {
        cache.record(facts::RECORD, self.config_digest.hex())
    }

    pub fn remember_facts(&self, cache: &Cache, facts: &BaseFacts) -> Result<()> {
        cache.put_record(facts::RECORD, self.config_digest.hex(), facts)
    }

    /// Makes sure every layer is in the cache, downloading what is missing in parallel.
    pub fn fetch_layers(&self, cache: &Cache, progress: &Progress) -> Result<()> {
        let missing: Vec<&Descriptor> = self
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
        missing.par_iter().try_for_each(|layer| {
            registry.fetch_blob(cache, &layer.digest, layer.size, &|n| bar.inc(n))
        })?;
        bar.finish();
        Ok(())
    }

    /// The layers as an OCI manifest names them (Docker's media types are the same bytes).
    pub fn oci_layers(&self) -> Vec<Descriptor> {
        self.layers
            .iter()
            .map(|l| Descriptor {
                media_type: media_type::oci_layer(&l.media_type).to_owned(),
                ..l.clone()
            })
            .collect()
    }

    /// The image exactly as resolved, with a manifest written anew: what an engine
    /// loads when `verify` runs an image read from elsewhere.
    pub fn as_image(&self, cache: &Cache) -> Result<Image> {
        let config_size = cache.read_blob(&self.config_digest)?.len();
        Image::write(
            &Image::config_descriptor(&self.config_digest, config_size),
            self.oci_layers(),
            Default::default(),
            cache,
        )
    }
}

/// An image resolved from a manifest whose config is already in the cache.
fn from_manifest(
    name: String,
    manifest_digest: Digest,
    manifest: &ImageManifest,
    cache: &Cache,
    registry: Option<(Registry, Reference)>,
) -> Result<ResolvedImage> {
    let config_digest: Digest = manifest.config().digest().to_string().parse()?;
    Ok(ResolvedImage {
        name,
        manifest_digest,
        config: read_config(cache, &config_digest)?,
        config_digest,
        layers: Descriptor::layers_of(manifest)?,
        annotations: manifest
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        registry,
    })
}

fn read_config(cache: &Cache, digest: &Digest) -> Result<ImageConfiguration> {
    let bytes = cache.read_blob(digest)?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("the base's config {digest} is not an image config"))
}

/// The manifest an index lists for `platform`, or an error naming what it offers.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::media_type::{OCI_INDEX, OCI_MANIFEST};

    #[test]
    fn index_resolves_to_the_target_platform_or_says_what_it_offers() {
        let digest = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let index: ImageIndex = serde_json::from_value(serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                { "mediaType": OCI_MANIFEST, "digest": digest('a'), "size": 1, "platform": { "os": "linux", "architecture": "amd64" } },
                { "mediaType": OCI_MANIFEST, "digest": digest('b'), "size": 1, "platform": { "os": "linux", "architecture": "arm64", "variant": "v8" } },
                { "mediaType": OCI_MANIFEST, "digest": digest('c'), "size": 1, "platform": { "os": "unknown", "architecture": "unknown" } },
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
            "manifests": [{ "mediaType": OCI_MANIFEST, "digest": digest('a'), "size": 1, "platform": { "os": "linux", "architecture": "amd64" } }]
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
            matches!("oci:/tmp/x:v1".parse::<ImageSource>().unwrap(), ImageSource::OciLayout { tag: Some(t), .. } if t == "v1")
        );
        assert!(matches!(
            "oci:/tmp/x".parse::<ImageSource>().unwrap(),
            ImageSource::OciLayout { tag: None, .. }
        ));
        assert!(matches!(
            "docker-archive:b.tar".parse::<ImageSource>().unwrap(),
            ImageSource::DockerArchive(_)
        ));
        assert!(matches!(
            "python:3.12-slim".parse::<ImageSource>().unwrap(),
            ImageSource::Registry(_)
        ));
    }
}
