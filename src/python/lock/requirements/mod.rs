//! Pinned requirements files as the lock: every requirement `==` one version, with
//! `--hash` on all of them or on none (pip's hash-checking mode), markers evaluated
//! per target as uv does. The file lists the whole set to install, as `pip-compile`
//! and `uv pip compile` write it; the files themselves are found on the indexes the
//! file names (see `python::simple_api`).

mod parse;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Result, bail};
use uv_pep440::Operator;
use uv_pep508::{MarkerEnvironment, VersionOrUrl};

use self::parse::{Entry, Location, Parsed};
use super::{IndexLookup, IndexUrl, LockedPackage, Selection, normalize};
use crate::python::project::Project;

/// The files read as the service's lock.
#[derive(Debug)]
pub struct RequirementsLock {
    /// The files named (`[tool.pyship] requirements`, else `requirements.txt`), relative
    /// to the project.
    pub files: Vec<PathBuf>,
    /// Every file read, includes too: what a Dockerfile must copy to install the files.
    pub inputs: Vec<PathBuf>,
    /// True when the files carry `--hash` options (then every requirement does).
    pub hashed: bool,
    /// The first line that installs the project itself (`-e .`), if any.
    pub installs_project: Option<Location>,
    pins: Vec<Pin>,
    indexes: Vec<IndexUrl>,
}

/// One requirement of the files with the version it is pinned to.
#[derive(Debug, Clone)]
struct Pin {
    entry: Entry,
    version: String,
}

impl RequirementsLock {
    /// Reads the project's requirements files: `[tool.pyship] requirements`, else
    /// `requirements.txt`.
    pub fn read(project: &Project) -> Result<RequirementsLock> {
        let files: Vec<PathBuf> = match &project.config.requirements {
            Some(files) if files.is_empty() => bail!(
                "[tool.pyship] requirements is empty: name the files that pin the service, such as [\"requirements.txt\"]"
            ),
            Some(files) => files.iter().map(PathBuf::from).collect(),
            None => vec![PathBuf::from("requirements.txt")],
        };
        let parsed = parse::parse(&project.root, &files)?;
        Self::from_parsed(&project.root, files, parsed)
    }

    fn from_parsed(root: &Path, files: Vec<PathBuf>, parsed: Parsed) -> Result<RequirementsLock> {
        let constraints: BTreeMap<String, Vec<&Entry>> = parsed
            .entries
            .iter()
            .filter(|e| e.constraint)
            .fold(BTreeMap::new(), |mut map, entry| {
                map.entry(normalize(entry.requirement.name.as_ref()))
                    .or_insert_with(Vec::new)
                    .push(entry);
                map
            });
        let mut pins = Vec::new();
        for entry in parsed.entries.iter().filter(|e| !e.constraint) {
            let name = normalize(entry.requirement.name.as_ref());
            let pinned = pinned_version(entry).or_else(|| {
                // An unpinned requirement pinned by a constraint, as pip applies `-c`.
                constraints
                    .get(&name)?
                    .iter()
                    .find_map(|c| pinned_version(c))
            });
            let Some(version) = pinned else {
                bail!(
                    "{}: `{}` is not pinned to one version: pin the whole set with `{}`",
                    entry.at,
                    entry.text,
                    compile_command(root, &entry.at)
                );
            };
            let mut entry = entry.clone();
            if entry.hashes.is_empty() {
                // A constraint's hashes vouch for the version it pins.
                entry.hashes = constraints
                    .get(&name)
                    .into_iter()
                    .flatten()
                    .filter(|c| pinned_version(c).as_deref() == Some(version.as_str()))
                    .flat_map(|c| c.hashes.clone())
                    .collect();
            }
            pins.push(Pin { entry, version });
        }
        let hashed =
            parsed.require_hashes.is_some() || pins.iter().any(|p| !p.entry.hashes.is_empty());
        if hashed && let Some(bare) = pins.iter().find(|p| p.entry.hashes.is_empty()) {
            let why = match (
                &parsed.require_hashes,
                pins.iter().find(|p| !p.entry.hashes.is_empty()),
            ) {
                (_, Some(hashed)) => format!("{} has one", hashed.entry.at),
                (Some(at), None) => format!("{at} asks for them with --require-hashes"),
                (None, None) => unreachable!("hashed without a hash or --require-hashes"),
            };
            bail!(
                "{}: `{}` has no --hash, but {why} and pip's hash-checking mode needs one on every requirement: regenerate the hashes with `{}`",
                bare.entry.at,
                bare.entry.text,
                compile_command(root, &bare.entry.at)
            );
        }
        let mut indexes = vec![parsed.index_url.clone().unwrap_or_else(IndexUrl::pypi)];
        for extra in parsed.extra_index_urls {
            if !indexes.iter().any(|i| i.url == extra.url) {
                indexes.push(extra);
            }
        }
        Ok(RequirementsLock {
            files,
            inputs: parsed.files,
            hashed,
            installs_project: parsed.project_lines.first().cloned(),
            pins,
            indexes,
        })
    }

    /// A requirements file records no inputs to compare with. When the project declares
    /// `[project] dependencies`, each one (without a marker, which only a target can
    /// judge) must be pinned to a version it accepts.
    pub fn ensure_fresh(&self, project: &Project) -> Result<()> {
        let mut differences = Vec::new();
        for text in &project.dependencies {
            let Ok(wanted) = uv_pep508::Requirement::<uv_pep508::VerbatimUrl>::from_str(text)
            else {
                bail!("pyproject.toml: {text:?} is not a valid requirement: fix it");
            };
            if !wanted.marker.is_true() {
                continue;
            }
            let name = normalize(wanted.name.as_ref());
            let pinned: Vec<&Pin> = self
                .pins
                .iter()
                .filter(|p| normalize(p.entry.requirement.name.as_ref()) == name)
                .collect();
            if pinned.is_empty() {
                differences.push(format!("{} is not pinned", wanted.name));
                continue;
            }
            if let Some(VersionOrUrl::VersionSpecifier(spec)) = &wanted.version_or_url {
                let accepted = pinned.iter().any(|p| {
                    uv_pep440::Version::from_str(&p.version).is_ok_and(|v| spec.contains(&v))
                });
                if !accepted {
                    differences.push(format!(
                        "{} is pinned to {} but pyproject.toml asks for {spec}",
                        wanted.name, pinned[0].version
                    ));
                }
            }
        }
        if differences.is_empty() {
            return Ok(());
        }
        let file = self.files[0].display();
        bail!(
            "{file} is out of date with pyproject.toml ({}): regenerate it with `uv pip compile pyproject.toml --generate-hashes -o {file}`",
            differences.join("; ")
        )
    }

    /// The pinned packages whose markers hold in `env`, each to be found on the files'
    /// indexes. A requirements file has no extras or groups to choose.
    pub fn runtime_packages(
        &self,
        project: &Project,
        env: &MarkerEnvironment,
        selection: &Selection,
    ) -> Result<Vec<LockedPackage>> {
        if !selection.extras(project)?.is_empty() || !selection.groups(project)?.is_empty() {
            bail!(
                "{} pins one set of packages, with no extras or groups to choose: pin what they need in a requirements file of its own and add it to [tool.pyship] requirements",
                self.files[0].display()
            );
        }
        let mut chosen: BTreeMap<String, Pin> = BTreeMap::new();
        for pin in self
            .pins
            .iter()
            .filter(|p| p.entry.requirement.marker.evaluate(env, &[]))
        {
            let name = normalize(pin.entry.requirement.name.as_ref());
            match chosen.get_mut(&name) {
                Some(first) if first.version != pin.version => bail!(
                    "{} pins {} {} but {} pins {}: keep one version (`uv pip compile` writes one)",
                    first.entry.at,
                    name,
                    first.version,
                    pin.entry.at,
                    pin.version
                ),
                Some(first) => first.entry.hashes.extend(pin.entry.hashes.iter().cloned()),
                None => {
                    chosen.insert(name, pin.clone());
                }
            }
        }
        Ok(chosen.into_values().map(|pin| self.locked(pin)).collect())
    }

    /// The project itself, built from its directory like any local package, when a
    /// line installs it (`-e .`, `.`) as pip would; none otherwise.
    pub fn local_packages(&self, project: &Project) -> Result<Vec<LockedPackage>> {
        let Some(at) = &self.installs_project else {
            return Ok(Vec::new());
        };
        let Some(declared) = build_system(&project.root) else {
            bail!(
                "{at}: the line installs the project, which has neither a setup.py nor a pyproject.toml with [project] or [build-system] to build it from: remove the line, or give the project a build system"
            );
        };
        Ok(vec![LockedPackage {
            // Empty when only setup.py knows it: the built wheel then names it.
            name: if declared {
                project.name.clone()
            } else {
                String::new()
            },
            version: if declared {
                project.version.clone()
            } else {
                None
            },
            directory: Some(".".to_owned()),
            ..LockedPackage::default()
        }])
    }

    fn locked(&self, pin: Pin) -> LockedPackage {
        let mut hashes = pin.entry.hashes;
        hashes.sort();
        hashes.dedup();
        LockedPackage {
            name: pin.entry.requirement.name.to_string(),
            version: Some(pin.version),
            lookup: Some(IndexLookup {
                indexes: self.indexes.clone(),
                filenames: Vec::new(),
                hashes,
                pinned_at: pin.entry.at.to_string(),
            }),
            ..LockedPackage::default()
        }
    }

    /// What only development needs: packages listed in the project's dev and test
    /// requirements files (`requirements-dev.txt`, `requirements/test.txt`, …) and not in
    /// the runtime set. Such files are read leniently: they are often unpinned.
    pub fn dev_only_packages(
        &self,
        project: &Project,
        env: &MarkerEnvironment,
    ) -> Result<BTreeSet<String>> {
        let runtime: BTreeSet<String> = self
            .pins
            .iter()
            .filter(|p| p.entry.requirement.marker.evaluate(env, &[]))
            .map(|p| normalize(p.entry.requirement.name.as_ref()))
            .collect();
        let mut dev = BTreeSet::new();
        for file in dev_files(&project.root, &self.inputs) {
            let Ok(parsed) = parse::parse(&project.root, &[file]) else {
                continue;
            };
            dev.extend(
                parsed
                    .entries
                    .iter()
                    .filter(|e| !e.constraint && e.requirement.marker.evaluate(env, &[]))
                    .map(|e| normalize(e.requirement.name.as_ref()))
                    .filter(|name| !runtime.contains(name)),
            );
        }
        Ok(dev)
    }
}

/// Whether pip could build `root` into a wheel: `Some(true)` when pyproject.toml
/// declares the project (so its name is known), `Some(false)` when only a setup.py or
/// a `[build-system]` can say, none when nothing can build it.
fn build_system(root: &Path) -> Option<bool> {
    let table = std::fs::read_to_string(root.join("pyproject.toml"))
        .ok()
        .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
        .unwrap_or_default();
    if table.contains_key("project") {
        Some(true)
    } else if table.contains_key("build-system") || root.join("setup.py").is_file() {
        Some(false)
    } else {
        None
    }
}

/// The version an `==` (or `===`) requirement pins; `==1.*` pins none.
fn pinned_version(entry: &Entry) -> Option<String> {
    let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &entry.requirement.version_or_url else {
        return None;
    };
    match specifiers.iter().collect::<Vec<_>>()[..] {
        [only] if matches!(only.operator(), Operator::Equal | Operator::ExactEqual) => {
            Some(only.version().to_string())
        }
        _ => None,
    }
}

/// The command that pins a file: from its `.in` source when there is one, else from
/// pyproject.toml when the project declares its dependencies there.
fn compile_command(root: &Path, at: &Location) -> String {
    let file = Path::new(&at.file);
    let source = file.with_extension("in");
    let source = if root.join(&source).is_file() || !root.join("pyproject.toml").is_file() {
        source.display().to_string()
    } else {
        "pyproject.toml".to_owned()
    };
    format!(
        "uv pip compile {source} --generate-hashes -o {}",
        file.display()
    )
}

/// Requirements files whose names say they are for development or tests, in the
/// project's root and its `requirements/` folder, not among the ones the image uses.
fn dev_files(root: &Path, used: &[PathBuf]) -> Vec<PathBuf> {
    const DEV: [&str; 10] = [
        "dev",
        "develop",
        "development",
        "test",
        "tests",
        "testing",
        "lint",
        "docs",
        "doc",
        "ci",
    ];
    let mut found = Vec::new();
    for dir in [Path::new(""), Path::new("requirements")] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let Some(stem) = name
                .strip_suffix(".txt")
                .or_else(|| name.strip_suffix(".in"))
            else {
                continue;
            };
            let in_folder = !dir.as_os_str().is_empty();
            let words: Vec<String> = stem
                .to_ascii_lowercase()
                .split(['-', '_', '.'])
                .map(str::to_owned)
                .collect();
            let requirements_like = in_folder || words.iter().any(|w| w.starts_with("requirement"));
            let path = dir.join(&name);
            if requirements_like
                && words.iter().any(|w| DEV.contains(&w.as_str()))
                && !used.contains(&path)
                && root.join(&path).is_file()
            {
                found.push(path);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::platform::ImagePlatform;
    use crate::python::target::Target;

    const A: &str = "b4ce2265a7abece45e7cc896e98dbebe6cead56bcf805a3d23136d145f5445bf";
    const B: &str = "ba0efaa9080b619ff2f3459d1d500c57bddea4a6b424b60a91141db6fd2f08bc";

    fn project(files: &[(&str, &str)]) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let project = Project::read(dir.path()).unwrap();
        (dir, project)
    }

    fn env(python: &str) -> MarkerEnvironment {
        Target::bookworm(ImagePlatform::Amd64, python)
            .unwrap()
            .marker_environment()
    }

    fn names(packages: &[LockedPackage]) -> Vec<String> {
        packages
            .iter()
            .map(|p| format!("{}=={}", p.name, p.version_str()))
            .collect()
    }

    #[test]
    fn pins_markers_and_hashes_become_packages_to_look_up() {
        let (_dir, project) = project(&[
            (
                "requirements.txt",
                &format!(
                    "--extra-index-url https://corp.example/simple\n-r base.txt\ngunicorn==23.0.0 --hash=sha256:{A}\ntomli==2.2.1 ; python_version < '3.11' --hash=sha256:{B}\n"
                ),
            ),
            (
                "base.txt",
                &format!("Flask[async]==3.1.0 --hash=sha256:{A} --hash=sha256:{B}\n"),
            ),
        ]);
        let lock = RequirementsLock::read(&project).unwrap();
        assert!(lock.hashed);
        assert_eq!(
            lock.inputs,
            [PathBuf::from("requirements.txt"), PathBuf::from("base.txt")]
        );
        let on_311 = lock
            .runtime_packages(&project, &env("3.11.2"), &Selection::default())
            .unwrap();
        assert_eq!(names(&on_311), ["flask==3.1.0", "gunicorn==23.0.0"]);
        let flask = on_311[0].lookup.as_ref().unwrap();
        assert_eq!(flask.hashes, [A, B]);
        assert_eq!(flask.pinned_at, "base.txt:1");
        let hosts: Vec<&str> = flask.indexes.iter().map(|i| i.url.as_str()).collect();
        assert_eq!(
            hosts,
            ["https://pypi.org/simple", "https://corp.example/simple"]
        );
        let on_310 = lock
            .runtime_packages(&project, &env("3.10.12"), &Selection::default())
            .unwrap();
        assert_eq!(names(&on_310).len(), 3);
        assert!(
            lock.dev_only_packages(&project, &env("3.11.2"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_constraint_pins_an_unpinned_requirement() {
        let (_dir, project) = project(&[
            ("requirements.txt", "-c constraints.txt\nflask\n"),
            ("constraints.txt", "flask==3.1.0\nunused==1.0\n"),
        ]);
        let lock = RequirementsLock::read(&project).unwrap();
        let packages = lock
            .runtime_packages(&project, &env("3.11.2"), &Selection::default())
            .unwrap();
        assert_eq!(names(&packages), ["flask==3.1.0"]);
        assert!(!lock.hashed);
    }

    #[test]
    fn loose_and_partly_hashed_files_are_refused_naming_the_line_and_the_fix() {
        for (text, expected) in [
            (
                "flask==3.1.0\nwerkzeug>=3\n",
                "requirements.txt:2: `werkzeug>=3` is not pinned to one version: pin the whole set with `uv pip compile requirements.in --generate-hashes -o requirements.txt`",
            ),
            ("flask\n", "requirements.txt:1: `flask` is not pinned"),
            (
                "flask==3.*\n",
                "requirements.txt:1: `flask==3.*` is not pinned",
            ),
            ("flask==3.1,<4\n", "is not pinned"),
            (
                &format!("flask==3.1.0 --hash=sha256:{A}\n\ngunicorn==23.0.0\n"),
                "requirements.txt:3: `gunicorn==23.0.0` has no --hash, but requirements.txt:1 has one",
            ),
            (
                "--require-hashes\nflask==3.1.0\n",
                "requirements.txt:2: `flask==3.1.0` has no --hash, but requirements.txt:1 asks for them with --require-hashes",
            ),
        ] {
            let (_dir, project) = project(&[("requirements.txt", text)]);
            let err = RequirementsLock::read(&project).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn two_versions_of_one_package_for_a_target_are_refused() {
        let (_dir, project) = project(&[(
            "requirements.txt",
            "numpy==1.26.4 ; python_version >= '3.11'\nnumpy==1.24.4 ; python_version < '3.12'\n",
        )]);
        let lock = RequirementsLock::read(&project).unwrap();
        let ok = lock.runtime_packages(&project, &env("3.12.1"), &Selection::default());
        assert_eq!(names(&ok.unwrap()), ["numpy==1.26.4"]);
        let err = lock
            .runtime_packages(&project, &env("3.11.2"), &Selection::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("requirements.txt:1 pins numpy 1.26.4 but requirements.txt:2 pins 1.24.4"),
            "{err}"
        );
    }

    #[test]
    fn staleness_checks_each_direct_dependency_is_pinned_to_a_version_it_accepts() {
        let pyproject = "[project]\nname = \"svc\"\ndependencies = [\"flask>=3.1\", \"gunicorn\", \"colorama; sys_platform == 'win32'\"]\n";
        let (_dir, fresh) = project(&[
            ("pyproject.toml", pyproject),
            ("requirements.txt", "flask==3.1.0\ngunicorn==23.0.0\n"),
        ]);
        RequirementsLock::read(&fresh)
            .unwrap()
            .ensure_fresh(&fresh)
            .unwrap();
        let (_dir, stale) = project(&[
            ("pyproject.toml", pyproject),
            ("requirements.txt", "flask==3.0.3\n"),
        ]);
        let err = RequirementsLock::read(&stale)
            .unwrap()
            .ensure_fresh(&stale)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("flask is pinned to 3.0.3 but pyproject.toml asks for >=3.1"),
            "{err}"
        );
        assert!(err.contains("gunicorn is not pinned"), "{err}");
        assert!(
            err.contains("uv pip compile pyproject.toml --generate-hashes -o requirements.txt"),
            "{err}"
        );
    }

    #[test]
    fn dev_and_test_files_name_what_must_not_ship() {
        let (_dir, project) = project(&[
            ("requirements.txt", "flask==3.1.0\n"),
            (
                "requirements-dev.txt",
                "-r requirements.txt\npytest\nruff>=0.5\n",
            ),
            ("requirements/test.in", "coverage\nflask\n"),
            ("requirements/prod.txt", "gunicorn==23.0.0\n"),
            ("docs-requirements.txt", "sphinx\n"),
        ]);
        let lock = RequirementsLock::read(&project).unwrap();
        let dev = lock.dev_only_packages(&project, &env("3.11.2")).unwrap();
        assert_eq!(
            dev.into_iter().collect::<Vec<_>>(),
            ["coverage", "pytest", "ruff", "sphinx"]
        );
    }

    #[test]
    fn tool_pyship_requirements_chooses_the_files() {
        let (_dir, project) = project(&[
            (
                "pyproject.toml",
                "[tool.pyship]\nrequirements = [\"requirements/main.txt\", \"requirements/server.txt\"]\n",
            ),
            ("requirements/main.txt", "flask==3.1.0\n"),
            ("requirements/server.txt", "gunicorn==23.0.0\n"),
            ("requirements.txt", "django==5.1\n"),
        ]);
        assert_eq!(
            super::super::Lockfile::find(&project, None).unwrap(),
            super::super::Lockfile::Requirements
        );
        let lock = RequirementsLock::read(&project).unwrap();
        let packages = lock
            .runtime_packages(&project, &env("3.11.2"), &Selection::default())
            .unwrap();
        assert_eq!(names(&packages), ["flask==3.1.0", "gunicorn==23.0.0"]);
    }
}
