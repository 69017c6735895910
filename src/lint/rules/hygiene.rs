//! Shell hygiene in `RUN`: apt without `--no-install-recommends` or list cleanup, pipes
//! without `pipefail`, and relative `WORKDIR`s.

use super::Input;
use crate::dockerfile::expand::expand;
use crate::dockerfile::{Kind, Stage};
use crate::lint::finding::{Draft, Fix};
use crate::lint::rule::RuleId;

pub fn check(input: &Input<'_>, out: &mut Vec<Draft>) {
    for stage in &input.df.stages {
        apt(input, stage, out);
        pipefail(input, stage, out);
        workdir(input, stage, out);
    }
}

fn apt(input: &Input<'_>, stage: &Stage, out: &mut Vec<Draft>) {
    for step in input.runs(stage) {
        let lists_cached = step.run.cache_targets().any(|t| {
            let t = t.trim_end_matches('/');
            t.starts_with("/var/lib/apt") || t == "/var/lib"
        });
        // `rm -rf /var/lib/apt/lists/*`, a parent of it, or `apt-get distclean`.
        let lists_removed = step.script.commands.iter().any(|c| {
            c.program() == Some("rm")
                && c.args().iter().any(|a| {
                    let a = a.trim_end_matches("/*").trim_end_matches('/');
                    matches!(a, "/var/lib/apt" | "/var/lib" | "/var")
                        || a.starts_with("/var/lib/apt/lists")
                })
                || matches!(c.program(), Some("apt-get" | "apt"))
                    && c.args().iter().any(|a| a == "distclean")
        });
        let mut reported_lists = false;
        for command in &step.script.commands {
            let apt_get = matches!(command.program(), Some("apt-get" | "apt"));
            if !apt_get || !command.args().iter().any(|a| a == "install") {
                continue;
            }
            let recommends_off = command.has_flag("--no-install-recommends")
                || command.args().iter().any(|a| {
                    a.contains("Install-Recommends=false") || a.contains("Install-Recommends=0")
                });
            if !recommends_off {
                let mut draft = Draft::new(
                    RuleId::PS501,
                    input.command_or_line(&step, command),
                    "`apt-get install` also pulls in recommended packages",
                );
                if let Some(found) = input.command_span(&step, command) {
                    draft = draft.with_fix(Fix::insert(
                        found.end,
                        " --no-install-recommends",
                        "added `--no-install-recommends` to `apt-get install`",
                    ));
                }
                out.push(draft);
            }
            if !lists_cached && !lists_removed && !reported_lists {
                reported_lists = true;
                out.push(Draft::new(
                    RuleId::PS502,
                    input.command_or_line(&step, command),
                    "`/var/lib/apt/lists` is not removed in this `RUN`",
                ));
            }
        }
    }
}

/// The `SHELL` in force for a stage sets `-o pipefail`, or is not a POSIX shell at all.
fn shell_has_pipefail(input: &Input<'_>, stage: &Stage, upto: usize) -> bool {
    let mut pipefail = false;
    for s in input.df.lineage(stage) {
        for (index, instruction) in input.df.body(s) {
            if s.index == stage.index && index >= upto {
                break;
            }
            if let Kind::Shell(words) = &instruction.kind {
                let posix = words.first().is_some_and(|w| {
                    matches!(
                        w.value.rsplit('/').next(),
                        Some("sh" | "bash" | "ash" | "dash" | "zsh")
                    )
                });
                pipefail = !posix
                    || words
                        .windows(2)
                        .any(|w| w[0].value == "-o" && w[1].value == "pipefail");
            }
        }
    }
    pipefail
}

fn pipefail(input: &Input<'_>, stage: &Stage, out: &mut Vec<Draft>) {
    for step in input.runs(stage) {
        if !step.run.command.is_shell() || !step.script.has_pipe || step.script.sets_pipefail() {
            continue;
        }
        if shell_has_pipefail(input, stage, step.index) {
            continue;
        }
        let span = input
            .find(step.instruction, "|", 0)
            .unwrap_or_else(|| input.first_line(step.instruction));
        out.push(Draft::new(
            RuleId::PS503,
            span,
            "only the last command of this pipe decides whether the step fails",
        ));
    }
}

fn workdir(input: &Input<'_>, stage: &Stage, out: &mut Vec<Draft>) {
    for (index, instruction) in input.df.body(stage) {
        let Kind::Workdir(word) = &instruction.kind else {
            continue;
        };
        let path = expand(
            &word.value,
            &input.scope_at(stage, index),
            input.df.escape(),
        );
        let windows = path.text.chars().nth(1) == Some(':');
        if !path.unresolved
            && !path.text.starts_with('/')
            && !windows
            && !word.value.starts_with('$')
        {
            out.push(Draft::new(
                RuleId::PS504,
                word.span.clone(),
                format!(
                    "`WORKDIR {}` depends on the previous working directory",
                    word.value
                ),
            ));
        }
    }
}
