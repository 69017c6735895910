//! Parsing with recovery. `parse-dockerfile` reads BuildKit's syntax faithfully but stops
//! at the first malformed instruction; here each failure is recorded, the offending
//! instruction is blanked out (offsets of everything else unchanged) and parsing resumes,
//! so one bad line never hides the rest of the file from the rules.

use std::ops::Range;

use parse_dockerfile as pd;

use super::instruction::{Command, Copy, Flag, From, Heredoc, Instruction, Kind, Run};
use super::mount::Mount;
use super::source::LineIndex;
use super::words::{self, KeyValue, Word};

/// An instruction BuildKit would reject, with the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub span: Range<usize>,
    pub message: String,
}

/// More failures than this in one file means it is not a Dockerfile; stop trying.
const MAX_ERRORS: usize = 64;

/// Parses every well-formed instruction of `text` and reports the malformed ones.
pub fn parse(text: &str, escape: char) -> (Vec<Instruction>, Vec<ParseError>) {
    let (mut buffer, lifted) = super::heredoc::lift(text);
    let (mut instructions, errors) = parse_lifted(&mut buffer, escape);
    super::heredoc::attach(text, &mut instructions, lifted);
    (instructions, errors)
}

fn parse_lifted(buffer: &mut String, escape: char) -> (Vec<Instruction>, Vec<ParseError>) {
    let mut errors = Vec::new();
    loop {
        let mut instructions = Vec::new();
        let failure = match pd::parse_iter(buffer) {
            Ok(iter) => iter
                .map(|item| item.map(|i| convert(buffer, &i, escape)))
                .find_map(|item| match item {
                    Ok(instruction) => {
                        instructions.push(instruction);
                        None
                    }
                    Err(err) => Some(err),
                }),
            Err(err) => Some(err),
        };
        let Some(err) = failure else {
            return (instructions, errors);
        };
        let resume = instructions.last().map_or(0, |i| i.span.end);
        let message = format!("{err:#}");
        let span = bad_instruction(buffer, resume, err.line(), escape);
        let at_eof = span.is_empty() || buffer[span.clone()].trim().is_empty();
        errors.push(ParseError {
            span: if at_eof { resume..resume } else { span.clone() },
            message,
        });
        if at_eof || errors.len() >= MAX_ERRORS {
            return (instructions, errors);
        }
        blank(buffer, span);
    }
}

/// The byte range of the instruction that failed: from the first line after `resume`
/// that is neither blank nor a comment, through its continuation lines, and at least
/// through the line the parser complained about.
fn bad_instruction(text: &str, resume: usize, error_line: usize, escape: char) -> Range<usize> {
    let lines = LineIndex::new(text);
    let mut start = resume;
    for line in text[resume..].split_inclusive('\n') {
        let trimmed = line.trim();
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            break;
        }
        start += line.len();
    }
    let mut end = start;
    let mut continued = true;
    for line in text[start..].split_inclusive('\n') {
        if !continued {
            break;
        }
        end += line.len();
        continued = line.trim_end().ends_with(escape);
    }
    if let Some(error_end) = lines.line_end(text, error_line) {
        end = end.max(error_end);
    }
    start.min(text.len())..end.min(text.len())
}

/// Replaces a range with spaces, keeping newlines so every later offset stays valid.
/// Each byte becomes one ASCII byte, so the length (and UTF-8 validity) is preserved.
fn blank(buffer: &mut String, span: Range<usize>) {
    let blanked: String = buffer.as_bytes()[span.clone()]
        .iter()
        .map(|&b| if b == b'\n' { '\n' } else { ' ' })
        .collect();
    buffer.replace_range(span, &blanked);
}

fn word(s: &pd::UnescapedString<'_>) -> Word {
    Word {
        span: s.span.clone(),
        value: s.value.to_string(),
    }
}

fn flags(options: &[pd::Flag<'_>]) -> Vec<Flag> {
    options
        .iter()
        .map(|f| Flag {
            span: f.span(),
            name: f.name.value.to_string(),
            value: f.value.as_ref().map(|v| v.value.to_string()),
        })
        .collect()
}

fn command(text: &str, c: &pd::Command<'_>, escape: char) -> Command {
    match c {
        pd::Command::Exec(array) => Command::Exec {
            span: array.span.clone(),
            args: array.value.iter().map(word).collect(),
        },
        pd::Command::Shell(shell) => Command::Shell {
            span: shell.span.clone(),
            script: words::logical_script(&text[shell.span.clone()], escape),
        },
        // The enum is non-exhaustive; an unknown form is kept as an empty exec array.
        _ => Command::Exec {
            span: 0..0,
            args: Vec::new(),
        },
    }
}

fn heredoc(h: &pd::HereDoc<'_>) -> Heredoc {
    Heredoc {
        span: h.span.clone(),
        body: h.value.to_string(),
    }
}

fn copy(sources: &[pd::Source<'_>], dest: &pd::UnescapedString<'_>) -> Copy {
    let mut copy = Copy {
        sources: Vec::new(),
        dest: word(dest),
        heredocs: Vec::new(),
    };
    for source in sources {
        match source {
            pd::Source::Path(path) => copy.sources.push(word(path)),
            pd::Source::HereDoc(doc) => copy.heredocs.push(heredoc(doc)),
            _ => {}
        }
    }
    copy
}

fn pairs(text: &str, s: &pd::UnescapedString<'_>, escape: char, legacy: bool) -> Vec<KeyValue> {
    words::key_values(text, s.span.clone(), escape, legacy)
}

fn split(text: &str, s: &pd::UnescapedString<'_>, escape: char) -> Vec<Word> {
    words::split(text, s.span.clone(), escape)
}

fn json_or_words(text: &str, a: &pd::JsonOrStringArray<'_, 1>, escape: char) -> Vec<Word> {
    match a {
        pd::JsonOrStringArray::Json(array) => array.value.iter().map(word).collect(),
        pd::JsonOrStringArray::String(items) => {
            items.iter().flat_map(|s| split(text, s, escape)).collect()
        }
    }
}

/// Converts one parsed instruction into the owned model.
fn convert(text: &str, instruction: &pd::Instruction<'_>, escape: char) -> Instruction {
    use pd::Instruction as I;
    let (keyword, options, kind): (Range<usize>, &[pd::Flag<'_>], Kind) = match instruction {
        I::From(i) => (
            i.from.span.clone(),
            &i.options,
            Kind::From(From {
                image: word(&i.image),
                alias: i.as_.as_ref().map(|(_, name)| word(name)),
            }),
        ),
        I::Arg(i) => (
            i.arg.span.clone(),
            &[],
            Kind::Arg(pairs(text, &i.arguments, escape, false)),
        ),
        I::Env(i) => (
            i.env.span.clone(),
            &[],
            Kind::Env(pairs(text, &i.arguments, escape, true)),
        ),
        I::Label(i) => (
            i.label.span.clone(),
            &[],
            Kind::Label(pairs(text, &i.arguments, escape, true)),
        ),
        I::Run(i) => (
            i.run.span.clone(),
            &i.options,
            Kind::Run(Run {
                command: command(text, &i.arguments, escape),
                mounts: i
                    .options
                    .iter()
                    .filter(|f| f.name.value == "mount")
                    .filter_map(|f| f.value.as_ref())
                    .map(|v| Mount::parse(&v.value))
                    .collect(),
                heredocs: i.here_docs.iter().map(heredoc).collect(),
            }),
        ),
        I::Cmd(i) => (
            i.cmd.span.clone(),
            &[],
            Kind::Cmd(command(text, &i.arguments, escape)),
        ),
        I::Entrypoint(i) => (
            i.entrypoint.span.clone(),
            &[],
            Kind::Entrypoint(command(text, &i.arguments, escape)),
        ),
        I::Copy(i) => (
            i.copy.span.clone(),
            &i.options,
            Kind::Copy(copy(&i.src, &i.dest)),
        ),
        I::Add(i) => (
            i.add.span.clone(),
            &i.options,
            Kind::Add(copy(&i.src, &i.dest)),
        ),
        I::User(i) => (i.user.span.clone(), &[], Kind::User(word(&i.arguments))),
        I::Workdir(i) => (
            i.workdir.span.clone(),
            &[],
            Kind::Workdir(word(&i.arguments)),
        ),
        I::Expose(i) => (
            i.expose.span.clone(),
            &[],
            Kind::Expose(
                i.arguments
                    .iter()
                    .flat_map(|a| split(text, a, escape))
                    .collect(),
            ),
        ),
        I::Healthcheck(i) => (
            i.healthcheck.span.clone(),
            &i.options,
            Kind::Healthcheck(match &i.arguments {
                pd::HealthcheckArguments::Cmd { arguments, .. } => {
                    Some(command(text, arguments, escape))
                }
                _ => None,
            }),
        ),
        I::Shell(i) => (
            i.shell.span.clone(),
            &[],
            Kind::Shell(i.arguments.iter().map(word).collect()),
        ),
        I::Volume(i) => (
            i.volume.span.clone(),
            &[],
            Kind::Volume(json_or_words(text, &i.arguments, escape)),
        ),
        I::Stopsignal(i) => (
            i.stopsignal.span.clone(),
            &[],
            Kind::Stopsignal(word(&i.arguments)),
        ),
        I::Maintainer(i) => (
            i.maintainer.span.clone(),
            &[],
            Kind::Maintainer(word(&i.name)),
        ),
        I::Onbuild(i) => (
            i.onbuild.span.clone(),
            &[],
            Kind::Onbuild(Box::new(convert(text, &i.instruction, escape))),
        ),
        _ => unreachable_instruction(),
    };
    let flags = flags(options);
    let mut end = kind_end(&kind)
        .max(keyword.end)
        .max(flags.iter().map(|f| f.span.end).max().unwrap_or(0));
    if has_heredoc(&kind) {
        // A here-document's span stops before its terminator line; the instruction does not.
        end = text[end..].find('\n').map_or(text.len(), |i| end + i);
    }
    Instruction {
        span: keyword.start..end,
        keyword,
        flags,
        kind,
    }
}

/// `parse_dockerfile::Instruction` is non-exhaustive; a future variant is treated as a
/// `MAINTAINER`-like no-op rather than a crash.
#[cold]
fn unreachable_instruction() -> (Range<usize>, &'static [pd::Flag<'static>], Kind) {
    (
        0..0,
        &[],
        Kind::Maintainer(Word {
            span: 0..0,
            value: String::new(),
        }),
    )
}

fn has_heredoc(kind: &Kind) -> bool {
    match kind {
        Kind::Run(r) => !r.heredocs.is_empty(),
        Kind::Copy(c) | Kind::Add(c) => !c.heredocs.is_empty(),
        _ => false,
    }
}

/// The offset just past the last byte an instruction's arguments occupy.
fn kind_end(kind: &Kind) -> usize {
    let words_end = |ws: &[Word]| ws.iter().map(|w| w.span.end).max().unwrap_or(0);
    let pairs_end = |ps: &[KeyValue]| ps.iter().map(|p| p.span.end).max().unwrap_or(0);
    let docs_end = |ds: &[Heredoc]| ds.iter().map(|d| d.span.end).max().unwrap_or(0);
    match kind {
        Kind::From(f) => f.alias.as_ref().map_or(f.image.span.end, |a| a.span.end),
        Kind::Arg(p) | Kind::Env(p) | Kind::Label(p) => pairs_end(p),
        Kind::Run(r) => r.command.span().end.max(docs_end(&r.heredocs)),
        Kind::Cmd(c) | Kind::Entrypoint(c) => c.span().end,
        Kind::Healthcheck(c) => c.as_ref().map_or(0, |c| c.span().end),
        Kind::Copy(c) | Kind::Add(c) => c.dest.span.end.max(docs_end(&c.heredocs)),
        Kind::User(w) | Kind::Workdir(w) | Kind::Stopsignal(w) | Kind::Maintainer(w) => w.span.end,
        Kind::Expose(ws) | Kind::Shell(ws) | Kind::Volume(ws) => words_end(ws),
        Kind::Onbuild(i) => i.span.end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_instruction_does_not_hide_the_rest() {
        let text = "FROM python:3.12\nBOGUS thing \\\n  more\nRUN pip install x\nCOPY\nUSER 1000\n";
        let (instructions, errors) = parse(text, '\\');
        let names: Vec<_> = instructions.iter().map(Instruction::name).collect();
        assert_eq!(names, ["FROM", "RUN", "USER"]);
        assert_eq!(errors.len(), 2);
        assert!(text[errors[0].span.clone()].starts_with("BOGUS"));
        assert!(text[errors[0].span.clone()].contains("more"));
        assert!(text[errors[1].span.clone()].starts_with("COPY"));
    }

    #[test]
    fn spans_cover_heredocs_and_flags() {
        let text = "FROM x\nRUN --mount=type=cache,target=/c <<EOF\necho hi\nEOF\nCMD [\"a\"]\n";
        let (instructions, errors) = parse(text, '\\');
        assert!(errors.is_empty());
        let Kind::Run(run) = &instructions[1].kind else {
            panic!("expected RUN")
        };
        assert_eq!(run.cache_targets().collect::<Vec<_>>(), ["/c"]);
        assert!(run.script().contains("echo hi"));
        assert!(text[instructions[1].span.clone()].ends_with("EOF"));
    }

    #[test]
    fn missing_from_is_an_error_not_a_panic() {
        let (instructions, errors) = parse("RUN echo\n", '\\');
        assert!(instructions.is_empty());
        assert!(!errors.is_empty());
    }
}
