//! The Python service as found on disk: `pyproject.toml`, `.python-version`, the
//! lockfile and `[tool.pyship]`, read once into a [`Project`] that later stages use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use uv_pep440::{Version, VersionSpecifiers};

/// A Python service ready to be planned into an image.
#[derive(Debug, Clone)]
pub struct Project {
    /// The directory holding `pyproject.toml`, canonicalized.
    pub root: PathBuf,
    pub name: String,
    pub version: Option<String>,
    pub description: Option<String>,
    pub requires_python: Option<VersionSpecifiers>,
    /// `[project.dependencies]`, as written.
    pub dependencies: Vec<String>,
    /// `[project.optional-dependencies]`: extra name to requirements, as written.
    pub optional_dependencies: BTreeMap<String, Vec<String>>,
    /// `[dependency-groups]` plus the legacy `[tool.uv] dev-dependencies` as group `dev`.
    pub dependency_groups: BTreeMap<String, Vec<String>>,
    /// `[project.scripts]`: console script name to `module:function`.
    pub scripts: BTreeMap<String, String>,
    /// The X.Y (or X.Y.Z) pinned by `.python-version`, when present.
    pub python_pin: Option<Version>,
    /// `[[tool.uv.index]]`: the named indexes whose logins uv's variables give.
    pub indexes: Vec<crate::python::index::NamedIndex>,
    pub config: PyshipConfig,
}

/// `[tool.pyship]`: what a user may set instead of passing flags every time.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PyshipConfig {
    pub base: Option<String>,
    pub command: Option<Vec<String>>,
    pub port: Option<u16>,
    pub platform: Option<String>,
    pub name: Option<String>,
    /// The lockfile to build from when the project has several: uv.lock, poetry.lock
    /// or requirements.txt, as `--lockfile` does.
    pub lockfile: Option<String>,
    /// Extras of the project to install, as `--extra` does.
    #[serde(default)]
    pub extras: Vec<String>,
    /// Dependency groups to install, as `--group` does (none by default).
    #[serde(default)]
    pub groups: Vec<String>,
    /// The tables of the other commands; read by those commands (`lint` reads
    /// pyproject.toml itself, so its table is only accepted here).
    #[serde(rename = "lint")]
    pub _lint: Option<toml::Value>,
    pub verify: Option<toml::Value>,
    pub init: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct PyProject {
    project: Option<ProjectTable>,
    #[serde(default)]
    dependency_groups: BTreeMap<String, Vec<toml::Value>>,
    #[serde(default)]
    tool: ToolTable,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ProjectTable {
    name: String,
    version: Option<String>,
    description: Option<String>,
    requires_python: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
    #[serde(default)]
    scripts: BTreeMap<String, String>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ToolTable {
    uv: Option<UvTable>,
    pyship: Option<PyshipConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct UvTable {
    #[serde(default)]
    dev_dependencies: Vec<String>,
    #[serde(default)]
    index: Vec<crate::python::index::NamedIndex>,
}

impl Project {
    /// Reads the project at `dir` (a directory holding `pyproject.toml`).
    pub fn read(dir: &Path) -> Result<Project> {
        let pyproject_path = dir.join("pyproject.toml");
        if !pyproject_path.is_file() {
            bail!(
                "{} has no pyproject.toml: run pyship in the service's root directory or pass its path",
                dir.display()
            );
        }
        let root = dir
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        let text = std::fs::read_to_string(&pyproject_path)
            .with_context(|| format!("cannot read {}", pyproject_path.display()))?;
        let parsed: PyProject = toml::from_str(&text)
            .map_err(|err| anyhow::anyhow!("{}: {}", pyproject_path.display(), err.message()))?;
        let Some(table) = parsed.project else {
            bail!(
                "{} has no [project] table: add one with `name` and `dependencies` (uv init writes it)",
                pyproject_path.display()
            );
        };
        let requires_python = table
            .requires_python
            .as_deref()
            .map(|spec| {
                VersionSpecifiers::from_str(spec).with_context(|| {
                    format!(
                        "{}: requires-python = {spec:?} is not a valid version specifier",
                        pyproject_path.display()
                    )
                })
            })
            .transpose()?;
        let mut dependency_groups = BTreeMap::new();
        for (group, entries) in parsed.dependency_groups {
            // `{include-group = "…"}` tables are resolved by the lock; only strings are requirements.
            let reqs = entries
                .into_iter()
                .filter_map(|entry| entry.as_str().map(str::to_owned))
                .collect();
            dependency_groups.insert(group, reqs);
        }
        let uv = parsed.tool.uv.unwrap_or_default();
        if !uv.dev_dependencies.is_empty() {
            dependency_groups
                .entry("dev".to_owned())
                .or_insert_with(Vec::new)
                .extend(uv.dev_dependencies);
        }
        Ok(Project {
            python_pin: read_python_pin(&root)?,
            root,
            name: table.name,
            version: table.version,
            description: table.description,
            requires_python,
            dependencies: table.dependencies,
            optional_dependencies: table.optional_dependencies,
            dependency_groups,
            scripts: table.scripts,
            indexes: uv.index,
            config: parsed.tool.pyship.unwrap_or_default(),
        })
    }

    /// The image name used when the user gives none: the project name, lowercased.
    pub fn image_name(&self) -> String {
        self.config
            .name
            .clone()
            .unwrap_or_else(|| self.name.to_lowercase().replace(['_', '.'], "-"))
    }
}

/// Reads `.python-version`: the first non-comment line, such as `3.12` or `3.12.4`.
fn read_python_pin(root: &Path) -> Result<Option<Version>> {
    let path = root.join(".python-version");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let Some(line) = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
    else {
        return Ok(None);
    };
    let bare = line.strip_prefix("cpython-").unwrap_or(line);
    let version = Version::from_str(bare).map_err(|_| {
        anyhow::anyhow!(
            "{}: {line:?} is not a Python version: write one like 3.12",
            path.display()
        )
    })?;
    Ok(Some(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn reads_project_groups_and_pin() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "pyproject.toml",
            r#"
[project]
name = "Hello_Service"
version = "1.2.0"
requires-python = ">=3.11"
dependencies = ["fastapi>=0.115"]
[project.scripts]
hello = "hello.cli:main"
[dependency-groups]
dev = ["pytest", {include-group = "lint"}]
lint = ["ruff"]
[tool.uv]
dev-dependencies = ["mypy"]
[tool.pyship]
port = 9000
[tool.pyship.lint]
ignore = ["X"]
"#,
        );
        write(dir.path(), ".python-version", "# pinned\n3.11\n");
        let project = Project::read(dir.path()).unwrap();
        assert_eq!(project.name, "Hello_Service");
        assert_eq!(project.image_name(), "hello-service");
        assert_eq!(project.dependency_groups["dev"], ["pytest", "mypy"]);
        assert_eq!(project.python_pin.unwrap().to_string(), "3.11");
        assert_eq!(project.config.port, Some(9000));
        assert_eq!(project.scripts["hello"], "hello.cli:main");
    }

    #[test]
    fn missing_pyproject_and_project_table_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = Project::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("has no pyproject.toml"), "{err}");
        write(dir.path(), "pyproject.toml", "[tool.uv]\n");
        let err = Project::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no [project] table"), "{err}");
    }

    #[test]
    fn bad_python_version_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "pyproject.toml", "[project]\nname = \"a\"\n");
        write(dir.path(), ".python-version", "three\n");
        let err = format!("{:#}", Project::read(dir.path()).unwrap_err());
        assert!(
            err.contains(".python-version") && err.contains("three"),
            "{err}"
        );
    }
}
