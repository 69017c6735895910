//! Lockfiles: one reader per kind, each yielding the pinned distributions a target
//! needs as [`LockedPackage`]s. A new lockfile kind is a file here and a variant of
//! [`Lockfile`] and [`Lock`]; build, init, verify and the fuzzers see only [`Lock`].

mod package;
pub mod poetry;
pub mod requirements;
pub mod uv;

pub use package::{Artifact, IndexLookup, IndexUrl, LockedPackage};
pub use poetry::PoetryLock;
pub use requirements::RequirementsLock;
pub use uv::UvLock;

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Result, bail};
use uv_pep508::MarkerEnvironment;

use super::project::Project;

/// Which kind of file pins what the image installs, as found in the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lockfile {
    Uv,
    Poetry,
    Requirements,
}

/// The lockfiles pyship looks for, in the order it names them.
const KNOWN: [(&str, Lockfile); 3] = [
    ("uv.lock", Lockfile::Uv),
    ("poetry.lock", Lockfile::Poetry),
    ("requirements.txt", Lockfile::Requirements),
];

impl Lockfile {
    pub fn file_name(&self) -> &'static str {
        match self {
            Lockfile::Uv => "uv.lock",
            Lockfile::Poetry => "poetry.lock",
            Lockfile::Requirements => "requirements.txt",
        }
    }

    /// Finds the project's lockfile: `chosen` (a flag) or `[tool.pyship] lockfile` settles
    /// a project that has several, `[tool.pyship] requirements` chooses requirements
    /// files; otherwise exactly one must be present.
    pub fn find(project: &Project, chosen: Option<&str>) -> Result<Lockfile> {
        // A workspace member's lock is the workspace's.
        let root = project.lock_dir();
        if let Some(name) = chosen.or(project.config.lockfile.as_deref()) {
            let Some((_, kind)) = KNOWN.iter().find(|(known, _)| *known == name) else {
                bail!(
                    "the lockfile {name:?} is not one pyship knows: use uv.lock, poetry.lock or requirements.txt"
                );
            };
            if !root.join(name).is_file() {
                bail!(
                    "{} does not exist: create it or choose another lockfile",
                    root.join(name).display()
                );
            }
            return Ok(kind.clone());
        }
        if project.config.requirements.is_some() {
            return Ok(Lockfile::Requirements);
        }
        let present: Vec<&(&str, Lockfile)> = KNOWN
            .iter()
            .filter(|(name, _)| root.join(name).is_file())
            .collect();
        match present[..] {
            [] => bail!(
                "{} has no lockfile: add uv.lock (`uv lock`), poetry.lock (`poetry lock`) or a pinned requirements.txt (`uv pip compile {} --generate-hashes -o requirements.txt`)",
                root.display(),
                if root.join("pyproject.toml").is_file() {
                    "pyproject.toml"
                } else {
                    "requirements.in"
                }
            ),
            [(_, kind)] => Ok(kind.clone()),
            _ => {
                let names: Vec<&str> = present.iter().map(|(name, _)| *name).collect();
                bail!(
                    "{} has {}: choose one with --lockfile {} (or [tool.pyship] lockfile), or delete the ones you no longer use",
                    root.display(),
                    names.join(" and "),
                    names[0]
                )
            }
        }
    }
}

/// A project's lockfile, read: the one interface every command uses.
#[derive(Debug)]
pub enum Lock {
    Uv(UvLock),
    Poetry(PoetryLock),
    Requirements(RequirementsLock),
}

impl Lock {
    /// Finds the project's lockfile (see [`Lockfile::find`]) and reads it.
    pub fn read(project: &Project, chosen: Option<&str>) -> Result<Lock> {
        Lock::open(project, &Lockfile::find(project, chosen)?)
    }

    /// Reads the project's lockfile of the given kind.
    pub fn open(project: &Project, kind: &Lockfile) -> Result<Lock> {
        let path = project.lock_dir().join(kind.file_name());
        match kind {
            Lockfile::Uv => Ok(Lock::Uv(UvLock::parse(&path)?)),
            Lockfile::Requirements => Ok(Lock::Requirements(RequirementsLock::read(project)?)),
            Lockfile::Poetry => Ok(Lock::Poetry(PoetryLock::read(&project.root)?)),
        }
    }

    /// Every file this lock was read from (includes too), as paths from the working
    /// directory: what a build's provenance records.
    pub fn files(&self, project: &Project) -> Vec<PathBuf> {
        match self {
            Lock::Uv(_) => vec![project.lock_dir().join(Lockfile::Uv.file_name())],
            Lock::Poetry(_) => vec![project.root.join(Lockfile::Poetry.file_name())],
            Lock::Requirements(lock) => lock.inputs.iter().map(|f| project.root.join(f)).collect(),
        }
    }

    /// The file to name when an install lacks a package one of its packages needs, for
    /// a lock no resolver vouches for: a requirements file may pin only the top-level
    /// packages, while a resolver's lock always lists every dependency.
    pub fn unresolved_file(&self) -> Option<String> {
        match self {
            Lock::Uv(_) | Lock::Poetry(_) => None,
            Lock::Requirements(lock) => Some(
                lock.files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" and "),
            ),
        }
    }

    /// Refuses a lock that no longer matches what the project asks for, naming each
    /// difference, as the lockfile's own tool would.
    pub fn ensure_fresh(&self, project: &Project) -> Result<()> {
        match self {
            Lock::Uv(lock) => lock.ensure_fresh(project),
            Lock::Poetry(lock) => lock.ensure_fresh(),
            Lock::Requirements(lock) => lock.ensure_fresh(project),
        }
    }

    /// The packages the project needs at run time in `env`, with the optional parts
    /// `selection` names; never development-only packages unless selected.
    pub fn runtime_packages(
        &self,
        project: &Project,
        env: &MarkerEnvironment,
        selection: &Selection,
    ) -> Result<Vec<LockedPackage>> {
        match self {
            Lock::Uv(lock) => lock.runtime_packages(project, env, selection),
            Lock::Poetry(lock) => lock.runtime_packages(env, selection),
            Lock::Requirements(lock) => lock.runtime_packages(project, env, selection),
        }
    }

    /// The project and the local packages it needs (workspace members, path
    /// dependencies) that are built from their directories into wheels, as uv and
    /// Poetry install them; requirements services run from /app.
    pub fn local_packages(
        &self,
        project: &Project,
        env: &MarkerEnvironment,
        selection: &Selection,
    ) -> Result<Vec<LockedPackage>> {
        match self {
            Lock::Uv(lock) => lock.local_packages(project, env, selection),
            Lock::Poetry(lock) => lock.local_packages(project, env, selection),
            Lock::Requirements(lock) => lock.local_packages(project),
        }
    }

    /// Refuses extras and groups the project does not declare where this lockfile's
    /// tool reads them, before anything is downloaded.
    pub fn check_selection(&self, project: &Project, selection: &Selection) -> Result<()> {
        match self {
            Lock::Poetry(lock) => lock.selected(selection).map(drop),
            _ => {
                selection.extras(project)?;
                selection.groups(project).map(drop)
            }
        }
    }

    /// Normalized names of the packages only development needs: what must not be in a
    /// production image.
    pub fn dev_only_packages(
        &self,
        project: &Project,
        env: &MarkerEnvironment,
    ) -> Result<BTreeSet<String>> {
        match self {
            Lock::Uv(lock) => lock.dev_only_packages(project, env),
            Lock::Poetry(lock) => lock.dev_only_packages(env),
            Lock::Requirements(lock) => lock.dev_only_packages(project, env),
        }
    }
}

/// Which optional parts of the project an image gets, with uv's names: extras
/// (`--extra`, `--all-extras`) and dependency groups (`--group`). By default, the
/// project's own dependencies only.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub extras: Vec<String>,
    pub all_extras: bool,
    pub groups: Vec<String>,
}

impl Selection {
    /// The extras to install, normalized; an extra the project does not declare is an error.
    pub fn extras(&self, project: &Project) -> Result<Vec<String>> {
        let declared: Vec<String> = project
            .optional_dependencies
            .keys()
            .map(|e| normalize(e))
            .collect();
        if self.all_extras {
            return Ok(declared);
        }
        self.extras
            .iter()
            .map(|extra| {
                let name = normalize(extra);
                if !declared.contains(&name) {
                    bail!(
                        "the extra {extra:?} is not in [project.optional-dependencies] of {} (it has: {}): check the name",
                        project.name,
                        none_if_empty(&declared)
                    );
                }
                Ok(name)
            })
            .collect()
    }

    /// The dependency groups to install; a group the project does not declare is an error.
    pub fn groups(&self, project: &Project) -> Result<Vec<String>> {
        self.groups
            .iter()
            .map(|group| {
                let found = project
                    .dependency_groups
                    .keys()
                    .find(|g| normalize(g) == normalize(group));
                match found {
                    Some(name) => Ok(name.clone()),
                    None => bail!(
                        "the dependency group {group:?} is not in [dependency-groups] of {} (it has: {}): check the name",
                        project.name,
                        none_if_empty(&project.dependency_groups.keys().cloned().collect::<Vec<_>>())
                    ),
                }
            })
            .collect()
    }
}

fn none_if_empty(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// PEP 503 name normalization: lowercase, runs of `-_.` become `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_dash = false;
    for ch in name.chars() {
        if matches!(ch, '-' | '_' | '.') {
            if !last_dash {
                out.push('-');
            }
            last_dash = true;
        } else {
            out.push(ch.to_ascii_lowercase());
            last_dash = false;
        }
    }
    out
}
