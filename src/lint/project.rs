//! What the project around a Dockerfile tells the rules: the pinned Python version, the
//! `.dockerignore`, the lockfiles present, and how the image is orchestrated.

use std::path::{Path, PathBuf};

/// Facts read from the build context of one Dockerfile.
#[derive(Debug, Default)]
pub struct Project {
    /// The directory of the Dockerfile: where `COPY` sources and `-r` files are looked up.
    pub context: Option<PathBuf>,
    /// `.python-version`'s first line, and where it was read.
    pub python_version: Option<(PathBuf, String)>,
    pub dockerignore: Option<DockerIgnore>,
    /// Lockfile names found in the context: `uv.lock`, `poetry.lock`, ….
    pub lockfiles: Vec<&'static str>,
    /// A compose file is present: the image is (also) run by compose.
    pub compose: bool,
}

pub use crate::dockerignore::DockerIgnore;

const LOCKFILES: &[&str] = &[
    "uv.lock",
    "poetry.lock",
    "Pipfile.lock",
    "pdm.lock",
    "requirements.txt",
];
const COMPOSE_FILES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

impl Project {
    /// Reads the context of `dockerfile`: its directory, then each parent up to `root`
    /// (the path the user asked to lint); the nearest file of each kind wins.
    pub fn discover(dockerfile: &Path, root: &Path) -> Project {
        let mut project = Project {
            context: dockerfile.parent().map(Path::to_path_buf),
            ..Project::default()
        };
        let mut dir = dockerfile.parent();
        // `Dockerfile.prod.dockerignore` next to the Dockerfile takes precedence (BuildKit).
        if let (Some(parent), Some(name)) = (dir, dockerfile.file_name()) {
            let specific = parent.join(format!("{}.dockerignore", name.to_string_lossy()));
            project.dockerignore = DockerIgnore::read(&specific);
        }
        while let Some(current) = dir {
            project.read_dir(current);
            if current == root || !current.starts_with(root) {
                break;
            }
            dir = current.parent();
        }
        project
    }

    fn read_dir(&mut self, dir: &Path) {
        if self.python_version.is_none() {
            let path = dir.join(".python-version");
            if let Ok(text) = std::fs::read_to_string(&path)
                && let Some(line) = text
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty() && !l.starts_with('#'))
            {
                self.python_version = Some((path, line.to_string()));
            }
        }
        if self.dockerignore.is_none() {
            self.dockerignore = DockerIgnore::read(&dir.join(".dockerignore"));
        }
        for name in LOCKFILES {
            if !self.lockfiles.contains(name) && dir.join(name).is_file() {
                self.lockfiles.push(name);
            }
        }
        self.compose |= COMPOSE_FILES.iter().any(|name| dir.join(name).is_file());
    }

    pub fn has_lockfile(&self, name: &str) -> bool {
        self.lockfiles.contains(&name)
    }

    /// The requirements of a pip requirements file in the context that are not pinned to
    /// one version (`==`, `===` or a direct `@` reference). `None` when the file is not there.
    pub fn unpinned_requirements(&self, file: &str) -> Option<Vec<String>> {
        let context = self.context.as_ref()?;
        let name = Path::new(file).file_name()?;
        let text = [context.join(file), context.join(name)]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())?;
        let unpinned = text
            .lines()
            .map(|l| l.split(" #").next().unwrap_or(l).trim())
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('-'))
            .filter(|l| !l.contains("://") && !l.starts_with('.') && !l.starts_with('/'))
            .filter(|l| {
                !(l.contains("==") || l.contains(" @ ") || l.contains('@') && !l.contains(';'))
            })
            .map(|l| {
                l.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
                    .next()
                    .unwrap_or(l)
                    .to_string()
            })
            .collect();
        Some(unpinned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpinned_requirements_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("requirements.txt"),
            "# pinned\nflask==3.0.3\nredis>=5  # floor only\n-r base.txt\nrequests\npkg @ https://x/y.whl\n--hash=sha256:00\n",
        )
        .unwrap();
        let project = Project {
            context: Some(dir.path().to_path_buf()),
            ..Project::default()
        };
        assert_eq!(
            project.unpinned_requirements("requirements.txt").unwrap(),
            ["redis", "requests"]
        );
        assert!(project.unpinned_requirements("missing.txt").is_none());
    }

    #[test]
    fn dockerignore_patterns_and_negations() {
        let ignore = DockerIgnore::from_text(
            Path::new("/ctx/.dockerignore"),
            ".git\n**/.venv\n.env*\n!.env.example\n# comment\n/build\n",
        );
        assert!(ignore.excludes(".git", true));
        assert!(ignore.excludes(".venv", true));
        assert!(ignore.excludes(".env", false));
        assert!(!ignore.excludes(".env.example", false));
        assert!(ignore.excludes("build", true));
        assert!(!ignore.excludes("app", true));
    }
}
