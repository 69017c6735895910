//! `--format sarif`: SARIF 2.1.0 with the full rule catalogue in `tool.driver.rules`, so
//! code-scanning shows each rule's name, summary and help page.

use serde_json::{Value, json};

use super::Report;
use crate::lint::rule::RULES;
use crate::lint::severity::Severity;

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn rules() -> Vec<Value> {
    RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id.as_str(),
                "name": r.name,
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": r.explain },
                "help": {
                    "text": format!("{}\n\n{}", r.hint, r.explain),
                    "markdown": format!("**{}**\n\n{}\n\nFix: {}", r.summary, r.explain, r.hint),
                },
                "defaultConfiguration": { "level": level(r.severity) },
                "properties": { "tags": [r.category.as_str()] },
            })
        })
        .collect()
}

pub fn render(report: &Report<'_>) -> String {
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let index = RULES.iter().position(|r| r.id == f.rule.id).unwrap_or(0);
            json!({
                "ruleId": f.rule.id.as_str(),
                "ruleIndex": index,
                "level": level(f.severity),
                "message": { "text": format!("{} ({})", f.message, f.rule.hint) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&f.path) },
                        "region": {
                            "startLine": f.start.line,
                            "startColumn": f.start.column,
                            "endLine": f.end.line,
                            "endColumn": f.end.column,
                        }
                    }
                }],
            })
        })
        .collect();
    let document = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "pyship",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": rules(),
                }
            },
            "results": results,
        }]
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

/// A relative URI with forward slashes, as code-scanning expects; absolute paths become
/// `file://` URIs.
fn uri(path: &std::path::Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    if text.starts_with('/') {
        return format!("file://{text}");
    }
    text.strip_prefix("./").unwrap_or(&text).to_string()
}
