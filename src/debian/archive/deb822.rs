//! Debian's control-file format (deb822), as `Release` and `Packages` files use it:
//! paragraphs of `Field: value` lines separated by blank lines, where a line starting
//! with a space or tab continues the field above it. Field names are case-insensitive;
//! unknown fields are kept and ignored by whoever reads the paragraph.

use std::borrow::Cow;

use anyhow::{Result, bail};

/// One paragraph: its fields in the order written, continuation lines joined by `\n`.
/// A one-line value borrows the text: an index has a million of them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Paragraph<'a> {
    fields: Vec<(&'a str, Cow<'a, str>)>,
    /// The 1-based line the paragraph starts on, for error messages.
    pub line: usize,
}

impl<'a> Paragraph<'a> {
    /// The value of `name` (case-insensitive), the first line and its continuations.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_ref())
    }
}

/// Splits `text` into paragraphs. A line that is neither a field, a continuation nor
/// blank is an error naming its line number; `#` comment lines are skipped.
pub fn paragraphs(text: &str) -> Result<Vec<Paragraph<'_>>> {
    Paragraphs::new(text).collect()
}

/// The paragraphs of a text one at a time: an index of 60,000 is read without
/// holding them all.
pub struct Paragraphs<'a> {
    lines: std::iter::Enumerate<std::str::Lines<'a>>,
    failed: bool,
}

impl<'a> Paragraphs<'a> {
    pub fn new(text: &'a str) -> Paragraphs<'a> {
        Paragraphs {
            lines: text.lines().enumerate(),
            failed: false,
        }
    }
}

impl<'a> Iterator for Paragraphs<'a> {
    type Item = Result<Paragraph<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let mut current = Paragraph::default();
        for (index, line) in self.lines.by_ref() {
            match add_line(&mut current, line, index + 1) {
                Ok(Line::End) if !current.fields.is_empty() => return Some(Ok(current)),
                Ok(_) => {}
                Err(err) => {
                    self.failed = true;
                    return Some(Err(err));
                }
            }
        }
        (!current.fields.is_empty()).then_some(Ok(current))
    }
}

/// What one line did to the paragraph being read.
enum Line {
    /// A blank line: the paragraph, if any, is complete.
    End,
    Added,
}

fn add_line<'a>(current: &mut Paragraph<'a>, line: &'a str, number: usize) -> Result<Line> {
    if line.trim().is_empty() {
        return Ok(Line::End);
    }
    if line.starts_with('#') {
        return Ok(Line::Added);
    }
    if line.starts_with([' ', '\t']) {
        let Some((_, value)) = current.fields.last_mut() else {
            bail!("line {number} continues a field that was never started");
        };
        let rest = line.trim();
        // A lone "." stands for an empty line inside a long description.
        let value = value.to_mut();
        value.push('\n');
        value.push_str(if rest == "." { "" } else { rest });
        return Ok(Line::Added);
    }
    let Some((name, value)) = line.split_once(':') else {
        bail!("line {number} is not a `Field: value` line");
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        bail!("line {number} has no valid field name");
    }
    if current.fields.is_empty() {
        current.line = number;
    }
    current.fields.push((name, Cow::Borrowed(value.trim())));
    Ok(Line::Added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_continuations_and_paragraphs() {
        let text = "Package: a\nVersion: 1.0\nDescription: short\n long\n .\n more\nX-Unknown: y\n\n\n# c\nPackage: b\nversion:2\n";
        let ps = paragraphs(text).unwrap();
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0].get("package"), Some("a"));
        assert_eq!(ps[0].get("Description"), Some("short\nlong\n\nmore"));
        assert_eq!(ps[0].get("X-Unknown"), Some("y"));
        assert_eq!(ps[1].get("Version"), Some("2"));
        assert_eq!(ps[1].line, 11);
        assert_eq!(ps[1].get("Depends"), None);
    }

    #[test]
    fn rejects_lines_that_are_not_fields() {
        let err = paragraphs("Package: a\nnot a field\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2 is not a `Field: value` line");
        let err = paragraphs(" orphan\n").unwrap_err();
        assert!(err.to_string().contains("line 1 continues"));
    }
}
