//! `--format github`: workflow commands that GitHub Actions turns into annotations on the
//! changed lines of a pull request.

use super::Report;
use crate::lint::severity::Severity;

pub fn render(report: &Report<'_>) -> String {
    let mut out = String::new();
    for f in report.findings {
        let command = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        out.push_str(&format!(
            "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            property(&f.path.display().to_string()),
            f.start.line,
            f.start.column,
            f.end.line,
            f.end.column,
            property(&format!("{} {}", f.rule.id, f.rule.name)),
            data(&format!("{} — {}", f.message, f.rule.hint)),
        ));
    }
    out
}

/// Escapes a message body as the workflow-command syntax requires.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value, which additionally must not contain `:` or `,`.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes() {
        assert_eq!(super::property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}
