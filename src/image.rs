//! The OCI image: the base's layers plus pyship's, a config carrying the runtime
//! contract (user, environment, command, labels) and a manifest that names them all.

use std::collections::HashMap;

use anyhow::{Context, Result};
use oci_spec::image::{
    Descriptor, HistoryBuilder, ImageConfiguration, ImageManifestBuilder, MediaType, RootFsBuilder,
    SCHEMA_VERSION,
};

use crate::base::BaseImage;
use crate::cache::{Cache, Digest};
use crate::layer::{LAYER_MEDIA_TYPE, Layer};
use crate::registry::OCI_MANIFEST;

/// A layer pyship wrote, with the line its history entry shows.
pub struct OwnLayer {
    pub layer: Layer,
    pub created_by: String,
}

/// What the runtime contract says, decided by the build.
pub struct RuntimeSpec {
    pub user: String,
    pub env: Vec<(String, String)>,
    pub command: Vec<String>,
    pub workdir: String,
    pub port: u16,
    pub labels: Vec<(String, String)>,
    /// RFC 3339 creation time, from the build's epoch.
    pub created: String,
}

/// A finished image: every blob is in the cache (or in the base's registry).
pub struct Image {
    pub manifest: Vec<u8>,
    pub manifest_digest: Digest,
    pub config_digest: Digest,
    /// All layers, base first: digest, size, media type.
    pub layers: Vec<(Digest, u64, String)>,
}

impl Image {
    pub const MEDIA_TYPE: &'static str = OCI_MANIFEST;

    pub fn assemble(
        base: &BaseImage,
        own: &[OwnLayer],
        spec: &RuntimeSpec,
        cache: &Cache,
    ) -> Result<Image> {
        let config = config(base, own, spec)?;
        let config_bytes = serde_json::to_vec(&config)?;
        let config_digest = cache.put_blob(&config_bytes)?;
        let mut layers: Vec<(Digest, u64, String)> = base
            .layers
            .iter()
            .map(|l| (l.digest.clone(), l.size, oci_layer_type(&l.media_type)))
            .collect();
        layers.extend(own.iter().map(|o| {
            (
                o.layer.digest.clone(),
                o.layer.size,
                LAYER_MEDIA_TYPE.to_owned(),
            )
        }));
        let annotations = HashMap::from([
            (
                "org.opencontainers.image.base.name".to_owned(),
                base.name.clone(),
            ),
            (
                "org.opencontainers.image.base.digest".to_owned(),
                base.manifest_digest.to_string(),
            ),
            (
                "org.opencontainers.image.created".to_owned(),
                spec.created.clone(),
            ),
        ]);
        let (manifest, manifest_digest) = write_manifest(
            &config_digest,
            config_bytes.len(),
            &layers,
            annotations,
            cache,
        )?;
        Ok(Image {
            manifest,
            manifest_digest,
            config_digest,
            layers,
        })
    }
}

impl Image {
    /// An image that is exactly `resolved`, with a manifest written anew (for loading
    /// into an engine from pyship's cache).
    pub fn from_resolved(resolved: &BaseImage, cache: &Cache) -> Result<Image> {
        let config_bytes = cache.read_blob(&resolved.config_digest)?;
        let layers: Vec<(Digest, u64, String)> = resolved
            .layers
            .iter()
            .map(|l| (l.digest.clone(), l.size, oci_layer_type(&l.media_type)))
            .collect();
        let (manifest, manifest_digest) = write_manifest(
            &resolved.config_digest,
            config_bytes.len(),
            &layers,
            HashMap::new(),
            cache,
        )?;
        Ok(Image {
            manifest,
            manifest_digest,
            config_digest: resolved.config_digest.clone(),
            layers,
        })
    }
}

fn config(base: &BaseImage, own: &[OwnLayer], spec: &RuntimeSpec) -> Result<serde_json::Value> {
    let mut config: ImageConfiguration = base.config.clone();
    let mut runtime = config.config().clone().unwrap_or_default();
    runtime.set_user(Some(spec.user.clone()));
    runtime.set_env(Some(
        spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
    ));
    runtime.set_entrypoint(None);
    runtime.set_cmd(Some(spec.command.clone()));
    runtime.set_working_dir(Some(spec.workdir.clone()));
    runtime.set_exposed_ports(Some(vec![format!("{}/tcp", spec.port)]));
    runtime.set_stop_signal(Some("SIGTERM".to_owned()));
    let mut labels = runtime.labels().clone().unwrap_or_default();
    labels.extend(spec.labels.iter().cloned());
    runtime.set_labels(Some(labels));
    config.set_config(Some(runtime));
    config.set_created(Some(spec.created.clone()));
    config.set_author(None);
    let mut diff_ids = config.rootfs().diff_ids().clone();
    diff_ids.extend(own.iter().map(|o| o.layer.diff_id.to_string()));
    config.set_rootfs(
        RootFsBuilder::default()
            .typ("layers")
            .diff_ids(diff_ids)
            .build()?,
    );
    let mut history = config.history().clone().unwrap_or_default();
    for layer in own {
        history.push(
            HistoryBuilder::default()
                .created(spec.created.clone())
                .created_by(layer.created_by.clone())
                .comment("pyship")
                .build()?,
        );
    }
    config.set_history(Some(history));
    let mut value = serde_json::to_value(&config)?;
    // The image's labels and env decide the config digest: keep map order stable.
    value.sort_all_objects();
    Ok(value)
}

/// An OCI image manifest naming the config and layers, stored in the cache.
fn write_manifest(
    config_digest: &Digest,
    config_size: usize,
    layers: &[(Digest, u64, String)],
    annotations: HashMap<String, String>,
    cache: &Cache,
) -> Result<(Vec<u8>, Digest)> {
    let descriptors = layers
        .iter()
        .map(|(digest, size, media_type)| descriptor(media_type, *size, digest))
        .collect::<Result<Vec<_>>>()?;
    let mut builder = ImageManifestBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(
            "application/vnd.oci.image.config.v1+json",
            config_size as u64,
            config_digest,
        )?)
        .layers(descriptors);
    if !annotations.is_empty() {
        builder = builder.annotations(annotations);
    }
    let manifest = canonical_json(&builder.build()?)?;
    let digest = cache.put_blob(&manifest)?;
    Ok((manifest, digest))
}

fn descriptor(media_type: &str, size: u64, digest: &Digest) -> Result<Descriptor> {
    let digest: oci_spec::image::Digest = digest.as_str().parse().context("digest")?;
    Ok(Descriptor::new(MediaType::from(media_type), size, digest))
}

/// Docker's layer media types name the same bytes as OCI's.
fn oci_layer_type(media_type: &str) -> String {
    match media_type {
        "application/vnd.docker.image.rootfs.diff.tar.gzip" => LAYER_MEDIA_TYPE.to_owned(),
        "application/vnd.docker.image.rootfs.diff.tar" => {
            "application/vnd.oci.image.layer.v1.tar".to_owned()
        }
        other => other.to_owned(),
    }
}

/// JSON with object keys sorted, so equal values always serialize to equal bytes.
pub fn canonical_json(value: &impl serde::Serialize) -> Result<Vec<u8>> {
    let mut value = serde_json::to_value(value)?;
    value.sort_all_objects();
    Ok(serde_json::to_vec(&value)?)
}
