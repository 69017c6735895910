//! poetry.lock as Poetry writes it. Three generations are read:
//!
//! - lock-version 1.x (Poetry 1.0–1.2): `category = "main" | "dev"` per package, files
//!   and hashes in one `[metadata.files]` table keyed by package name;
//! - 2.0 (Poetry 1.3–1.8): files per package (`files = [{file, hash}]`), no category;
//! - 2.1 (Poetry 2.x): also `groups = [...]` and `markers` (one string, or one per
//!   group) saying when each package is needed.
//!
//! None of them has URLs: files are named, and found on the package's index.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use uv_pep440::Version;

#[derive(Debug, Deserialize)]
pub struct LockFile {
    #[serde(default, rename = "package")]
    pub packages: Vec<Package>,
    pub metadata: Metadata,
    /// The Poetry release named in the `@generated` comment, when there is one.
    #[serde(skip)]
    pub generated_by: Option<Version>,
    /// Normalized name to the indexes of its packages (several when a name is locked at
    /// several versions).
    #[serde(skip)]
    by_name: BTreeMap<String, Vec<usize>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Metadata {
    pub lock_version: String,
    pub content_hash: Option<String>,
    /// lock-version 1.x: the files of every package, by package name.
    #[serde(default)]
    pub files: BTreeMap<String, Vec<File>>,
    /// Before lock-version 1.0: hashes without file names.
    pub hashes: Option<toml::Table>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Package {
    pub name: String,
    pub version: String,
    pub python_versions: Option<String>,
    /// lock-version 2.1.
    pub groups: Option<Vec<String>>,
    pub markers: Option<PackageMarkers>,
    pub files: Option<Vec<File>>,
    /// Requirement name to Poetry's requirement value; read by `Requirement::from_poetry`.
    #[serde(default)]
    pub dependencies: toml::Table,
    /// Extra name to the requirement strings it adds.
    #[serde(default)]
    pub extras: BTreeMap<String, Vec<String>>,
    pub source: Option<Source>,
}

/// lock-version 2.1's `markers`: one for every group, or one per group.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PackageMarkers {
    All(String),
    PerGroup(BTreeMap<String, String>),
}

#[derive(Debug, Clone, Deserialize)]
pub struct File {
    pub file: String,
    pub hash: String,
}

/// `[package.source]`: where a package comes from when it is not PyPI.
#[derive(Debug, Clone, Deserialize)]
pub struct Source {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    /// The `[[tool.poetry.source]]` name of a legacy index.
    pub reference: Option<String>,
}

impl LockFile {
    pub fn read(path: &Path) -> Result<LockFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text).with_context(|| {
            format!(
                "{} is not a lockfile Poetry 1 or 2 writes: regenerate it with `poetry lock`",
                path.display()
            )
        })
    }

    pub fn parse(text: &str) -> Result<LockFile> {
        let mut lock: LockFile =
            toml::from_str(text).map_err(|err| anyhow::anyhow!("{}", err.message()))?;
        let major = lock.metadata.lock_version.split('.').next();
        if !matches!(major, Some("1" | "2")) {
            bail!(
                "lock-version {} is not one pyship reads (1.x or 2.x)",
                lock.metadata.lock_version
            );
        }
        lock.generated_by = generator(text);
        for (index, package) in lock.packages.iter().enumerate() {
            let name = crate::python::lock::normalize(&package.name);
            lock.by_name.entry(name).or_default().push(index);
        }
        Ok(lock)
    }

    /// The indexes in `packages` of the versions locked for `name` (normalized).
    pub fn named(&self, name: &str) -> &[usize] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// True for lock-version 2.1 and later: packages carry groups and markers.
    pub fn has_groups_and_markers(&self) -> bool {
        Version::from_str(&self.metadata.lock_version)
            .is_ok_and(|v| v >= Version::from_str("2.1").expect("a version"))
    }

    /// The files of `package`: its own list, else lock-version 1.x's shared table
    /// (which lists every locked version's files under one name, so only the files of
    /// this version are kept).
    pub fn files_of<'a>(&'a self, package: &'a Package) -> Result<Vec<&'a File>> {
        if let Some(files) = &package.files {
            return Ok(files.iter().collect());
        }
        if self.metadata.hashes.is_some() {
            bail!(
                "poetry.lock predates file names (it lists hashes only): regenerate it with `poetry lock`"
            );
        }
        let wanted = crate::python::lock::normalize(&package.name);
        let version = Version::from_str(&package.version).ok();
        Ok(self
            .metadata
            .files
            .iter()
            .filter(|(name, _)| crate::python::lock::normalize(name) == wanted)
            .flat_map(|(_, files)| files)
            .filter(|file| {
                let named = uv_distribution_filename::DistFilename::try_from_normalized_filename(
                    &file.file,
                );
                match (named, &version) {
                    (Some(named), Some(version)) => named.version() == version,
                    _ => true,
                }
            })
            .collect())
    }
}

/// The version in `# This file is automatically @generated by Poetry 1.8.5 …`.
fn generator(text: &str) -> Option<Version> {
    let first = text.lines().next()?;
    let after = first.split("by Poetry ").nth(1)?;
    Version::from_str(after.split_whitespace().next()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_and_versions_are_read() {
        let lock = LockFile::parse(
            "# This file is automatically @generated by Poetry 2.2.1 and should not be changed by hand.\n[metadata]\nlock-version = \"2.1\"\n",
        )
        .unwrap();
        assert_eq!(lock.generated_by.as_ref().unwrap().to_string(), "2.2.1");
        assert!(lock.has_groups_and_markers());
        let old = LockFile::parse("[metadata]\nlock-version = \"1.1\"\n").unwrap();
        assert!(old.generated_by.is_none() && !old.has_groups_and_markers());
    }

    #[test]
    fn unknown_lock_versions_are_refused() {
        let err = LockFile::parse("[metadata]\nlock-version = \"3.0\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("lock-version 3.0"), "{err}");
    }

    #[test]
    fn shared_file_tables_keep_only_the_package_version() {
        let lock = LockFile::parse(
            r#"
[[package]]
name = "Click"
version = "8.1.7"

[metadata]
lock-version = "1.1"

[metadata.files]
click = [
    {file = "click-8.1.7-py3-none-any.whl", hash = "sha256:aa"},
    {file = "click-8.1.8-py3-none-any.whl", hash = "sha256:bb"},
    {file = "click-8.1.7.tar.gz", hash = "sha256:cc"},
]
"#,
        )
        .unwrap();
        let files: Vec<_> = lock
            .files_of(&lock.packages[0])
            .unwrap()
            .iter()
            .map(|f| f.hash.as_str())
            .collect();
        assert_eq!(files, ["sha256:aa", "sha256:cc"]);
    }
}
