//! `pyship promote`: points new tags at the manifest or index an image reference names,
//! by digest, as seed 004 promotes a validated image by retagging. No layer is pulled
//! or uploaded: a tag in the same repository is one manifest PUT, and one in another
//! repository of the same registry mounts each blob there first.

use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{Result, bail};
use clap::Args;

use crate::oci::Reference;
use crate::oci::media_type::{SBOM_CYCLONEDX, SBOM_SPDX, SIGSTORE_BUNDLE};
use crate::transport::registry::{self, Registry, copy};

/// Point new tags at an image by its digest, without pulling or pushing a layer.
///
/// SOURCE is registry/repository:tag or …@sha256:<digest>; a tag is resolved to its
/// digest first, and that digest is printed. Each TAG is a bare tag (same repository)
/// or registry/other-repository:tag on the same registry, where the image's blobs are
/// mounted (streamed only when the registry refuses the mount). An index is promoted
/// whole. Examples:
///
///   pyship promote ghcr.io/acme/api:sha-1234abc prod
///   pyship promote ghcr.io/acme/api@sha256:… ghcr.io/acme/api-releases:1.2.3
///   pyship promote ghcr.io/acme/api:sha-1234abc prod --require signature,sbom
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct PromoteArgs {
    /// The image to promote: registry/repository:tag or registry/repository@sha256:….
    pub source: String,

    /// New tags: `TAG` in SOURCE's repository, or `registry/repository:TAG` on the same registry.
    #[arg(required = true, value_name = "TAG")]
    pub tags: Vec<String>,

    /// Refuse (exit 1) unless the image's digest has these referrers: signature (a
    /// Sigstore bundle), sbom (CycloneDX or SPDX JSON). Comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KIND")]
    pub require: Vec<Requirement>,

    /// How to print the result: human lines, or one JSON object for scripts.
    #[arg(long, value_enum, default_value_t = crate::build::Format::Human)]
    pub format: crate::build::Format,
}

/// A kind of artifact that must refer to the image before it is promoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Requirement {
    Signature,
    Sbom,
}

impl Requirement {
    /// The `artifactType`s that satisfy it.
    fn artifact_types(self) -> &'static [&'static str] {
        match self {
            Requirement::Signature => &[SIGSTORE_BUNDLE],
            Requirement::Sbom => &[SBOM_CYCLONEDX, SBOM_SPDX],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Requirement::Signature => "signature",
            Requirement::Sbom => "sbom",
        }
    }
}

/// Where one new tag goes.
#[derive(Debug)]
struct Promotion {
    target: Reference,
    tag: String,
}

pub fn run(args: PromoteArgs) -> Result<ExitCode> {
    let source = Reference::from_str(&args.source)?;
    let promotions = args
        .tags
        .iter()
        .map(|tag| promotion(&source, tag))
        .collect::<Result<Vec<_>>>()?;
    registry::pushing_to(&source.registry);
    let client = crate::store::http::client()?;
    let session = Registry::new(&client, &source);
    let manifest = session.manifest(&source.tag_or_digest())?;
    let pinned = source.pinned(&manifest.digest);
    let human = args.format == crate::build::Format::Human;
    if human {
        println!("{pinned}");
    }

    let referrers = if args.require.is_empty() {
        Vec::new()
    } else {
        session.referrers(&manifest.digest)?
    };
    for requirement in &args.require {
        let wanted = requirement.artifact_types();
        if !referrers
            .iter()
            .any(|r| wanted.contains(&r.artifact_type.as_str()))
        {
            eprintln!(
                "error: {pinned} has no {} referrer ({}): attach one before promoting, or drop --require {}",
                requirement.name(),
                wanted.join(" or "),
                requirement.name()
            );
            return Ok(ExitCode::from(1));
        }
    }

    let mut promoted = Vec::new();
    for promotion in &promotions {
        if promotion.target.repository != source.repository {
            let target =
                Registry::new(&client, &promotion.target).mounting_from(&source.repository);
            let copied = copy::contents(&session, &target, &manifest)?;
            if copied.streamed > 0 {
                eprintln!(
                    "warning: {} refused to mount {} of the image's blobs into {}: they were copied through pyship",
                    source.registry,
                    copied.streamed,
                    promotion.target.name()
                );
            }
            target.put_manifest(&promotion.tag, &manifest.media_type, &manifest.bytes)?;
        } else {
            session.put_manifest(&promotion.tag, &manifest.media_type, &manifest.bytes)?;
        }
        let tagged = format!("{}:{}", promotion.target.name(), promotion.tag);
        if human {
            println!("{tagged}");
        }
        promoted.push(tagged);
    }
    if !human {
        println!(
            "{}",
            serde_json::json!({
                "source": pinned,
                "digest": manifest.digest.to_string(),
                "media_type": manifest.media_type,
                "promoted": promoted,
            })
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads one TAG argument: a bare tag names SOURCE's repository; a reference must be
/// on SOURCE's registry and carry a tag (a digest is what promotion points at).
fn promotion(source: &Reference, text: &str) -> Result<Promotion> {
    if !text.contains(['/', ':', '@']) {
        let parsed = Reference::from_str(&format!("{}:{text}", source.name()))?;
        let tag = parsed.tag.clone().unwrap_or_default();
        return Ok(Promotion {
            target: parsed,
            tag,
        });
    }
    let target = Reference::from_str(text)?;
    if target.registry != source.registry {
        bail!(
            "{text} is on {}, not on {} where {} is: promote within one registry, or copy the image across with skopeo or crane",
            target.registry,
            source.registry,
            source.name()
        );
    }
    let (Some(tag), None) = (target.tag.clone(), &target.digest) else {
        bail!(
            "{text} names no tag to set: write it as {}:TAG",
            target.name()
        );
    };
    Ok(Promotion { target, tag })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_bare_or_references_on_the_same_registry() {
        let source: Reference = "127.0.0.1:5000/team/api:sha-1".parse().unwrap();
        let bare = promotion(&source, "prod").unwrap();
        assert_eq!(
            (bare.target.name().as_str(), bare.tag.as_str()),
            ("127.0.0.1:5000/team/api", "prod")
        );
        let other = promotion(&source, "127.0.0.1:5000/team/releases:1.2.3").unwrap();
        assert_eq!(
            (other.target.repository.as_str(), other.tag.as_str()),
            ("team/releases", "1.2.3")
        );
        let err = promotion(&source, "ghcr.io/team/api:prod")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not on 127.0.0.1:5000"), "{err}");
        let err = promotion(&source, "127.0.0.1:5000/team/releases")
            .unwrap_err()
            .to_string();
        assert!(err.contains("names no tag"), "{err}");
        assert!(promotion(&source, "bad tag!").is_err());
    }
}
