//! The signature check: a Sigstore bundle attached to the image (an OCI 1.1 referrer)
//! is the given public key's signature over the image's manifest, and so its digest.

use anyhow::Result;

use super::check::Check;
use crate::sign::{self, PublicKey, Verdict};
use crate::store::Cache;
use crate::transport::ResolvedImage;

const ID: &str = "signature";
const TITLE: &str = "signed by the given public key";

/// Checks the signatures attached to `image` against `key`.
pub fn check(image: &ResolvedImage, key: &PublicKey, cache: &Cache) -> Result<Check> {
    let Some(registry) = image.registry() else {
        return Ok(Check::fail(
            ID,
            TITLE,
            "the image was not read from a registry, where signatures are attached",
            "verify the pushed reference (registry/repository@sha256:…)",
        ));
    };
    let digest = &image.manifest_digest;
    let manifest = registry.manifest(digest.as_str())?;
    Ok(
        match sign::check(registry, cache, key, digest, &manifest.bytes)? {
            Verdict::Signed => Check::pass(
                ID,
                TITLE,
                format!("a Sigstore bundle attached to {digest} verifies with the key"),
            ),
            Verdict::Unsigned => Check::fail(
                ID,
                TITLE,
                format!("no signature is attached to {digest}"),
                "sign it: pyship sign REF --key FILE (or pyship build --push REF --sign-key FILE)",
            ),
            Verdict::NotByKey(rejections) => Check::fail(
                ID,
                TITLE,
                format!(
                    "{} signature(s) attached to {digest}, none by this key: {}",
                    rejections.len(),
                    rejections
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                "pass the public key the image was signed with, or sign it with yours",
            ),
        },
    )
}
