//! `poetry.lock` (Poetry 1.x and 2.x): refuse a lock Poetry would call stale, and walk
//! it from the project's selected dependencies to the packages a target installs, as
//! files and hashes for the package index to complete with URLs.

mod content_hash;
mod file;
mod pyproject;
mod requirement;
mod walk;

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Result, bail};
use uv_pep440::Version;
use uv_pep508::MarkerEnvironment;

use super::{Artifact, IndexLookup, IndexUrl, LockedPackage, Selection, normalize};
use crate::python::project::Project;
use content_hash::{Rules, content_hash};
use file::{File, LockFile, Package};
pub use pyproject::{MAIN_GROUP, PoetryProject};
use requirement::Requirement;
use walk::Walk;

#[derive(Debug)]
pub struct PoetryLock {
    file: LockFile,
    pub project: PoetryProject,
}

impl PoetryLock {
    /// Reads `poetry.lock` and `pyproject.toml` in `root`.
    pub fn read(root: &Path) -> Result<PoetryLock> {
        let path = root.join("poetry.lock");
        if !path.is_file() {
            bail!(
                "{} has no poetry.lock: run `poetry lock` in it and commit the lockfile",
                root.display()
            );
        }
        Ok(PoetryLock {
            file: LockFile::read(&path)?,
            project: PoetryProject::read(root)?,
        })
    }

    pub fn parse(lock: &str, project: PoetryProject) -> Result<PoetryLock> {
        Ok(PoetryLock {
            file: LockFile::parse(lock)?,
            project,
        })
    }

    /// Refuses a lock whose content hash differs from the one pyproject.toml gives
    /// under the rules of the Poetry that wrote it, as `poetry check --lock` does.
    pub fn ensure_fresh(&self) -> Result<()> {
        let Some(recorded) = &self.file.metadata.content_hash else {
            bail!("poetry.lock has no content-hash: regenerate it with `poetry lock`");
        };
        for rules in self.rules() {
            if content_hash(&self.project.pyproject, rules)? == *recorded {
                return Ok(());
            }
        }
        let command = if self.written_by_poetry1() {
            "poetry lock --no-update"
        } else {
            "poetry lock"
        };
        bail!(
            "poetry.lock is out of date with pyproject.toml: run `{command}` (its content-hash does not match the dependencies, sources, extras and groups pyproject.toml declares)"
        )
    }

    /// The hashing rules a fresh lock may have been written under.
    fn rules(&self) -> Vec<Rules> {
        let version = |text: &str| Version::from_str(text).expect("a version");
        let by = self.file.generated_by.as_ref();
        let mut rules = Vec::new();
        if by.is_none_or(|v| *v < version("2.0")) {
            rules.push(Rules::Poetry1);
        }
        if by.is_none_or(|v| *v >= version("2.0")) && !self.written_by_poetry1() {
            rules.push(Rules::Poetry2 {
                dependency_groups: true,
            });
            // Before 2.3, [dependency-groups] was not hashed; Poetry still accepts those.
            if by.is_none_or(|v| *v < version("2.3")) {
                rules.push(Rules::Poetry2 {
                    dependency_groups: false,
                });
            }
        }
        rules
    }

    /// True when Poetry 1.x wrote the lock: it says so, or its format predates 2.x.
    fn written_by_poetry1(&self) -> bool {
        match &self.file.generated_by {
            Some(version) => version.release().first() == Some(&1),
            None => !self.file.has_groups_and_markers(),
        }
    }

    /// The selection's extras and groups checked against the project, normalized;
    /// the groups include `main`.
    pub fn selected(&self, selection: &Selection) -> Result<(Vec<String>, Vec<String>)> {
        let declared: Vec<String> = self.project.extras.keys().cloned().collect();
        let extras = if selection.all_extras {
            declared.clone()
        } else {
            selection
                .extras
                .iter()
                .map(|extra| {
                    let name = normalize(extra);
                    if !declared.contains(&name) {
                        bail!(
                            "the extra {extra:?} is not in {} (it has: {}): check the name",
                            self.project.extras_table(),
                            listed(&declared)
                        );
                    }
                    Ok(name)
                })
                .collect::<Result<_>>()?
        };
        let mut groups = vec![MAIN_GROUP.to_owned()];
        for group in &selection.groups {
            let name = normalize(group);
            if name != MAIN_GROUP && !self.project.groups.contains_key(&name) {
                bail!(
                    "the dependency group {group:?} is not in [tool.poetry.group] or [dependency-groups] (it has: {}): check the name",
                    listed(&self.project.groups.keys().cloned().collect::<Vec<_>>())
                );
            }
            groups.push(name);
        }
        Ok((extras, groups))
    }

    /// The packages `env` installs for `selection` from indexes, URLs and files: the
    /// main dependencies, the selected extras and groups, and everything they need.
    pub fn runtime_packages(
        &self,
        env: &MarkerEnvironment,
        selection: &Selection,
    ) -> Result<Vec<LockedPackage>> {
        self.reached(env, selection)?
            .into_iter()
            .filter(|package| !is_directory(package))
            .map(|package| self.locked_package(package))
            .collect()
    }

    /// What Poetry builds and installs from source: the project itself, unless it says
    /// it is no package (or has no build system pyship could build it with), and the
    /// `directory` dependencies `env` needs.
    pub fn local_packages(
        &self,
        project: &Project,
        env: &MarkerEnvironment,
        selection: &Selection,
    ) -> Result<Vec<LockedPackage>> {
        let root =
            (project.package && self.project.pyproject.contains_key("build-system")).then(|| {
                LockedPackage {
                    name: project.name.clone(),
                    version: project.version.clone(),
                    directory: Some(".".to_owned()),
                    ..LockedPackage::default()
                }
            });
        let directories = self
            .reached(env, selection)?
            .into_iter()
            .filter(|package| is_directory(package))
            .map(|package| LockedPackage {
                name: package.name.clone(),
                version: Some(package.version.clone()),
                directory: package.source.as_ref().map(|s| s.url.clone()),
                ..LockedPackage::default()
            });
        Ok(root.into_iter().chain(directories).collect())
    }

    /// Every locked package `env` needs for `selection`.
    fn reached(&self, env: &MarkerEnvironment, selection: &Selection) -> Result<Vec<&Package>> {
        let (extras, groups) = self.selected(selection)?;
        let mut start = self.project.main.clone();
        for extra in &extras {
            start.extend(self.project.extras[extra].iter().cloned());
        }
        for group in groups.iter().filter(|g| *g != MAIN_GROUP) {
            start.extend(self.project.groups[group].iter().cloned());
        }
        Walk {
            lock: &self.file,
            env,
            root_extras: &extras,
            groups: &groups,
        }
        .closure(&start)
    }

    /// Normalized names of the packages only groups bring in: never in an image
    /// built without them.
    pub fn dev_only_packages(&self, env: &MarkerEnvironment) -> Result<BTreeSet<String>> {
        let names = |packages: Vec<&Package>| -> BTreeSet<String> {
            packages.iter().map(|p| normalize(&p.name)).collect()
        };
        let mut all_groups = vec![MAIN_GROUP.to_owned()];
        all_groups.extend(self.project.groups.keys().cloned());
        let walk = |groups: &[String], start: &[Requirement]| {
            Walk {
                lock: &self.file,
                env,
                root_extras: &[],
                groups,
            }
            .closure(start)
            .map(names)
        };
        let runtime = walk(&all_groups[..1], &self.project.main)?;
        let grouped: Vec<Requirement> = self.project.groups.values().flatten().cloned().collect();
        Ok(walk(&all_groups, &grouped)?
            .difference(&runtime)
            .cloned()
            .collect())
    }

    /// `package` as the pinned distribution the installer takes: the files the lock
    /// names, to be found on its index, or the URL it was locked from.
    fn locked_package(&self, package: &Package) -> Result<LockedPackage> {
        let files = self.file.files_of(package)?;
        let mut locked = LockedPackage {
            name: package.name.clone(),
            version: Some(package.version.clone()),
            ..LockedPackage::default()
        };
        let index = match &package.source {
            None => pypi(),
            Some(source) => match source.kind.as_str() {
                "legacy" => IndexUrl {
                    url: source.url.clone(),
                    declared: format!(
                        "[[tool.poetry.source]] {:?} in pyproject.toml",
                        source.reference.as_deref().unwrap_or(&source.url)
                    ),
                },
                "url" => {
                    let url = source.url.clone();
                    return Ok(with_files(locked, &files, |a| a.url = Some(url.clone())));
                }
                "git" => bail!(
                    "poetry.lock installs {} from git ({}): pyship does not fetch git sources; publish it to an index (a [[tool.poetry.source]]) or depend on it by path, and run `poetry lock`",
                    package.name,
                    source.url
                ),
                "file" => {
                    locked.path = Some(source.url.clone());
                    let path = source.url.clone();
                    return Ok(with_files(locked, &files, |a| a.path = Some(path.clone())));
                }
                other => bail!(
                    "poetry.lock has {} from a source of type {other:?}, which pyship does not know: regenerate it with `poetry lock`",
                    package.name
                ),
            },
        };
        locked.lookup = Some(IndexLookup {
            indexes: vec![index],
            filenames: files.iter().map(|f| f.file.clone()).collect(),
            hashes: files
                .iter()
                .filter_map(|f| f.hash.strip_prefix("sha256:"))
                .map(str::to_ascii_lowercase)
                .collect(),
            pinned_at: "poetry.lock".to_owned(),
        });
        Ok(locked)
    }
}

/// PyPI, where Poetry installs a package from when the lock names no source.
fn pypi() -> IndexUrl {
    IndexUrl {
        declared: "your network, or a mirror as a primary [[tool.poetry.source]] in pyproject.toml"
            .to_owned(),
        ..IndexUrl::pypi()
    }
}

/// `locked` with `files` as its wheels and sdist, each placed (URL or path) by `place`.
fn with_files(
    mut locked: LockedPackage,
    files: &[&File],
    place: impl Fn(&mut Artifact),
) -> LockedPackage {
    for file in files {
        let mut artifact = Artifact {
            filename: Some(file.file.clone()),
            hash: Some(file.hash.clone()),
            ..Artifact::default()
        };
        place(&mut artifact);
        if file.file.ends_with(".whl") {
            locked.wheels.push(artifact);
        } else {
            locked.sdist = Some(artifact);
        }
    }
    locked
}

/// A package Poetry builds from a directory of the project's.
fn is_directory(package: &Package) -> bool {
    package
        .source
        .as_ref()
        .is_some_and(|s| s.kind == "directory")
}

fn listed(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests;
