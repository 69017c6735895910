//! The package-index lookup: the files a lock pins without URLs, found on the indexes
//! it names. Poetry names each file and its hash; a requirements file gives a version
//! and maybe hashes. Both become [`Artifact`]s with URL and sha256, like uv.lock's.
//!
//! Indexes are searched in order; the first that has the version decides (as uv does,
//! so a public index can never shadow a private one further up the list). When the
//! lock gives hashes only files with one of them are kept, as pip's hash-checking
//! mode does. What an index lists for a version is remembered in the cache, so a warm
//! build asks no index anything. Logins follow `index`: never to another origin.

pub mod page;

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use reqwest::StatusCode;
use reqwest::blocking::Client;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uv_normalize::PackageName;
use uv_pep440::{Version, VersionSpecifiers};

pub use page::IndexFile;

use crate::python::index::{Download, NamedIndex};
use crate::python::lock::{Artifact, IndexLookup, IndexUrl, LockedPackage};
use crate::store::{Cache, Progress, http};

/// Parallel page requests: enough to hide an index's latency, few enough to be polite.
const PARALLEL: usize = 8;

/// Finds the files of locked packages on their indexes, for one build.
pub struct Finder<'a> {
    client: &'a Client,
    cache: &'a Cache,
    /// `[[tool.uv.index]]`, whose names give logins through uv's variables.
    logins: &'a [NamedIndex],
    progress: &'a Progress,
    /// Yanked files already reported, so a build says so once.
    warned: Mutex<BTreeSet<String>>,
}

/// What an index lists for one version of a project, as remembered in the cache: an
/// empty list means the index does not have that version.
#[derive(Serialize, Deserialize)]
struct VersionFiles {
    files: Vec<IndexFile>,
}

impl<'a> Finder<'a> {
    pub fn new(
        client: &'a Client,
        cache: &'a Cache,
        logins: &'a [NamedIndex],
        progress: &'a Progress,
    ) -> Finder<'a> {
        Finder {
            client,
            cache,
            logins,
            progress,
            warned: Mutex::default(),
        }
    }

    /// Gives every package that the lock pins without URLs its files, for a target
    /// whose Python is `python`; packages with files already are returned as they are.
    pub fn locate(&self, packages: Vec<LockedPackage>, python: &str) -> Result<Vec<LockedPackage>> {
        let wanted = packages.iter().filter(|p| p.lookup.is_some()).count();
        if wanted == 0 {
            return Ok(packages);
        }
        let python = Version::from_str(python)
            .with_context(|| format!("{python:?} is not a Python version"))?;
        let task = self
            .progress
            .items(wanted as u64, "finding files on the index");
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(PARALLEL)
            .build()?;
        let located = pool.install(|| {
            packages
                .into_par_iter()
                .map(|package| {
                    let found = self.locate_one(package, &python);
                    task.inc(1);
                    found
                })
                .collect::<Result<Vec<_>>>()
        })?;
        task.finish();
        Ok(located)
    }

    fn locate_one(&self, mut package: LockedPackage, python: &Version) -> Result<LockedPackage> {
        let Some(lookup) = package.lookup.take() else {
            return Ok(package);
        };
        let pinned = format!("{} {}", package.name, package.version_str());
        let (Some(name), Some(version)) = (
            page::package_name(&package.name),
            package
                .version
                .as_deref()
                .and_then(|v| Version::from_str(v).ok()),
        ) else {
            bail!(
                "{pinned} ({}) is not a valid package name and version: fix the pin",
                lookup.pinned_at
            );
        };
        for index in &lookup.indexes {
            let listed = self.version_files(index, &name, &version)?;
            let named: Vec<IndexFile> = listed
                .into_iter()
                .filter(|f| lookup.filenames.is_empty() || lookup.filenames.contains(&f.filename))
                .collect();
            if named.is_empty() {
                continue;
            }
            let files = usable(named, &lookup, index, &pinned, python)?;
            self.warn_if_yanked(&pinned, index, &files);
            package.index = Some(index.url.clone());
            package.wheels = files
                .iter()
                .filter(|f| f.is_wheel())
                .map(artifact)
                .collect();
            package.sdist = files
                .iter()
                .filter(|f| !f.is_wheel())
                .min_by_key(|f| !f.filename.ends_with(".tar.gz"))
                .map(artifact);
            return Ok(package);
        }
        let searched: Vec<String> = lookup.indexes.iter().map(|i| http::host(&i.url)).collect();
        let files = if lookup.filenames.is_empty() {
            String::new()
        } else {
            format!(" with the files {}", lookup.filenames.join(", "))
        };
        bail!(
            "{pinned} ({}) is not on {}{files}: check the pin, or add the index that has it (--extra-index-url in the requirements file)",
            lookup.pinned_at,
            searched.join(" or ")
        )
    }

    /// The files `index` lists for `name` at `version`: from the cache, else asked for.
    fn version_files(
        &self,
        index: &IndexUrl,
        name: &PackageName,
        version: &Version,
    ) -> Result<Vec<IndexFile>> {
        let mut key = Sha256::new();
        key.update(format!(
            "simple-v1\0{}\0{name}\0{version}",
            http::redact(index.url.trim_end_matches('/'))
        ));
        let key = hex::encode(key.finalize());
        if let Some(known) = self.cache.record::<VersionFiles>("index-files", &key) {
            return Ok(known.files);
        }
        let files: Vec<IndexFile> = self
            .project_page(index, name)?
            .into_iter()
            .filter(|f| f.is_version(name, version))
            .collect();
        self.cache.put_record(
            "index-files",
            &key,
            &VersionFiles {
                files: files.clone(),
            },
        )?;
        Ok(files)
    }

    /// Every file `index` lists for `name`; none when the index does not have it.
    fn project_page(&self, index: &IndexUrl, name: &PackageName) -> Result<Vec<IndexFile>> {
        let page_url = format!("{}/{name}/", index.url.trim_end_matches('/'));
        let download = Download::new(&page_url, Some(&index.url), self.logins)?;
        let host = http::host(download.url.as_str());
        let response = http::send_idempotent(|| {
            let request = self
                .client
                .get(download.url.clone())
                .header(ACCEPT, page::ACCEPT);
            match &download.login {
                Some(login) => request.basic_auth(&login.user, login.password.as_ref()),
                None => request,
            }
        })
        .map_err(|err| {
            anyhow::anyhow!(
                "cannot reach the package index {host} ({}) to find {name}: check {}",
                http::cause(&err),
                index.declared
            )
        })?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            return Ok(Vec::new());
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            bail!(
                "the package index {host} asks for a login to list {name}{}: put it in the index URL (check {}), in ~/.netrc, or in UV_INDEX_<NAME>_USERNAME/_PASSWORD for a [[tool.uv.index]]",
                if download.login.is_some() {
                    " and refused the one given"
                } else {
                    ""
                },
                index.declared
            );
        }
        if !status.is_success() {
            bail!(
                "the package index {host} answered {status} for {name}: check {}",
                index.declared
            );
        }
        let page = response.url().clone();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("text/html")
            .to_owned();
        let body = response.bytes().map_err(|err| {
            anyhow::anyhow!(
                "the package index {host} broke off its page for {name} ({}): build again",
                http::cause(&err)
            )
        })?;
        page::files(&content_type, &body, &page)
            .map_err(|why| anyhow::anyhow!("the package index {host} for {name}: {why}"))
    }

    fn warn_if_yanked(&self, pinned: &str, index: &IndexUrl, files: &[IndexFile]) {
        let Some(reason) = files.iter().find_map(|f| f.yanked.as_deref()) else {
            return;
        };
        let first = self
            .warned
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(pinned.to_owned());
        if first {
            let why = if reason.is_empty() {
                String::new()
            } else {
                format!(" ({reason})")
            };
            self.progress.warn(&format!(
                "warning: {pinned} is yanked on {}{why}: installing it because it is pinned; pin another version",
                http::host(&index.url)
            ));
        }
    }
}

/// The files that may be installed: with a sha256 (pyship verifies every file), among
/// the lock's hashes when it gives any, and for the target's Python.
fn usable(
    files: Vec<IndexFile>,
    lookup: &IndexLookup,
    index: &IndexUrl,
    pinned: &str,
    python: &Version,
) -> Result<Vec<IndexFile>> {
    let host = http::host(&index.url);
    let count = files.len();
    let hashed: Vec<IndexFile> = files.into_iter().filter(|f| f.sha256.is_some()).collect();
    if hashed.is_empty() {
        bail!(
            "{host} lists {count} files of {pinned} without a sha256, so none can be verified: use an index that publishes hashes (PEP 503)"
        );
    }
    let matching: Vec<IndexFile> = if lookup.hashes.is_empty() {
        hashed
    } else {
        hashed
            .into_iter()
            .filter(|f| {
                f.sha256
                    .as_ref()
                    .is_some_and(|sha| lookup.hashes.iter().any(|h| h == sha))
            })
            .collect()
    };
    if matching.is_empty() {
        bail!(
            "none of the {count} files {host} has for {pinned} matches a hash in {}: the files on the index changed or the hashes are wrong; regenerate the hashes and review the change",
            lookup.pinned_at
        );
    }
    let for_python: Vec<IndexFile> = matching
        .iter()
        .filter(|f| {
            f.requires_python
                .as_deref()
                .and_then(|spec| VersionSpecifiers::from_str(spec).ok())
                .is_none_or(|spec| spec.contains(python))
        })
        .cloned()
        .collect();
    if for_python.is_empty() {
        let spec = matching[0].requires_python.as_deref().unwrap_or("");
        bail!(
            "{pinned} requires Python {spec}, and the image has {python}: pin a version of it that supports Python {python}, or use a base with a Python it supports"
        );
    }
    Ok(for_python)
}

fn artifact(file: &IndexFile) -> Artifact {
    Artifact {
        url: Some(file.url.clone()),
        path: None,
        filename: Some(file.filename.clone()),
        hash: file.sha256.as_ref().map(|sha| format!("sha256:{sha}")),
        size: file.size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(filename: &str, sha256: Option<&str>, requires_python: Option<&str>) -> IndexFile {
        IndexFile {
            filename: filename.into(),
            url: format!("https://files.example/{filename}"),
            sha256: sha256.map(str::to_owned),
            size: None,
            requires_python: requires_python.map(str::to_owned),
            yanked: None,
        }
    }

    fn lookup(hashes: &[&str]) -> IndexLookup {
        IndexLookup {
            indexes: vec![IndexUrl::pypi()],
            filenames: Vec::new(),
            hashes: hashes.iter().map(|h| h.to_string()).collect(),
            pinned_at: "requirements.txt:3".into(),
        }
    }

    fn names(files: &[IndexFile]) -> Vec<&str> {
        files.iter().map(|f| f.filename.as_str()).collect()
    }

    #[test]
    fn keeps_files_with_a_locked_hash_for_the_python() {
        let python = Version::from_str("3.11.2").unwrap();
        let files = || {
            vec![
                file("a-1.0-py3-none-any.whl", Some("aa"), Some(">=3.8")),
                file("a-1.0.tar.gz", Some("bb"), None),
                file(
                    "a-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
                    Some("cc"),
                    Some(">=3.12"),
                ),
                file("a-1.0-cp39-cp39-win32.whl", None, None),
            ]
        };
        let index = IndexUrl::pypi();
        let all = usable(files(), &lookup(&[]), &index, "a 1.0", &python).unwrap();
        assert_eq!(names(&all), ["a-1.0-py3-none-any.whl", "a-1.0.tar.gz"]);
        let hashed = usable(files(), &lookup(&["bb", "zz"]), &index, "a 1.0", &python).unwrap();
        assert_eq!(names(&hashed), ["a-1.0.tar.gz"]);

        let err = usable(files(), &lookup(&["zz"]), &index, "a 1.0", &python)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "none of the 4 files pypi.org has for a 1.0 matches a hash in requirements.txt:3"
            ),
            "{err}"
        );
        let only_new = vec![file("a-1.0-py3-none-any.whl", Some("aa"), Some(">=3.12"))];
        let err = usable(only_new, &lookup(&[]), &index, "a 1.0", &python)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a 1.0 requires Python >=3.12, and the image has 3.11.2"),
            "{err}"
        );
        let unhashed = vec![file("a-1.0-py3-none-any.whl", None, None)];
        let err = usable(unhashed, &lookup(&[]), &index, "a 1.0", &python)
            .unwrap_err()
            .to_string();
        assert!(err.contains("without a sha256"), "{err}");
    }
}
