//! `--format json`: one document with every finding and every fix applied.

use serde::Serialize;

use super::Report;

#[derive(Serialize)]
struct Document<'a> {
    files_checked: usize,
    findings: Vec<Item<'a>>,
    fixed: Vec<Fixed<'a>>,
}

#[derive(Serialize)]
struct Item<'a> {
    rule: &'static str,
    name: &'static str,
    severity: &'static str,
    path: String,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    message: &'a str,
    hint: &'static str,
    fixable: bool,
}

#[derive(Serialize)]
struct Fixed<'a> {
    path: String,
    line: usize,
    description: &'a str,
}

pub fn render(report: &Report<'_>) -> String {
    let document = Document {
        files_checked: report.files,
        findings: report
            .findings
            .iter()
            .map(|f| Item {
                rule: f.rule.id.as_str(),
                name: f.rule.name,
                severity: f.severity.as_str(),
                path: f.path.display().to_string(),
                line: f.start.line,
                column: f.start.column,
                end_line: f.end.line,
                end_column: f.end.column,
                message: &f.message,
                hint: f.rule.hint,
                fixable: f.fix.is_some(),
            })
            .collect(),
        fixed: report
            .fixes
            .iter()
            .map(|a| Fixed {
                path: a.path.display().to_string(),
                line: a.line,
                description: &a.description,
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}
