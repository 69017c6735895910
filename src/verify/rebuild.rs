//! The caching contract: after a source-only change, a rebuild must reuse the
//! dependency layer. Proven on a scratch copy of the project, never on the original.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::build::summary::{BuildSummary, LayerRole};
use crate::transport::engine::Engine;
use crate::verify::check::Check;

const ID: &str = "dependency-cache";
const TITLE: &str = "a source-only change reuses the dependency layer";

/// How the project is built: by pyship, or by `docker build` with its Dockerfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    Pyship,
    Docker,
}

pub fn check(project: &Path, via: Via, base: Option<&str>) -> Result<Check> {
    let scratch = tempfile::tempdir().context("cannot make a scratch directory")?;
    let copy = scratch.path().join("project");
    copy_tree(project, &copy)?;
    match via {
        Via::Pyship => with_pyship(&copy, base, scratch.path()),
        Via::Docker => with_docker(&copy),
    }
}

fn with_pyship(copy: &Path, base: Option<&str>, scratch: &Path) -> Result<Check> {
    let build = |name: &str| -> Result<BuildSummary> {
        let exe = std::env::current_exe()?;
        let mut command = Command::new(exe);
        command
            .arg("build")
            .arg(copy)
            .args(["--format", "json", "--output"])
            .arg(format!("oci:{}", scratch.join(name).display()));
        if let Some(base) = base {
            command.args(["--base", base]);
        }
        let out = command.output()?;
        if !out.status.success() {
            bail!(
                "pyship build of the project failed: {}",
                String::from_utf8_lossy(&out.stderr)
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or("")
            );
        }
        let mut summary: serde_json::Value =
            serde_json::from_slice(&out.stdout).context("pyship build printed no summary")?;
        // A project built for several platforms prints each one's summary: the layer
        // cache behaves the same on each, so the first one answers.
        if let Some(first) = summary.get_mut("platforms").and_then(|p| p.get_mut(0)) {
            summary = first.take();
        }
        serde_json::from_value(summary).context("pyship build printed no summary")
    };
    let before = build("before")?;
    touch_source(copy)?;
    let after = build("after")?;
    let digest = |summary: &BuildSummary, role| summary.layer(role).map(|l| l.digest.clone());
    let (Some(dep_before), Some(dep_after)) = (
        digest(&before, LayerRole::Dependencies),
        digest(&after, LayerRole::Dependencies),
    ) else {
        bail!("pyship build reported no dependency layer");
    };
    let project_changed = digest(&before, LayerRole::Project) != digest(&after, LayerRole::Project);
    Ok(if dep_before == dep_after && project_changed {
        Check::pass(
            ID,
            TITLE,
            format!("dependency layer {dep_after} kept; only the project layer changed"),
        )
    } else if dep_before != dep_after {
        Check::fail(
            ID,
            TITLE,
            format!("dependency layer changed from {dep_before} to {dep_after}"),
            "keep dependency installs independent of source files",
        )
    } else {
        Check::fail(
            ID,
            TITLE,
            "the project layer did not change after a source edit",
            "make sure the source files are in the image",
        )
    })
}

/// Builds twice with BuildKit and reads which steps were cached the second time.
fn with_docker(copy: &Path) -> Result<Check> {
    let dockerfile = copy.join("Dockerfile");
    if !dockerfile.is_file() {
        bail!("--via docker needs a Dockerfile in the project (write one with `pyship init`)");
    }
    let engine = Engine::detect()?;
    let docker_build = |extra: &[&str]| {
        let mut command = engine.command();
        command
            .args(["build", "--network", "host", "--progress", "plain"])
            .args(extra)
            .env("DOCKER_BUILDKIT", "1")
            .arg(copy);
        command
    };
    engine.ok(&mut docker_build(&["-q"]), "fix the project's Dockerfile")?;
    touch_source(copy)?;
    let mut again = docker_build(&[]);
    let out = engine.output(&mut again)?;
    engine.check(&again, &out, "fix the project's Dockerfile")?;
    let log = String::from_utf8_lossy(&out.stderr);
    let install_steps: Vec<&str> = log.lines().filter(|l| is_install_step(l)).collect();
    if install_steps.is_empty() {
        return Ok(Check::skip(
            ID,
            TITLE,
            "no dependency install step (uv sync, pip install, poetry install) found in the build",
        ));
    }
    // The first install step is the dependency step; later ones install the project
    // itself, which a source edit must re-run.
    let dependency_step = install_steps[0];
    let cached = log.contains(&format!("{} CACHED", step_id(dependency_step)));
    Ok(if cached {
        Check::pass(
            ID,
            TITLE,
            format!("CACHED after a source edit: {}", step_text(dependency_step)),
        )
    } else {
        Check::fail(
            ID,
            TITLE,
            format!("re-ran after a source edit: {}", step_text(dependency_step)),
            "copy only pyproject.toml and the lock before installing; copy the source after",
        )
    })
}

/// A BuildKit log line without its step number.
fn step_text(line: &str) -> &str {
    line.split_once(' ').map_or(line, |(_, rest)| rest.trim())
}

fn is_install_step(line: &str) -> bool {
    line.starts_with('#')
        && line.contains("RUN")
        && ["uv sync", "pip install", "poetry install"]
            .iter()
            .any(|c| line.contains(c))
}

fn step_id(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or("")
}

/// Appends a comment no earlier run wrote to the first Python source file (a change no
/// dependency sees).
fn touch_source(root: &Path) -> Result<()> {
    let file = first_python_file(root).context("the project has no .py file to edit")?;
    let mut text = std::fs::read_to_string(&file)?;
    // Unique per run: an edit seen before would be a cache hit in BuildKit and prove nothing.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    text.push_str(&format!(
        "\n# pyship verify: a source-only change ({nonce}-{})\n",
        std::process::id()
    ));
    std::fs::write(&file, text)?;
    Ok(())
}

fn first_python_file(root: &Path) -> Option<std::path::PathBuf> {
    let mut files: Vec<_> = ignore::WalkBuilder::new(root)
        .hidden(true)
        .build()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "py")
                && !p
                    .components()
                    .any(|c| c.as_os_str() == ".venv" || c.as_os_str() == "tests")
        })
        .collect();
    files.sort();
    files.into_iter().next()
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in ignore::WalkBuilder::new(from)
        .hidden(false)
        .git_ignore(true)
        .require_git(false)
        .build()
    {
        let entry = entry?;
        let rel = entry.path().strip_prefix(from)?;
        if rel.components().any(|c| c.as_os_str() == ".git") {
            continue;
        }
        let dest = to.join(rel);
        if entry.file_type().is_some_and(|t| t.is_dir()) {
            std::fs::create_dir_all(&dest)?;
        } else if entry.file_type().is_some_and(|t| t.is_file()) {
            std::fs::copy(entry.path(), &dest)
                .with_context(|| format!("cannot copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}
