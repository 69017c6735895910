//! How dependencies get installed: the lockfile contract, dev dependencies and pinned
//! build tools. The order of install and source copy is `layering.rs`'s.

use super::{Input, RunStep, assigned_truthy, truthy};
use crate::dockerfile::{ImageRef, Kind, Scope, Stage};
use crate::lint::finding::{Draft, Fix};
use crate::lint::rule::RuleId;
use crate::lint::shell::{Expanded, SimpleCommand};

/// Tools whose version decides how the build behaves; they get PS209, not PS201.
const TOOLS: &[&str] = &[
    "uv",
    "poetry",
    "pipenv",
    "pip",
    "pip-tools",
    "pdm",
    "hatch",
    "setuptools",
    "wheel",
    "virtualenv",
    "pipx",
];

pub fn check(input: &Input<'_>, out: &mut Vec<Draft>) {
    let reaching = input.reaching();
    for stage in &input.df.stages {
        let ships = reaching.contains(&stage.index);
        for step in input.runs(stage) {
            let scope = input.scope_at(stage, step.index);
            for command in &step.script.commands {
                let expanded = command.expand(&scope, input.df.escape());
                let at = Site {
                    step: &step,
                    written: command,
                    ships,
                };
                uv_sync(input, &at, &expanded, &scope, out);
                poetry_install(input, stage, &at, &expanded, out);
                pip_install(input, &at, &expanded.command, out);
                tool_download(input, &step, command, &scope, out);
            }
        }
        super::layering::install_after_source(input, stage, out);
    }
    uv_tool_image(input, out);
}

/// Where an install command stands: its `RUN`, the command as written (for spans), and
/// whether its stage's files reach a shipped image.
struct Site<'a, 'b> {
    step: &'a RunStep<'b>,
    written: &'a SimpleCommand,
    ships: bool,
}

fn uv_sync(
    input: &Input<'_>,
    at: &Site<'_, '_>,
    expanded: &Expanded,
    scope: &Scope,
    out: &mut Vec<Draft>,
) {
    let (step, command) = (at.step, &expanded.command);
    if !command.is("uv", "sync") {
        return;
    }
    let locked = command.has_flag("--locked")
        || command.has_flag("--frozen")
        || ["UV_LOCKED", "UV_FROZEN"]
            .iter()
            .any(|v| truthy(scope, v) || assigned_truthy(command, v));
    if !locked && !expanded.open {
        let span = input.command_or_line(step, at.written);
        let mut draft = Draft::new(
            RuleId::PS201,
            span.clone(),
            "`uv sync` may re-resolve instead of installing the lockfile",
        );
        // A variable may carry `--frozen` at build time, and uv refuses both flags
        // together: only a command written out in full is rewritten.
        if let Some(found) = input
            .command_span(step, at.written)
            .filter(|_| !expanded.variable)
        {
            draft = draft.with_fix(Fix::insert(
                found.end,
                " --locked",
                "added `--locked` to `uv sync`",
            ));
        }
        out.push(draft);
    }
    let no_dev = command.has_flag("--no-dev")
        || command.has_flag("--no-default-groups")
        || command.has_flag("--only-group")
        || command.has_flag("--all-packages") && command.has_flag("--no-dev")
        || option_values(command.args(), "--no-group").any(|g| g == "dev")
        || truthy(scope, "UV_NO_DEV")
        || assigned_truthy(command, "UV_NO_DEV");
    let project_dev = input.project.pyproject.as_ref().is_none_or(|p| p.uv_dev);
    if !no_dev && !expanded.open && at.ships && project_dev {
        out.push(Draft::new(
            RuleId::PS202,
            input.command_or_line(step, at.written),
            "`uv sync` installs the dev group unless told `--no-dev`",
        ));
    }
}

/// The values of an option given as `--opt v` or `--opt=v`, each split at commas.
fn option_values<'a>(args: &'a [String], option: &'a str) -> impl Iterator<Item = &'a str> {
    args.iter().enumerate().flat_map(move |(i, arg)| {
        let value = if arg == option {
            args.get(i + 1).map(String::as_str)
        } else {
            arg.strip_prefix(option).and_then(|r| r.strip_prefix('='))
        };
        value.into_iter().flat_map(|v| v.split(',')).map(str::trim)
    })
}

fn poetry_install(
    input: &Input<'_>,
    stage: &Stage,
    at: &Site<'_, '_>,
    expanded: &Expanded,
    out: &mut Vec<Draft>,
) {
    let (step, command) = (at.step, &expanded.command);
    if !command.is("poetry", "install") {
        return;
    }
    let span = input.command_or_line(step, at.written);
    if !input.project.has_lockfile("poetry.lock") {
        out.push(Draft::new(
            RuleId::PS201,
            span.clone(),
            "`poetry install` without a `poetry.lock` resolves afresh",
        ));
    } else if !lock_reaches(input, stage, step, "poetry.lock") {
        out.push(Draft::new(
            RuleId::PS201,
            span.clone(),
            "`poetry install` runs before `poetry.lock` is copied or mounted",
        ));
    }
    let project_dev = input
        .project
        .pyproject
        .as_ref()
        .is_none_or(|p| p.poetry_dev);
    if !poetry_excludes_dev(command.args()) && !expanded.open && at.ships && project_dev {
        out.push(Draft::new(
            RuleId::PS202,
            span,
            "`poetry install` includes dev dependencies unless given `--only main`",
        ));
    }
}

/// Whether `poetry install` leaves the dev group out: `--only` without it, `--without` it,
/// or the pre-1.2 `--no-dev`.
fn poetry_excludes_dev(args: &[String]) -> bool {
    let groups = |list: &str| {
        list.split(',')
            .map(str::trim)
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let mut only = None;
    let mut without = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let (flag, value) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        match flag {
            "--no-dev" | "--only-root" => return true,
            "--only" => only = value.or_else(|| iter.next().cloned()).map(|v| groups(&v)),
            "--without" => without.extend(
                value
                    .or_else(|| iter.next().cloned())
                    .map(|v| groups(&v))
                    .unwrap_or_default(),
            ),
            _ => {}
        }
    }
    let dev = |g: &String| g == "dev" || g == "test";
    match only {
        Some(only) => !only.iter().any(dev),
        None => without.iter().any(dev),
    }
}

/// Whether `lockfile` is in the stage's filesystem (copied earlier, in this stage or its
/// parents) or bind-mounted by this `RUN`.
fn lock_reaches(input: &Input<'_>, stage: &Stage, step: &RunStep<'_>, lockfile: &str) -> bool {
    use crate::dockerfile::mount::Mount;
    let mounted = step.run.mounts.iter().any(|m| match m {
        Mount::Bind { source, target, .. } => {
            source.as_deref().is_some_and(|s| s.ends_with(lockfile)) || target.ends_with(lockfile)
        }
        _ => false,
    });
    mounted
        || input.df.lineage(stage).into_iter().any(|s| {
            input.df.body(s).any(|(index, instruction)| {
                let Kind::Copy(copy) = &instruction.kind else {
                    return false;
                };
                (s.index != stage.index || index < step.index)
                    && instruction.flag("from").is_none()
                    && copy.sources.iter().any(|src| {
                        let v = src.value.trim_end_matches('/');
                        let name = v.rsplit('/').next().unwrap_or(v);
                        v == "." || v == "*" || glob_matches(name, lockfile)
                    })
            })
        })
}

/// Whether a `COPY` source's last component, which may hold `*` and `?`, names `file`:
/// `poetry.lock*`, `*.lock` and `poetry.lock` all copy `poetry.lock`.
fn glob_matches(pattern: &str, file: &str) -> bool {
    match pattern.split_once('*') {
        None => {
            pattern.len() == file.len()
                && pattern
                    .chars()
                    .zip(file.chars())
                    .all(|(p, f)| p == '?' || p == f)
        }
        Some((head, tail)) => {
            file.len() >= head.len()
                && file.is_char_boundary(head.len())
                && glob_matches(head, &file[..head.len()])
                && (0..=file.len() - head.len()).any(|skip| {
                    file.is_char_boundary(head.len() + skip)
                        && glob_matches(tail, &file[head.len() + skip..])
                })
        }
    }
}

/// A pip argument that names a package to fetch (not an option, path, file or URL).
fn requirement(arg: &str) -> bool {
    !(arg.starts_with('-')
        || arg.starts_with('.')
        || arg.starts_with('/')
        || arg.starts_with('$')
        || arg.contains("://")
        || arg.ends_with(".whl")
        || arg.ends_with(".tar.gz")
        || arg.ends_with(".zip"))
}

fn pinned(spec: &str) -> bool {
    spec.contains("==") || spec.contains('@') || spec.contains("===")
}

/// The bare distribution name of a requirement: `uv` for `uv>=0.4[extra]`.
pub(super) fn requirement_name(spec: &str) -> String {
    spec.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .next()
        .unwrap_or(spec)
        .to_ascii_lowercase()
        .replace('_', "-")
}

/// Options of `pip install` whose next argument is a value, not a package.
const PIP_VALUE_OPTIONS: &[&str] = &[
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-e",
    "--editable",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--python",
    "-p",
    "--trusted-host",
    "--platform",
    "--python-version",
    "--only-binary",
    "--no-binary",
    "--implementation",
    "--abi",
    "--cache-dir",
    "--src",
    "--upgrade-strategy",
    "--progress-bar",
    "--report",
    "--group",
    "--extra",
];

fn pip_install(
    input: &Input<'_>,
    at: &Site<'_, '_>,
    command: &SimpleCommand,
    out: &mut Vec<Draft>,
) {
    let step = at.step;
    let Some(args) = command.pip_install_args() else {
        return;
    };
    if at.ships {
        built_artifacts(input, at, args, out);
    }
    let span = input.command_or_line(step, command);
    let mut unpinned = Vec::new();
    let mut tools = Vec::new();
    let mut dev_files = Vec::new();
    let mut requirement_files = Vec::new();
    let mut iter = args.iter().peekable();
    while let Some(arg) = iter.next() {
        if PIP_VALUE_OPTIONS.contains(&arg.as_str()) {
            if let Some(value) = iter.next()
                && matches!(arg.as_str(), "-r" | "--requirement" | "-e" | "--editable")
            {
                if is_dev_selector(value) {
                    dev_files.push(value.clone());
                } else if matches!(arg.as_str(), "-r" | "--requirement") {
                    requirement_files.push(value.clone());
                }
            }
            continue;
        }
        if let Some(value) = arg
            .strip_prefix("--requirement=")
            .or_else(|| arg.strip_prefix("-r"))
            .filter(|v| !v.is_empty())
        {
            if is_dev_selector(value) {
                dev_files.push(value.to_string());
            } else {
                requirement_files.push(value.to_string());
            }
            continue;
        }
        if arg.starts_with('.') && is_dev_selector(arg) {
            dev_files.push(arg.clone());
        }
        if !requirement(arg) || pinned(arg) {
            continue;
        }
        if TOOLS.contains(&requirement_name(arg).as_str()) {
            tools.push(arg.clone());
        } else {
            unpinned.push(arg.clone());
        }
    }
    if at.ships {
        for file in &requirement_files {
            let tools = input.project.dev_requirements(file);
            if !tools.is_empty() {
                out.push(Draft::new(
                    RuleId::PS202,
                    span.clone(),
                    format!(
                        "`{file}` installs development tools: `{}`",
                        tools.join("`, `")
                    ),
                ));
            }
        }
    }
    for file in &requirement_files {
        let Some(loose) = input.project.unpinned_requirements(file) else {
            continue;
        };
        let constrained = args
            .iter()
            .any(|a| a == "-c" || a.starts_with("--constraint"));
        if !loose.is_empty() && !constrained {
            out.push(Draft::new(
                RuleId::PS201,
                span.clone(),
                format!(
                    "`{file}` leaves `{}` without a pinned version",
                    loose.join("`, `")
                ),
            ));
        }
    }
    let (redirected, unpinned): (Vec<String>, Vec<String>) =
        unpinned.into_iter().partition(|spec| {
            step.script.redirected.iter().any(|w| {
                spec.strip_prefix(w.as_str())
                    .is_some_and(|r| r.starts_with(['<', '>']))
            })
        });
    for spec in &redirected {
        let name = requirement_name(spec);
        out.push(Draft::new(
            RuleId::PS201,
            span.clone(),
            format!("unquoted `{spec}` is a shell redirection: pip installs `{name}` unpinned and the bound becomes a file name; quote it"),
        ));
    }
    if !unpinned.is_empty() {
        out.push(Draft::new(
            RuleId::PS201,
            span.clone(),
            format!(
                "`pip install {}` takes whatever version is newest",
                unpinned.join(" ")
            ),
        ));
    }
    if !tools.is_empty() {
        out.push(Draft::new(
            RuleId::PS209,
            span.clone(),
            format!(
                "`{}` is installed without a pinned version",
                tools.join("`, `")
            ),
        ));
    }
    if !dev_files.is_empty() {
        out.push(Draft::new(
            RuleId::PS202,
            span.clone(),
            format!(
                "installs development requirements from `{}`",
                dev_files.join("`, `")
            ),
        ));
    }
}

/// `pip install dist/*.whl` (or a `.zip`, `.tar.gz`) where the image ships: pip resolves
/// the package's dependencies afresh, outside any lockfile, unless told `--no-deps` or
/// held to pre-built wheels with `--no-index`.
fn built_artifacts(input: &Input<'_>, at: &Site<'_, '_>, args: &[String], out: &mut Vec<Draft>) {
    let held = [
        "--no-deps",
        "--no-index",
        "-c",
        "--constraint",
        "-r",
        "--requirement",
    ]
    .iter()
    .any(|f| {
        args.iter()
            .any(|a| a == f || a.starts_with(&format!("{f}=")))
    });
    let built: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.contains("://"))
        .filter(|a| a.ends_with(".whl") || a.ends_with(".zip") || a.ends_with(".tar.gz"))
        .collect();
    if held || built.is_empty() {
        return;
    }
    out.push(Draft::new(
        RuleId::PS201,
        input.command_or_line(at.step, at.written),
        format!(
            "installing `{}` resolves its dependencies afresh, outside the lockfile",
            built.join(" ")
        ),
    ));
}

/// `requirements-dev.txt`, `requirements/test.txt`, `.[dev]`, `-e .[dev,test]`.
fn is_dev_selector(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let file = lower.rsplit('/').next().unwrap_or(&lower);
    let extras = lower
        .split_once('[')
        .map(|(_, e)| e.trim_end_matches(']'))
        .unwrap_or("");
    let dev_word = |s: &str| {
        s.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| {
            matches!(
                w,
                "dev" | "develop" | "development" | "test" | "tests" | "testing" | "lint"
            )
        })
    };
    (file.ends_with(".txt") || file.ends_with(".in")) && dev_word(file.trim_end_matches(".txt"))
        || extras.split(',').any(|e| dev_word(e.trim()))
}

/// `curl …/uv/install.sh | sh` and `pipx install poetry` fetch the newest tool.
fn tool_download(
    input: &Input<'_>,
    step: &RunStep<'_>,
    command: &SimpleCommand,
    scope: &Scope,
    out: &mut Vec<Draft>,
) {
    let program = command.program().unwrap_or("");
    // Poetry's installer reads `POETRY_VERSION` from the environment (an `ENV`, or an
    // assignment before any command of the pipe).
    let poetry_pinned = scope.get("POETRY_VERSION").is_some_and(|v| !v.is_empty())
        || step.script.commands.iter().any(|c| {
            c.assignments.iter().any(|a| {
                a.strip_prefix("POETRY_VERSION=")
                    .is_some_and(|v| !v.is_empty())
            })
        });
    if matches!(program, "curl" | "wget") {
        for url in command.args().iter().filter(|a| a.contains("://")) {
            let unversioned = url.contains("astral.sh/uv/install.sh")
                || url.contains("install.python-poetry.org") && !poetry_pinned;
            if unversioned {
                out.push(Draft::new(
                    RuleId::PS209,
                    input.command_or_line(step, command),
                    format!("`{url}` installs whatever release is current"),
                ));
            }
        }
    }
    if command.is("pipx", "install") {
        for spec in command.args()[1..]
            .iter()
            .filter(|a| requirement(a) && !pinned(a))
        {
            out.push(Draft::new(
                RuleId::PS209,
                input.command_or_line(step, command),
                format!("`pipx install {spec}` is not pinned to a version"),
            ));
        }
    }
}

/// `COPY --from=ghcr.io/astral-sh/uv /uv /bin/` without a version.
fn uv_tool_image(input: &Input<'_>, out: &mut Vec<Draft>) {
    for stage in &input.df.stages {
        for (_, instruction) in input.df.body(stage) {
            let (Kind::Copy(_), Some(from)) = (&instruction.kind, instruction.flag("from")) else {
                continue;
            };
            if input.df.stage_named(from, stage.index).is_some() {
                continue;
            }
            let image = ImageRef::parse(from);
            if image.digest.is_none() && matches!(image.tag.as_deref(), None | Some("latest")) {
                out.push(Draft::new(
                    RuleId::PS209,
                    input.first_line(instruction),
                    format!("`--from={from}` copies whichever version was pushed last"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_selectors() {
        assert!(is_dev_selector("requirements-dev.txt"));
        assert!(is_dev_selector("requirements/test.txt"));
        assert!(is_dev_selector(".[dev,docs]"));
        assert!(!is_dev_selector("requirements.txt"));
        assert!(!is_dev_selector(".[postgres]"));
        assert!(!is_dev_selector("requirements-devops.txt"));
    }

    #[test]
    fn poetry_dev_exclusion() {
        let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert!(poetry_excludes_dev(&args("install --only main")));
        assert!(poetry_excludes_dev(&args("install --only=main,prod")));
        assert!(poetry_excludes_dev(&args("install --without dev,docs")));
        assert!(poetry_excludes_dev(&args("install --no-dev")));
        assert!(!poetry_excludes_dev(&args("install --only main,dev")));
        assert!(!poetry_excludes_dev(&args("install --without docs")));
        assert!(!poetry_excludes_dev(&args("install --no-root")));
    }

    #[test]
    fn lock_globs() {
        assert!(glob_matches("poetry.lock*", "poetry.lock"));
        assert!(glob_matches("*.lock", "poetry.lock"));
        assert!(glob_matches("poetry.lock", "poetry.lock"));
        assert!(!glob_matches("uv.lock", "poetry.lock"));
        assert!(!glob_matches("poetry.lock?", "poetry.lock"));
        assert!(!glob_matches("pyproject.toml", "poetry.lock"));
    }

    #[test]
    fn requirement_names() {
        assert_eq!(requirement_name("uv>=0.4"), "uv");
        assert_eq!(requirement_name("Pip_Tools"), "pip-tools");
        assert!(pinned("flask==3.0.0"));
        assert!(!pinned("flask>=3"));
    }
}
