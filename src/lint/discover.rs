//! Finding the files to lint under the paths given on the command line.

use std::path::{Path, PathBuf};

use anyhow::bail;

/// What kind of file a path is, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Dockerfile,
    Workflow,
}

/// A file to lint and the path argument it was found under (its project root).
#[derive(Debug, Clone)]
pub struct Target {
    pub path: PathBuf,
    pub root: PathBuf,
    pub kind: FileKind,
}

/// Suffixes that make a `Dockerfile.*` name documentation, a backup or a template.
const NOT_DOCKERFILE: &[&str] = &[
    ".dockerignore",
    ".md",
    ".txt",
    ".rst",
    ".bak",
    ".orig",
    ".swp",
    ".j2",
    ".tmpl",
];

/// `Dockerfile`, `*.Dockerfile`, `Dockerfile.*` (but not `Dockerfile.dockerignore`,
/// `Dockerfile.md`, backups or templates).
pub fn is_dockerfile(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    (lower == "dockerfile" || lower.ends_with(".dockerfile") || lower.starts_with("dockerfile."))
        && !NOT_DOCKERFILE.iter().any(|suffix| lower.ends_with(suffix))
}

/// A GitHub Actions workflow: a YAML file under `.github/workflows/`.
pub fn is_workflow(path: &Path) -> bool {
    let yaml = path.extension().is_some_and(|e| e == "yml" || e == "yaml");
    let dir = path.parent();
    let in_workflows = dir.is_some_and(|d| d.ends_with(".github/workflows"));
    yaml && in_workflows
}

/// Expands the command-line paths into lint targets, sorted for stable output.
pub fn targets(paths: &[PathBuf]) -> anyhow::Result<Vec<Target>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_file() {
            let kind = match path.extension() {
                Some(e) if e == "yml" || e == "yaml" => FileKind::Workflow,
                _ => FileKind::Dockerfile,
            };
            let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
            out.push(Target {
                path: path.clone(),
                root,
                kind,
            });
            continue;
        }
        if !path.is_dir() {
            bail!(
                "{}: no such file or directory; pass Dockerfiles, workflows or directories",
                path.display()
            );
        }
        let walker = ignore::WalkBuilder::new(path)
            .hidden(false)
            .filter_entry(|e| {
                !matches!(
                    e.file_name().to_str(),
                    Some(".git" | ".venv" | "node_modules" | "target")
                )
            })
            .build();
        for entry in walker {
            let entry = entry?;
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let file = entry.path();
            let name = entry.file_name().to_string_lossy();
            let kind = if is_dockerfile(&name) {
                FileKind::Dockerfile
            } else if is_workflow(file) {
                FileKind::Workflow
            } else {
                continue;
            };
            out.push(Target {
                path: file.to_path_buf(),
                root: path.clone(),
                kind,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_names() {
        for name in [
            "Dockerfile",
            "api.Dockerfile",
            "Dockerfile.prod",
            "dockerfile",
        ] {
            assert!(is_dockerfile(name), "{name}");
        }
        for name in [
            "Dockerfile.dockerignore",
            "Dockerfiles.md",
            "docker-compose.yml",
        ] {
            assert!(!is_dockerfile(name), "{name}");
        }
        assert!(is_workflow(Path::new("repo/.github/workflows/ci.yml")));
        assert!(!is_workflow(Path::new("repo/ci.yml")));
    }
}
