//! The interpreter a copied virtual environment links to: in a multi-stage build it must
//! be one the runtime stage has, not one uv downloaded into the builder.

use super::{Input, truthy};
use crate::dockerfile::{ImageRef, Kind, Scope, Stage};
use crate::lint::finding::Draft;
use crate::lint::rule::RuleId;
use crate::lint::shell::SimpleCommand;

pub fn check(input: &Input<'_>, out: &mut Vec<Draft>) {
    uv_managed_python(input, out);
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
        if !copied_into(input, stage, last) || base_python_serves(input, stage) {
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
                    RuleId::PS205,
                    input.command_or_line(&step, command),
                    format!("stage `{name}` runs uv without `UV_PYTHON_DOWNLOADS=never`; its venv may link to a Python the runtime lacks"),
                ));
                break;
            }
        }
    }
}

/// Whether some stage of `target`'s lineage copies an environment `--from` `stage`: not
/// only built wheels, requirement lists or static files, which link to no interpreter.
fn copied_into(input: &Input<'_>, stage: &Stage, target: &Stage) -> bool {
    let environment = |source: &str| {
        !(source.ends_with(".whl")
            || source.ends_with(".txt")
            || source.contains("dist")
            || source.contains("static")
            || source.contains("wheels"))
    };
    input.df.lineage(target).into_iter().any(|s| {
        input.df.body(s).any(|(_, i)| {
            let Kind::Copy(copy) = &i.kind else {
                return false;
            };
            i.flag("from")
                .and_then(|f| input.df.stage_named(f, s.index))
                .is_some_and(|f| f.index == stage.index)
                && copy.sources.iter().any(|src| environment(&src.value))
        })
    })
}

/// Whether the builder's base image has a Python the project accepts (`.python-version`
/// and `requires-python`): uv then uses it and downloads nothing.
fn base_python_serves(input: &Input<'_>, stage: &Stage) -> bool {
    use std::str::FromStr;
    let root = input.df.lineage(stage).first().copied().unwrap_or(stage);
    if root.parent.is_some() || root.base.unresolved {
        return false;
    }
    let Some(base) = ImageRef::parse(&root.base.text).python_version() else {
        return false;
    };
    let pin_agrees = input
        .project
        .python_version
        .as_ref()
        .is_none_or(|(_, raw)| {
            let pin: String = raw
                .trim_start_matches(|c: char| !c.is_ascii_digit())
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            pin.split('.').zip(base.split('.')).all(|(a, b)| a == b)
        });
    // The newest patch release stands for the tag: `python:3.12-slim` follows it.
    let accepts = match input
        .project
        .pyproject
        .as_ref()
        .and_then(|p| p.requires_python.as_deref())
    {
        None => true,
        Some(spec) => {
            let version = uv_pep440::Version::from_str(&format!("{base}.99"));
            let spec = uv_pep440::VersionSpecifiers::from_str(&poetry_to_pep440(spec));
            match (version, spec) {
                (Ok(v), Ok(s)) => s.contains(&v),
                _ => false,
            }
        }
    };
    pin_agrees && accepts
}

/// Poetry writes `^3.11` and `~3.11`; PEP 440 says `>=3.11,<4` and `>=3.11,<3.12`.
fn poetry_to_pep440(spec: &str) -> String {
    spec.split(',')
        .map(|part| {
            let part = part.trim();
            if let Some(v) = part.strip_prefix('^') {
                let major = v.split('.').next().unwrap_or(v);
                let next = major.parse::<u32>().map_or(0, |m| m + 1);
                format!(">={v},<{next}")
            } else if let Some(v) = part.strip_prefix('~').filter(|v| !v.starts_with('=')) {
                format!("~={v}.0").replace(".0.0", ".0")
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}
