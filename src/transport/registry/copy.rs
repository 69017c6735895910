//! Copying an image between repositories of one registry without its bytes passing
//! through pyship where the registry allows it: each blob mounted across repositories
//! (`POST …/blobs/uploads/?mount=<digest>&from=<repository>`), and streamed from one
//! repository to the other only when the registry refuses the mount. Manifests keep
//! their exact bytes, so every digest stays what it was.

use anyhow::{Context, Result, bail};
use oci_spec::image::{ImageIndex, ImageManifest};
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;

use super::Registry;
use super::client::{Fetched, Retryable};
use crate::oci::media_type;
use crate::store::Digest;
use crate::store::http::{self, ATTEMPTS};

/// Indexes nest (an index of indexes) only this deep in practice; deeper is a loop.
const MAX_DEPTH: usize = 4;

/// What a copy did with the blobs it needed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Already in the target repository.
    pub present: usize,
    /// Mounted from the source repository.
    pub mounted: usize,
    /// Streamed through pyship because the registry refused to mount them.
    pub streamed: usize,
    /// Child manifests of an index put into the target repository by digest.
    pub manifests: usize,
}

/// Makes everything `manifest` names present in `target`, taken from `source` (a
/// repository of the same registry): an image's config and layers, or each manifest
/// of an index (by digest) with everything it names. The manifest itself is left to
/// the caller, to put under its tags.
pub fn contents(source: &Registry, target: &Registry, manifest: &Fetched) -> Result<Copied> {
    if !source.same_registry(target) {
        bail!(
            "{} and {} are on different registries: copy between registries with skopeo or crane",
            source.display,
            target.display
        );
    }
    let mut copied = Copied::default();
    copy_named(source, target, manifest, 0, &mut copied)?;
    Ok(copied)
}

fn copy_named(
    source: &Registry,
    target: &Registry,
    manifest: &Fetched,
    depth: usize,
    copied: &mut Copied,
) -> Result<()> {
    if depth > MAX_DEPTH {
        bail!(
            "{} nests indexes more than {MAX_DEPTH} deep: the registry is broken or hostile",
            source.display
        );
    }
    if media_type::is_index(&manifest.media_type) {
        let index: ImageIndex = serde_json::from_slice(&manifest.bytes).with_context(|| {
            format!(
                "the index {} of {} is not valid",
                manifest.digest, source.display
            )
        })?;
        for entry in index.manifests() {
            let digest = entry.digest().to_string();
            let child = source.manifest(&digest)?;
            copy_named(source, target, &child, depth + 1, copied)?;
            target.put_manifest(&digest, &child.media_type, &child.bytes)?;
            copied.manifests += 1;
        }
        return Ok(());
    }
    let image: ImageManifest = serde_json::from_slice(&manifest.bytes).with_context(|| {
        format!(
            "the manifest {} of {} is not valid",
            manifest.digest, source.display
        )
    })?;
    let blobs = std::iter::once(image.config()).chain(image.layers());
    for blob in blobs {
        let digest: Digest = blob.digest().to_string().parse()?;
        match target.copy_blob(source, &digest, blob.size())? {
            BlobCopy::Present => copied.present += 1,
            BlobCopy::Mounted => copied.mounted += 1,
            BlobCopy::Streamed => copied.streamed += 1,
        }
    }
    Ok(())
}

/// How a blob reached the target repository.
enum BlobCopy {
    Present,
    Mounted,
    Streamed,
}

impl Registry {
    /// Puts a blob of `size` bytes from `source` into this repository: nothing to do
    /// when it is there, a mount when the registry agrees, else a streamed copy.
    fn copy_blob(&self, source: &Registry, digest: &Digest, size: u64) -> Result<BlobCopy> {
        if self.has_blob(digest)? {
            return Ok(BlobCopy::Present);
        }
        if self.mount(digest, &source.repository) {
            return Ok(BlobCopy::Mounted);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.stream_blob(source, digest, size) {
                Err(err) if attempt < ATTEMPTS && err.is::<Retryable>() => {
                    std::thread::sleep(http::backoff(attempt, None));
                }
                result => return result.map(|()| BlobCopy::Streamed),
            }
        }
    }

    /// One upload whose body is the source's download as it arrives: nothing is
    /// buffered or cached, and the registry checks the bytes against `digest`.
    fn stream_blob(&self, source: &Registry, digest: &Digest, size: u64) -> Result<()> {
        let what = format!("blob {digest} from {} to {}", source.display, self.display);
        let url = format!("{}/blobs/{digest}", source.base_url);
        let download = source.send(|| source.request(Method::GET, &url), "pull", true)?;
        let download = source.ok(download, &format!("download {what}"))?;
        let start = format!("{}/blobs/uploads/", self.base_url);
        let response = self.send(|| self.request(Method::POST, &start), "pull,push", false)?;
        let response = self.ok(response, &format!("start an upload of {what}"))?;
        let location = self.location(&response)?;
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = format!("{location}{separator}digest={digest}");
        // The body can be read once: a PUT answered with an auth challenge is sent
        // again by `send` with an empty body, which the registry refuses by digest.
        let body = std::sync::Mutex::new(Some(download));
        let response = self.send(
            || {
                let body = match body.lock().unwrap().take() {
                    Some(download) => reqwest::blocking::Body::sized(download, size),
                    None => reqwest::blocking::Body::from(Vec::new()),
                };
                self.request(Method::PUT, &put)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(body)
            },
            "pull,push",
            false,
        )?;
        self.ok(response, &format!("copy {what}"))?;
        Ok(())
    }
}
