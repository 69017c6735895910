//! The artifacts that refer to a manifest (an OCI 1.1 `subject`: signatures, SBOMs,
//! attestations), both ways. Listing asks the referrers API (`GET
//! /v2/<name>/referrers/<digest>`) and reads the referrers tag schema (an index tagged
//! `sha256-<hex>`) on registries without that API, such as distribution's registry:2.
//!
//! Attaching is complete or absent: the artifact's blobs go up first, then its
//! manifest by digest, and only then, when the registry did not index the `subject`
//! itself (no `OCI-Subject` header), the tag schema's index is updated.

use std::io::Read;

use anyhow::{Context, Result};
use oci_spec::image::{ImageIndex, ImageManifest};
use reqwest::Method;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, LINK};

use super::Registry;
use super::client::MAX_MANIFEST;
use crate::oci::Descriptor;
use crate::oci::media_type::{OCI_INDEX, OCI_MANIFEST};
use crate::oci::referrer::{self, Artifact, EMPTY_CONFIG, IndexEntry};
use crate::store::{Cache, Digest};

/// Pages of referrers followed before pyship stops believing the registry.
const MAX_PAGES: usize = 64;

/// One artifact that names the manifest as its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub digest: String,
    /// What the artifact is (`application/vnd.cyclonedx+json`, …): the descriptor's
    /// `artifactType`, else the artifact manifest's own.
    pub artifact_type: String,
}

/// A referrer as an index of referrers lists it, its type perhaps left out.
struct Listed {
    digest: String,
    artifact_type: Option<String>,
}

impl Registry {
    /// Every referrer of `digest` in this repository.
    pub fn referrers(&self, digest: &Digest) -> Result<Vec<Referrer>> {
        let listed = match self.referrers_api(digest)? {
            Some(listed) => listed,
            None => self.referrers_tag(digest)?,
        };
        listed
            .into_iter()
            .map(|listed| {
                let artifact_type = match listed.artifact_type {
                    Some(known) if !known.is_empty() => known,
                    _ => self.artifact_type_of(&listed.digest)?,
                };
                Ok(Referrer {
                    digest: listed.digest,
                    artifact_type,
                })
            })
            .collect()
    }

    /// The referrers API's answer, every page of it; `None` when the registry does not
    /// offer the API (the spec forbids a 404 from one that does).
    fn referrers_api(&self, digest: &Digest) -> Result<Option<Vec<Listed>>> {
        let mut url = format!("{}/referrers/{digest}", self.base_url);
        let mut listed = Vec::new();
        for _ in 0..MAX_PAGES {
            let response = self.send(
                || self.request(Method::GET, &url).header(ACCEPT, OCI_INDEX),
                "pull",
                true,
            )?;
            if matches!(
                response.status(),
                StatusCode::NOT_FOUND
                    | StatusCode::METHOD_NOT_ALLOWED
                    | StatusCode::NOT_IMPLEMENTED
            ) {
                return Ok(None);
            }
            let doing = format!("list the referrers of {}@{digest}", self.display);
            let response = self.ok(response, &doing)?;
            let next = response
                .headers()
                .get(LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let index = read_index(response, &doing)?;
            listed.extend(entries(&index));
            match next {
                Some(next) if next.starts_with('/') => {
                    url = format!("{}{next}", origin_of(&self.base_url));
                }
                Some(next) => url = next,
                None => return Ok(Some(listed)),
            }
        }
        anyhow::bail!(
            "{} lists more than {MAX_PAGES} pages of referrers for {digest}: the registry is broken or hostile",
            self.display
        )
    }

    /// The index under the tag `sha256-<hex>` that clients keep for registries without
    /// the referrers API; none when there is no such tag.
    fn referrers_tag(&self, digest: &Digest) -> Result<Vec<Listed>> {
        let tag = referrer::fallback_tag(digest);
        let Some(fetched) = self.try_manifest(&tag)? else {
            return Ok(Vec::new());
        };
        let index: ImageIndex = serde_json::from_slice(&fetched.bytes).with_context(|| {
            format!(
                "{}:{tag} is not an index of referrers: remove or fix that tag",
                self.display
            )
        })?;
        Ok(entries(&index))
    }

    /// What an artifact manifest says it is: its `artifactType`, else its config's type.
    fn artifact_type_of(&self, digest: &str) -> Result<String> {
        let fetched = self.manifest(digest)?;
        let manifest: ImageManifest =
            serde_json::from_slice(&fetched.bytes).with_context(|| {
                format!(
                    "the referrer {digest} of {} is not a manifest",
                    self.display
                )
            })?;
        Ok(manifest
            .artifact_type()
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_else(|| manifest.config().media_type().to_string()))
    }
}

/// Attaches `artifact` to the manifest `subject` describes; returns how it is listed.
pub fn attach(
    registry: &Registry,
    cache: &Cache,
    subject: &Descriptor,
    artifact: &Artifact,
) -> Result<IndexEntry> {
    let refused = || {
        format!(
            "{} refused the {} attached to {}: check that it accepts OCI 1.1 artifacts, or push with --no-attest",
            registry.display, artifact.artifact_type, subject.digest
        )
    };
    for bytes in [EMPTY_CONFIG, artifact.bytes.as_slice()] {
        let digest = cache.put_blob(bytes)?;
        registry
            .push_blob(cache, &digest, bytes.len() as u64, None)
            .with_context(refused)?;
    }
    let manifest = artifact.manifest(subject)?;
    let listed = artifact.index_entry(&manifest);
    let indexed = registry
        .put_manifest(listed.manifest.digest.as_str(), OCI_MANIFEST, &manifest)
        .with_context(refused)?;
    if !indexed {
        add_to_fallback(registry, &subject.digest, &listed).with_context(refused)?;
    }
    Ok(listed)
}

/// The one document an artifact manifest (a referrer) carries, verified by digest.
pub fn document(registry: &Registry, cache: &Cache, artifact: &str) -> Result<Vec<u8>> {
    let fetched = registry.manifest(artifact)?;
    let manifest: ImageManifest = serde_json::from_slice(&fetched.bytes).with_context(|| {
        format!(
            "the referrer {artifact} of {} is not a manifest",
            registry.display
        )
    })?;
    let blob = manifest.layers().first().with_context(|| {
        format!(
            "the referrer {artifact} of {} names no document",
            registry.display
        )
    })?;
    let digest: Digest = blob.digest().to_string().parse()?;
    registry.fetch_blob(cache, &digest, blob.size(), &|_| {})?;
    cache.read_blob(&digest)
}

/// Adds `listed` to the index under `subject`'s referrers tag, the last step of an
/// attach on a registry without the referrers API.
fn add_to_fallback(registry: &Registry, subject: &Digest, listed: &IndexEntry) -> Result<()> {
    let tag = referrer::fallback_tag(subject);
    let existing = registry.try_manifest(&tag)?;
    let index = referrer::add_to_index(existing.as_ref().map(|f| f.bytes.as_slice()), listed)?;
    if existing.is_some_and(|e| e.bytes == index) {
        return Ok(());
    }
    registry.put_manifest(&tag, OCI_INDEX, &index)?;
    Ok(())
}

fn entries(index: &ImageIndex) -> Vec<Listed> {
    index
        .manifests()
        .iter()
        .map(|entry| Listed {
            digest: entry.digest().to_string(),
            artifact_type: entry.artifact_type().as_ref().map(|t| t.to_string()),
        })
        .collect()
}

fn read_index(response: reqwest::blocking::Response, doing: &str) -> Result<ImageIndex> {
    let mut bytes = Vec::new();
    response
        .take(MAX_MANIFEST + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot {doing}: the connection broke"))?;
    anyhow::ensure!(
        bytes.len() as u64 <= MAX_MANIFEST,
        "cannot {doing}: the answer is larger than {} MiB",
        MAX_MANIFEST >> 20
    );
    serde_json::from_slice(&bytes).with_context(|| {
        format!("cannot {doing}: the registry answered something other than an index")
    })
}

/// The target of a `Link: <url>; rel="next"` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (target, params) = link.split_once(';')?;
        let rel_next = params
            .split(';')
            .any(|p| p.trim().trim_start_matches("rel=").trim_matches('"') == "next");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        rel_next.then(|| target.to_owned())
    })
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> String {
    url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_next_link_only() {
        assert_eq!(
            next_link(r#"</v2/a/referrers/sha256:00?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/a/referrers/sha256:00?n=2&last=b")
        );
        assert_eq!(next_link(r#"<https://r.example/x>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
        assert_eq!(
            origin_of("http://127.0.0.1:5000/v2/team/app"),
            "http://127.0.0.1:5000"
        );
    }
}
