//! Dockerfiles as BuildKit reads them: directives, instructions with spans, stages, and
//! the variables in scope at each instruction.

pub mod directives;
pub mod expand;
pub mod heredoc;
pub mod image;
pub mod instruction;
pub mod mount;
pub mod parse;
pub mod source;
pub mod words;

use std::ops::Range;

pub use directives::Directives;
pub use expand::{Expanded, Scope};
pub use image::ImageRef;
pub use instruction::{Command, Instruction, Kind};
pub use parse::ParseError;
pub use source::{LineIndex, Position};

/// A parsed Dockerfile: never fails, malformed instructions land in `errors`.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    pub text: String,
    pub lines: LineIndex,
    pub directives: Directives,
    pub instructions: Vec<Instruction>,
    pub errors: Vec<ParseError>,
    pub stages: Vec<Stage>,
}

/// One build stage: a `FROM` and the instructions up to the next `FROM`.
#[derive(Debug, Clone)]
pub struct Stage {
    pub index: usize,
    /// The name given with `FROM … AS name`, lower-cased as BuildKit compares it.
    pub name: Option<String>,
    /// Index of the `FROM` instruction in [`Dockerfile::instructions`].
    pub from: usize,
    /// Indices of the instructions after the `FROM`, up to the next one.
    pub body: Range<usize>,
    /// The base reference with build arguments substituted.
    pub base: Expanded,
    /// The earlier stage this one starts from, when `FROM` names a stage.
    pub parent: Option<usize>,
}

impl Dockerfile {
    pub fn parse(text: &str) -> Dockerfile {
        let directives = directives::parse(text);
        let (instructions, errors) = parse::parse(text, directives.escape_char());
        let stages = stages(&instructions, directives.escape_char());
        Dockerfile {
            text: text.to_string(),
            lines: LineIndex::new(text),
            directives,
            instructions,
            errors,
            stages,
        }
    }

    pub fn position(&self, offset: usize) -> Position {
        self.lines.position(&self.text, offset)
    }

    pub fn escape(&self) -> char {
        self.directives.escape_char()
    }

    /// The stage that becomes the image when no `--target` is given.
    pub fn final_stage(&self) -> Option<&Stage> {
        self.stages.last()
    }

    /// The stage called `name` (case-insensitive) or numbered `name`, defined before `before`.
    pub fn stage_named(&self, name: &str, before: usize) -> Option<&Stage> {
        let lower = name.to_ascii_lowercase();
        self.stages[..before.min(self.stages.len())]
            .iter()
            .find(|s| s.name.as_deref() == Some(lower.as_str()) || s.index.to_string() == lower)
    }

    /// The instructions of a stage, with their indices.
    pub fn body(&self, stage: &Stage) -> impl Iterator<Item = (usize, &Instruction)> {
        self.instructions[stage.body.clone()]
            .iter()
            .enumerate()
            .map(move |(i, instruction)| (stage.body.start + i, instruction))
    }

    /// The stage chain that builds `stage`: its ancestors first, itself last.
    pub fn lineage<'a>(&'a self, stage: &'a Stage) -> Vec<&'a Stage> {
        let mut chain = vec![stage];
        while let Some(parent) = chain.last().and_then(|s| s.parent) {
            if chain.len() > self.stages.len() {
                break;
            }
            chain.push(&self.stages[parent]);
        }
        chain.reverse();
        chain
    }

    /// The `ENV` (and `ARG`) variables in force just before instruction `upto` of `stage`,
    /// including those a parent stage set.
    pub fn scope_at(&self, stage: &Stage, upto: usize) -> Scope {
        let global = self.global_args();
        let mut scope = Scope::new();
        for s in self.lineage(stage) {
            let end = if s.index == stage.index {
                upto
            } else {
                s.body.end
            };
            for instruction in &self.instructions[s.body.start..end.max(s.body.start)] {
                let (Kind::Env(pairs) | Kind::Arg(pairs)) = &instruction.kind else {
                    continue;
                };
                for pair in pairs {
                    let value = pair
                        .value
                        .as_deref()
                        .map(|v| expand::expand(v, &scope, self.escape()).text);
                    match value {
                        Some(value) => {
                            scope.insert(pair.key.clone(), value);
                        }
                        // A bare `ARG NAME` in a stage takes the default of the global `ARG`.
                        None if matches!(instruction.kind, Kind::Arg(_)) => {
                            let default = global.get(&pair.key).cloned().unwrap_or_default();
                            scope.entry(pair.key.clone()).or_insert(default);
                        }
                        None => {
                            scope.entry(pair.key.clone()).or_default();
                        }
                    }
                }
            }
        }
        scope
    }

    /// The `ARG`s declared before the first `FROM`, with their defaults.
    pub fn global_args(&self) -> Scope {
        let mut global = Scope::new();
        let end = self
            .stages
            .first()
            .map_or(self.instructions.len(), |s| s.from);
        for instruction in &self.instructions[..end] {
            if let Kind::Arg(pairs) = &instruction.kind {
                for pair in pairs {
                    let value = pair.value.as_deref().unwrap_or_default();
                    let value = expand::expand(value, &global, self.escape()).text;
                    global.insert(pair.key.clone(), value);
                }
            }
        }
        global
    }

    /// The whole environment a stage ends with.
    pub fn stage_scope(&self, stage: &Stage) -> Scope {
        self.scope_at(stage, stage.body.end)
    }
}

/// Groups instructions into stages and resolves each base reference with the global
/// `ARG`s (those before the first `FROM`), as BuildKit does.
fn stages(instructions: &[Instruction], escape: char) -> Vec<Stage> {
    let mut global = Scope::new();
    let mut stages: Vec<Stage> = Vec::new();
    for (index, instruction) in instructions.iter().enumerate() {
        match &instruction.kind {
            Kind::Arg(pairs) if stages.is_empty() => {
                for pair in pairs {
                    let value = pair.value.as_deref().unwrap_or_default();
                    global.insert(
                        pair.key.clone(),
                        expand::expand(value, &global, escape).text,
                    );
                }
            }
            Kind::From(from) => {
                if let Some(last) = stages.last_mut() {
                    last.body.end = index;
                }
                let base = expand::expand(&from.image.value, &global, escape);
                let lower = base.text.to_ascii_lowercase();
                let parent = stages
                    .iter()
                    .find(|s| s.name.as_deref() == Some(lower.as_str()))
                    .map(|s| s.index);
                stages.push(Stage {
                    index: stages.len(),
                    name: from.alias.as_ref().map(|a| a.value.to_ascii_lowercase()),
                    from: index,
                    body: index + 1..instructions.len(),
                    base,
                    parent,
                });
            }
            _ => {}
        }
    }
    stages
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTI: &str = "ARG PY=3.12\nFROM python:${PY:-3.11}-slim AS Builder\nENV A=1\nRUN x\nFROM builder AS test\nENV B=$A\nFROM python:${PY}-slim\nCMD [\"app\"]\n";

    #[test]
    fn stages_resolve_global_args_and_parents() {
        let df = Dockerfile::parse(MULTI);
        assert_eq!(df.stages.len(), 3);
        assert_eq!(df.stages[0].base.text, "python:3.12-slim");
        assert_eq!(df.stages[0].name.as_deref(), Some("builder"));
        assert_eq!(df.stages[1].parent, Some(0));
        assert_eq!(df.stages[2].parent, None);
        assert_eq!(df.body(&df.stages[0]).count(), 2);
    }

    #[test]
    fn scope_inherits_from_parent_stage() {
        let df = Dockerfile::parse(MULTI);
        let scope = df.stage_scope(&df.stages[1]);
        assert_eq!(scope.get("B").map(String::as_str), Some("1"));
        assert!(!df.stage_scope(&df.stages[2]).contains_key("A"));
    }
}

#[cfg(test)]
mod robustness;
