//! What build-time state reaches the runtime image: pip's and the installers' download
//! caches, uv itself, and compilers with their headers.

use super::{Input, RunStep, assigned_truthy, install::requirement_name, truthy};
use crate::dockerfile::{ImageRef, Kind, Scope};
use crate::lint::finding::{Draft, Fix};
use crate::lint::rule::RuleId;
use crate::lint::shell::{Expanded, SimpleCommand};

pub fn check(input: &Input<'_>, out: &mut Vec<Draft>) {
    let runtime: Vec<usize> = input.runtime_stages().iter().map(|s| s.index).collect();
    for stage in &input.df.stages {
        let in_runtime = runtime.contains(&stage.index);
        for step in input.runs(stage) {
            let scope = input.scope_at(stage, step.index);
            for written in &step.script.commands {
                let expanded = written.expand(&scope, input.df.escape());
                pip_cache(input, &step, written, &expanded, &scope, out);
                if in_runtime {
                    installer_cache(input, &step, &expanded.command, &scope, out);
                }
            }
        }
    }
    uv_in_runtime(input, out);
    build_tools_in_runtime(input, out);
}

fn pip_cache(
    input: &Input<'_>,
    step: &RunStep<'_>,
    written: &SimpleCommand,
    expanded: &Expanded,
    scope: &Scope,
    out: &mut Vec<Draft>,
) {
    let command = &expanded.command;
    if command.pip_install_args().is_none() {
        return;
    }
    if command.is_uv_pip() {
        return;
    }
    let cache_off = |v: &str| {
        !matches!(
            v.to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no" | "off"
        )
    };
    // pip accepts any unambiguous abbreviation: `--no-cache` is `--no-cache-dir`.
    let disabled = command.has_prefix_of("--no-cache-dir", "--no-cache".len())
        || scope.get("PIP_NO_CACHE_DIR").is_some_and(|v| cache_off(v))
        || command
            .assignments
            .iter()
            .any(|a| a.strip_prefix("PIP_NO_CACHE_DIR=").is_some_and(cache_off));
    let cache_dir = command
        .args()
        .iter()
        .position(|a| a == "--cache-dir")
        .and_then(|i| command.args().get(i + 1).cloned())
        .or_else(|| scope.get("PIP_CACHE_DIR").cloned())
        .unwrap_or_else(|| "/root/.cache/pip".to_string());
    let mounted = step
        .run
        .cache_targets()
        .any(|t| t.contains("pip") || covers(t, &cache_dir));
    if disabled || mounted || removed(step, &cache_dir) || expanded.open {
        return;
    }
    let span = input.command_or_line(step, written);
    let mut draft = Draft::new(
        RuleId::PS204,
        span,
        "pip stores its download cache in the layer",
    );
    if let Some(found) = input
        .command_span(step, written)
        .filter(|_| written.words.get(1).is_some_and(|w| w == "install") && !expanded.variable)
    {
        draft = draft.with_fix(Fix::insert(
            found.end,
            " --no-cache-dir",
            "added `--no-cache-dir` to `pip install`",
        ));
    }
    out.push(draft);
}

/// Whether a mount or removal at `dir` takes in `path`: the same directory or a parent.
fn covers(dir: &str, path: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    !dir.is_empty() && (path == dir || path.starts_with(&format!("{dir}/")))
}

/// Whether the `RUN` deletes `path` (or a parent of it) after using it.
fn removed(step: &RunStep<'_>, path: &str) -> bool {
    step.script.commands.iter().any(|c| {
        c.program() == Some("rm")
            && c.args()
                .iter()
                .any(|a| !a.starts_with('-') && covers(a.trim_end_matches("/*"), path))
    })
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
    let default = if uv {
        scope
            .get("UV_CACHE_DIR")
            .map_or("/root/.cache/uv", String::as_str)
    } else {
        scope
            .get("POETRY_CACHE_DIR")
            .map_or("/root/.cache/pypoetry", String::as_str)
    };
    let mounted = step.run.cache_targets().any(|t| {
        (uv && t.contains("uv")) || (poetry && t.contains("pypoetry")) || covers(t, default)
    });
    let cleaned = removed(step, default)
        || step.script.commands.iter().any(|c| {
            c.program() == Some("rm")
                && c.args().iter().any(|a| {
                    a.contains(".cache")
                        || a.contains("POETRY_CACHE_DIR")
                        || a.contains("UV_CACHE_DIR")
                })
        })
        || step
            .script
            .commands
            .iter()
            .any(|c| c.is("uv", "cache") || c.is("poetry", "cache"));
    // `--no-cache-dir` and `-n` are uv's aliases of `--no-cache`.
    let disabled = uv
        && (command.has_flag("--no-cache")
            || command.has_flag("--no-cache-dir")
            || command.has_flag("-n")
            || truthy(scope, "UV_NO_CACHE")
            || assigned_truthy(command, "UV_NO_CACHE"))
        || poetry && command.has_flag("--no-cache");
    if !(mounted || cleaned || disabled) {
        let tool = if uv { "uv" } else { "poetry" };
        out.push(Draft::new(
            RuleId::PS208,
            input.command_or_line(step, command),
            format!("{tool}'s download cache is written into this runtime layer"),
        ));
    }
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
                RuleId::PS206,
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
                    RuleId::PS206,
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
                    RuleId::PS206,
                    input.command_or_line(&step, command),
                    format!("{advice}: uv is installed"),
                ));
            }
            // Poetry resolves and installs like uv; shipped, it is the same build tool
            // left behind.
            let installs_poetry = step.script.commands.iter().find(|c| {
                c.pip_install_args()
                    .is_some_and(|args| args.iter().any(|a| requirement_name(a) == "poetry"))
                    || c.is("pipx", "install")
                        && c.args().iter().any(|a| requirement_name(a) == "poetry")
                    || c.args()
                        .iter()
                        .any(|a| a.contains("install.python-poetry.org"))
            });
            if let Some(command) = installs_poetry {
                out.push(Draft::new(
                    RuleId::PS206,
                    input.command_or_line(&step, command),
                    "the image that ships keeps poetry, a build tool; install in a builder stage and copy the venv",
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

/// `apk add --virtual .build-deps …` groups packages under a name that `apk del
/// .build-deps` later removes in the same `RUN`: the names so removed.
fn virtual_packages_removed(step: &RunStep<'_>) -> Vec<String> {
    step.script
        .commands
        .iter()
        .filter(|c| c.program() == Some("apk") && c.args().first().is_some_and(|a| a == "del"))
        .flat_map(|c| {
            c.args()[1..]
                .iter()
                .filter(|a| !a.starts_with('-'))
                .cloned()
        })
        .collect()
}

fn installs_virtual(command: &SimpleCommand, name: &str) -> bool {
    command
        .args()
        .windows(2)
        .any(|w| matches!(w[0].as_str(), "--virtual" | "-t") && w[1] == name)
        || command
            .args()
            .iter()
            .any(|a| a.strip_prefix("--virtual=") == Some(name))
}

fn build_tools_in_runtime(input: &Input<'_>, out: &mut Vec<Draft>) {
    for stage in input.runtime_stages() {
        for step in input.runs(stage) {
            let virtuals = virtual_packages_removed(&step);
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
                if !installs || virtuals.iter().any(|v| installs_virtual(command, v)) {
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
                        RuleId::PS207,
                        input.command_or_line(&step, command),
                        format!("`{}` stays in the runtime image", tools.join("`, `")),
                    ));
                }
            }
        }
    }
}
