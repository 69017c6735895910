//! PEP 517 builds: an sdist or a source tree built into a wheel by the build backend it
//! declares (`[build-system]`, else setuptools' legacy backend), in an isolated build
//! environment, then re-packed so the same source gives the same bytes.
//!
//! The host's Python builds, through pip (`python -m pip wheel --use-pep517`): build
//! backends are Python programs, pip is the one PEP 517 frontend nearly every Python
//! ships with, and its build isolation installs the backend's requirements into a
//! throwaway environment. pyship installs the result into the image only when its tags
//! say it runs there: pure Python, or a portable (manylinux/musllinux) wheel for the
//! target. A `linux_*` wheel is code compiled against this machine's libraries, and is
//! refused.

mod indexes;
pub mod local;
mod repack;
pub mod sdist;
mod vcs_version;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use uv_distribution_filename::WheelFilename;
use uv_platform_tags::{PlatformTag, Tags};

use crate::python::lock::normalize;
use crate::python::target::Target;
use crate::store::progress::Task;
use crate::store::{Cache, Digest, Progress};
use indexes::BuildIndexes;

/// The time every build is told it runs at (`SOURCE_DATE_EPOCH`): 1980-01-01, the
/// earliest a zip entry can record, so backends that stamp files stamp them all alike.
const BUILD_EPOCH: &str = "315532800";

/// A wheel built from source, re-packed, in the cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuiltWheel {
    pub filename: String,
    pub sha256: Digest,
}

/// The host's Python that runs builds, with pip.
struct Builder {
    python: PathBuf,
}

impl Builder {
    /// `pythonX.Y` for the target's X.Y when it is on PATH (its builds match the image's
    /// Python best), else `python3`; refused when neither is there or it lacks pip.
    fn find(target: &Target, building: &str) -> Result<Builder> {
        let same = format!("python{}", target.python_xy());
        let Some(python) = on_path(&same).or_else(|| on_path("python3")) else {
            bail!(
                "{building} must be built from source, which needs Python 3 with pip on this machine, and neither {same} nor python3 is on PATH: install python3 and python3-pip"
            );
        };
        let pip = Command::new(&python)
            .args(["-m", "pip", "--version"])
            .stdin(Stdio::null())
            .output();
        if !pip.is_ok_and(|out| out.status.success()) {
            bail!(
                "{building} must be built from source with {} and pip, which it lacks: install pip for it (python3-pip, or `{} -m ensurepip`)",
                python.display(),
                python.display()
            );
        }
        Ok(Builder { python })
    }

    /// Builds `source` (an sdist file or a directory) into a wheel in `out`, fetching
    /// build requirements from `indexes`, with `env` set for the backend; returns the
    /// wheel's path.
    fn build(
        &self,
        source: &Path,
        what: &str,
        indexes: &BuildIndexes,
        env: &[(String, String)],
        out: &Path,
    ) -> Result<PathBuf> {
        let mut command = Command::new(&self.python);
        command
            .args(["-m", "pip", "wheel", "--no-deps", "--use-pep517"])
            .args([
                "--no-cache-dir",
                "--no-input",
                "--disable-pip-version-check",
            ])
            // The image's Python decides, not the one that runs the build.
            .arg("--ignore-requires-python")
            .args(["--progress-bar", "off", "--wheel-dir"])
            .arg(out)
            .arg(source)
            .env("SOURCE_DATE_EPOCH", BUILD_EPOCH)
            .env("PYTHONHASHSEED", "0")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("PIP_NO_BUILD_ISOLATION")
            .env_remove("PIP_REQUIRE_VIRTUALENV")
            .env_remove("PIP_NO_INDEX")
            .envs(indexes.pip_env())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        let output = command
            .output()
            .with_context(|| format!("cannot run {} to build {what}", self.python.display()))?;
        if !output.status.success() {
            let text = String::from_utf8_lossy(&output.stderr).into_owned()
                + &String::from_utf8_lossy(&output.stdout);
            bail!(
                "building {what} with {} -m pip wheel failed ({}): fix the build, or depend on a version that publishes wheels",
                self.python.display(),
                failure_summary(&text, &indexes.secrets())
            );
        }
        let wheels: Vec<PathBuf> = std::fs::read_dir(out)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "whl"))
            .collect();
        match wheels.as_slice() {
            [wheel] => Ok(wheel.clone()),
            _ => bail!(
                "building {what} gave {} wheels instead of one: report it to its maintainers",
                wheels.len()
            ),
        }
    }
}

/// Builds a batch of wheels from source: finds the host's Python when first needed,
/// shows progress, stores each wheel that runs on the target, and collects every one
/// that does not, so that one error names them all.
struct Batch<'a> {
    target: &'a Target,
    tags: Tags,
    cache: &'a Cache,
    progress: &'a Progress,
    task: Option<Task>,
    builder: Option<Builder>,
    unfit: Vec<Unfit>,
}

impl<'a> Batch<'a> {
    /// A batch of `count` builds, shown as `label` (nothing when there are none).
    fn new(
        target: &'a Target,
        count: usize,
        label: &str,
        cache: &'a Cache,
        progress: &'a Progress,
    ) -> Result<Batch<'a>> {
        Ok(Batch {
            target,
            tags: target.tags()?,
            cache,
            progress,
            task: (count > 0).then(|| progress.items(count as u64, label)),
            builder: None,
            unfit: Vec::new(),
        })
    }

    /// Builds the distribution `name` (`version` when known) with `build`, which gets
    /// the builder and a scratch directory and returns the wheel's path; the stored
    /// wheel, or None when it does not run on the target.
    fn build(
        &mut self,
        what: &str,
        name: &str,
        version: Option<&str>,
        build: impl FnOnce(&Builder, &Path) -> Result<PathBuf>,
    ) -> Result<Option<BuiltWheel>> {
        if self.builder.is_none() {
            self.builder = Some(Builder::find(self.target, what)?);
        }
        let builder = self.builder.as_ref().expect("set above");
        self.progress.line(&format!("build   {what}"));
        let scratch = tempfile::Builder::new()
            .prefix("build-")
            .tempdir_in(self.cache.root().join("tmp"))
            .context("cannot create a directory in the cache")?;
        let wheel = build(builder, scratch.path())?;
        if let Some(task) = &self.task {
            task.inc(1);
        }
        if !fits(&wheel, &self.tags)? {
            self.unfit.push(Unfit {
                package: [name, version.unwrap_or("")]
                    .join(" ")
                    .trim_end()
                    .to_owned(),
                wheel: file_name(&wheel),
            });
            return Ok(None);
        }
        store(&wheel, name, version, self.cache).map(Some)
    }

    /// Done: an error naming every unfit wheel, with `fix` as what to do.
    fn finish(self, fix: &str) -> Result<()> {
        if let Some(task) = self.task {
            task.finish();
        }
        if self.unfit.is_empty() {
            return Ok(());
        }
        let list = self
            .unfit
            .iter()
            .map(|u| format!("{} ({})", u.package, u.wheel))
            .collect::<Vec<_>>()
            .join(", ");
        bail!(
            "built from source, {list} compiled into wheels for this machine only, not for the image's {}: {fix}",
            self.target
        )
    }
}

/// The wheel at `path` checked against what was built (`name`, and `version` when the
/// lock knows it), re-packed into the cache.
fn store(path: &Path, name: &str, version: Option<&str>, cache: &Cache) -> Result<BuiltWheel> {
    let filename = file_name(path);
    let parsed = parse(path)?;
    let same_version = version.is_none_or(|v| {
        uv_pep440::Version::from_str(v).is_ok_and(|locked| locked == parsed.version)
    });
    // A project known only by its setup.py has no name to check against.
    let same_name = name.is_empty() || normalize(parsed.name.as_ref()) == normalize(name);
    if !same_name || !same_version {
        bail!(
            "building {name} {} gave {filename}, another distribution: the source does not match uv.lock; run `uv lock` and review the change",
            version.unwrap_or("")
        );
    }
    let scratch = crate::store::atomic::temp_file_in(&cache.root().join("tmp"), None)
        .context("cannot create a file in the cache")?;
    repack::repack(path, scratch.as_file())?;
    let sha256 = cache.import_file(scratch.path(), None)?;
    Ok(BuiltWheel { filename, sha256 })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn parse(path: &Path) -> Result<WheelFilename> {
    let filename = file_name(path);
    WheelFilename::from_str(&filename)
        .map_err(|err| anyhow::anyhow!("the build wrote {filename}, not a wheel name: {err}"))
}

/// True when the wheel at `path` runs on the target: its tags fit, and not only as a
/// `linux_*` wheel, which promises nothing beyond the machine that compiled it.
fn fits(path: &Path, tags: &Tags) -> Result<bool> {
    let parsed = parse(path)?;
    let portable = parsed
        .platform_tags()
        .iter()
        .any(|tag| !matches!(tag, PlatformTag::Linux { .. }));
    Ok(portable && parsed.is_compatible(tags))
}

/// A built wheel that does not run on the target, for the error naming them all.
struct Unfit {
    /// `name version`.
    package: String,
    wheel: String,
}

/// The lines of a failed build that say what went wrong, passwords blanked.
fn failure_summary(output: &str, secrets: &[String]) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.to_ascii_lowercase().starts_with("error"))
        .collect();
    let chosen = if errors.is_empty() { &lines } else { &errors };
    let mut text = chosen[chosen.len().saturating_sub(3)..].join("; ");
    for secret in secrets {
        text = text.replace(secret.as_str(), "****");
    }
    text
}

/// The program `name` as PATH finds it.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate).is_ok_and(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::platform::ImagePlatform;

    #[test]
    fn only_portable_wheels_for_the_target_fit() {
        let tags = Target::bookworm(ImagePlatform::Amd64, "3.11.2")
            .unwrap()
            .tags()
            .unwrap();
        let fit = |name: &str| fits(Path::new(name), &tags).unwrap();
        assert!(fit("docopt-0.6.2-py2.py3-none-any.whl"));
        assert!(fit("x-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"));
        assert!(!fit("x-1.0-cp311-cp311-linux_x86_64.whl"));
        assert!(!fit("x-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"));
        assert!(!fit("x-1.0-cp311-cp311-manylinux_2_17_aarch64.whl"));
    }

    #[test]
    fn a_failed_build_is_summed_up_by_its_error_lines_without_passwords() {
        let output = "Processing ./x.tar.gz\n  gcc -c x.c\n  x.c:1: fatal\n  error: command 'gcc' failed\nERROR: Failed building wheel for x (from https://ci:hunter2@idx.example/simple)\n";
        let summary = failure_summary(output, &["hunter2".to_owned()]);
        assert_eq!(
            summary,
            "error: command 'gcc' failed; ERROR: Failed building wheel for x (from https://ci:****@idx.example/simple)"
        );
        assert_eq!(failure_summary("a\nb\nc\nd\n", &[]), "b; c; d");
    }

    #[test]
    fn unfit_wheels_are_all_named_with_the_fix() {
        let target = Target::bookworm(ImagePlatform::Arm64, "3.11.2").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().to_path_buf()).unwrap();
        let progress = Progress::new(true);
        let mut batch = Batch::new(&target, 2, "building", &cache, &progress).unwrap();
        batch.builder = Some(Builder {
            python: PathBuf::from("python3"),
        });
        for (what, wheel) in [
            ("a 1.0", "a-1.0-cp311-cp311-linux_x86_64.whl"),
            ("b 2.0", "b-2.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
        ] {
            let (name, version) = what.split_once(' ').unwrap();
            let built = batch
                .build(what, name, Some(version), |_, scratch| {
                    let path = scratch.join(wheel);
                    std::fs::write(&path, b"")?;
                    Ok(path)
                })
                .unwrap();
            assert!(built.is_none(), "{wheel} fits an arm64 image");
        }
        let err = batch.finish("pin versions").unwrap_err().to_string();
        assert!(err.contains("a 1.0 (a-1.0-cp311"), "{err}");
        assert!(err.contains(", b 2.0 (b-2.0"), "{err}");
        assert!(err.ends_with(": pin versions"), "{err}");
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
