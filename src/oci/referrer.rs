//! OCI 1.1 referrers as data: an artifact manifest that points at the manifest it is
//! about through its `subject`, and the image index that lists a manifest's referrers
//! (what the referrers API answers, and what a registry without that API keeps under
//! the tag `sha256-<hex>`, the referrers tag schema).

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use oci_spec::image::{
    Descriptor as SpecDescriptor, ImageIndex, ImageIndexBuilder, ImageManifestBuilder, MediaType,
    SCHEMA_VERSION,
};

use super::Descriptor;
use super::image::canonical_json;
use super::media_type::{OCI_EMPTY, OCI_INDEX, OCI_MANIFEST};
use crate::store::Digest;

/// The config blob of every artifact manifest: the empty JSON object.
pub const EMPTY_CONFIG: &[u8] = b"{}";

/// One document attached to a manifest: its artifact type (also its blob's media
/// type) and bytes.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub artifact_type: &'static str,
    pub bytes: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
}

/// How an index of referrers lists one: its manifest's descriptor, artifact type and
/// annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub manifest: Descriptor,
    pub artifact_type: String,
    pub annotations: BTreeMap<String, String>,
}

impl Artifact {
    pub fn new(artifact_type: &'static str, bytes: Vec<u8>) -> Artifact {
        Artifact {
            artifact_type,
            bytes,
            annotations: BTreeMap::new(),
        }
    }

    /// The descriptor of the artifact's one blob.
    pub fn blob(&self) -> Descriptor {
        Descriptor {
            media_type: self.artifact_type.to_owned(),
            digest: Digest::of(&self.bytes),
            size: self.bytes.len() as u64,
        }
    }

    /// The artifact manifest naming the empty config and the blob, about `subject`.
    /// Canonical JSON: the same artifact about the same subject has one digest.
    pub fn manifest(&self, subject: &Descriptor) -> Result<Vec<u8>> {
        let config = spec(&Descriptor {
            media_type: OCI_EMPTY.to_owned(),
            digest: Digest::of(EMPTY_CONFIG),
            size: EMPTY_CONFIG.len() as u64,
        })?;
        let mut builder = ImageManifestBuilder::default()
            .schema_version(SCHEMA_VERSION)
            .media_type(MediaType::ImageManifest)
            .artifact_type(MediaType::from(self.artifact_type))
            .config(config)
            .layers(vec![spec(&self.blob())?])
            .subject(spec(subject)?);
        if !self.annotations.is_empty() {
            builder = builder.annotations(hash_map(&self.annotations));
        }
        canonical_json(&builder.build()?)
    }

    /// How an index lists this artifact once its manifest is `manifest`.
    pub fn index_entry(&self, manifest: &[u8]) -> IndexEntry {
        IndexEntry {
            manifest: Descriptor {
                media_type: OCI_MANIFEST.to_owned(),
                digest: Digest::of(manifest),
                size: manifest.len() as u64,
            },
            artifact_type: self.artifact_type.to_owned(),
            annotations: self.annotations.clone(),
        }
    }
}

/// The tag under which a registry without the referrers API keeps the referrers of
/// `subject`: its algorithm and hex joined by `-`.
pub fn fallback_tag(subject: &Digest) -> String {
    format!("sha256-{}", subject.hex())
}

/// The tag schema's index with `referrer` added: `existing` (the index the tag held,
/// if any) keeps every entry it had, and an entry already listed is not listed twice.
pub fn add_to_index(existing: Option<&[u8]>, referrer: &IndexEntry) -> Result<Vec<u8>> {
    let mut manifests: Vec<SpecDescriptor> = match existing {
        Some(bytes) => serde_json::from_slice::<ImageIndex>(bytes)
            .context("the referrers tag does not hold an image index")?
            .manifests()
            .clone(),
        None => Vec::new(),
    };
    let digest = referrer.manifest.digest.as_str();
    if !manifests.iter().any(|m| m.digest().to_string() == digest) {
        let mut entry = spec(&referrer.manifest)?;
        entry.set_artifact_type(Some(MediaType::from(referrer.artifact_type.as_str())));
        if !referrer.annotations.is_empty() {
            entry.set_annotations(Some(hash_map(&referrer.annotations)));
        }
        manifests.push(entry);
    }
    let index = ImageIndexBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::from(OCI_INDEX))
        .manifests(manifests)
        .build()?;
    canonical_json(&index)
}

fn spec(descriptor: &Descriptor) -> Result<SpecDescriptor> {
    let digest: oci_spec::image::Digest = descriptor.digest.as_str().parse().context("digest")?;
    Ok(SpecDescriptor::new(
        MediaType::from(descriptor.media_type.as_str()),
        descriptor.size,
        digest,
    ))
}

fn hash_map(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::media_type::SBOM_CYCLONEDX;

    fn subject() -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.to_owned(),
            digest: Digest::of(b"image"),
            size: 5,
        }
    }

    #[test]
    fn artifact_manifest_names_empty_config_blob_and_subject() {
        let artifact = Artifact::new(SBOM_CYCLONEDX, b"{\"bomFormat\":\"CycloneDX\"}".to_vec());
        let bytes = artifact.manifest(&subject()).unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(manifest["artifactType"], SBOM_CYCLONEDX);
        assert_eq!(manifest["config"]["mediaType"], OCI_EMPTY);
        assert_eq!(
            manifest["config"]["digest"],
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(manifest["layers"][0]["mediaType"], SBOM_CYCLONEDX);
        assert_eq!(manifest["subject"]["digest"], Digest::of(b"image").as_str());
        assert_eq!(bytes, artifact.manifest(&subject()).unwrap());
    }

    #[test]
    fn the_fallback_index_keeps_what_it_had_and_lists_each_referrer_once() {
        let one = Artifact::new(SBOM_CYCLONEDX, b"1".to_vec());
        let one = one.index_entry(&one.manifest(&subject()).unwrap());
        let two = Artifact::new(SBOM_CYCLONEDX, b"2".to_vec());
        let two = two.index_entry(&two.manifest(&subject()).unwrap());
        let index = add_to_index(None, &one).unwrap();
        let index = add_to_index(Some(&index), &two).unwrap();
        let again = add_to_index(Some(&index), &one).unwrap();
        assert_eq!(index, again);
        let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
        assert_eq!(index["mediaType"], OCI_INDEX);
        let listed: Vec<(&str, &str)> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["digest"].as_str().unwrap(),
                    m["artifactType"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                (one.manifest.digest.as_str(), SBOM_CYCLONEDX),
                (two.manifest.digest.as_str(), SBOM_CYCLONEDX)
            ]
        );
        assert_eq!(
            fallback_tag(&Digest::of(b"image")),
            format!("sha256-{}", Digest::of(b"image").hex())
        );
    }
}
