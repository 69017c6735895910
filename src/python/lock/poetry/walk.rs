//! From the project's requirements to the locked packages one environment installs:
//! markers evaluated for the target, extras followed, optional dependencies taken
//! only through the extras that name them.
//!
//! A name locked at several versions (one per Python range, say) is settled by the
//! requirement's constraint, the package's `python-versions` and, in lock-version 2.1,
//! the markers Poetry recorded for it; of what remains, the highest version wins, as
//! Poetry 1.x's installer would choose.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::str::FromStr;

use anyhow::{Result, bail};
use uv_normalize::ExtraName;
use uv_pep440::Version;
use uv_pep508::{MarkerEnvironment, MarkerTree};

use super::file::{LockFile, Package, PackageMarkers};
use super::requirement::{Requirement, name_of, python_allows};
use crate::python::lock::normalize;
use crate::python::poetry_constraint::Constraint;

/// What a walk is for: the target, and the project's selected extras and groups (which
/// lock-version 2.1 markers may name).
pub struct Walk<'lock, 'a> {
    pub lock: &'lock LockFile,
    pub env: &'a MarkerEnvironment,
    pub root_extras: &'a [String],
    /// The groups installed, `main` included.
    pub groups: &'a [String],
}

impl<'lock> Walk<'lock, '_> {
    /// Every locked package `start` needs, sorted by normalized name.
    pub fn closure(&self, start: &[Requirement]) -> Result<Vec<&'lock Package>> {
        let mut queue: VecDeque<(Requirement, String)> = start
            .iter()
            .filter(|r| r.applies(self.env, self.root_extras))
            .map(|r| (r.clone(), "the project".to_owned()))
            .collect();
        // Package index to the extras it is installed with.
        let mut taken: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
        while let Some((requirement, wanted_by)) = queue.pop_front() {
            if requirement.name == "python" {
                continue;
            }
            let index = self.choose(&requirement, &wanted_by)?;
            let first = !taken.contains_key(&index);
            let extras = taken.entry(index).or_default();
            let before = extras.len();
            extras.extend(requirement.extras.iter().cloned());
            if !first && extras.len() == before {
                continue;
            }
            let extras: Vec<String> = extras.iter().cloned().collect();
            let package = &self.lock.packages[index];
            for dependency in self.dependencies(package, &extras)? {
                queue.push_back((dependency, package.name.clone()));
            }
        }
        let mut packages: Vec<&Package> = taken.keys().map(|&i| &self.lock.packages[i]).collect();
        packages.sort_by_key(|p| (normalize(&p.name), p.version.clone()));
        Ok(packages)
    }

    /// The requirements of `package` installed with `extras` that hold in this environment.
    fn dependencies(&self, package: &Package, extras: &[String]) -> Result<Vec<Requirement>> {
        let enabled: BTreeSet<String> = package
            .extras
            .iter()
            .filter(|(extra, _)| extras.contains(&normalize(extra)))
            .flat_map(|(_, reqs)| reqs.iter().map(|r| name_of(r)))
            .collect();
        let mut out = Vec::new();
        for (name, value) in &package.dependencies {
            let reqs = Requirement::from_poetry(name, value).map_err(|err| {
                anyhow::anyhow!(
                    "poetry.lock: {} {}: {err:#}: regenerate it with `poetry lock`",
                    package.name,
                    package.version
                )
            })?;
            out.extend(reqs.into_iter().filter(|r| {
                (!r.optional || enabled.contains(&r.name)) && r.applies(self.env, extras)
            }));
        }
        Ok(out)
    }

    /// The index of the locked package that satisfies `requirement` here.
    fn choose(&self, requirement: &Requirement, wanted_by: &str) -> Result<usize> {
        let named = self.lock.named(&requirement.name);
        match *named {
            [] => bail!(
                "poetry.lock has no entry for {:?}, which {wanted_by} requires: run `poetry lock`",
                requirement.name
            ),
            [one] => return Ok(one),
            _ => {}
        }
        let fitting = named
            .iter()
            .copied()
            .filter(|&i| self.fits(&self.lock.packages[i], &requirement.constraint))
            .max_by_key(|&i| Version::from_str(&self.lock.packages[i].version).ok());
        fitting.ok_or_else(|| {
            anyhow::anyhow!(
                "poetry.lock locks {:?} at {} versions, none of them for Python {} on {}: run `poetry lock`",
                requirement.name,
                named.len(),
                self.env.python_full_version().version,
                self.env.sys_platform()
            )
        })
    }

    /// True when `package` satisfies `constraint` and was locked for this environment.
    fn fits(&self, package: &Package, constraint: &Constraint) -> bool {
        let Ok(version) = Version::from_str(&package.version) else {
            return false;
        };
        if !constraint.contains(&version) {
            return false;
        }
        let python_ok = package
            .python_versions
            .as_deref()
            .and_then(|text| Constraint::parse(text).ok())
            .is_none_or(|python| python_allows(&python, self.env));
        python_ok && self.marked_for_here(package)
    }

    /// lock-version 2.1: whether Poetry's markers for the installed groups hold here
    /// (true when the lock has none).
    pub fn marked_for_here(&self, package: &Package) -> bool {
        let Some(groups) = &package.groups else {
            return true;
        };
        let extras: Vec<ExtraName> = self
            .root_extras
            .iter()
            .filter_map(|e| ExtraName::from_str(e).ok())
            .collect();
        let holds = |marker: Option<&String>| {
            marker.is_none_or(|m| {
                MarkerTree::from_str(m).is_ok_and(|tree| tree.evaluate(self.env, &extras))
            })
        };
        groups
            .iter()
            .filter(|g| self.groups.contains(&normalize(g)))
            .any(|group| match &package.markers {
                None => true,
                Some(PackageMarkers::All(marker)) => holds(Some(marker)),
                Some(PackageMarkers::PerGroup(by_group)) => holds(by_group.get(group)),
            })
    }
}
