//! Debian's control-file format (deb822), as `Release` and `Packages` files use it:
//! paragraphs of `Field: value` lines separated by blank lines, where a line starting
//! with a space or tab continues the field above it. Field names are case-insensitive;
//! unknown fields are kept and ignored by whoever reads the paragraph.

use anyhow::{Result, bail};

/// One paragraph: its fields in the order written, continuation lines joined by `\n`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Paragraph<'a> {
    fields: Vec<(&'a str, String)>,
    /// The 1-based line the paragraph starts on, for error messages.
    pub line: usize,
}

impl<'a> Paragraph<'a> {
    /// The value of `name` (case-insensitive), the first line and its continuations.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Splits `text` into paragraphs. A line that is neither a field, a continuation nor
/// blank is an error naming its line number; `#` comment lines are skipped.
pub fn paragraphs(text: &str) -> Result<Vec<Paragraph<'_>>> {
    let mut out = Vec::new();
    let mut current = Paragraph::default();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let Some((_, value)) = current.fields.last_mut() else {
                bail!("line {number} continues a field that was never started");
            };
            let rest = line.trim();
            // A lone "." stands for an empty line inside a long description.
            value.push('\n');
            value.push_str(if rest == "." { "" } else { rest });
            continue;
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
        current.fields.push((name, value.trim().to_owned()));
    }
    if !current.fields.is_empty() {
        out.push(current);
    }
    Ok(out)
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
