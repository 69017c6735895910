//! The build's provenance: an in-toto Statement v1 whose subject is the pushed image
//! and whose predicate is SLSA Provenance v1 — what was asked for (the project, its
//! lockfile and hash, the base as named), what it resolved to (the base's digest, the
//! lockfile's, every wheel's, the git commit and repository), who built it (pyship and
//! its version) and when.

use anyhow::{Context, Result};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::plan::Plan;
use crate::oci::image::{Image, canonical_json};
use crate::oci::media_type::IN_TOTO;
use crate::oci::referrer::Artifact;
use crate::transport::ResolvedImage;

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";

/// What this kind of build takes as parameters and does with them; versioned so a
/// change of meaning is a new type.
const BUILD_TYPE: &str = "pkg:cargo/pyship#build/v1";

/// The invocation's times, RFC 3339: when the build started and when the image was
/// complete.
pub struct Invocation {
    pub started_on: String,
    pub finished_on: String,
}

/// The provenance of `image`, pushed to `repository` (`registry/repository`).
pub fn statement(
    plan: &Plan,
    base: &ResolvedImage,
    image: &Image,
    repository: &str,
    invocation: &Invocation,
) -> Result<Artifact> {
    let lockfile = plan.project.lock_dir().join("uv.lock");
    let lock_bytes = std::fs::read(&lockfile)
        .with_context(|| format!("cannot read {} for the provenance", lockfile.display()))?;
    let lock_sha256 = hex::encode(Sha256::digest(&lock_bytes));
    let version = env!("CARGO_PKG_VERSION");
    let project = &plan.project;
    let mut resolved = vec![
        json!({
            "name": "base",
            "uri": format!("{}@{}", base.name, base.manifest_digest),
            "digest": { "sha256": base.manifest_digest.hex() },
        }),
        json!({ "name": "uv.lock", "digest": { "sha256": lock_sha256 } }),
    ];
    if let Some(commit) = super::git::revision(&project.root) {
        let mut source = json!({ "name": "source", "digest": { "gitCommit": commit } });
        if let Some(origin) = super::git::origin(&project.root) {
            source["uri"] = json!(format!("git+{origin}@{commit}"));
        }
        resolved.push(source);
    }
    for wheel in &plan.deps.wheels {
        resolved.push(json!({
            "name": wheel.filename,
            "uri": crate::secrets::redact_url(&wheel.url),
            "digest": { "sha256": wheel.sha256.hex() },
        }));
    }
    let statement = json!({
        "_type": STATEMENT_TYPE,
        "subject": [{ "name": repository, "digest": { "sha256": image.manifest_digest.hex() } }],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "project": { "name": project.name, "version": project.version },
                    "lockfile": { "path": lock_path(&plan.project), "sha256": lock_sha256 },
                    "base": base.name,
                    "platform": plan.deps.target.platform.to_string(),
                },
                "internalParameters": {
                    "sourceDateEpoch": plan.epoch,
                    "python": plan.deps.target.python_full,
                },
                "resolvedDependencies": resolved,
            },
            "runDetails": {
                "builder": {
                    "id": format!("pkg:cargo/pyship@{version}"),
                    "version": { "pyship": version },
                },
                "metadata": {
                    "startedOn": invocation.started_on,
                    "finishedOn": invocation.finished_on,
                },
            },
        },
    });
    Ok(Artifact::new(IN_TOTO, canonical_json(&statement)?))
}

/// The lockfile's path from the project's directory: `uv.lock`, or up to the root of
/// the uv workspace the project is a member of.
fn lock_path(project: &crate::python::project::Project) -> String {
    let depth = project
        .root
        .strip_prefix(project.lock_dir())
        .map_or(0, |inside| inside.components().count());
    format!("{}uv.lock", "../".repeat(depth))
}

/// Now, RFC 3339 to the second.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
