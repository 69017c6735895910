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
    /// The compose services and workflow steps that build this Dockerfile.
    pub builds: Vec<Build>,
    /// A `.dockerignore` next to the Dockerfile that the build does not read, because the
    /// context is elsewhere.
    pub stray_dockerignore: Option<PathBuf>,
    /// What `pyproject.toml` declares, when the context has one.
    pub pyproject: Option<PyProject>,
}

/// The parts of `pyproject.toml` that decide what an install brings in.
#[derive(Debug, Default, Clone)]
pub struct PyProject {
    /// `requires-python` (or Poetry's `python` dependency), as written.
    pub requires_python: Option<String>,
    /// `uv sync` installs development groups by default: a `dev` group, `tool.uv`
    /// `dev-dependencies`, or `default-groups` naming a group that exists.
    pub uv_dev: bool,
    /// `poetry install` installs development groups by default: `dev-dependencies` or a
    /// non-optional group other than `main`.
    pub poetry_dev: bool,
}

pub use super::orchestration::Build;
use super::orchestration::builds_in;

pub use crate::dockerignore::DockerIgnore;

const LOCKFILES: &[&str] = &[
    "uv.lock",
    "poetry.lock",
    "Pipfile.lock",
    "pdm.lock",
    "requirements.txt",
];

impl Project {
    /// Reads the context of `dockerfile`: its directory, then each parent up to `root`
    /// (the path the user asked to lint); the nearest file of each kind wins.
    pub fn discover(dockerfile: &Path, root: &Path) -> Project {
        let mut project = Project::default();
        let mut dirs = Vec::new();
        let mut dir = dockerfile.parent();
        while let Some(current) = dir {
            dirs.push(current.to_path_buf());
            project.builds.extend(builds_in(current, dockerfile));
            if current == root || !current.starts_with(root) {
                break;
            }
            dir = current.parent();
        }
        // The context is what compose or CI builds; otherwise the directory lint was given,
        // as `docker build -f path/Dockerfile .` from the repository root would use.
        let parent = dockerfile.parent().map(Path::to_path_buf);
        let context = project
            .builds
            .first()
            .map(|b| b.context.clone())
            .or_else(|| dockerfile.starts_with(root).then(|| root.to_path_buf()))
            .or(parent.clone());
        // `Dockerfile.prod.dockerignore` next to the Dockerfile takes precedence (BuildKit),
        // then the context root's `.dockerignore`; no other one is read.
        if let (Some(parent), Some(name)) = (&parent, dockerfile.file_name()) {
            let specific = parent.join(format!("{}.dockerignore", name.to_string_lossy()));
            project.dockerignore = DockerIgnore::read(&specific);
        }
        if project.dockerignore.is_none()
            && let Some(context) = &context
        {
            project.dockerignore = DockerIgnore::read(&context.join(".dockerignore"));
            let beside = parent.as_ref().map(|p| p.join(".dockerignore"));
            project.stray_dockerignore = beside.filter(|b| {
                b.is_file() && project.dockerignore.as_ref().is_none_or(|d| &d.path != b)
            });
        }
        if let Some(context) = &context {
            project.read_dir(context);
        }
        for dir in &dirs {
            project.read_dir(dir);
        }
        project.context = context;
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
        for name in LOCKFILES {
            if !self.lockfiles.contains(name) && dir.join(name).is_file() {
                self.lockfiles.push(name);
            }
        }
        if self.pyproject.is_none()
            && let Ok(text) = std::fs::read_to_string(dir.join("pyproject.toml"))
        {
            self.pyproject = PyProject::parse(&text);
        }
    }

    /// Stages named by a `target:` of the builds of this Dockerfile.
    pub fn targets(&self) -> Vec<&str> {
        self.builds
            .iter()
            .filter_map(|b| b.target.as_deref())
            .collect()
    }

    pub fn has_lockfile(&self, name: &str) -> bool {
        self.lockfiles.contains(&name)
    }

    /// Test runners, linters and debuggers a requirements file in the context lists.
    pub fn dev_requirements(&self, file: &str) -> Vec<String> {
        const TOOLS: &[&str] = &[
            "pytest",
            "pytest-cov",
            "pytest-django",
            "pytest-asyncio",
            "pytest-mock",
            "coverage",
            "tox",
            "nox",
            "black",
            "ruff",
            "flake8",
            "pylint",
            "mypy",
            "isort",
            "pre-commit",
            "ipdb",
            "pdbpp",
            "django-debug-toolbar",
            "factory-boy",
            "faker",
            "hypothesis",
        ];
        let Some(text) = self.requirements_text(file) else {
            return Vec::new();
        };
        text.lines()
            .map(|l| l.split('#').next().unwrap_or(l).trim())
            .map(|l| {
                l.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
                    .next()
                    .unwrap_or(l)
                    .to_ascii_lowercase()
                    .replace('_', "-")
            })
            .filter(|name| TOOLS.contains(&name.as_str()))
            .collect()
    }

    fn requirements_text(&self, file: &str) -> Option<String> {
        let context = self.context.as_ref()?;
        let name = Path::new(file).file_name()?;
        [context.join(file), context.join(name)]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
    }

    /// The requirements of a pip requirements file in the context that are not pinned to
    /// one version (`==`, `===` or a direct `@` reference). `None` when the file is not there.
    pub fn unpinned_requirements(&self, file: &str) -> Option<Vec<String>> {
        let text = self.requirements_text(file)?;
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

impl PyProject {
    /// `None` when the text is not TOML.
    pub fn parse(text: &str) -> Option<PyProject> {
        let doc: toml::Table = text.parse().ok()?;
        let get = |path: &[&str]| -> Option<&toml::Value> {
            let mut value = doc.get(path[0])?;
            for key in &path[1..] {
                value = value.get(key)?;
            }
            Some(value)
        };
        let filled = |v: Option<&toml::Value>| {
            v.is_some_and(|v| match v {
                toml::Value::Array(a) => !a.is_empty(),
                toml::Value::Table(t) => !t.is_empty(),
                _ => true,
            })
        };
        let groups = get(&["dependency-groups"]).and_then(toml::Value::as_table);
        let default_groups = match get(&["tool", "uv", "default-groups"]) {
            Some(toml::Value::String(all)) if all == "all" => {
                groups.is_some_and(|g| g.values().any(|v| filled(Some(v))))
            }
            Some(toml::Value::Array(names)) => names
                .iter()
                .filter_map(toml::Value::as_str)
                .any(|n| filled(groups.and_then(|g| g.get(n)))),
            _ => filled(groups.and_then(|g| g.get("dev"))),
        };
        let uv_dev = default_groups || filled(get(&["tool", "uv", "dev-dependencies"]));
        let poetry_groups = get(&["tool", "poetry", "group"]).and_then(toml::Value::as_table);
        let poetry_dev = filled(get(&["tool", "poetry", "dev-dependencies"]))
            || poetry_groups.is_some_and(|g| {
                g.iter().any(|(name, group)| {
                    name != "main"
                        && group.get("optional").and_then(toml::Value::as_bool) != Some(true)
                        && filled(group.get("dependencies"))
                })
            });
        let requires_python = get(&["project", "requires-python"])
            .or_else(|| get(&["tool", "poetry", "dependencies", "python"]))
            .and_then(toml::Value::as_str)
            .map(str::to_string);
        Some(PyProject {
            requires_python,
            uv_dev,
            poetry_dev,
        })
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
    fn pyproject_says_whether_installs_bring_dev_tools() {
        let uv = PyProject::parse(
            "[project]\nrequires-python = \">=3.12\"\n[dependency-groups]\ndev = [\"pytest\"]\n",
        )
        .unwrap();
        assert!(uv.uv_dev && !uv.poetry_dev);
        assert_eq!(uv.requires_python.as_deref(), Some(">=3.12"));
        let extra =
            PyProject::parse("[project.optional-dependencies]\ndev = [\"pytest\"]\n").unwrap();
        assert!(!extra.uv_dev);
        let poetry = PyProject::parse("[tool.poetry.dependencies]\npython = \"^3.11\"\n[tool.poetry.group.docs]\noptional = true\n[tool.poetry.group.docs.dependencies]\nmkdocs = \"1\"\n").unwrap();
        assert!(!poetry.poetry_dev);
        assert_eq!(poetry.requires_python.as_deref(), Some("^3.11"));
        assert!(PyProject::parse("not = [toml").is_none());
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
