//! Which lockfile pins the service's dependencies, and which packages it installs at
//! run time: the names entrypoint detection needs to tell uvicorn from gunicorn.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::oci::platform::ImagePlatform;
use crate::python::lock::{self, Lock, Selection, normalize};
use crate::python::project::Project;
use crate::python::target::Target;

/// The file that pins what the image installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lockfile {
    Uv,
    Poetry,
    /// A `requirements.txt` with every requirement pinned `==`; `hashed` when it carries
    /// `--hash` options, which then must cover every requirement.
    Requirements {
        hashed: bool,
    },
}

impl Lockfile {
    pub fn file_name(&self) -> &'static str {
        match self {
            Lockfile::Uv => "uv.lock",
            Lockfile::Poetry => "poetry.lock",
            Lockfile::Requirements { .. } => "requirements.txt",
        }
    }

    /// Finds the project's lockfile as `pyship build` does; `chosen` settles a project
    /// that has several.
    pub fn find(project: &Project, chosen: Option<&str>) -> Result<Lockfile> {
        Ok(match lock::Lockfile::find(project, chosen)? {
            lock::Lockfile::Uv => Lockfile::Uv,
            lock::Lockfile::Poetry => Lockfile::Poetry,
            lock::Lockfile::Requirements => Lockfile::Requirements {
                hashed: Requirements::read(&project.root.join("requirements.txt"))?.hashed,
            },
        })
    }

    /// The normalized names of the packages installed at run time (no dev groups).
    pub fn runtime_packages(&self, project: &Project, python_xy: &str) -> Result<Vec<String>> {
        let path = project.root.join(self.file_name());
        match self {
            Lockfile::Uv => {
                let lock = Lock::open(project, &lock::Lockfile::Uv)?;
                lock.ensure_fresh(project)?;
                let target = Target::bookworm(ImagePlatform::Amd64, &format!("{python_xy}.0"))?;
                let packages = lock.runtime_packages(
                    project,
                    &target.marker_environment(),
                    &Selection::default(),
                )?;
                Ok(packages.iter().map(|p| normalize(&p.name)).collect())
            }
            Lockfile::Poetry => poetry_main_packages(&path),
            Lockfile::Requirements { .. } => Ok(Requirements::read(&path)?.names),
        }
    }
}

#[derive(Deserialize)]
struct PoetryLock {
    #[serde(default)]
    package: Vec<PoetryPackage>,
}

#[derive(Deserialize)]
struct PoetryPackage {
    name: String,
    /// Poetry 2 lists the groups that need a package.
    groups: Option<Vec<String>>,
    /// Poetry 1 wrote `main` or `dev`.
    category: Option<String>,
}

fn poetry_main_packages(path: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let lock: PoetryLock = toml::from_str(&text).map_err(|err| {
        anyhow::anyhow!(
            "{} is not a poetry lockfile ({}): regenerate it with `poetry lock`",
            path.display(),
            err.message()
        )
    })?;
    Ok(lock
        .package
        .iter()
        .filter(|p| match (&p.groups, &p.category) {
            (Some(groups), _) => groups.iter().any(|g| g == "main"),
            (None, Some(category)) => category == "main",
            (None, None) => true,
        })
        .map(|p| normalize(&p.name))
        .collect())
}

/// What pyship needs from a pinned `requirements.txt`.
struct Requirements {
    names: Vec<String>,
    hashed: bool,
}

impl Requirements {
    /// Reads one self-contained file in which every requirement is pinned with `==`;
    /// anything looser would make the image differ from what was tested.
    fn read(path: &Path) -> Result<Requirements> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let fix =
            "pin it with `uv pip compile pyproject.toml --generate-hashes -o requirements.txt`";
        let mut names = Vec::new();
        let (mut with_hash, mut without_hash) = (0, 0);
        for (number, line) in logical_lines(&text) {
            let at = || format!("{}:{number}", path.display());
            if line.starts_with('-') {
                let option = line.split([' ', '=']).next().unwrap_or(&line);
                if matches!(
                    option,
                    "-r" | "--requirement" | "-c" | "--constraint" | "-e" | "--editable"
                ) {
                    bail!(
                        "{}: {option} makes the install depend on other files: {fix}",
                        at()
                    );
                }
                continue;
            }
            let requirement = line.split(" --").next().unwrap_or(&line).trim();
            let spec = requirement.split(';').next().unwrap_or(requirement).trim();
            let name_end = spec
                .find(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
                .unwrap_or(spec.len());
            let (name, rest) = spec.split_at(name_end);
            let rest = rest.trim_start();
            let rest = match rest.strip_prefix('[') {
                Some(extras) => extras.split_once(']').map_or("", |(_, r)| r).trim_start(),
                None => rest,
            };
            let version = rest.strip_prefix("==").map(str::trim);
            let pinned = version
                .is_some_and(|v| !v.is_empty() && !v.contains(['*', ',', '<', '>', '!', '~', ' ']));
            if name.is_empty() || !pinned {
                bail!(
                    "{}: {requirement:?} is not pinned to one version: {fix}",
                    at()
                );
            }
            if line.contains("--hash=") || line.contains("--hash ") {
                with_hash += 1;
            } else {
                without_hash += 1;
            }
            names.push(normalize(name));
        }
        if with_hash > 0 && without_hash > 0 {
            bail!(
                "{}: {without_hash} requirement(s) have no --hash while others do, so pip and uv refuse the file: {fix}",
                path.display()
            );
        }
        Ok(Requirements {
            names,
            hashed: with_hash > 0,
        })
    }
}

/// Lines with `\` continuations joined and comments removed, numbered from 1 by where
/// they start.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let without_comment = match raw.find('#') {
            Some(0) => "",
            Some(at) if raw[..at].ends_with([' ', '\t']) => &raw[..at],
            _ => raw,
        };
        let (body, continues) = match without_comment.trim_end().strip_suffix('\\') {
            Some(body) => (body, true),
            None => (without_comment, false),
        };
        let entry = current.get_or_insert_with(|| (index + 1, String::new()));
        entry.1.push(' ');
        entry.1.push_str(body.trim());
        if !continues {
            let (number, line) = current.take().expect("just inserted");
            let line = line.trim().to_owned();
            if !line.is_empty() {
                lines.push((number, line));
            }
        }
    }
    if let Some((number, line)) = current
        && !line.trim().is_empty()
    {
        lines.push((number, line.trim().to_owned()));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Requirements> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requirements.txt");
        std::fs::write(&path, text).unwrap();
        Requirements::read(&path)
    }

    #[test]
    fn reads_pinned_and_hashed_requirements() {
        let reqs = read(
            "# via uv pip compile\n--index-url https://example.org/simple\nFlask==3.1.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via -r requirements.in\nzope.interface[test]==7.2 ; python_version >= '3.9' --hash=sha256:cc\n",
        )
        .unwrap();
        assert_eq!(reqs.names, ["flask", "zope-interface"]);
        assert!(reqs.hashed);
        let plain = read("gunicorn==23.0.0\n").unwrap();
        assert!(!plain.hashed);
    }

    #[test]
    fn refuses_loose_partial_or_nested_files() {
        for (text, expected) in [
            ("flask>=3\n", "is not pinned"),
            ("flask\n", "is not pinned"),
            ("flask==3.*\n", "is not pinned"),
            ("-r base.txt\n", "-r makes the install depend"),
            ("-e .\n", "-e makes"),
            (
                "a==1 --hash=sha256:aa\nb==2\n",
                "1 requirement(s) have no --hash",
            ),
        ] {
            let err = read(text).err().expect(text).to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(err.contains("requirements.txt"), "{err}");
        }
    }

    #[test]
    fn poetry_main_group_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("poetry.lock");
        std::fs::write(
            &path,
            "[[package]]\nname = \"Flask\"\nversion = \"3\"\ngroups = [\"main\"]\n\n[[package]]\nname = \"pytest\"\nversion = \"8\"\ngroups = [\"dev\"]\n\n[[package]]\nname = \"gunicorn\"\nversion = \"23\"\ncategory = \"main\"\n",
        )
        .unwrap();
        assert_eq!(poetry_main_packages(&path).unwrap(), ["flask", "gunicorn"]);
    }
}
