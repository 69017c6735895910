//! The order of a build's layers: dependencies installed before the whole source is
//! copied, so a code change reuses the dependency layer.

use super::Input;
use crate::dockerfile::{Kind, Stage};
use crate::lint::finding::Draft;
use crate::lint::rule::RuleId;
use crate::lint::shell::SimpleCommand;

/// Every later install re-runs when a whole-context `COPY` precedes the first install.
pub fn install_after_source(input: &Input<'_>, stage: &Stage, out: &mut Vec<Draft>) {
    // A stage built on one that installed the dependencies installs only the project.
    let inherited = input
        .df
        .lineage(stage)
        .into_iter()
        .rev()
        .skip(1)
        .any(|ancestor| installs_dependencies(input, ancestor));
    if inherited {
        return;
    }
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
                        RuleId::PS203,
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

fn installs_dependencies(input: &Input<'_>, stage: &Stage) -> bool {
    input
        .runs(stage)
        .any(|step| step.script.commands.iter().any(is_dependency_install))
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
