//! rustc-style output: the offending lines, a caret under the span, the rule's hint.

use annotate_snippets::{Level, Renderer, Snippet};

use super::Report;
use crate::lint::finding::Finding;
use crate::lint::severity::Severity;

pub fn render(report: &Report<'_>, color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for applied in report.fixes {
        out.push_str(&format!(
            "fixed: {}:{}: {}\n",
            applied.path.display(),
            applied.line,
            applied.description
        ));
    }
    if !report.fixes.is_empty() {
        out.push('\n');
    }
    for finding in report.findings {
        let source = report
            .sources
            .get(&finding.path)
            .map(String::as_str)
            .unwrap_or("");
        out.push_str(&snippet(&renderer, finding, source));
        out.push_str("\n\n");
    }
    out.push_str(&summary(report));
    out
}

fn level(severity: Severity) -> Level {
    match severity {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
        Severity::Info => Level::Info,
    }
}

/// Renders one finding with only the lines it covers, so large files stay cheap. The span
/// is always drawn with carets (annotate-snippets reserves `^` for its error level).
fn snippet(renderer: &Renderer, finding: &Finding, source: &str) -> String {
    let start = source[..finding.span.start.min(source.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let end_from = finding.span.end.min(source.len()).max(start);
    let end = source[end_from..]
        .find('\n')
        .map_or(source.len(), |i| end_from + i);
    let window = &source[start..end];
    let span = finding.span.start.saturating_sub(start).min(window.len())
        ..finding.span.end.saturating_sub(start).min(window.len());
    let origin = finding.path.display().to_string();
    let title = finding.message.clone();
    let hint = format!(
        "{} (pyship lint --explain {})",
        finding.rule.hint, finding.rule.id
    );
    let level = level(finding.severity);
    let message = level
        .title(&title)
        .id(finding.rule.id.as_str())
        .snippet(
            Snippet::source(window)
                .line_start(finding.start.line)
                .origin(&origin)
                .fold(false)
                .annotation(Level::Error.span(span).label(finding.rule.summary)),
        )
        .footer(Level::Help.title(&hint));
    renderer.render(message).to_string()
}

fn summary(report: &Report<'_>) -> String {
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let files = plural(report.files, "file", "files");
    if report.findings.is_empty() {
        return format!("{files} checked, no findings\n");
    }
    format!(
        "{files} checked: {}, {}, {}\n",
        plural(count(Severity::Error), "error", "errors"),
        plural(count(Severity::Warning), "warning", "warnings"),
        plural(count(Severity::Info), "info", "info"),
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
