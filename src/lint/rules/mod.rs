//! The Dockerfile rules, one module per concern. Each module reads the parsed file and
//! the project context and pushes [`Draft`]s; placing, filtering and printing happen later.

mod base;
mod hygiene;
mod install;
mod interpreter;
mod layering;
mod leftovers;
mod runtime;
mod secrets;

use std::ops::Range;

use super::finding::Draft;
use super::project::Project;
use super::rule::RuleId;
use super::shell::{Script, SimpleCommand};
use crate::dockerfile::instruction::Run;
use crate::dockerfile::{Dockerfile, Instruction, Kind, Scope, Stage};

/// Everything a rule may look at for one Dockerfile.
pub struct Input<'a> {
    pub df: &'a Dockerfile,
    pub project: &'a Project,
    /// The parsed shell script of each `RUN`, by instruction index (`None` elsewhere).
    scripts: Vec<Option<Script>>,
}

/// Runs every Dockerfile rule.
pub fn check(df: &Dockerfile, project: &Project) -> Vec<Draft> {
    let input = Input::new(df, project);
    let mut out = Vec::new();
    for error in &df.errors {
        out.push(Draft::new(
            RuleId::PS100,
            error.span.clone(),
            error.message.clone(),
        ));
    }
    base::check(&input, &mut out);
    install::check(&input, &mut out);
    interpreter::check(&input, &mut out);
    leftovers::check(&input, &mut out);
    runtime::check(&input, &mut out);
    secrets::check(&input, &mut out);
    hygiene::check(&input, &mut out);
    out
}

/// A `RUN` instruction of a stage with its parsed script.
pub struct RunStep<'a> {
    pub index: usize,
    pub instruction: &'a Instruction,
    pub run: &'a Run,
    pub script: &'a Script,
}

impl<'a> Input<'a> {
    pub fn new(df: &'a Dockerfile, project: &'a Project) -> Input<'a> {
        let scripts = df
            .instructions
            .iter()
            .map(|i| match &i.kind {
                Kind::Run(run) => Some(Script::parse(&run.script())),
                _ => None,
            })
            .collect();
        Input {
            df,
            project,
            scripts,
        }
    }

    pub fn final_stage(&self) -> Option<&'a Stage> {
        self.df.final_stage()
    }

    pub fn is_multi_stage(&self) -> bool {
        self.df.stages.len() > 1
    }

    /// The `RUN` steps of one stage, in order.
    pub fn runs(&self, stage: &'a Stage) -> impl Iterator<Item = RunStep<'_>> + '_ {
        self.df
            .body(stage)
            .filter_map(move |(index, instruction)| match &instruction.kind {
                Kind::Run(run) => Some(RunStep {
                    index,
                    instruction,
                    run,
                    script: self.scripts[index].as_ref()?,
                }),
                _ => None,
            })
    }

    /// The stages that become images: those a compose or workflow `target:` names, else
    /// every stage no other stage consumes (a `production` stage above a `test` one),
    /// except stages named for tests or development; else the final stage.
    pub fn shipped(&self) -> Vec<&'a Stage> {
        let targets = self.project.targets();
        let named: Vec<&Stage> = self
            .df
            .stages
            .iter()
            .filter(|s| s.name.as_deref().is_some_and(|n| targets.contains(&n)))
            .collect();
        if !named.is_empty() {
            return named;
        }
        let Some(last) = self.final_stage() else {
            return Vec::new();
        };
        let consumed = self.consumed();
        let unconsumed: Vec<&Stage> = self
            .df
            .stages
            .iter()
            .filter(|s| !consumed.contains(&s.index) && !s.name.as_deref().is_some_and(not_shipped))
            .collect();
        if unconsumed.is_empty() {
            vec![last]
        } else {
            unconsumed
        }
    }

    /// Stages another stage builds `FROM`, copies from or mounts.
    fn consumed(&self) -> Vec<usize> {
        let mut out: Vec<usize> = self.df.stages.iter().filter_map(|s| s.parent).collect();
        for stage in &self.df.stages {
            out.extend(self.sources(stage));
        }
        out
    }

    /// The stages a stage's own instructions read files from: `COPY --from` and
    /// `RUN --mount=from=`.
    fn sources(&self, stage: &Stage) -> Vec<usize> {
        use crate::dockerfile::mount::Mount;
        let mut out = Vec::new();
        for (_, instruction) in self.df.body(stage) {
            let mut froms: Vec<&str> = Vec::new();
            match &instruction.kind {
                Kind::Copy(_) | Kind::Add(_) => froms.extend(instruction.flag("from")),
                Kind::Run(run) => froms.extend(run.mounts.iter().filter_map(|m| match m {
                    Mount::Bind { from, .. } => from.as_deref(),
                    _ => None,
                })),
                _ => {}
            }
            out.extend(
                froms
                    .into_iter()
                    .filter_map(|f| self.df.stage_named(f, stage.index))
                    .map(|s| s.index),
            );
        }
        out
    }

    /// The stages whose files can reach a shipped image: shipped stages, their lineage,
    /// and every stage they copy from, transitively.
    pub fn reaching(&self) -> Vec<usize> {
        let mut seen: Vec<usize> = Vec::new();
        let mut queue: Vec<usize> = self.shipped().iter().map(|s| s.index).collect();
        while let Some(index) = queue.pop() {
            if seen.contains(&index) {
                continue;
            }
            seen.push(index);
            let stage = &self.df.stages[index];
            queue.extend(stage.parent);
            queue.extend(self.sources(stage));
        }
        seen
    }

    /// The instructions that end up in the final image: the final stage and the stages
    /// it is built `FROM`, in build order.
    pub fn runtime_instructions(&self) -> Vec<(usize, &'a Instruction)> {
        let Some(last) = self.final_stage() else {
            return Vec::new();
        };
        self.instructions_of(last)
    }

    /// The instructions that make a stage's image: its lineage's bodies, in build order.
    pub fn instructions_of(&self, stage: &'a Stage) -> Vec<(usize, &'a Instruction)> {
        self.df
            .lineage(stage)
            .into_iter()
            .flat_map(|stage| self.df.body(stage))
            .collect()
    }

    /// The stages whose contents are part of a shipped image: their lineages.
    pub fn runtime_stages(&self) -> Vec<&'a Stage> {
        let mut out: Vec<&Stage> = Vec::new();
        for shipped in self.shipped() {
            for stage in self.df.lineage(shipped) {
                if !out.iter().any(|s| s.index == stage.index) {
                    out.push(stage);
                }
            }
        }
        out
    }

    pub fn scope_at(&self, stage: &Stage, index: usize) -> Scope {
        self.df.scope_at(stage, index)
    }

    /// The span of the first line of an instruction: a caret target that stays readable
    /// for long multi-line `RUN`s.
    pub fn first_line(&self, instruction: &Instruction) -> Range<usize> {
        let text = &self.df.text[instruction.span.clone()];
        let len = text.find('\n').unwrap_or(text.len());
        instruction.span.start..instruction.span.start + text[..len].trim_end().len()
    }

    /// The `occurrence`-th (0-based) place `needle` appears inside `instruction`.
    pub fn find(
        &self,
        instruction: &Instruction,
        needle: &str,
        occurrence: usize,
    ) -> Option<Range<usize>> {
        let text = &self.df.text[instruction.span.clone()];
        text.match_indices(needle)
            .nth(occurrence)
            .map(|(i, _)| instruction.span.start + i..instruction.span.start + i + needle.len())
    }

    /// Where a simple command of a `RUN` starts in the file: its first two words, found by
    /// counting earlier commands of the same script that begin the same way.
    pub fn command_span(
        &self,
        step: &RunStep<'_>,
        command: &SimpleCommand,
    ) -> Option<Range<usize>> {
        let needle = command_needle(command)?;
        let occurrence = step
            .script
            .commands
            .iter()
            .take_while(|c| !std::ptr::eq(*c, command))
            .filter(|c| command_needle(c).as_deref() == Some(needle.as_str()))
            .count();
        self.find(step.instruction, &needle, occurrence)
    }

    /// A command's span if it can be found, else the first line of its instruction.
    pub fn command_or_line(&self, step: &RunStep<'_>, command: &SimpleCommand) -> Range<usize> {
        self.command_span(step, command)
            .unwrap_or_else(|| self.first_line(step.instruction))
    }
}

/// Stage names that say the stage is for tests or development, not for shipping.
fn not_shipped(name: &str) -> bool {
    name.split(['-', '_']).any(|w| {
        matches!(
            w,
            "test"
                | "tests"
                | "testing"
                | "dev"
                | "development"
                | "lint"
                | "ci"
                | "debug"
                | "local"
                | "docs"
                | "builder"
                | "build"
                | "base"
                | "deps"
        )
    })
}

fn command_needle(command: &SimpleCommand) -> Option<String> {
    match command.words.as_slice() {
        [] => None,
        [only] => Some(only.clone()),
        [first, second, ..] => Some(format!("{first} {second}")),
    }
}

/// Whether a scope variable is set to a truthy value (`1`, `true`, `yes`, `on`).
pub fn truthy(scope: &Scope, name: &str) -> bool {
    scope
        .get(name)
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// Whether a `VAR=value` assignment written before a command sets `name` truthy.
pub fn assigned_truthy(command: &SimpleCommand, name: &str) -> bool {
    command.assignments.iter().any(|a| {
        a.split_once('=').is_some_and(|(k, v)| {
            k == name && matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
        })
    })
}
