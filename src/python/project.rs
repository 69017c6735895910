//! The Python service as found on disk: `pyproject.toml`, `.python-version`, the
//! lockfile and `[tool.pyship]`, read once into a [`Project`] that later stages use.
//!
//! Not every service declares itself in `[project]`: a Poetry project may keep its
//! name in `[tool.poetry]`, and a service pinned by `requirements.txt` may have only
//! tool settings in pyproject.toml, or no pyproject.toml at all. Such a service is
//! named after `[tool.poetry] name` or its directory, and its Python comes from
//! `.python-version`, Poetry's `python` dependency or Heroku's `runtime.txt`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use uv_pep440::{Version, VersionSpecifiers};

use super::index::{NamedIndex, POETRY_VARIABLES};
use super::poetry_constraint::Constraint;

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
    /// The X.Y (or X.Y.Z) pinned by `.python-version` (or Heroku's `runtime.txt`).
    pub python_pin: Option<Version>,
    /// The file that pins it, for messages.
    pub python_pin_file: &'static str,
    /// `[[tool.uv.index]]` and `[[tool.poetry.source]]`: the named indexes whose logins
    /// their tool's variables give.
    pub indexes: Vec<NamedIndex>,
    /// False when `[tool.poetry] package-mode = false`: the project is no distribution,
    /// only its dependencies are installed, and it runs from its source in /app.
    pub package: bool,
    /// Names with a `[tool.uv.sources]` entry, as written: uv locks them by that source
    /// (a workspace member, a path, git), not by the version asked for.
    pub uv_sources: BTreeSet<String>,
    /// The root of the uv workspace the project is a member of, where its `uv.lock` is.
    pub workspace_root: Option<PathBuf>,
    pub config: PyshipConfig,
}

/// `[tool.pyship]`: what a user may set instead of passing flags every time.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PyshipConfig {
    pub base: Option<String>,
    /// Runtime packages a `deb:` base adds, as `deb:SUITE+PACKAGE` does.
    #[serde(default)]
    pub base_packages: Vec<String>,
    /// PEM files of certificate authorities a `deb:` base adds to its system bundle
    /// (a company's own CA), relative to the project.
    #[serde(default)]
    pub base_ca_certificates: Vec<PathBuf>,
    pub command: Option<Vec<String>>,
    pub port: Option<u16>,
    pub platform: Option<String>,
    /// Several platforms built in one run, as `--platform a,b` does.
    pub platforms: Option<Vec<String>>,
    pub name: Option<String>,
    /// The lockfile to build from when the project has several: uv.lock, poetry.lock
    /// or requirements.txt, as `--lockfile` does.
    pub lockfile: Option<String>,
    /// The pinned requirements files the image installs, in order (default:
    /// requirements.txt when it is the project's lockfile).
    pub requirements: Option<Vec<String>>,
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

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct PyProject {
    project: Option<ProjectTable>,
    #[serde(default)]
    dependency_groups: BTreeMap<String, Vec<toml::Value>>,
    #[serde(default)]
    tool: ToolTable,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ProjectTable {
    /// Optional only where Poetry allows it: with `package-mode = false`.
    #[serde(default)]
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
    poetry: Option<PoetryTable>,
    pyship: Option<PyshipConfig>,
}

/// What `[tool.poetry]` says about the project when there is no `[project]` table.
#[derive(Debug, Default, Deserialize)]
struct PoetryTable {
    /// `package-mode = false`: the project is not a package (Poetry 1.8 and later).
    #[serde(rename = "package-mode", default = "package_mode_default")]
    package_mode: bool,
    name: Option<String>,
    version: Option<String>,
    description: Option<String>,
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
    /// `name = "module:function"`, or a table with more (only strings are scripts).
    #[serde(default)]
    scripts: BTreeMap<String, toml::Value>,
    /// `[[tool.poetry.source]]`: indexes by name; PyPI is named without a URL.
    #[serde(default)]
    source: Vec<PoetrySource>,
}

#[derive(Debug, Default, Deserialize)]
struct PoetrySource {
    name: String,
    url: Option<String>,
    /// `primary` (the default), `supplemental` or `explicit` (Poetry 1.5 and later).
    priority: Option<String>,
    /// Poetry before 1.5: `default = true` replaced PyPI.
    #[serde(default)]
    default: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct UvTable {
    #[serde(default)]
    dev_dependencies: Vec<String>,
    #[serde(default)]
    index: Vec<NamedIndex>,
    #[serde(default)]
    sources: BTreeMap<String, toml::Value>,
}

impl Project {
    /// Reads the project at `dir`: a directory holding `pyproject.toml`, or a pinned
    /// `requirements.txt` without one.
    pub fn read(dir: &Path) -> Result<Project> {
        let pyproject_path = dir.join("pyproject.toml");
        let has_pyproject = pyproject_path.is_file();
        if !has_pyproject && !dir.join("requirements.txt").is_file() {
            bail!(
                "{} has no pyproject.toml and no requirements.txt: pyship looks for pyproject.toml with uv.lock or poetry.lock, or a pinned requirements.txt; run pyship in the service's root directory or pass its path",
                dir.display()
            );
        }
        let root = dir
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        let parsed: PyProject = if has_pyproject {
            let text = std::fs::read_to_string(&pyproject_path)
                .with_context(|| format!("cannot read {}", pyproject_path.display()))?;
            toml::from_str(&text)
                .map_err(|err| anyhow::anyhow!("{}: {}", pyproject_path.display(), err.message()))?
        } else {
            PyProject::default()
        };
        let mut table = match parsed.project {
            Some(table) => table,
            None => undeclared(parsed.tool.poetry.as_ref(), &root, &pyproject_path)?,
        };
        if table.name.is_empty() {
            table.name =
                poetry_name(parsed.tool.poetry.as_ref()).unwrap_or_else(|| directory_name(&root));
        }
        let package = parsed.tool.poetry.as_ref().is_none_or(|p| p.package_mode);
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
        let (python_pin, python_pin_file) = match read_python_pin(&root)? {
            Some(pin) => (Some(pin), ".python-version"),
            None if requires_python.is_none() => (read_runtime_txt(&root)?, "runtime.txt"),
            None => (None, ".python-version"),
        };
        Ok(Project {
            python_pin,
            python_pin_file,
            root,
            name: table.name,
            version: table.version,
            description: table.description,
            requires_python,
            dependencies: table.dependencies,
            optional_dependencies: table.optional_dependencies,
            dependency_groups,
            scripts: table.scripts,
            indexes: uv
                .index
                .into_iter()
                .chain(poetry_sources(parsed.tool.poetry.as_ref()))
                .collect(),
            uv_sources: uv.sources.into_keys().collect(),
            workspace_root: None,
            package,
            config: parsed.tool.pyship.unwrap_or_default(),
        })
    }

    /// The directory holding the project's `uv.lock`: its own, or its workspace's root.
    pub fn lock_dir(&self) -> &Path {
        self.workspace_root.as_deref().unwrap_or(&self.root)
    }

    /// The image name used when the user gives none: the project name, lowercased, with
    /// anything an image name cannot hold (a directory's spaces, say) as `-`.
    pub fn image_name(&self) -> String {
        if let Some(name) = &self.config.name {
            return name.clone();
        }
        let mut name = String::new();
        for c in self.name.chars() {
            if c.is_ascii_alphanumeric() {
                name.push(c.to_ascii_lowercase());
            } else if !name.ends_with('-') {
                name.push('-');
            }
        }
        let name = name.trim_matches('-');
        if name.is_empty() {
            "app".to_owned()
        } else {
            name.to_owned()
        }
    }
}

/// The project as `[tool.poetry]` declares it, else as its directory is named: for a
/// pyproject.toml without `[project]`, or no pyproject.toml at all.
fn undeclared(
    poetry: Option<&PoetryTable>,
    root: &Path,
    pyproject_path: &Path,
) -> Result<ProjectTable> {
    let directory = directory_name(root);
    let Some(poetry) = poetry else {
        return Ok(ProjectTable {
            name: directory,
            ..ProjectTable::default()
        });
    };
    let requires_python = match poetry.dependencies.get("python") {
        Some(toml::Value::String(constraint)) => {
            let parsed = Constraint::parse(constraint).with_context(|| {
                format!(
                    "{}: [tool.poetry.dependencies] python = {constraint:?} is not a version constraint pyship can read: write it like \"^3.11\" or \">=3.11,<3.13\"",
                    pyproject_path.display()
                )
            })?;
            // An `||` of ranges is valid Poetry that no single specifier set can hold.
            parsed.single().map(|spec| spec.to_string())
        }
        _ => None,
    };
    Ok(ProjectTable {
        name: poetry.name.clone().unwrap_or(directory),
        version: poetry.version.clone(),
        description: poetry.description.clone(),
        requires_python,
        scripts: poetry
            .scripts
            .iter()
            .filter_map(|(name, target)| Some((name.clone(), target.as_str()?.to_owned())))
            .collect(),
        ..ProjectTable::default()
    })
}

fn package_mode_default() -> bool {
    true
}

/// The `[[tool.poetry.source]]` indexes, with Poetry's login variables. A primary one
/// replaces PyPI, as Poetry drops PyPI once a primary source is declared.
fn poetry_sources(poetry: Option<&PoetryTable>) -> Vec<NamedIndex> {
    let mut replaced_pypi = false;
    poetry
        .into_iter()
        .flat_map(|p| &p.source)
        .filter_map(|source| {
            let priority = source.priority.as_deref();
            let primary = source.default || matches!(priority, None | Some("primary" | "default"));
            let default = primary && !replaced_pypi;
            replaced_pypi |= default;
            Some(NamedIndex {
                name: Some(source.name.clone()),
                url: source.url.clone()?,
                default,
                explicit: priority == Some("explicit"),
                variables: POETRY_VARIABLES,
            })
        })
        .collect()
}

fn poetry_name(poetry: Option<&PoetryTable>) -> Option<String> {
    poetry?.name.clone()
}

/// The name of a service that declares none: its directory's.
fn directory_name(root: &Path) -> String {
    root.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "app".to_owned())
}

/// Reads `.python-version`: the first non-comment line, such as `3.12` or `3.12.4`.
pub(crate) fn read_python_pin(root: &Path) -> Result<Option<Version>> {
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

/// Reads Heroku's `runtime.txt`: `python-3.11.9`.
fn read_runtime_txt(root: &Path) -> Result<Option<Version>> {
    let path = root.join("runtime.txt");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let line = text.trim();
    let version = line
        .strip_prefix("python-")
        .and_then(|v| Version::from_str(v).ok())
        .with_context(|| {
            format!(
                "{}: {line:?} is not a Python version: write one like python-3.12.4",
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
    fn poetry_non_package_projects_need_no_name() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "pyproject.toml",
            "[project]\nrequires-python = \">=3.11\"\ndependencies = [\"flask\"]\n[tool.poetry]\npackage-mode = false\n",
        );
        let project = Project::read(dir.path()).unwrap();
        assert!(!project.package);
        assert_eq!(
            project.name,
            dir.path().file_name().unwrap().to_str().unwrap()
        );
        write(
            dir.path(),
            "pyproject.toml",
            "[tool.poetry]\nname = \"svc\"\n[tool.poetry.dependencies]\npython = \"^3.9 || ^3.11\"\n",
        );
        let project = Project::read(dir.path()).unwrap();
        assert!(project.package && project.requires_python.is_none());
        assert_eq!(project.name, "svc");
    }

    #[test]
    fn poetry_sources_are_indexes_with_poetry_s_login_variables() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "pyproject.toml",
            "[tool.poetry]\nname = \"svc\"\n[[tool.poetry.source]]\nname = \"PyPI\"\npriority = \"primary\"\n[[tool.poetry.source]]\nname = \"corp-pypi\"\nurl = \"https://pypi.corp.example/simple/\"\npriority = \"supplemental\"\n",
        );
        let project = Project::read(dir.path()).unwrap();
        assert_eq!(project.indexes.len(), 1);
        let index = &project.indexes[0];
        assert_eq!(index.name.as_deref(), Some("corp-pypi"));
        assert_eq!(index.variables, POETRY_VARIABLES);
        assert!(!index.default && !index.explicit);
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
    fn no_pyproject_and_no_requirements_names_what_pyship_looks_for() {
        let dir = tempfile::tempdir().unwrap();
        let err = Project::read(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("has no pyproject.toml and no requirements.txt"),
            "{err}"
        );
        assert!(err.contains("uv.lock or poetry.lock"), "{err}");
    }

    #[test]
    fn a_requirements_service_is_named_after_its_directory() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("My Flask_Service");
        std::fs::create_dir(&dir).unwrap();
        write(&dir, "requirements.txt", "flask==3.1.0\n");
        write(&dir, "runtime.txt", "python-3.11.9\n");
        let project = Project::read(&dir).unwrap();
        assert_eq!(project.name, "My Flask_Service");
        assert_eq!(project.image_name(), "my-flask-service");
        assert_eq!(project.python_pin.unwrap().to_string(), "3.11.9");
        assert!(project.dependencies.is_empty());

        write(&dir, "pyproject.toml", "[tool.black]\nline-length = 100\n");
        write(&dir, ".python-version", "3.12\n");
        let project = Project::read(&dir).unwrap();
        assert_eq!(project.image_name(), "my-flask-service");
        assert_eq!(project.python_pin.unwrap().to_string(), "3.12");

        write(&dir, "runtime.txt", "3.11\n");
        std::fs::remove_file(dir.join(".python-version")).unwrap();
        let err = format!("{:#}", Project::read(&dir).unwrap_err());
        assert!(
            err.contains("runtime.txt") && err.contains("python-3.12.4"),
            "{err}"
        );
    }

    #[test]
    fn a_poetry_project_without_a_project_table_uses_tool_poetry() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "pyproject.toml",
            "[tool.poetry]\nname = \"orders-api\"\nversion = \"2.0.1\"\n[tool.poetry.dependencies]\npython = \"^3.11\"\nfastapi = \"^0.115\"\n[tool.poetry.scripts]\nserve = \"orders.main:run\"\n",
        );
        write(dir.path(), "runtime.txt", "python-3.10.4\n");
        let project = Project::read(dir.path()).unwrap();
        assert_eq!(project.name, "orders-api");
        assert_eq!(project.version.as_deref(), Some("2.0.1"));
        assert_eq!(project.requires_python.unwrap().to_string(), ">=3.11, <4");
        // Poetry's python constraint comes before runtime.txt.
        assert!(project.python_pin.is_none());
        assert_eq!(project.scripts["serve"], "orders.main:run");
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
