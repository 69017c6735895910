//! The closure of a set of root packages over `Depends` and `Pre-Depends`: for each
//! relation, the first satisfiable alternative (one already chosen wins), the newest
//! version that meets its constraint, real packages before virtual ones.
//!
//! Some packages exist to run things at install time or to give a shell; nothing in a
//! pyship base runs them, so relations on them are dropped and reported, never followed.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use super::packages::Candidate;
use super::relation::{Alternative, Relation};

/// Packages a base never gets unless the user names them: package managers, maintainer
/// script helpers, shells and the tools shell scripts call.
pub const EXCLUDED: &[&str] = &[
    "adduser",
    "awk",
    "base-passwd",
    "bash",
    "coreutils",
    "dash",
    "debconf",
    "debconf-2.0",
    "debianutils",
    "diffutils",
    "dpkg",
    "findutils",
    "grep",
    "gzip",
    "init-system-helpers",
    "install-info",
    "libc-bin",
    "login",
    "lsb-base",
    "mawk",
    "mount",
    "ncurses-bin",
    "openssl",
    "passwd",
    "perl",
    "perl-base",
    "sed",
    "sensible-utils",
    "sysvinit-utils",
    "tar",
    "util-linux",
];

/// Every package of the suites read, by name, newest version first, and who provides what.
pub struct Universe {
    by_name: HashMap<String, Vec<Candidate>>,
    providers: HashMap<String, Vec<(usize, String)>>,
}

#[derive(Debug)]
pub struct Closure {
    /// Sorted by name.
    pub packages: Vec<Candidate>,
    /// Names of dependencies deliberately left out, sorted.
    pub omitted: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ClosureError {
    /// A root names no package, real or virtual; with close names the index has.
    UnknownRoot { name: String, close: Vec<String> },
    /// No version of any alternative meets the relation.
    Unsatisfiable { package: String, relation: String },
}

impl Universe {
    /// Collects candidates; the same name and version from several suites keeps the first.
    pub fn new(candidates: impl IntoIterator<Item = Candidate>) -> Universe {
        let mut by_name: HashMap<String, Vec<Candidate>> = HashMap::new();
        for candidate in candidates {
            let versions = by_name.entry(candidate.package.name.clone()).or_default();
            if !versions.iter().any(|c| c.version == candidate.version) {
                versions.push(candidate);
            }
        }
        let mut providers: HashMap<String, Vec<(usize, String)>> = HashMap::new();
        for versions in by_name.values_mut() {
            versions.sort_by(|a, b| b.version.cmp(&a.version));
            for (index, candidate) in versions.iter().enumerate() {
                for provided in &candidate.provides {
                    providers
                        .entry(provided.name.clone())
                        .or_default()
                        .push((index, candidate.package.name.clone()));
                }
            }
        }
        for list in providers.values_mut() {
            list.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        }
        Universe { by_name, providers }
    }

    /// The newest version of `name`, if the suites carry it as a real package.
    pub fn newest(&self, name: &str) -> Option<&Candidate> {
        self.by_name.get(name).and_then(|v| v.first())
    }

    pub fn knows(&self, name: &str) -> bool {
        self.by_name.contains_key(name) || self.providers.contains_key(name)
    }

    /// Names a typo away from `name` (one edit per four characters), at most three.
    pub fn close_names(&self, name: &str) -> Vec<String> {
        let allowed = (name.len() / 4).max(1);
        let mut scored: Vec<(usize, &String)> = self
            .by_name
            .keys()
            .map(|known| (strsim::levenshtein(name, known), known))
            .filter(|(distance, _)| *distance <= allowed)
            .collect();
        scored.sort();
        scored.into_iter().take(3).map(|(_, n)| n.clone()).collect()
    }

    /// Resolves `roots`; `excluded` names are never chosen.
    pub fn closure(
        &self,
        roots: &[String],
        excluded: &BTreeSet<String>,
    ) -> Result<Closure, ClosureError> {
        let mut chosen: BTreeMap<String, &Candidate> = BTreeMap::new();
        let mut omitted = BTreeSet::new();
        // (who asks, for what, and whether the user named it: a root is never excluded)
        let mut queue: VecDeque<(String, Relation, bool)> = VecDeque::new();
        let nothing = BTreeSet::new();
        for root in roots {
            if !self.knows(root) {
                return Err(ClosureError::UnknownRoot {
                    name: root.clone(),
                    close: self.close_names(root),
                });
            }
            let alternative = Alternative {
                name: root.clone(),
                constraint: None,
            };
            queue.push_back((
                root.clone(),
                Relation {
                    alternatives: vec![alternative],
                },
                true,
            ));
        }
        while let Some((from, relation, root)) = queue.pop_front() {
            if relation
                .alternatives
                .iter()
                .any(|alt| self.is_met(alt, &chosen))
            {
                continue;
            }
            match self.choose(&relation, if root { &nothing } else { excluded }) {
                Choice::Take(candidate) => {
                    chosen.insert(candidate.package.name.clone(), candidate);
                    for dependency in &candidate.depends {
                        queue.push_back((
                            candidate.package.name.clone(),
                            dependency.clone(),
                            false,
                        ));
                    }
                }
                Choice::Omit(name) => {
                    omitted.insert(name);
                }
                Choice::None => {
                    return Err(ClosureError::Unsatisfiable {
                        package: from,
                        relation: relation.to_string(),
                    });
                }
            }
        }
        Ok(Closure {
            packages: chosen.into_values().cloned().collect(),
            omitted: omitted.into_iter().collect(),
        })
    }

    /// True when a chosen package is, or provides, what `alt` asks for.
    fn is_met(&self, alt: &Alternative, chosen: &BTreeMap<String, &Candidate>) -> bool {
        if chosen
            .get(&alt.name)
            .is_some_and(|c| alt.allows(&c.version))
        {
            return true;
        }
        let Some(providers) = self.providers.get(&alt.name) else {
            return false;
        };
        providers.iter().any(|(_, provider)| {
            chosen
                .get(provider)
                .is_some_and(|c| provides_allowed(c, alt))
        })
    }

    /// The first alternative that can be met, in the order the maintainer wrote them;
    /// one that is excluded ends the search (a later one is a stand-in for it).
    fn choose(&self, relation: &Relation, excluded: &BTreeSet<String>) -> Choice<'_> {
        for alt in &relation.alternatives {
            if excluded.contains(&alt.name) {
                return Choice::Omit(alt.name.clone());
            }
            let real = self
                .by_name
                .get(&alt.name)
                .and_then(|versions| versions.iter().find(|c| alt.allows(&c.version)));
            if let Some(candidate) = real {
                return Choice::Take(candidate);
            }
            let mut excluded_provider = None;
            for (index, provider) in self.providers.get(&alt.name).into_iter().flatten() {
                let candidate = &self.by_name[provider][*index];
                if !provides_allowed(candidate, alt) {
                    continue;
                }
                if excluded.contains(provider) {
                    excluded_provider.get_or_insert_with(|| alt.name.clone());
                    continue;
                }
                return Choice::Take(candidate);
            }
            if let Some(name) = excluded_provider {
                return Choice::Omit(name);
            }
        }
        Choice::None
    }
}

enum Choice<'a> {
    Take(&'a Candidate),
    Omit(String),
    None,
}

/// True when `candidate` provides `alt.name` in a way that meets its constraint: an
/// unversioned Provides meets only unversioned relations (policy §7.5).
fn provides_allowed(candidate: &Candidate, alt: &Alternative) -> bool {
    candidate.provides.iter().any(|p| {
        p.name == alt.name
            && match (&alt.constraint, &p.constraint) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(_), Some((_, version))) => alt.allows(version),
            }
    })
}

#[cfg(test)]
mod tests {
    use super::super::packages::{Origin, read_index};
    use super::*;

    fn para(name: &str, version: &str, extra: &str) -> String {
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: amd64\n{extra}Filename: pool/{name}_{version}.deb\nSize: 1\nSHA256: {}\n\n",
            "a".repeat(64)
        )
    }

    fn universe() -> Universe {
        let index = [
            para("python3.11", "3.11.2-6", "Depends: python3.11-minimal (= 3.11.2-6), libpython3.11-stdlib (= 3.11.2-6), media-types | mime-support, tzdata\n"),
            para("python3.11", "3.11.2-6+deb12u5", "Depends: python3.11-minimal (= 3.11.2-6+deb12u5), libpython3.11-stdlib (= 3.11.2-6+deb12u5), media-types | mime-support, tzdata\n"),
            para("python3.11-minimal", "3.11.2-6+deb12u5", "Pre-Depends: libc6 (>= 2.36)\nDepends: libssl3 (>= 3.0.0), zlib1g\n"),
            para("libpython3.11-stdlib", "3.11.2-6+deb12u5", "Depends: libffi8, libsqlite3-0 (>= 3.36), debconf (>= 0.5) | debconf-2.0, mawk | awk\n"),
            para("libc6", "2.36-9+deb12u9", "Depends: libgcc-s1\n"),
            para("libgcc-s1", "12.2.0-14", "Depends: libc6 (>= 2.35)\n"),
            para("libssl3", "3.0.15-1~deb12u1", "Depends: libc6\n"),
            para("zlib1g", "1:1.2.13.dfsg-1", "Provides: libz1\n"),
            para("libffi8", "3.4.4-1", ""),
            para("libsqlite3-0", "3.40.1-2", "Depends: libc6\n"),
            para("sqlite-alt", "1.0", "Provides: libsqlite3-0 (= 3.50)\n"),
            para("media-types", "10.0.0", ""),
            para("tzdata", "2024a-0+deb12u1", "Depends: debconf (>= 0.5) | debconf-2.0\n"),
            para("debconf", "1.5.82", "Provides: debconf-2.0\n"),
            para("cdebconf", "0.270", "Provides: debconf-2.0\n"),
            para("mawk", "1.3.4", "Provides: awk\n"),
            para("needs-virtual", "1", "Depends: libz1\n"),
            para("needs-versioned-virtual", "1", "Depends: libz1 (>= 1)\n"),
            para("broken", "1", "Depends: libc6 (>= 3.0)\n"),
        ]
        .concat();
        Universe::new(read_index(&index, "amd64", Origin::Main).unwrap())
    }

    fn excluded() -> BTreeSet<String> {
        EXCLUDED.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn follows_dependencies_to_the_newest_fitting_versions() {
        let closure = universe()
            .closure(&["python3.11".into()], &excluded())
            .unwrap();
        let names: Vec<String> = closure
            .packages
            .iter()
            .map(|c| format!("{}={}", c.package.name, c.package.version))
            .collect();
        assert_eq!(
            names,
            [
                "libc6=2.36-9+deb12u9",
                "libffi8=3.4.4-1",
                "libgcc-s1=12.2.0-14",
                "libpython3.11-stdlib=3.11.2-6+deb12u5",
                "libsqlite3-0=3.40.1-2",
                "libssl3=3.0.15-1~deb12u1",
                "media-types=10.0.0",
                "python3.11=3.11.2-6+deb12u5",
                "python3.11-minimal=3.11.2-6+deb12u5",
                "tzdata=2024a-0+deb12u1",
                "zlib1g=1:1.2.13.dfsg-1",
            ]
        );
        assert_eq!(closure.omitted, ["debconf", "mawk"]);
    }

    #[test]
    fn virtual_packages_and_named_extras() {
        let u = universe();
        let c = u.closure(&["needs-virtual".into()], &excluded()).unwrap();
        assert!(c.packages.iter().any(|p| p.package.name == "zlib1g"));
        // An unversioned Provides does not meet a versioned relation.
        let err = u
            .closure(&["needs-versioned-virtual".into()], &excluded())
            .unwrap_err();
        assert_eq!(
            err,
            ClosureError::Unsatisfiable {
                package: "needs-versioned-virtual".into(),
                relation: "libz1 (>= 1)".into()
            }
        );
        // Naming an excluded package takes it in, a virtual one by its provider.
        let mut allowed = excluded();
        allowed.remove("debconf");
        let c = u.closure(&["tzdata".into()], &allowed).unwrap();
        assert!(c.packages.iter().any(|p| p.package.name == "debconf"));
        assert!(c.omitted.is_empty());
        let c = u.closure(&["awk".into()], &excluded()).unwrap();
        assert_eq!(c.packages[0].package.name, "mawk");
    }

    #[test]
    fn reports_unknown_roots_with_close_names_and_broken_relations() {
        let u = universe();
        let err = u.closure(&["libssl4".into()], &excluded()).unwrap_err();
        assert_eq!(
            err,
            ClosureError::UnknownRoot {
                name: "libssl4".into(),
                close: vec!["libssl3".into()]
            }
        );
        let err = u.closure(&["broken".into()], &excluded()).unwrap_err();
        assert!(
            matches!(err, ClosureError::Unsatisfiable { relation, .. } if relation == "libc6 (>= 3.0)")
        );
    }
}
