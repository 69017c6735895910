//! The artifacts that refer to a manifest (an OCI 1.1 `subject`: signatures, SBOMs,
//! attestations), asked of the referrers API (`GET /v2/<name>/referrers/<digest>`),
//! and read from the referrers tag schema (an index tagged `sha256-<hex>`) on
//! registries without that API, such as distribution's registry:2.

use std::io::Read;

use anyhow::{Context, Result};
use oci_spec::image::{ImageIndex, ImageManifest};
use reqwest::Method;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, LINK};

use super::Registry;
use super::client::MAX_MANIFEST;
use crate::oci::media_type::OCI_INDEX;
use crate::store::Digest;

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
        let tag = format!("sha256-{}", digest.hex());
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
