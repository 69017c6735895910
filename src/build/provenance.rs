//! The build's provenance: an in-toto Statement v1 whose subject is the pushed image
//! and whose predicate is SLSA Provenance v1 — what was asked for (the project, its
//! lockfile and hash, the base as named), what it resolved to (the base's digest, the
//! lockfile's, every wheel's, the git commit and repository), who built it (pyship and
//! its version) and when.

use std::path::{Path, PathBuf};

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

/// The provenance of `image`, pushed to `repository` (`registry/repository`), built
/// from the lock read from `lockfiles`.
pub fn statement(
    plan: &Plan,
    base: &ResolvedImage,
    image: &Image,
    repository: &str,
    lockfiles: &[PathBuf],
    invocation: &Invocation,
) -> Result<Artifact> {
    let mut locks = Vec::new();
    for file in lockfiles {
        let bytes = std::fs::read(file)
            .with_context(|| format!("cannot read {} for the provenance", file.display()))?;
        locks.push((
            relative(&plan.project.root, file),
            hex::encode(Sha256::digest(&bytes)),
        ));
    }
    let version = env!("CARGO_PKG_VERSION");
    let project = &plan.project;
    let mut resolved = vec![json!({
        "name": "base",
        "uri": format!("{}@{}", base.name, base.manifest_digest),
        "digest": { "sha256": base.manifest_digest.hex() },
    })];
    for (path, sha256) in &locks {
        resolved.push(json!({ "name": path, "digest": { "sha256": sha256 } }));
    }
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
                    "lockfiles": locks
                        .iter()
                        .map(|(path, sha256)| json!({ "path": path, "sha256": sha256 }))
                        .collect::<Vec<_>>(),
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

/// `to` as a path from the directory `from`, with `..` where it is outside: `uv.lock`,
/// or `../../uv.lock` for the lock at the root of a uv workspace.
fn relative(from: &Path, to: &Path) -> String {
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let up = from.components().count() - common;
    let down: Vec<String> = to
        .components()
        .skip(common)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    format!("{}{}", "../".repeat(up), down.join("/"))
}

/// Now, RFC 3339 to the second.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockfiles_are_named_from_the_project() {
        assert_eq!(
            relative(Path::new("/w/svc"), Path::new("/w/svc/uv.lock")),
            "uv.lock"
        );
        assert_eq!(
            relative(Path::new("/w/packages/api"), Path::new("/w/uv.lock")),
            "../../uv.lock"
        );
        assert_eq!(
            relative(
                Path::new("/w/svc"),
                Path::new("/w/svc/requirements/main.txt")
            ),
            "requirements/main.txt"
        );
    }
}
