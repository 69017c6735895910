//! The instructions of a Dockerfile as owned, typed values with byte spans.

use std::ops::Range;

use super::mount::Mount;
use super::words::{KeyValue, Word};

/// One instruction, from its keyword to the end of its last argument or here-document.
#[derive(Debug, Clone)]
pub struct Instruction {
    pub span: Range<usize>,
    pub keyword: Range<usize>,
    /// `--name[=value]` options written before the arguments.
    pub flags: Vec<Flag>,
    pub kind: Kind,
}

/// A `--name[=value]` option of an instruction.
#[derive(Debug, Clone)]
pub struct Flag {
    pub span: Range<usize>,
    pub name: String,
    pub value: Option<String>,
}

/// What an instruction says, by instruction.
#[derive(Debug, Clone)]
pub enum Kind {
    From(From),
    Arg(Vec<KeyValue>),
    Env(Vec<KeyValue>),
    Label(Vec<KeyValue>),
    Run(Run),
    Cmd(Command),
    Entrypoint(Command),
    Copy(Copy),
    Add(Copy),
    User(Word),
    Workdir(Word),
    Expose(Vec<Word>),
    /// `None` for `HEALTHCHECK NONE`.
    Healthcheck(Option<Command>),
    Shell(Vec<Word>),
    Volume(Vec<Word>),
    Stopsignal(Word),
    Maintainer(Word),
    Onbuild(Box<Instruction>),
}

#[derive(Debug, Clone)]
pub struct From {
    pub image: Word,
    /// The stage name after `AS`.
    pub alias: Option<Word>,
}

#[derive(Debug, Clone)]
pub struct Run {
    pub command: Command,
    pub mounts: Vec<Mount>,
    pub heredocs: Vec<Heredoc>,
}

/// The source files (or here-documents) and destination of `COPY`/`ADD`.
#[derive(Debug, Clone)]
pub struct Copy {
    pub sources: Vec<Word>,
    pub dest: Word,
    pub heredocs: Vec<Heredoc>,
}

/// The body of a `<<EOF` here-document.
#[derive(Debug, Clone)]
pub struct Heredoc {
    pub span: Range<usize>,
    pub body: String,
}

/// A command in exec form (a JSON array, run directly) or shell form (run by `/bin/sh -c`).
#[derive(Debug, Clone)]
pub enum Command {
    Exec { span: Range<usize>, args: Vec<Word> },
    Shell { span: Range<usize>, script: String },
}

impl Command {
    pub fn span(&self) -> Range<usize> {
        match self {
            Command::Exec { span, .. } | Command::Shell { span, .. } => span.clone(),
        }
    }

    /// The command as one line of text, for rules that look for words in it.
    pub fn text(&self) -> String {
        match self {
            Command::Exec { args, .. } => args
                .iter()
                .map(|a| a.value.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            Command::Shell { script, .. } => script.clone(),
        }
    }

    pub fn is_shell(&self) -> bool {
        matches!(self, Command::Shell { .. })
    }
}

impl Run {
    /// Everything this `RUN` hands to a shell: the command line and its here-documents.
    pub fn script(&self) -> String {
        let mut script = self.command.text();
        for heredoc in &self.heredocs {
            script.push('\n');
            script.push_str(&heredoc.body);
        }
        script
    }

    /// The cache mount targets of this `RUN`.
    pub fn cache_targets(&self) -> impl Iterator<Item = &str> {
        self.mounts.iter().filter_map(Mount::cache_target)
    }
}

impl Instruction {
    /// The keyword as BuildKit names it, upper case.
    pub fn name(&self) -> &'static str {
        match &self.kind {
            Kind::From(_) => "FROM",
            Kind::Arg(_) => "ARG",
            Kind::Env(_) => "ENV",
            Kind::Label(_) => "LABEL",
            Kind::Run(_) => "RUN",
            Kind::Cmd(_) => "CMD",
            Kind::Entrypoint(_) => "ENTRYPOINT",
            Kind::Copy(_) => "COPY",
            Kind::Add(_) => "ADD",
            Kind::User(_) => "USER",
            Kind::Workdir(_) => "WORKDIR",
            Kind::Expose(_) => "EXPOSE",
            Kind::Healthcheck(_) => "HEALTHCHECK",
            Kind::Shell(_) => "SHELL",
            Kind::Volume(_) => "VOLUME",
            Kind::Stopsignal(_) => "STOPSIGNAL",
            Kind::Maintainer(_) => "MAINTAINER",
            Kind::Onbuild(_) => "ONBUILD",
        }
    }

    /// The value of option `--name`, if given (`Some("")` for a bare `--name`).
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_deref().unwrap_or(""))
    }
}
