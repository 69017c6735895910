//! uv workspaces: one `uv.lock` at the root for every member. A member builds as a
//! project of its own whose lock, indexes and sources it shares with the root, found
//! from the member's directory (as uv walks up to the `[tool.uv.workspace]` that
//! includes it) or by name from anywhere in the workspace (`--package`, as uv's flag).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::python::index::NamedIndex;
use crate::python::lock::normalize;
use crate::python::project::{self, Project};

/// The project `pyship build PATH [--package NAME]` builds: the member named, the
/// member at `path`, or the standalone project there.
pub fn project(path: &Path, package: Option<&str>) -> Result<Project> {
    let workspace = Workspace::containing(path)?;
    let Some(package) = package else {
        return match workspace {
            Some(workspace) => workspace.member_at(path),
            None => Project::read(path),
        };
    };
    let Some(workspace) = workspace else {
        bail!(
            "--package {package} needs a uv workspace, but {} is in none (no pyproject.toml with [tool.uv.workspace] at or above it): build the project's directory without --package",
            path.display()
        );
    };
    let members = workspace.members()?;
    match members
        .iter()
        .find(|m| normalize(&m.name) == normalize(package))
    {
        Some(member) => workspace.member_at(&member.dir),
        None => bail!(
            "--package {package} is not a member of the uv workspace at {} (its members: {}): pass one of them",
            workspace.root.display(),
            names(&members)
        ),
    }
}

/// A `pyproject.toml` declaring `[tool.uv.workspace]`.
#[derive(Debug)]
pub struct Workspace {
    /// Canonical.
    pub root: PathBuf,
    members: Vec<glob::Pattern>,
    exclude: Vec<glob::Pattern>,
    /// The root's `[[tool.uv.index]]` and `[tool.uv.sources]`, which every member shares.
    indexes: Vec<NamedIndex>,
    sources: BTreeSet<String>,
}

/// One member: its `[project] name` and its canonical directory.
#[derive(Debug)]
pub struct Member {
    pub name: String,
    pub dir: PathBuf,
}

#[derive(Deserialize)]
struct RootFile {
    project: Option<NameOnly>,
    #[serde(default)]
    tool: RootTool,
}

#[derive(Deserialize)]
struct NameOnly {
    name: String,
}

#[derive(Default, Deserialize)]
struct RootTool {
    uv: Option<RootUv>,
}

#[derive(Default, Deserialize)]
struct RootUv {
    workspace: Option<WorkspaceTable>,
    #[serde(default)]
    index: Vec<NamedIndex>,
    #[serde(default)]
    sources: toml::Table,
}

#[derive(Default, Deserialize)]
struct WorkspaceTable {
    #[serde(default)]
    members: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

impl Workspace {
    /// The workspace `dir` belongs to: the nearest directory at or above it whose
    /// `[tool.uv.workspace]` is `dir` itself or lists it in `members` and not in `exclude`.
    pub fn containing(dir: &Path) -> Result<Option<Workspace>> {
        let Ok(dir) = dir.canonicalize() else {
            return Ok(None);
        };
        for candidate in dir.ancestors() {
            if let Some(workspace) = Workspace::read(candidate)?
                && workspace.includes(&dir)
            {
                return Ok(Some(workspace));
            }
        }
        Ok(None)
    }

    /// The workspace declared at `root`, if its `pyproject.toml` declares one.
    fn read(root: &Path) -> Result<Option<Workspace>> {
        let path = root.join("pyproject.toml");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        // A file that is not TOML is not a workspace; it may be any project's.
        let Ok(file) = toml::from_str::<RootFile>(&text) else {
            return Ok(None);
        };
        let Some(uv) = file.tool.uv else {
            return Ok(None);
        };
        let Some(table) = uv.workspace else {
            return Ok(None);
        };
        let patterns = |globs: &[String]| -> Result<Vec<glob::Pattern>> {
            globs
                .iter()
                .map(|g| {
                    glob::Pattern::new(g.trim_end_matches('/')).with_context(|| {
                        format!(
                            "{}: [tool.uv.workspace] has the invalid glob {g:?}: fix it",
                            path.display()
                        )
                    })
                })
                .collect()
        };
        Ok(Some(Workspace {
            root: root.to_path_buf(),
            members: patterns(&table.members)?,
            exclude: patterns(&table.exclude)?,
            indexes: uv.index,
            sources: uv.sources.keys().cloned().collect(),
        }))
    }

    /// True for the root itself and for a directory a `members` glob matches and no
    /// `exclude` glob does.
    fn includes(&self, dir: &Path) -> bool {
        let Ok(relative) = dir.strip_prefix(&self.root) else {
            return false;
        };
        if relative.as_os_str().is_empty() {
            return true;
        }
        let options = glob::MatchOptions {
            require_literal_separator: true,
            ..glob::MatchOptions::new()
        };
        let matches = |patterns: &[glob::Pattern]| {
            patterns
                .iter()
                .any(|p| p.matches_path_with(relative, options))
        };
        matches(&self.members) && !matches(&self.exclude)
    }

    /// Every member, by name: the root when it has a `[project]`, and each directory
    /// with a `pyproject.toml` that the globs include.
    pub fn members(&self) -> Result<Vec<Member>> {
        let mut dirs = vec![self.root.clone()];
        for pattern in &self.members {
            let full = self.root.join(pattern.as_str());
            let found = glob::glob(&full.to_string_lossy())
                .with_context(|| format!("cannot list the members {}", pattern.as_str()))?;
            dirs.extend(found.flatten().filter_map(|d| d.canonicalize().ok()));
        }
        dirs.sort();
        dirs.dedup();
        let mut members = Vec::new();
        for dir in dirs {
            if !self.includes(&dir) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(dir.join("pyproject.toml")) else {
                continue;
            };
            if let Ok(RootFile {
                project: Some(NameOnly { name }),
                ..
            }) = toml::from_str(&text)
            {
                members.push(Member { name, dir });
            }
        }
        members.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(members)
    }

    /// The member at `dir` as a project whose lock is the workspace's.
    fn member_at(&self, dir: &Path) -> Result<Project> {
        let is_root = dir.canonicalize().is_ok_and(|d| d == self.root);
        if is_root && !has_project_table(&self.root) {
            bail!(
                "{} is the root of a uv workspace and no project itself: pass --package NAME to build a member ({})",
                self.root.display(),
                names(&self.members()?)
            );
        }
        let mut project = Project::read(dir)?;
        if !self.root.join("uv.lock").is_file() {
            bail!(
                "{} is a member of the uv workspace at {}, which has no uv.lock: run `uv lock` in {} and commit the lockfile",
                project.root.display(),
                self.root.display(),
                self.root.display()
            );
        }
        for index in &self.indexes {
            if !project.indexes.iter().any(|own| own.url == index.url) {
                project.indexes.push(index.clone());
            }
        }
        project.uv_sources.extend(self.sources.iter().cloned());
        if project.python_pin.is_none() {
            project.python_pin = project::read_python_pin(&self.root)?;
        }
        project.workspace_root = Some(self.root.clone());
        Ok(project)
    }
}

fn has_project_table(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("pyproject.toml"))
        .ok()
        .and_then(|text| toml::from_str::<RootFile>(&text).ok())
        .is_some_and(|file| file.project.is_some())
}

fn names(members: &[Member]) -> String {
    if members.is_empty() {
        return "none".to_owned();
    }
    members
        .iter()
        .map(|m| m.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }

    fn member(name: &str) -> String {
        format!("[project]\nname = \"{name}\"\nversion = \"1.0\"\n")
    }

    /// A workspace with members api and lib under packages/, an excluded one, and a
    /// directory the globs do not reach.
    fn workspace() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "pyproject.toml",
            "[tool.uv.workspace]\nmembers = [\"packages/*\"]\nexclude = [\"packages/old\"]\n[[tool.uv.index]]\nname = \"corp\"\nurl = \"https://pypi.corp.example/simple\"\n[tool.uv.sources]\nlib = { workspace = true }\n",
        );
        write(root, "uv.lock", "version = 1\n");
        write(root, ".python-version", "3.11\n");
        write(root, "packages/api/pyproject.toml", &member("api"));
        write(root, "packages/lib/pyproject.toml", &member("lib"));
        write(root, "packages/old/pyproject.toml", &member("old"));
        write(root, "tools/x/pyproject.toml", &member("x"));
        dir
    }

    #[test]
    fn a_member_shares_the_roots_lock_indexes_sources_and_pin() {
        let ws = workspace();
        let api = project(&ws.path().join("packages/api"), None).unwrap();
        assert_eq!(api.name, "api");
        assert_eq!(api.lock_dir(), ws.path().canonicalize().unwrap());
        assert_eq!(api.indexes.len(), 1);
        assert!(api.uv_sources.contains("lib"));
        assert_eq!(api.python_pin.unwrap().to_string(), "3.11");
        let by_name = project(ws.path(), Some("API")).unwrap();
        assert_eq!(by_name.root, api.root);
    }

    #[test]
    fn excluded_and_unlisted_directories_are_not_members() {
        let ws = workspace();
        let old = project(&ws.path().join("packages/old"), None).unwrap();
        assert_eq!(old.workspace_root, None);
        let outside = project(&ws.path().join("tools/x"), None).unwrap();
        assert_eq!(outside.workspace_root, None);
        let names: Vec<String> = Workspace::containing(ws.path())
            .unwrap()
            .unwrap()
            .members()
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["api", "lib"]);
    }

    #[test]
    fn bad_package_root_without_project_and_missing_lock_say_what_to_do() {
        let ws = workspace();
        let err = project(ws.path(), Some("web")).unwrap_err().to_string();
        assert!(
            err.contains("--package web is not a member") && err.contains("members: api, lib"),
            "{err}"
        );
        let err = project(ws.path(), None).unwrap_err().to_string();
        assert!(err.contains("pass --package NAME"), "{err}");
        std::fs::remove_file(ws.path().join("uv.lock")).unwrap();
        let err = project(&ws.path().join("packages/lib"), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("which has no uv.lock: run `uv lock` in"),
            "{err}"
        );
        let alone = tempfile::tempdir().unwrap();
        write(alone.path(), "pyproject.toml", &member("solo"));
        let err = project(alone.path(), Some("solo")).unwrap_err().to_string();
        assert!(err.contains("needs a uv workspace"), "{err}");
    }
}
