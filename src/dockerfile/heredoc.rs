//! Here-documents that do not open the argument list, as in `RUN python3 <<EOF`.
//! `parse-dockerfile` reads a here-document only when `<<` comes first, so before parsing
//! these bodies are lifted out of the text (blanked in place, offsets kept) and attached
//! to their instruction afterwards.

use std::ops::Range;

use super::instruction::{Heredoc, Instruction, Kind};

/// A here-document body found before parsing, and the offset of its instruction's line.
#[derive(Debug, Clone)]
pub struct Lifted {
    pub owner: usize,
    pub heredoc: Heredoc,
    /// Through the end of the terminator line.
    pub extent: Range<usize>,
}

/// Finds the bodies `parse-dockerfile` would misread as instructions and blanks them in
/// a copy of `text`.
pub fn lift(text: &str) -> (String, Vec<Lifted>) {
    let mut lifted = Vec::new();
    let mut offset = 0;
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        let owner = offset;
        offset += line.len();
        let Some(delimiters) = late_delimiters(line) else {
            continue;
        };
        for (delimiter, strip_tabs) in delimiters {
            let body_start = offset;
            let mut body = String::new();
            let mut closed = false;
            for body_line in lines.by_ref() {
                offset += body_line.len();
                let content = body_line.trim_end_matches(['\n', '\r']);
                let content = if strip_tabs {
                    content.trim_start_matches('\t')
                } else {
                    content
                };
                if content == delimiter {
                    closed = true;
                    break;
                }
                body.push_str(content);
                body.push('\n');
            }
            if !closed {
                // An unterminated body is left in place for the parser to report.
                return (text.to_string(), Vec::new());
            }
            lifted.push(Lifted {
                owner,
                heredoc: Heredoc {
                    span: body_start..body_start + body.len().min(offset - body_start),
                    body,
                },
                extent: body_start..offset,
            });
        }
    }
    let mut buffer = text.to_string();
    for l in &lifted {
        let blanked: String = buffer.as_bytes()[l.extent.clone()]
            .iter()
            .map(|&b| if b == b'\n' { '\n' } else { ' ' })
            .collect();
        buffer.replace_range(l.extent.clone(), &blanked);
    }
    (buffer, lifted)
}

/// The delimiters of here-documents on a `RUN`/`COPY`/`ADD` line whose arguments do not
/// start with `<<` (those the parser handles itself).
fn late_delimiters(line: &str) -> Option<Vec<(String, bool)>> {
    let trimmed = line.trim_start();
    let keyword_len = trimmed.find(char::is_whitespace)?;
    if !["RUN", "COPY", "ADD"]
        .iter()
        .any(|k| trimmed[..keyword_len].eq_ignore_ascii_case(k))
    {
        return None;
    }
    let mut args = trimmed[keyword_len..].trim_start();
    while args.starts_with("--") {
        let end = args.find(char::is_whitespace).unwrap_or(args.len());
        args = args[end..].trim_start();
    }
    if args.starts_with("<<") || args.starts_with('[') {
        return None;
    }
    let mut found = Vec::new();
    let bytes = args.as_bytes();
    let mut i = 0;
    while let Some(at) = args[i..].find("<<") {
        let start = i + at;
        i = start + 2;
        if start > 0 && bytes[start - 1] == b'<' || bytes.get(start + 2) == Some(&b'<') {
            continue;
        }
        let mut rest = &args[start + 2..];
        let strip_tabs = rest.starts_with('-');
        if strip_tabs {
            rest = &rest[1..];
        }
        let rest = rest.trim_start_matches(['"', '\'']);
        let word: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !word.is_empty() {
            found.push((word, strip_tabs));
        }
    }
    (!found.is_empty()).then_some(found)
}

/// Attaches lifted bodies to the instructions that own them, extending their spans.
pub fn attach(text: &str, instructions: &mut [Instruction], lifted: Vec<Lifted>) {
    for l in lifted {
        let owner = instructions
            .iter_mut()
            .find(|i| i.span.start >= l.owner && i.span.start < l.owner + line_len(text, l.owner));
        let Some(instruction) = owner else {
            continue;
        };
        // The instruction now ends with the terminator line (its newline excluded).
        let end = if text[..l.extent.end].ends_with('\n') {
            l.extent.end - 1
        } else {
            l.extent.end
        };
        instruction.span.end = instruction.span.end.max(end);
        match &mut instruction.kind {
            Kind::Run(run) => run.heredocs.push(l.heredoc),
            Kind::Copy(copy) | Kind::Add(copy) => copy.heredocs.push(l.heredoc),
            _ => {}
        }
    }
}

fn line_len(text: &str, start: usize) -> usize {
    text[start..]
        .find('\n')
        .map_or(text.len() - start, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifts_late_heredocs_only() {
        let text =
            "FROM x\nRUN python3 <<EOF\nprint(1)\nEOF\nRUN <<EOF\necho\nEOF\nRUN cat <<<word\n";
        let (buffer, lifted) = lift(text);
        assert_eq!(lifted.len(), 1);
        assert_eq!(lifted[0].heredoc.body, "print(1)\n");
        assert_eq!(buffer.len(), text.len());
        assert!(!buffer.contains("print"));
        assert!(buffer.contains("RUN <<EOF\necho\nEOF"));
    }

    #[test]
    fn unterminated_bodies_are_left_for_the_parser() {
        let (buffer, lifted) = lift("FROM x\nRUN python3 <<EOF\nprint(1)\n");
        assert!(lifted.is_empty());
        assert!(buffer.contains("print"));
    }
}
