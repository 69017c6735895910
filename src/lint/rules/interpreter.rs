//! The interpreter a copied virtual environment links to: in a multi-stage build it must
//! be one the runtime stage has, not one uv downloaded into the builder.

use super::{Input, truthy};
use crate::dockerfile::{Kind, Scope, Stage};
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
                    RuleId::PS205,
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
