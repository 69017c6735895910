//! The project and the local packages it needs (workspace members, path dependencies)
//! built into wheels and installed as uv installs them without `--editable`. Each is
//! built from a clean copy of the files pyship would ship from its directory, so what
//! lies around the working tree (a stale `build/`, an old `.egg-info`) never enters a
//! wheel; and remembered by those files, so an unchanged member is not built again.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest as _, Sha256};
use uv_distribution_filename::WheelFilename;

use super::indexes::BuildIndexes;
use super::vcs_version::{Described, VersionSource, fallback_setting, override_env};
use super::{Batch, Builder, BuiltWheel};
use crate::python::lock::{Lock, LockedPackage, Selection};
use crate::python::project::Project;
use crate::python::source::SourceFiles;
use crate::python::target::Target;
use crate::python::wheel::{ArtifactKind, WheelChoice};
use crate::store::{Cache, Progress};

/// The cache records, by the digest of a package's files, of the wheels built from them.
const RECORDS: &str = "local-wheels-v1";

/// What earlier builds leave in a source tree and setuptools would read back as input.
const LEFTOVERS: &[&str] = &["build/", "dist/"];

/// The wheel of every local package the project's image needs, the project's own
/// first when it has a build system; virtual ones (uv installs nothing for them) are
/// run from their source instead.
pub fn build(
    lock: &Lock,
    project: &Project,
    selection: &Selection,
    target: &Target,
    cache: &Cache,
    progress: &Progress,
) -> Result<Vec<WheelChoice>> {
    let packages = lock.local_packages(project, &target.marker_environment(), selection)?;
    let locals = packages
        .iter()
        .map(|package| Local::read(package, project))
        .collect::<Result<Vec<_>>>()?;
    let cached: Vec<Option<BuiltWheel>> = locals
        .iter()
        .map(|local| {
            cache
                .record::<BuiltWheel>(RECORDS, &local.key)
                .filter(|wheel| cache.has_blob(&wheel.sha256))
        })
        .collect();
    let missing = cached.iter().filter(|c| c.is_none()).count();
    let label = "building local packages";
    let mut batch = Batch::new(target, missing, label, cache, progress)?;
    let mut wheels = Vec::with_capacity(packages.len());
    for ((package, local), cached) in packages.iter().zip(&locals).zip(cached) {
        let wheel = match cached {
            Some(wheel) => wheel,
            None => {
                let build =
                    |builder: &Builder, scratch: &Path| local.build(builder, project, scratch);
                let built = batch.build(
                    &local.what,
                    &package.name,
                    package.version.as_deref(),
                    build,
                )?;
                let Some(wheel) = built else { continue };
                cache.put_record(RECORDS, &local.key, &wheel)?;
                wheel
            }
        };
        // What the lock does not know (a dynamic version, a name only setup.py has),
        // the wheel built says.
        let built: Option<WheelFilename> = wheel.filename.parse().ok();
        wheels.push(WheelChoice {
            package: match (package.name.as_str(), &built) {
                ("", Some(built)) => built.name.to_string(),
                (name, _) => name.to_owned(),
            },
            version: match (&package.version, &built) {
                (None, Some(built)) => built.version.to_string(),
                _ => package.version_str().to_owned(),
            },
            filename: wheel.filename,
            url: reqwest::Url::from_directory_path(local.files.root())
                .map(String::from)
                .unwrap_or_default(),
            sha256: wheel.sha256,
            size: None,
            index: None,
            kind: ArtifactKind::Wheel,
        });
    }
    batch.finish(&format!(
        "build its wheels for {target} where that platform runs (in CI, e.g. with cibuildwheel) and install them from an index"
    ))?;
    Ok(wheels)
}

/// One local package's source, as it will be built.
struct Local {
    /// The distribution's name, as the lock has it.
    name: String,
    /// `name (directory)`, for messages.
    what: String,
    files: SourceFiles,
    /// The files' paths, modes and contents in one digest (and the version git gives
    /// it, if any): the cache key of its wheel.
    key: String,
    /// What tells the backend the version it would ask git for.
    version_env: Vec<(String, String)>,
    /// The tool that asks git when no checkout is around the package, for the error.
    without_git: Option<String>,
}

impl Local {
    fn read(package: &LockedPackage, project: &Project) -> Result<Local> {
        let relative = package.directory.as_deref().unwrap_or(".");
        let dir = project.lock_dir().join(relative);
        let dir = dir.canonicalize().with_context(|| {
            format!(
                "uv.lock installs {} from {}, which is not there: restore it or run `uv lock`",
                package.name,
                dir.display()
            )
        })?;
        let what = match package.name.as_str() {
            "" => format!("the project ({})", dir.display()),
            name => format!("{name} ({})", dir.display()),
        };
        let files = SourceFiles::collect(&dir)
            .with_context(|| format!("cannot read the source of {what}"))?;
        let key = digest(&files).with_context(|| format!("cannot read the source of {what}"))?;
        let mut local = Local {
            name: package.name.clone(),
            what,
            files,
            key,
            version_env: Vec::new(),
            without_git: None,
        };
        (local.version_env, local.without_git) = local.version_env();
        // A version from git is an input like the files: a new commit, a new wheel.
        for (name, value) in &local.version_env {
            local.key = hex::encode(Sha256::digest(format!("{}\0{name}={value}", local.key)));
        }
        Ok(local)
    }

    /// Copies the files to `scratch` and builds them there; returns the wheel's path.
    fn build(&self, builder: &Builder, project: &Project, scratch: &Path) -> Result<PathBuf> {
        let tree = scratch.join("source");
        for path in copied(&self.files) {
            let dest = tree.join(path);
            std::fs::create_dir_all(dest.parent().expect("a file has a parent"))?;
            std::fs::copy(self.files.root().join(path), &dest)
                .with_context(|| format!("cannot copy {path} of {}", self.what))?;
        }
        let out = scratch.join("wheel");
        std::fs::create_dir(&out)?;
        let indexes = BuildIndexes::new(None, &project.indexes)?;
        builder
            .build(&tree, &self.what, &indexes, &self.version_env, &out)
            .map_err(|err| match &self.without_git {
                Some(tool) => anyhow::anyhow!(
                    "{} takes its version from git ({tool}), and {} is not in a git checkout with a commit: build from a checkout, or set {} (the build said: {err:#})",
                    self.what,
                    self.files.root().display(),
                    fallback_setting(tool)
                ),
                None => err,
            })
    }

    /// The variables that give the backend the package's version when it would ask
    /// git, which the clean copy lacks; or, when no checkout is around the package,
    /// the tool that will fail, for the error.
    fn version_env(&self) -> (Vec<(String, String)>, Option<String>) {
        let text =
            std::fs::read_to_string(self.files.root().join("pyproject.toml")).unwrap_or_default();
        let pyproject: toml::Value = toml::from_str(&text).unwrap_or(toml::Value::Integer(0));
        let VersionSource::Vcs(tool) = VersionSource::of(&pyproject) else {
            return (Vec::new(), None);
        };
        match Described::read(self.files.root()) {
            Some(described) => (override_env(&self.name, &described.version()), None),
            None => (Vec::new(), Some(tool)),
        }
    }
}

/// The files a build gets: the shipped ones, less earlier builds' output.
fn copied(files: &SourceFiles) -> impl Iterator<Item = &str> {
    files.files().iter().map(String::as_str).filter(|path| {
        !LEFTOVERS.iter().any(|dir| path.starts_with(dir))
            && !path.split('/').any(|part| part.ends_with(".egg-info"))
    })
}

fn digest(files: &SourceFiles) -> Result<String> {
    let mut key = Sha256::new();
    key.update(format!("{RECORDS}\0"));
    for path in copied(files) {
        let full = files.root().join(path);
        let meta = std::fs::metadata(&full)?;
        let executable = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0;
        let mut content = Sha256::new();
        std::io::copy(&mut std::fs::File::open(&full)?, &mut content)?;
        key.update(format!("{path}\0{executable}\0"));
        key.update(content.finalize());
    }
    Ok(hex::encode(key.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_stay_out_and_any_change_changes_the_key() {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in [
            ("pyproject.toml", "[project]\nname = \"lib\"\n"),
            ("lib/__init__.py", "x = 1\n"),
            ("build/lib/lib/__init__.py", "stale\n"),
            ("dist/lib-0.1.tar.gz", "old\n"),
            ("lib.egg-info/SOURCES.txt", "old\n"),
        ] {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
        let files = SourceFiles::collect(dir.path()).unwrap();
        let kept: Vec<&str> = copied(&files).collect();
        assert_eq!(kept, ["lib/__init__.py", "pyproject.toml"]);
        let before = digest(&files).unwrap();
        std::fs::write(dir.path().join("build/lib/lib/__init__.py"), "staler\n").unwrap();
        assert_eq!(digest(&files).unwrap(), before, "leftovers are not inputs");
        std::fs::write(dir.path().join("lib/__init__.py"), "x = 2\n").unwrap();
        assert_ne!(digest(&files).unwrap(), before);
    }
}
