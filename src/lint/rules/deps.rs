//! Dependency rules: lockfile contracts, dev dependencies, layer order, installer caches,
//! uv's managed Python, and build tooling that reaches the runtime image.

use super::{Input, RunStep, assigned_truthy, truthy};
use crate::dockerfile::{ImageRef, Kind, Scope, Stage};
use crate::lint::finding::{Draft, Fix};
use crate::lint::shell::SimpleCommand;

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
    let runtime: Vec<usize> = input.runtime_stages().iter().map(|s| s.index).collect();
    for stage in &input.df.stages {
        let in_runtime = runtime.contains(&stage.index);
        for step in input.runs(stage) {
            let scope = input.scope_at(stage, step.index);
            for command in &step.script.commands {
                uv_sync(input, &step, command, &scope, out);
                poetry_install(input, stage, &step, command, out);
                pip_install(input, &step, command, &scope, out);
                tool_download(input, &step, command, out);
                if in_runtime {
                    installer_cache(input, &step, command, &scope, out);
                }
            }
        }
        install_after_source(input, stage, out);
    }
    uv_tool_image(input, out);
    uv_managed_python(input, out);
    uv_in_runtime(input, out);
    build_tools_in_runtime(input, out);
}

fn uv_sync(
    input: &Input<'_>,
    step: &RunStep<'_>,
    command: &SimpleCommand,
    scope: &Scope,
    out: &mut Vec<Draft>,
) {
    if !command.is("uv", "sync") {
        return;
    }
    let locked = command.has_flag("--locked")
        || command.has_flag("--frozen")
        || ["UV_LOCKED", "UV_FROZEN"]
            .iter()
            .any(|v| truthy(scope, v) || assigned_truthy(command, v));
    if !locked {
        let span = input.command_or_line(step, command);
        let mut draft = Draft::new(
            "PS201",
            span.clone(),
            "`uv sync` may re-resolve instead of installing the lockfile",
        );
        if let Some(found) = input.command_span(step, command) {
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
        || truthy(scope, "UV_NO_DEV")
        || assigned_truthy(command, "UV_NO_DEV");
    if !no_dev {
        out.push(Draft::new(
            "PS202",
            input.command_or_line(step, command),
            "`uv sync` installs the dev group unless told `--no-dev`",
        ));
    }
}

fn poetry_install(
    input: &Input<'_>,
    stage: &Stage,
    step: &RunStep<'_>,
    command: &SimpleCommand,
    out: &mut Vec<Draft>,
) {
    if !command.is("poetry", "install") {
        return;
    }
    let span = input.command_or_line(step, command);
    if !input.project.has_lockfile("poetry.lock") {
        out.push(Draft::new(
            "PS201",
            span.clone(),
            "`poetry install` without a `poetry.lock` resolves afresh",
        ));
    } else if !lock_reaches(input, stage, step, "poetry.lock") {
        out.push(Draft::new(
            "PS201",
            span.clone(),
            "`poetry install` runs before `poetry.lock` is copied or mounted",
        ));
    }
    let main_only = command.args().windows(2).any(|w| {
        (w[0] == "--only" && w[1].split(',').all(|g| g == "main"))
            || (w[0] == "--without" && w[1].split(',').any(|g| g == "dev"))
    }) || command.args().iter().any(|a| {
        a == "--only=main" || a == "--no-dev" || a.starts_with("--without=") && a.contains("dev")
    });
    if !main_only {
        out.push(Draft::new(
            "PS202",
            span,
            "`poetry install` includes dev dependencies unless given `--only main`",
        ));
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
                        v.ends_with(lockfile) || v == "." || v == "*" || v.ends_with("*.lock")
                    })
            })
        })
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
fn requirement_name(spec: &str) -> String {
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
    step: &RunStep<'_>,
    command: &SimpleCommand,
    scope: &Scope,
    out: &mut Vec<Draft>,
) {
    let Some(args) = command.pip_install_args() else {
        return;
    };
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
    for file in &requirement_files {
        let Some(loose) = input.project.unpinned_requirements(file) else {
            continue;
        };
        let constrained = args
            .iter()
            .any(|a| a == "-c" || a.starts_with("--constraint"));
        if !loose.is_empty() && !constrained {
            out.push(Draft::new(
                "PS201",
                span.clone(),
                format!(
                    "`{file}` leaves `{}` without a pinned version",
                    loose.join("`, `")
                ),
            ));
        }
    }
    if !unpinned.is_empty() {
        out.push(Draft::new(
            "PS201",
            span.clone(),
            format!(
                "`pip install {}` takes whatever version is newest",
                unpinned.join(" ")
            ),
        ));
    }
    if !tools.is_empty() {
        out.push(Draft::new(
            "PS209",
            span.clone(),
            format!(
                "`{}` is installed without a pinned version",
                tools.join("`, `")
            ),
        ));
    }
    if !dev_files.is_empty() {
        out.push(Draft::new(
            "PS202",
            span.clone(),
            format!(
                "installs development requirements from `{}`",
                dev_files.join("`, `")
            ),
        ));
    }
    pip_cache(input, step, command, scope, out);
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

fn pip_cache(
    input: &Input<'_>,
    step: &RunStep<'_>,
    command: &SimpleCommand,
    scope: &Scope,
    out: &mut Vec<Draft>,
) {
    if command.is_uv_pip() {
        return;
    }
    let cache_off = |v: &str| {
        !matches!(
            v.to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no" | "off"
        )
    };
    let disabled = command.has_flag("--no-cache-dir")
        || scope.get("PIP_NO_CACHE_DIR").is_some_and(|v| cache_off(v))
        || command
            .assignments
            .iter()
            .any(|a| a.strip_prefix("PIP_NO_CACHE_DIR=").is_some_and(cache_off));
    let mounted = step
        .run
        .cache_targets()
        .any(|t| t.contains("pip") || t.ends_with("/.cache") || t == "/root/.cache");
    if disabled || mounted {
        return;
    }
    let span = input.command_or_line(step, command);
    let mut draft = Draft::new("PS204", span, "pip stores its download cache in the layer");
    if let Some(found) = input
        .command_span(step, command)
        .filter(|_| command.words.get(1).is_some_and(|w| w == "install"))
    {
        draft = draft.with_fix(Fix::insert(
            found.end,
            " --no-cache-dir",
            "added `--no-cache-dir` to `pip install`",
        ));
    }
    out.push(draft);
}

/// `curl …/uv/install.sh | sh` and `pipx install poetry` fetch the newest tool.
fn tool_download(
    input: &Input<'_>,
    step: &RunStep<'_>,
    command: &SimpleCommand,
    out: &mut Vec<Draft>,
) {
    let program = command.program().unwrap_or("");
    if matches!(program, "curl" | "wget") {
        for url in command.args().iter().filter(|a| a.contains("://")) {
            let unversioned = url.contains("astral.sh/uv/install.sh")
                || url.contains("install.python-poetry.org");
            if unversioned {
                out.push(Draft::new(
                    "PS209",
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
                "PS209",
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
                    "PS209",
                    input.first_line(instruction),
                    format!("`--from={from}` copies whichever version was pushed last"),
                ));
            }
        }
    }
}

/// Every later install re-runs when a whole-context `COPY` precedes the first install.
fn install_after_source(input: &Input<'_>, stage: &Stage, out: &mut Vec<Draft>) {
    let mut source_copy: Option<usize> = None;
    for (index, instruction) in input.df.body(stage) {
        match &instruction.kind {
            Kind::Copy(copy) | Kind::Add(copy)
                if instruction.flag("from").is_none()
                    && copy
                        .sources
                        .iter()
                        .any(|s| matches!(s.value.trim_end_matches('/'), "." | "*" | "./")) =>
            {
                source_copy.get_or_insert(index);
            }
            Kind::Run(_) => {
                let Some(step) = input.runs(stage).find(|s| s.index == index) else {
                    continue;
                };
                let Some(command) = step
                    .script
                    .commands
                    .iter()
                    .find(|c| is_dependency_install(c))
                else {
                    continue;
                };
                if let Some(copy_index) = source_copy {
                    let line = input
                        .df
                        .position(input.df.instructions[copy_index].span.start)
                        .line;
                    out.push(Draft::new(
                        "PS203",
                        input.command_or_line(&step, command),
                        format!("installs dependencies after the whole source was copied (line {line}): every code change re-installs them"),
                    ));
                }
                // Only the first install matters: later ones reuse its layer's work.
                return;
            }
            _ => {}
        }
    }
}

/// An install of the project's dependencies (not of a single tool).
fn is_dependency_install(command: &SimpleCommand) -> bool {
    if command.is("uv", "sync")
        || command.is("poetry", "install")
        || command.is("pipenv", "install")
    {
        return true;
    }
    command.pip_install_args().is_some_and(|args| {
        args.iter().any(|a| {
            a == "-r"
                || a.starts_with("--requirement")
                || a.starts_with("-r")
                || a == "."
                || a.starts_with(".[")
                || a == "-e"
        })
    })
}

/// Whether a `uv` invocation is pinned to the system interpreter by flag or environment.
fn uv_uses_system_python(scope: &Scope, command: &SimpleCommand) -> bool {
    let env = |name: &str, ok: &[&str]| {
        scope.get(name).is_some_and(|v| ok.contains(&v.as_str()))
            || command.assignments.iter().any(|a| {
                a.split_once('=')
                    .is_some_and(|(k, v)| k == name && ok.contains(&v))
            })
    };
    env("UV_PYTHON_DOWNLOADS", &["never", "manual", "0", "false"])
        || env("UV_PYTHON_PREFERENCE", &["only-system"])
        || truthy(scope, "UV_NO_PYTHON_DOWNLOADS")
        || command.has_flag("--no-python-downloads")
        || command
            .args()
            .windows(2)
            .any(|w| w[0] == "--python-preference" && w[1] == "only-system")
        || command
            .args()
            .iter()
            .any(|a| a == "--python-preference=only-system" || a == "--system")
        || command
            .args()
            .windows(2)
            .any(|w| w[0] == "--python" && w[1].starts_with('/'))
}

/// In a multi-stage build, a builder that runs uv without pinning the system Python can
/// leave the copied venv pointing at an interpreter the runtime stage lacks.
fn uv_managed_python(input: &Input<'_>, out: &mut Vec<Draft>) {
    let Some(last) = input.final_stage() else {
        return;
    };
    if !input.is_multi_stage() {
        return;
    }
    let runtime: Vec<usize> = input.runtime_stages().iter().map(|s| s.index).collect();
    for stage in input
        .df
        .stages
        .iter()
        .filter(|s| !runtime.contains(&s.index))
    {
        if !copied_into(input, stage, last) {
            continue;
        }
        for step in input.runs(stage) {
            let scope = input.scope_at(stage, step.index);
            let risky = step.script.commands.iter().find(|c| {
                (c.is("uv", "sync") || c.is("uv", "venv")) && !uv_uses_system_python(&scope, c)
            });
            if let Some(command) = risky {
                let name = stage
                    .name
                    .clone()
                    .unwrap_or_else(|| stage.index.to_string());
                out.push(Draft::new(
                    "PS205",
                    input.command_or_line(&step, command),
                    format!("stage `{name}` runs uv without `UV_PYTHON_DOWNLOADS=never`; its venv may link to a Python the runtime lacks"),
                ));
                break;
            }
        }
    }
}

/// Whether some stage of `target`'s lineage copies files `--from` `stage`.
fn copied_into(input: &Input<'_>, stage: &Stage, target: &Stage) -> bool {
    input.df.lineage(target).into_iter().any(|s| {
        input.df.body(s).any(|(_, i)| {
            matches!(i.kind, Kind::Copy(_))
                && i.flag("from")
                    .and_then(|f| input.df.stage_named(f, s.index))
                    .is_some_and(|f| f.index == stage.index)
        })
    })
}

fn uv_in_runtime(input: &Input<'_>, out: &mut Vec<Draft>) {
    let single = !input.is_multi_stage();
    let advice = if single {
        "the image ships uv; build the venv in a builder stage instead"
    } else {
        "the runtime stage ships uv"
    };
    for stage in input.runtime_stages() {
        if let Some(image) = (stage.parent.is_none()).then(|| ImageRef::parse(&stage.base.text))
            && image.is_uv()
        {
            let span = input.first_line(&input.df.instructions[stage.from]);
            out.push(Draft::new(
                "PS206",
                span,
                format!("{advice}: the base is the uv image"),
            ));
        }
        for (_, instruction) in input.df.body(stage) {
            let (Kind::Copy(copy), Some(from)) = (&instruction.kind, instruction.flag("from"))
            else {
                continue;
            };
            let uv_image = ImageRef::parse(from).is_uv()
                || input
                    .df
                    .stage_named(from, stage.index)
                    .is_some_and(|s| s.parent.is_none() && ImageRef::parse(&s.base.text).is_uv());
            let copies_binary = copy.sources.iter().any(|s| {
                matches!(
                    s.value.as_str(),
                    "/uv" | "/uvx" | "/bin/uv" | "/usr/local/bin/uv"
                )
            });
            if uv_image && copies_binary {
                out.push(Draft::new(
                    "PS206",
                    input.first_line(instruction),
                    format!("{advice}: uv is copied in"),
                ));
            }
        }
        for step in input.runs(stage) {
            let installs_uv = step.script.commands.iter().find(|c| {
                c.pip_install_args()
                    .is_some_and(|args| args.iter().any(|a| requirement_name(a) == "uv"))
                    || c.args().iter().any(|a| a.contains("astral.sh/uv"))
            });
            if let Some(command) = installs_uv {
                out.push(Draft::new(
                    "PS206",
                    input.command_or_line(&step, command),
                    format!("{advice}: uv is installed"),
                ));
            }
        }
    }
}

/// Packages that compile rather than run: compilers, make, and `-dev` header packages.
fn is_build_package(name: &str) -> bool {
    let name = name.split(['=', ':']).next().unwrap_or(name);
    matches!(
        name,
        "build-essential"
            | "gcc"
            | "g++"
            | "clang"
            | "make"
            | "cmake"
            | "build-base"
            | "musl-dev"
            | "rustc"
            | "cargo"
    ) || name.ends_with("-dev")
        || name.ends_with("-devel")
}

fn build_tools_in_runtime(input: &Input<'_>, out: &mut Vec<Draft>) {
    for stage in input.runtime_stages() {
        for step in input.runs(stage) {
            let removed: Vec<&String> = step
                .script
                .commands
                .iter()
                .filter(|c| {
                    matches!(c.program(), Some("apt-get" | "apt" | "apk" | "dnf" | "yum"))
                        && c.args().iter().any(|a| {
                            matches!(a.as_str(), "purge" | "remove" | "del" | "autoremove")
                        })
                })
                .flat_map(|c| c.args())
                .collect();
            for command in &step.script.commands {
                let installs = matches!(
                    command.program(),
                    Some("apt-get" | "apt" | "apk" | "dnf" | "yum")
                ) && command.args().iter().any(|a| a == "install" || a == "add");
                if !installs {
                    continue;
                }
                let tools: Vec<&str> = command
                    .args()
                    .iter()
                    .filter(|a| !a.starts_with('-') && is_build_package(a) && !removed.contains(a))
                    .map(String::as_str)
                    .collect();
                if !tools.is_empty() {
                    out.push(Draft::new(
                        "PS207",
                        input.command_or_line(&step, command),
                        format!("`{}` stays in the runtime image", tools.join("`, `")),
                    ));
                }
            }
        }
    }
}

/// uv or poetry writing its cache into a layer that ships.
fn installer_cache(
    input: &Input<'_>,
    step: &RunStep<'_>,
    command: &SimpleCommand,
    scope: &Scope,
    out: &mut Vec<Draft>,
) {
    let uv = command.is("uv", "sync")
        || (command.is_uv_pip() && command.args().get(1).is_some_and(|a| a == "install"));
    let poetry = command.is("poetry", "install");
    if !uv && !poetry {
        return;
    }
    let mounted = step.run.cache_targets().any(|t| {
        (uv && t.contains("uv"))
            || (poetry && t.contains("pypoetry"))
            || t.ends_with("/.cache")
            || t == "/root/.cache"
    });
    let cleaned = step.script.commands.iter().any(|c| {
        c.program() == Some("rm")
            && c.args().iter().any(|a| {
                a.contains(".cache") || a.contains("POETRY_CACHE_DIR") || a.contains("UV_CACHE_DIR")
            })
    });
    let disabled = uv
        && (command.has_flag("--no-cache")
            || truthy(scope, "UV_NO_CACHE")
            || assigned_truthy(command, "UV_NO_CACHE"))
        || poetry && command.has_flag("--no-cache");
    if !(mounted || cleaned || disabled) {
        let tool = if uv { "uv" } else { "poetry" };
        out.push(Draft::new(
            "PS208",
            input.command_or_line(step, command),
            format!("{tool}'s download cache is written into this runtime layer"),
        ));
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
    fn requirement_names() {
        assert_eq!(requirement_name("uv>=0.4"), "uv");
        assert_eq!(requirement_name("Pip_Tools"), "pip-tools");
        assert!(pinned("flask==3.0.0"));
        assert!(!pinned("flask>=3"));
    }
}
