//! The image model: descriptors, and a manifest naming a config and its layers,
//! written as canonical JSON into the cache so equal images get equal digests.

use std::collections::HashMap;

use anyhow::{Context, Result};
use oci_spec::image::{ImageManifest, ImageManifestBuilder, MediaType, SCHEMA_VERSION};

use super::media_type::{OCI_CONFIG, OCI_INDEX, OCI_MANIFEST};
use super::platform::ImagePlatform;
use crate::store::{Cache, Digest};

/// What a manifest says of a blob it names: its type, digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

impl Descriptor {
    /// The descriptor as the OCI data model has it.
    fn to_spec(&self) -> Result<oci_spec::image::Descriptor> {
        let digest: oci_spec::image::Digest = self.digest.as_str().parse().context("digest")?;
        Ok(oci_spec::image::Descriptor::new(
            MediaType::from(self.media_type.as_str()),
            self.size,
            digest,
        ))
    }

    /// The layers a manifest lists, in order.
    pub fn layers_of(manifest: &ImageManifest) -> Result<Vec<Descriptor>> {
        manifest
            .layers()
            .iter()
            .map(|layer| {
                Ok(Descriptor {
                    media_type: layer.media_type().to_string(),
                    digest: layer.digest().to_string().parse()?,
                    size: layer.size(),
                })
            })
            .collect()
    }
}

/// A finished image: every blob is in the cache (or in the base's registry).
pub struct Image {
    pub manifest: Vec<u8>,
    pub manifest_digest: Digest,
    pub config_digest: Digest,
    /// All layers, base first, with OCI media types.
    pub layers: Vec<Descriptor>,
}

impl Image {
    pub const MEDIA_TYPE: &'static str = OCI_MANIFEST;

    /// Writes the manifest naming `config` (already in the cache) and `layers`.
    pub fn write(
        config: &Descriptor,
        layers: Vec<Descriptor>,
        annotations: HashMap<String, String>,
        cache: &Cache,
    ) -> Result<Image> {
        let descriptors = layers
            .iter()
            .map(Descriptor::to_spec)
            .collect::<Result<Vec<_>>>()?;
        let mut builder = ImageManifestBuilder::default()
            .schema_version(SCHEMA_VERSION)
            .media_type(MediaType::ImageManifest)
            .config(config.to_spec()?)
            .layers(descriptors);
        if !annotations.is_empty() {
            builder = builder.annotations(annotations);
        }
        let manifest = canonical_json(&builder.build()?)?;
        let manifest_digest = cache.put_blob(&manifest)?;
        Ok(Image {
            manifest,
            manifest_digest,
            config_digest: config.digest.clone(),
            layers,
        })
    }

    /// The config's descriptor, for a config stored in the cache.
    pub fn config_descriptor(digest: &Digest, size: usize) -> Descriptor {
        Descriptor {
            media_type: OCI_CONFIG.to_owned(),
            digest: digest.clone(),
            size: size as u64,
        }
    }

    /// The manifest's descriptor: what a referrer names as its `subject`.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: Self::MEDIA_TYPE.to_owned(),
            digest: self.manifest_digest.clone(),
            size: self.manifest.len() as u64,
        }
    }

    /// Every blob the image names, config first and manifest last.
    pub fn blobs(&self) -> Vec<&Digest> {
        let mut digests = vec![&self.config_digest];
        digests.extend(self.layers.iter().map(|l| &l.digest));
        digests.push(&self.manifest_digest);
        digests
    }
}

/// An image index naming one image per platform: what a multi-platform build is.
pub struct Index {
    pub bytes: Vec<u8>,
    pub digest: Digest,
}

impl Index {
    pub const MEDIA_TYPE: &'static str = OCI_INDEX;

    /// Writes the index naming each image for its platform, in the order given, as
    /// canonical JSON into the cache: the same images always give the same digest.
    pub fn write(images: &[(ImagePlatform, &Image)], cache: &Cache) -> Result<Index> {
        let manifests: Vec<serde_json::Value> = images
            .iter()
            .map(|(platform, image)| {
                let mut spec = serde_json::json!({
                    "os": "linux",
                    "architecture": platform.oci_arch(),
                });
                if let Some(variant) = platform.variant() {
                    spec["variant"] = variant.into();
                }
                serde_json::json!({
                    "mediaType": Image::MEDIA_TYPE,
                    "digest": image.manifest_digest.to_string(),
                    "size": image.manifest.len(),
                    "platform": spec,
                })
            })
            .collect();
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": manifests,
        });
        let bytes = canonical_json(&index)?;
        let digest = cache.put_blob(&bytes)?;
        Ok(Index { bytes, digest })
    }

    /// The index's descriptor, for what names it (a layout's `index.json`).
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: Self::MEDIA_TYPE.to_owned(),
            digest: self.digest.clone(),
            size: self.bytes.len() as u64,
        }
    }
}

/// JSON with object keys sorted, so equal values always serialize to equal bytes.
pub fn canonical_json(value: &impl serde::Serialize) -> Result<Vec<u8>> {
    let mut value = serde_json::to_value(value)?;
    value.sort_all_objects();
    Ok(serde_json::to_vec(&value)?)
}
