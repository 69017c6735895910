//! `uv.lock`: the pinned distributions of a project, their wheels and hashes.
//!
//! Two jobs: refuse a lock that no longer matches `pyproject.toml` (as `uv sync
//! --locked` would), and walk the lock's graph from the project's runtime
//! dependencies to the set of packages a target environment needs.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use uv_pep440::VersionSpecifiers;
use uv_pep508::{MarkerEnvironment, MarkerTree, Requirement, VersionOrUrl};

use super::{Artifact, LockedPackage, Selection, normalize};
use crate::python::project::Project;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct UvLock {
    pub requires_python: Option<String>,
    #[serde(default, rename = "package")]
    packages: Vec<UvPackage>,
}

/// A `[[package]]` entry: the pinned distribution and the edges of the lock's graph.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct UvPackage {
    pub name: String,
    pub version: Option<String>,
    #[serde(default)]
    pub source: toml::Table,
    #[serde(default)]
    pub dependencies: Vec<LockedDependency>,
    #[serde(default)]
    pub optional_dependencies: BTreeMap<String, Vec<LockedDependency>>,
    #[serde(default)]
    pub dev_dependencies: BTreeMap<String, Vec<LockedDependency>>,
    pub sdist: Option<Artifact>,
    #[serde(default)]
    pub wheels: Vec<Artifact>,
    pub metadata: Option<LockedMetadata>,
}

#[derive(Debug, Clone, Deserialize)]
struct LockedDependency {
    pub name: String,
    pub version: Option<String>,
    pub marker: Option<String>,
    #[serde(default)]
    pub extra: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct LockedMetadata {
    #[serde(default)]
    pub requires_dist: Vec<LockedRequirement>,
    #[serde(default)]
    pub requires_dev: BTreeMap<String, Vec<LockedRequirement>>,
}

/// A requirement as uv records it from `pyproject.toml`, to detect a stale lock.
#[derive(Debug, Clone, Deserialize)]
struct LockedRequirement {
    pub name: String,
    pub specifier: Option<String>,
    pub marker: Option<String>,
    #[serde(default)]
    pub extras: Vec<String>,
    pub url: Option<String>,
    pub git: Option<String>,
    pub path: Option<String>,
    pub editable: Option<String>,
}

/// One requirement reduced to what must match between pyproject and lock.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RequirementKey {
    name: String,
    extras: Vec<String>,
    source: String,
    marker: String,
}

impl UvPackage {
    fn version_str(&self) -> &str {
        self.version.as_deref().unwrap_or("(no version)")
    }

    /// What every lockfile reader yields for this package.
    fn to_locked(&self) -> LockedPackage {
        LockedPackage {
            name: self.name.clone(),
            version: self.version.clone(),
            index: self
                .source
                .get("registry")
                .and_then(|r| r.as_str())
                .map(str::to_owned),
            sdist: self.sdist.clone(),
            wheels: self.wheels.clone(),
            lookup: None,
            path: self
                .source
                .get("path")
                .and_then(|p| p.as_str())
                .map(str::to_owned),
            directory: self.local_directory().map(str::to_owned),
        }
    }

    /// True for the project itself (uv records it as a virtual or editable source).
    fn is_local_project(&self) -> bool {
        self.source.contains_key("virtual") || self.source.contains_key("editable")
    }

    /// The directory, relative to the lock, of a package uv installs by building it
    /// from there: a workspace member or path dependency with a build system (uv writes
    /// `editable` or `directory`). Virtual ones (`virtual`) it never installs.
    pub fn local_directory(&self) -> Option<&str> {
        ["editable", "directory"]
            .iter()
            .find_map(|kind| self.source.get(*kind)?.as_str())
    }

    /// True for a package that lives in a directory rather than on an index.
    fn is_local(&self) -> bool {
        self.is_local_project() || self.local_directory().is_some()
    }
}

impl UvLock {
    pub fn parse(path: &Path) -> Result<UvLock> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse_str(&text).with_context(|| {
            format!(
                "{} is not a uv lockfile: regenerate it with `uv lock`",
                path.display()
            )
        })
    }

    pub fn parse_str(text: &str) -> Result<UvLock> {
        toml::from_str(text).map_err(|err| anyhow::anyhow!("{}", err.message()))
    }

    /// The lock's entry for the project itself.
    fn root(&self, project: &Project) -> Result<&UvPackage> {
        let wanted = normalize(&project.name);
        self.packages
            .iter()
            .find(|pkg| normalize(&pkg.name) == wanted && pkg.is_local_project())
            .or_else(|| {
                self.packages
                    .iter()
                    .find(|pkg| normalize(&pkg.name) == wanted)
            })
            .with_context(|| {
                format!(
                    "uv.lock does not contain the project {:?}: run `uv lock` to update it",
                    project.name
                )
            })
    }

    /// Refuses a lock that no longer matches `pyproject.toml`, naming each difference.
    pub fn ensure_fresh(&self, project: &Project) -> Result<()> {
        let root = self.root(project)?;
        let metadata = root.metadata.clone().unwrap_or_default();
        let mut differences = Vec::new();
        if let Some(wanted) = &project.requires_python {
            let locked = self
                .requires_python
                .as_deref()
                .and_then(|spec| VersionSpecifiers::from_str(spec).ok());
            let same = locked.as_ref().map(ToString::to_string) == Some(wanted.to_string());
            // A workspace locks for the Pythons every member accepts: fresh while
            // this member accepts all of them.
            let within = project.workspace_root.is_some()
                && locked.as_ref().is_some_and(|l| accepts_all(wanted, l));
            if !same && !within {
                differences.push(format!(
                    "requires-python is {wanted} but uv.lock was made for {}",
                    self.requires_python.as_deref().unwrap_or("none")
                ));
            }
        }
        let sourced: BTreeSet<String> = project.uv_sources.iter().map(|n| normalize(n)).collect();
        compare(
            "dependencies",
            &requires_dist(project)?,
            &metadata.requires_dist,
            &sourced,
            &mut differences,
        )?;
        let groups: BTreeSet<&String> = project
            .dependency_groups
            .keys()
            .chain(metadata.requires_dev.keys())
            .collect();
        for group in groups {
            let empty = Vec::new();
            let wanted = project.dependency_groups.get(group).unwrap_or(&empty);
            let locked = metadata
                .requires_dev
                .get(group)
                .map_or(&[][..], Vec::as_slice);
            compare(
                &format!("group {group}"),
                wanted,
                locked,
                &sourced,
                &mut differences,
            )?;
        }
        if differences.is_empty() {
            return Ok(());
        }
        bail!(
            "uv.lock is out of date with pyproject.toml ({}): run `uv lock` and commit the result",
            differences.join("; ")
        )
    }

    /// The packages the project needs at run time in `env`: its dependencies and theirs,
    /// with markers evaluated and extras followed; never dependency groups.
    pub fn runtime_packages(
        &self,
        project: &Project,
        env: &MarkerEnvironment,
        selection: &Selection,
    ) -> Result<Vec<LockedPackage>> {
        let root = self.root(project)?;
        let mut start: Vec<&LockedDependency> = root.dependencies.iter().collect();
        for extra in selection.extras(project)? {
            start.extend(root.optional_dependencies.get(&extra).into_iter().flatten());
        }
        for group in selection.groups(project)? {
            start.extend(root.dev_dependencies.get(&group).into_iter().flatten());
        }
        let mut reached = self.closure(start, env)?;
        reached.retain(|p| !p.is_local());
        Ok(reached.into_iter().map(UvPackage::to_locked).collect())
    }

    /// The project itself and the workspace members and path dependencies it needs in
    /// `env`, when uv would build and install them (see [`UvPackage::local_directory`]).
    pub fn local_packages(
        &self,
        project: &Project,
        env: &MarkerEnvironment,
        selection: &Selection,
    ) -> Result<Vec<LockedPackage>> {
        let root = self.root(project)?;
        let mut start: Vec<&LockedDependency> = root.dependencies.iter().collect();
        for extra in selection.extras(project)? {
            start.extend(root.optional_dependencies.get(&extra).into_iter().flatten());
        }
        for group in selection.groups(project)? {
            start.extend(root.dev_dependencies.get(&group).into_iter().flatten());
        }
        let mut seen = BTreeSet::new();
        Ok(std::iter::once(root)
            .chain(self.closure(start, env)?)
            .filter(|p| p.local_directory().is_some() && seen.insert(normalize(&p.name)))
            .map(UvPackage::to_locked)
            .collect())
    }

    /// Normalized names of packages that only dependency groups bring in: what must not
    /// be in a production image.
    pub fn dev_only_packages(
        &self,
        project: &Project,
        env: &MarkerEnvironment,
    ) -> Result<BTreeSet<String>> {
        let root = self.root(project)?;
        let runtime: BTreeSet<String> = self
            .runtime_packages(project, env, &Selection::default())?
            .iter()
            .map(|p| normalize(&p.name))
            .collect();
        let groups = root.dev_dependencies.values().flatten().collect();
        Ok(self
            .closure(groups, env)?
            .iter()
            .filter(|p| !p.is_local())
            .map(|p| normalize(&p.name))
            .filter(|name| !runtime.contains(name))
            .collect())
    }

    /// Every package reachable from `start`, markers evaluated, extras followed.
    fn closure<'a>(
        &'a self,
        start: Vec<&'a LockedDependency>,
        env: &MarkerEnvironment,
    ) -> Result<Vec<&'a UvPackage>> {
        let mut queue: VecDeque<&LockedDependency> = start.into_iter().collect();
        let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
        let mut extras_seen: BTreeSet<(String, String)> = BTreeSet::new();
        let mut needed = Vec::new();
        while let Some(dep) = queue.pop_front() {
            if !marker_applies(dep.marker.as_deref(), env)? {
                continue;
            }
            let package = self.find(dep)?;
            let key = (normalize(&package.name), package.version_str().to_owned());
            if seen.insert(key.clone()) {
                needed.push(package);
                queue.extend(package.dependencies.iter());
            }
            for extra in &dep.extra {
                if extras_seen.insert((key.0.clone(), extra.clone()))
                    && let Some(deps) = package.optional_dependencies.get(extra)
                {
                    queue.extend(deps.iter());
                }
            }
        }
        needed.sort_by_key(|p| normalize(&p.name));
        Ok(needed)
    }

    fn find(&self, dep: &LockedDependency) -> Result<&UvPackage> {
        let wanted = normalize(&dep.name);
        self.packages
            .iter()
            .find(|pkg| {
                normalize(&pkg.name) == wanted
                    && dep
                        .version
                        .as_ref()
                        .is_none_or(|v| pkg.version.as_ref() == Some(v))
            })
            .with_context(|| {
                format!(
                    "uv.lock lists {:?} as a dependency but has no entry for it: run `uv lock`",
                    dep.name
                )
            })
    }
}

/// The project's requirements as uv records them in `requires-dist`: its dependencies,
/// and each optional dependency with `extra == 'NAME'` joined to its marker.
fn requires_dist(project: &Project) -> Result<Vec<String>> {
    let mut all = project.dependencies.clone();
    for (extra, requirements) in &project.optional_dependencies {
        let extra_marker = MarkerTree::from_str(&format!("extra == '{}'", normalize(extra)))
            .map_err(|err| anyhow::anyhow!("pyproject.toml: extra {extra:?}: {err}"))?;
        for text in requirements {
            let mut requirement =
                Requirement::<uv_pep508::VerbatimUrl>::from_str(text).map_err(|err| {
                    anyhow::anyhow!("pyproject.toml: {text:?} is not a valid requirement: {err}")
                })?;
            requirement.marker = requirement.marker.and(extra_marker);
            all.push(requirement.to_string());
        }
    }
    Ok(all)
}

fn marker_applies(marker: Option<&str>, env: &MarkerEnvironment) -> Result<bool> {
    let Some(marker) = marker else {
        return Ok(true);
    };
    let tree = MarkerTree::from_str(marker)
        .map_err(|err| anyhow::anyhow!("uv.lock has an invalid marker {marker:?}: {err}"))?;
    Ok(tree.evaluate(env, &[]))
}

/// True when every Python `locked` allows, `wanted` allows too: checked at each minor
/// release from 3.0 to 3.40, first and late patch, which is where real ranges end.
fn accepts_all(wanted: &VersionSpecifiers, locked: &VersionSpecifiers) -> bool {
    (0..=40u64).all(|minor| {
        [0u64, 99].iter().all(|&patch| {
            let version = uv_pep440::Version::new([3, minor, patch]);
            !locked.contains(&version) || wanted.contains(&version)
        })
    })
}

/// Compares what pyproject asks for with what the lock was made from, in one section.
/// Names in `sourced` have a `[tool.uv.sources]` entry: uv locks them by that source
/// and drops the version asked for, so only their name, extras and marker compare.
fn compare(
    section: &str,
    wanted: &[String],
    locked: &[LockedRequirement],
    sourced: &BTreeSet<String>,
    differences: &mut Vec<String>,
) -> Result<()> {
    let unsourced = |mut key: RequirementKey| {
        if sourced.contains(&key.name) {
            key.source.clear();
        }
        key
    };
    let wanted: BTreeSet<RequirementKey> = wanted
        .iter()
        .map(|req| key_of_pyproject(req).map(unsourced))
        .collect::<Result<_>>()?;
    let locked: BTreeSet<RequirementKey> = locked
        .iter()
        .map(|req| unsourced(key_of_locked(req)))
        .collect();
    for key in wanted.difference(&locked) {
        differences.push(format!(
            "{section}: pyproject asks for {} not in the lock",
            key.describe()
        ));
    }
    for key in locked.difference(&wanted) {
        differences.push(format!(
            "{section}: the lock has {} that pyproject no longer asks for",
            key.describe()
        ));
    }
    Ok(())
}

fn key_of_pyproject(text: &str) -> Result<RequirementKey> {
    let req = Requirement::<uv_pep508::VerbatimUrl>::from_str(text).map_err(|err| {
        anyhow::anyhow!("pyproject.toml: {text:?} is not a valid requirement: {err}")
    })?;
    let source = match &req.version_or_url {
        None => String::new(),
        Some(VersionOrUrl::VersionSpecifier(spec)) => spec.to_string(),
        Some(VersionOrUrl::Url(url)) => url.to_string(),
    };
    let mut extras: Vec<String> = req.extras.iter().map(ToString::to_string).collect();
    extras.sort();
    Ok(RequirementKey {
        name: req.name.to_string(),
        extras,
        source,
        marker: canonical_marker(req.marker.try_to_string().as_deref()),
    })
}

fn key_of_locked(req: &LockedRequirement) -> RequirementKey {
    let source = if let Some(spec) = &req.specifier {
        VersionSpecifiers::from_str(spec).map_or_else(|_| spec.clone(), |s| s.to_string())
    } else {
        [&req.url, &req.git, &req.path, &req.editable]
            .into_iter()
            .flatten()
            .next()
            .cloned()
            .unwrap_or_default()
    };
    let mut extras: Vec<String> = req.extras.iter().map(|e| normalize(e)).collect();
    extras.sort();
    RequirementKey {
        name: normalize(&req.name),
        extras,
        source,
        marker: canonical_marker(req.marker.as_deref()),
    }
}

fn canonical_marker(marker: Option<&str>) -> String {
    marker
        .and_then(|m| MarkerTree::from_str(m).ok())
        .and_then(|tree| tree.try_to_string())
        .unwrap_or_default()
}

impl RequirementKey {
    fn describe(&self) -> String {
        let mut text = self.name.clone();
        if !self.extras.is_empty() {
            text.push_str(&format!("[{}]", self.extras.join(",")));
        }
        text.push_str(&self.source);
        if !self.marker.is_empty() {
            text.push_str(&format!("; {}", self.marker));
        }
        format!("`{text}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::{Selection, normalize};
    use crate::python::project::Project;

    const LOCK: &str = r#"
version = 1
requires-python = ">=3.11"

[[package]]
name = "app"
version = "0.1.0"
source = { virtual = "." }
dependencies = [
    { name = "uvicorn", extra = ["standard"] },
    { name = "colorama", marker = "sys_platform == 'win32'" },
]

[package.dev-dependencies]
dev = [{ name = "pytest" }]

[package.metadata]
requires-dist = [
    { name = "uvicorn", extras = ["standard"], specifier = ">=0.30" },
    { name = "colorama", marker = "sys_platform == 'win32'" },
]

[package.metadata.requires-dev]
dev = [{ name = "pytest" }]

[[package]]
name = "uvicorn"
version = "0.32.0"
source = { registry = "https://example.invalid/simple" }
dependencies = [{ name = "h11" }]
wheels = [{ url = "https://example.invalid/uvicorn-0.32.0-py3-none-any.whl", hash = "sha256:00", size = 1 }]

[package.optional-dependencies]
standard = [{ name = "httptools" }]

[[package]]
name = "h11"
version = "0.14.0"
source = { registry = "https://example.invalid/simple" }
wheels = [{ url = "https://example.invalid/h11-0.14.0-py3-none-any.whl", hash = "sha256:00" }]

[[package]]
name = "httptools"
version = "0.6.0"
source = { registry = "https://example.invalid/simple" }

[[package]]
name = "colorama"
version = "0.4.6"
source = { registry = "https://example.invalid/simple" }

[[package]]
name = "pytest"
version = "8.0.0"
source = { registry = "https://example.invalid/simple" }
"#;

    fn project(deps: &str, dev: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            format!(
                "[project]\nname = \"app\"\nrequires-python = \">=3.11\"\ndependencies = [{deps}]\n[dependency-groups]\ndev = [{dev}]\n"
            ),
        )
        .unwrap();
        Project::read(dir.path()).unwrap()
    }

    fn linux_env() -> MarkerEnvironment {
        crate::python::target::Target::bookworm(
            crate::oci::platform::ImagePlatform::Amd64,
            "3.11.9",
        )
        .unwrap()
        .marker_environment()
    }

    #[test]
    fn fresh_lock_passes() {
        let lock = UvLock::parse_str(LOCK).unwrap();
        let p = project(
            r#""uvicorn[standard] >= 0.30", "colorama; sys_platform == 'win32'""#,
            r#""pytest""#,
        );
        lock.ensure_fresh(&p).unwrap();
    }

    #[test]
    fn stale_lock_names_what_differs() {
        let lock = UvLock::parse_str(LOCK).unwrap();
        let p = project(
            r#""uvicorn[standard]>=0.31", "colorama; sys_platform == 'win32'""#,
            r#""pytest", "ruff""#,
        );
        let err = lock.ensure_fresh(&p).unwrap_err().to_string();
        assert!(err.contains("uvicorn[standard]>=0.31"), "{err}");
        assert!(
            err.contains("group dev: pyproject asks for `ruff`"),
            "{err}"
        );
        assert!(err.contains("run `uv lock`"), "{err}");
    }

    #[test]
    fn runtime_walk_follows_extras_and_markers_never_dev() {
        let lock = UvLock::parse_str(LOCK).unwrap();
        let p = project("", "");
        let names: Vec<_> = lock
            .runtime_packages(&p, &linux_env(), &Selection::default())
            .unwrap()
            .iter()
            .map(|pkg| pkg.name.clone())
            .collect();
        assert_eq!(names, ["h11", "httptools", "uvicorn"]);
        let dev = lock.dev_only_packages(&p, &linux_env()).unwrap();
        assert_eq!(dev.into_iter().collect::<Vec<_>>(), ["pytest"]);
    }

    #[test]
    fn a_workspace_lock_may_be_narrower_than_a_member_but_not_wider() {
        let spec = |s: &str| VersionSpecifiers::from_str(s).unwrap();
        assert!(accepts_all(&spec(">=3.11"), &spec(">=3.11, <4")));
        assert!(accepts_all(&spec(">=3.10"), &spec(">=3.12")));
        assert!(!accepts_all(&spec(">=3.12"), &spec(">=3.11")));
        assert!(!accepts_all(&spec(">=3.11, <3.13"), &spec(">=3.11")));
    }

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize("Foo__Bar.baz"), "foo-bar-baz");
    }
}
