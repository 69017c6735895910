//! Image references as generated files write them: pinned by digest when the registry
//! answers, else left at the tag with a note saying how to pin it.

use std::str::FromStr;

use anyhow::{Context, Result};
use reqwest::blocking::Client;

use crate::oci::reference::Reference;
use crate::store::Digest;
use crate::transport::registry::Registry;

/// An image as the user named it, and its digest when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedImage {
    /// The reference without its digest, spelled as the user wrote it.
    pub named: String,
    pub digest: Option<Digest>,
    /// Why there is no digest, for the user's terminal (never for the files: they must
    /// not change with the network's mood).
    pub unpinned_because: Option<String>,
}

impl PinnedImage {
    /// Resolves `name` to a digest through its registry unless it carries one already or
    /// `offline` is set; an unreachable registry leaves the tag in place.
    pub fn resolve(name: &str, client: Option<&Client>) -> Result<PinnedImage> {
        let reference = Reference::from_str(name)?;
        let named = match name.split_once('@') {
            Some((named, _)) => named.to_owned(),
            None => name.to_owned(),
        };
        if let Some(digest) = reference.digest {
            return Ok(PinnedImage {
                named,
                digest: Some(digest),
                unpinned_because: None,
            });
        }
        let Some(client) = client else {
            return Ok(PinnedImage {
                named,
                digest: None,
                unpinned_because: Some("--offline".to_owned()),
            });
        };
        let fetched = Registry::new(client, &reference).manifest(&reference.tag_or_digest());
        Ok(match fetched {
            Ok(fetched) => PinnedImage {
                named,
                digest: Some(fetched.digest),
                unpinned_because: None,
            },
            Err(err) => PinnedImage {
                named,
                digest: None,
                unpinned_because: Some(crate::error::one_line(&err)),
            },
        })
    }

    /// Like [`resolve`](Self::resolve), but the digest is required: a deployment must
    /// name exactly the image that was tested.
    pub fn require_digest(name: &str, client: Option<&Client>, why: &str) -> Result<PinnedImage> {
        let pinned = PinnedImage::resolve(name, client)?;
        pinned.digest.as_ref().with_context(|| {
            format!(
                "{why} needs the digest of {name}, which its registry did not give: pass --image {}@sha256:… (the digest your CI printed)",
                untagged(&pinned.named)
            )
        })?;
        Ok(pinned)
    }

    /// `name:tag@sha256:…`, or just `name:tag` when no digest is known.
    pub fn reference(&self) -> String {
        match &self.digest {
            Some(digest) => format!("{}@{digest}", self.named),
            None => self.named.clone(),
        }
    }

    /// `name@sha256:…` without the tag, the form that cannot move.
    pub fn by_digest(&self) -> Option<String> {
        let digest = self.digest.as_ref()?;
        Some(format!("{}@{digest}", untagged(&self.named)))
    }

    /// A Dockerfile/YAML comment line for an unpinned reference, else nothing.
    pub fn pin_note(&self, comment: &str) -> String {
        if self.digest.is_some() {
            return String::new();
        }
        let named = &self.named;
        format!(
            "{comment} Not pinned by digest: pyship could not get one for {named}. Pin it so rebuilds\n\
             {comment} cannot drift: `docker buildx imagetools inspect {named}` prints the digest;\n\
             {comment} write it as {named}@sha256:<digest>.\n"
        )
    }
}

/// `name:tag` without its tag; a registry's port is not a tag.
fn untagged(named: &str) -> &str {
    match named.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => named,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_users_spelling() {
        let digest = Digest::of(b"x");
        let given = format!("python:3.12-slim@{digest}");
        let pinned = PinnedImage::resolve(&given, None).unwrap();
        assert_eq!(pinned.reference(), given);
        assert_eq!(pinned.by_digest().unwrap(), format!("python@{digest}"));
        let offline = PinnedImage::resolve("127.0.0.1:5000/a/b:1", None).unwrap();
        assert_eq!(offline.reference(), "127.0.0.1:5000/a/b:1");
        assert!(
            offline
                .pin_note("#")
                .contains("docker buildx imagetools inspect 127.0.0.1:5000/a/b:1")
        );
        assert!(
            PinnedImage::resolve("127.0.0.1:5000/a/b", None)
                .unwrap()
                .by_digest()
                .is_none()
        );
    }
}
