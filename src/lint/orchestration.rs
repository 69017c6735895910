//! How a Dockerfile is built and run by the files around it: the compose services and the
//! CI build steps that name it. They decide the build context (and so the `.dockerignore`),
//! which stages ship (`target:`), who adds labels, and who waits on its health.

use std::path::{Path, PathBuf};

use super::workflow::{self, Node};

/// One place that builds a Dockerfile: a compose service or a workflow build step.
#[derive(Debug, Clone, Default)]
pub struct Build {
    /// The build context directory.
    pub context: PathBuf,
    /// The stage built, when `target:` names one (lower-cased, as BuildKit compares).
    pub target: Option<String>,
    /// A compose service defines its own `healthcheck:`.
    pub healthcheck: bool,
    /// Another compose service waits for this one with `condition: service_healthy`.
    pub awaited_healthy: bool,
    /// A workflow passes `docker/metadata-action` labels to the build.
    pub ci_labels: bool,
}

pub const COMPOSE_FILES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// The builds of `dockerfile` declared by compose files in `dir` and by the workflows of the
/// repository rooted at `dir`.
pub fn builds_in(dir: &Path, dockerfile: &Path) -> Vec<Build> {
    let mut out = Vec::new();
    for name in COMPOSE_FILES {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            out.extend(compose(dir, &text, dockerfile));
        }
    }
    let workflows = dir.join(".github/workflows");
    if let Ok(entries) = std::fs::read_dir(&workflows) {
        for entry in entries.flatten() {
            let path = entry.path();
            let yaml = path.extension().is_some_and(|e| e == "yml" || e == "yaml");
            if let (true, Ok(text)) = (yaml, std::fs::read_to_string(&path)) {
                out.extend(workflow_builds(dir, &text, dockerfile));
            }
        }
    }
    out
}

/// Whether `context` + `file` (compose and build-push-action both default the file to
/// `Dockerfile` in the context) is `dockerfile`.
fn names(context: &Path, file: Option<&Path>, dockerfile: &Path) -> bool {
    let path = match file {
        Some(f) => context.join(f),
        None => context.join("Dockerfile"),
    };
    same_file(&path, dockerfile)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn compose(dir: &Path, text: &str, dockerfile: &Path) -> Vec<Build> {
    let Ok(root) = workflow::parse(text) else {
        return Vec::new();
    };
    let services = root.get("services").map(Node::entries).unwrap_or_default();
    // Services others wait for until healthy.
    let awaited: Vec<&str> = services
        .iter()
        .filter_map(|(_, s)| s.get("depends_on"))
        .flat_map(Node::entries)
        .filter(|(_, dep)| dep.get("condition").and_then(Node::str) == Some("service_healthy"))
        .map(|(name, _)| name.text.as_str())
        .collect();
    let mut out = Vec::new();
    for (name, service) in services {
        let Some(build) = service.get("build") else {
            continue;
        };
        let (context, file, target) = match build.str() {
            Some(context) => (context, None, None),
            None => (
                build.get("context").and_then(Node::str).unwrap_or("."),
                build.get("dockerfile").and_then(Node::str),
                build.get("target").and_then(Node::str),
            ),
        };
        let context = dir.join(context);
        if !names(&context, file.map(Path::new), dockerfile) {
            continue;
        }
        out.push(Build {
            context,
            target: target.map(str::to_ascii_lowercase),
            healthcheck: service.get("healthcheck").is_some(),
            awaited_healthy: awaited.contains(&name.text.as_str()),
            ci_labels: false,
        });
    }
    out
}

fn workflow_builds(repo: &Path, text: &str, dockerfile: &Path) -> Vec<Build> {
    let Ok(root) = workflow::parse(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (_, job) in root.get("jobs").map(Node::entries).unwrap_or_default() {
        let steps = job.get("steps").map(Node::items).unwrap_or_default();
        for step in steps {
            let action = step.get("uses").and_then(Node::str).unwrap_or("");
            if action.split('@').next() != Some("docker/build-push-action") {
                continue;
            }
            let with = |key: &str| {
                step.get("with")
                    .and_then(|w| w.get(key))
                    .and_then(Node::str)
            };
            // Without `context:` the action builds the Git checkout: the repository root.
            let context = repo.join(with("context").unwrap_or("."));
            // `file:` is relative to the workspace, not to the context.
            let file = with("file").map(|f| repo.join(f));
            let matches = match &file {
                Some(f) => same_file(f, dockerfile),
                None => names(&context, None, dockerfile),
            };
            if !matches {
                continue;
            }
            out.push(Build {
                context,
                target: with("target").map(str::to_ascii_lowercase),
                ci_labels: with("labels").is_some_and(|l| l.contains("outputs.labels")),
                ..Build::default()
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_services_built_from_the_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let text = "services:\n  web:\n    build:\n      context: .\n      target: Runtime\n  worker:\n    build: ./other\n  db:\n    image: postgres\n  proxy:\n    image: nginx\n    depends_on:\n      web:\n        condition: service_healthy\n";
        let builds = compose(dir.path(), text, &dir.path().join("Dockerfile"));
        assert_eq!(builds.len(), 1);
        assert_eq!(builds[0].target.as_deref(), Some("runtime"));
        assert!(builds[0].awaited_healthy && !builds[0].healthcheck);
    }

    #[test]
    fn workflow_build_with_metadata_labels() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("docker")).unwrap();
        std::fs::write(dir.path().join("docker/Dockerfile"), "FROM scratch\n").unwrap();
        let text = "jobs:\n  b:\n    steps:\n      - uses: docker/build-push-action@v6\n        with:\n          context: .\n          file: docker/Dockerfile\n          labels: ${{ steps.meta.outputs.labels }}\n";
        let builds = workflow_builds(dir.path(), text, &dir.path().join("docker/Dockerfile"));
        assert_eq!(builds.len(), 1);
        assert!(builds[0].ci_labels);
        assert!(workflow_builds(dir.path(), "jobs: [", Path::new("x")).is_empty());
    }
}
