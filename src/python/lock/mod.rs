//! Lockfiles: one reader per kind, each yielding the pinned distributions a target
//! needs. A new lockfile kind is a new file here.

pub mod poetry;
pub mod uv;

pub use uv::{Artifact, LockedPackage, UvLock};

use anyhow::{Result, bail};

use super::project::Project;

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
