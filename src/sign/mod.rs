//! `pyship sign`: signs an image in a registry with a key, as Sigstore bundles attached
//! to it as OCI 1.1 referrers: one over the image's manifest, and one over each SBOM
//! and provenance attached to it. `pyship build --push --sign-key` does the same as
//! it pushes, and `pyship verify --public-key` checks the image's signature.

mod bundle;
pub mod key;

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use clap::Args;

pub use bundle::Rejection;
pub use key::{PrivateKey, PublicKey};

use crate::oci::media_type::{IN_TOTO, SBOM_CYCLONEDX, SBOM_SPDX, SIGSTORE_BUNDLE};
use crate::oci::referrer::Artifact;
use crate::oci::{Descriptor, Reference};
use crate::store::{Cache, Digest};
use crate::transport::registry::{Registry, referrers};
use bundle::Bundle;

/// Sign an image in a registry, and the SBOMs and provenance attached to it.
///
/// Signs the manifest REF names (so its digest) with an ECDSA P-256 private key, PEM
/// encoded as PKCS#8 (`BEGIN PRIVATE KEY`, what `openssl genpkey` writes) or SEC1
/// (`BEGIN EC PRIVATE KEY`); RSA, Ed25519, other curves and encrypted keys are refused.
/// Each signature is a Sigstore bundle v0.3 (a message signature, no transparency log)
/// attached as an OCI 1.1 referrer, through the referrers tag schema on registries
/// without the referrers API. Keyless signing is not done here. Examples:
///
///   pyship sign 127.0.0.1:5000/team/api:sha-1234abc --key key.pem
///   pyship verify 127.0.0.1:5000/team/api@sha256:… --public-key key.pub --static-only
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct SignArgs {
    /// The image in a registry, by tag or digest.
    pub image: String,

    /// The ECDSA P-256 private key (PKCS#8 or SEC1 PEM).
    #[arg(long, env = "PYSHIP_SIGN_KEY", value_name = "FILE")]
    pub key: PathBuf,
}

/// The artifact types whose referrers are signed along with the image.
const SIGNED_ATTESTATIONS: &[&str] = &[SBOM_CYCLONEDX, SBOM_SPDX, IN_TOTO];

/// The annotation that tells Sigstore clients what a bundle holds.
const BUNDLE_CONTENT: &str = "dev.sigstore.bundle.content";

pub fn run(args: SignArgs) -> Result<ExitCode> {
    let key = PrivateKey::read(&args.key)?;
    if ["oci:", "docker:", "docker-archive:"]
        .iter()
        .any(|p| args.image.starts_with(p))
    {
        bail!(
            "{:?}: pyship signs images in a registry: push it, then pass its registry reference",
            args.image
        );
    }
    let reference = Reference::from_str(&args.image)?;
    let cache = Cache::open()?;
    let client = crate::store::http::client()?;
    crate::transport::registry::pushing_to(&reference.registry);
    let registry = Registry::new(&client, &reference);
    let fetched = registry.manifest(&reference.tag_or_digest())?;
    let subject = Descriptor {
        media_type: fetched.media_type.clone(),
        digest: fetched.digest.clone(),
        size: fetched.bytes.len() as u64,
    };
    let attestations = sign_attestations(&registry, &cache, &key, &subject.digest)?;
    attach(&registry, &cache, &key, &subject, &fetched.bytes)?;
    eprintln!(
        "signed {} and {attestations} attestation(s) attached to it",
        reference.pinned(&subject.digest)
    );
    println!("{}", reference.pinned(&subject.digest));
    Ok(ExitCode::SUCCESS)
}

/// Signs `manifest` (the bytes `subject` describes) and attaches the bundle to it.
pub fn attach(
    registry: &Registry,
    cache: &Cache,
    key: &PrivateKey,
    subject: &Descriptor,
    manifest: &[u8],
) -> Result<()> {
    let mut artifact = Artifact::new(SIGSTORE_BUNDLE, Bundle::sign(key, manifest).to_json()?);
    artifact
        .annotations
        .insert(BUNDLE_CONTENT.to_owned(), "message-signature".to_owned());
    referrers::attach(registry, cache, subject, &artifact)?;
    Ok(())
}

/// Signs each SBOM and provenance attached to `subject`; returns how many.
fn sign_attestations(
    registry: &Registry,
    cache: &Cache,
    key: &PrivateKey,
    subject: &Digest,
) -> Result<usize> {
    let listed = registry.referrers(subject)?;
    let mut signed = 0;
    for attestation in listed
        .iter()
        .filter(|r| SIGNED_ATTESTATIONS.contains(&r.artifact_type.as_str()))
    {
        let manifest = registry.manifest(&attestation.digest)?;
        let descriptor = Descriptor {
            media_type: manifest.media_type.clone(),
            digest: manifest.digest.clone(),
            size: manifest.bytes.len() as u64,
        };
        attach(registry, cache, key, &descriptor, &manifest.bytes)?;
        signed += 1;
    }
    Ok(signed)
}

/// What the signatures attached to a manifest say about one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// At least one bundle is the key's signature over the manifest.
    Signed,
    /// No signature is attached.
    Unsigned,
    /// Signatures are attached, but none is the key's over these bytes.
    NotByKey(Vec<Rejection>),
}

/// Checks the Sigstore bundles attached to the manifest `manifest` (whose digest is
/// `subject`) against `key`.
pub fn check(
    registry: &Registry,
    cache: &Cache,
    key: &PublicKey,
    subject: &Digest,
    manifest: &[u8],
) -> Result<Verdict> {
    let bundles: Vec<_> = registry
        .referrers(subject)
        .with_context(|| format!("cannot list the signatures of {subject}"))?
        .into_iter()
        .filter(|r| r.artifact_type == SIGSTORE_BUNDLE)
        .collect();
    if bundles.is_empty() {
        return Ok(Verdict::Unsigned);
    }
    let mut rejections = Vec::new();
    for listed in &bundles {
        let bytes = referrers::document(registry, cache, &listed.digest)?;
        match Bundle::verify(&bytes, manifest, key) {
            Ok(()) => return Ok(Verdict::Signed),
            Err(rejection) => rejections.push(rejection),
        }
    }
    Ok(Verdict::NotByKey(rejections))
}
