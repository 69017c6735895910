//! The verdict, printed for people (a table with evidence and fixes), for scripts
//! (JSON) or for CI test reporters (JUnit XML).

use std::fmt::Write as _;

use anyhow::Result;
use serde::Serialize;

use crate::oci::facts::BaseFacts;
use crate::transport::ResolvedImage;
use crate::verify::check::{Check, Status};
use crate::verify::contents::Contents;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Junit,
}

/// Facts about the image, reported beside the checks.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub image: String,
    pub digest: String,
    pub size: u64,
    pub layers: usize,
    /// The biggest layers: (size, created by).
    pub biggest: Vec<(u64, String)>,
    pub python: Option<String>,
    pub distributions: Vec<String>,
}

impl Summary {
    pub fn new(
        name: &str,
        image: &ResolvedImage,
        contents: &Contents,
        facts: &BaseFacts,
    ) -> Summary {
        let history: Vec<String> = image
            .config
            .history()
            .clone()
            .unwrap_or_default()
            .iter()
            .filter(|h| !h.empty_layer().unwrap_or(false))
            .map(|h| h.created_by().clone().unwrap_or_default())
            .collect();
        let mut biggest: Vec<(u64, String)> = image
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                (
                    l.size,
                    history
                        .get(i)
                        .filter(|h| !h.is_empty())
                        .cloned()
                        .unwrap_or_else(|| format!("layer {}", i + 1)),
                )
            })
            .collect();
        biggest.sort_by_key(|b| std::cmp::Reverse(b.0));
        biggest.truncate(3);
        Summary {
            image: name.to_owned(),
            digest: image.manifest_digest.to_string(),
            size: image.layers.iter().map(|l| l.size).sum(),
            layers: image.layers.len(),
            biggest,
            python: facts.interpreters.first().map(|i| {
                i.full
                    .clone()
                    .unwrap_or_else(|| format!("{}.{}", i.major, i.minor))
            }),
            distributions: contents
                .distributions
                .iter()
                .map(|d| format!("{}=={}", d.name, d.version))
                .collect(),
        }
    }
}

pub fn print(format: Format, summary: &Summary, checks: &[Check]) -> Result<()> {
    let text = match format {
        Format::Human => human(summary, checks),
        Format::Json => {
            serde_json::to_string_pretty(
                &serde_json::json!({ "summary": summary, "checks": checks }),
            )? + "\n"
        }
        Format::Junit => junit(checks),
    };
    print!("{text}");
    Ok(())
}

fn human(summary: &Summary, checks: &[Check]) -> String {
    let mut out = String::new();
    let mb = |bytes: u64| format!("{:.1} MB", bytes as f64 / 1e6);
    let _ = writeln!(out, "{} ({})", summary.image, summary.digest);
    let _ = writeln!(
        out,
        "  {} in {} layers (as stored); Python {}; {} distributions",
        mb(summary.size),
        summary.layers,
        summary.python.as_deref().unwrap_or("not found"),
        summary.distributions.len()
    );
    for (size, by) in &summary.biggest {
        let _ = writeln!(
            out,
            "  {:>9}  {}",
            mb(*size),
            by.chars().take(90).collect::<String>()
        );
    }
    let _ = writeln!(out);
    for check in checks {
        let mark = match check.status {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Warn => "warn",
            Status::Skip => "skip",
        };
        let _ = writeln!(out, "{mark}  {:<22} {}", check.id, check.title);
        let _ = writeln!(out, "      {}", check.evidence);
        if let Some(fix) = &check.fix {
            let _ = writeln!(out, "      fix: {fix}");
        }
    }
    let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
    let _ = writeln!(
        out,
        "\n{} passed, {} failed, {} warnings, {} skipped",
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Warn),
        count(Status::Skip)
    );
    out
}

fn junit(checks: &[Check]) -> String {
    let failures = checks.iter().filter(|c| c.status == Status::Fail).count();
    let skipped = checks.iter().filter(|c| c.status == Status::Skip).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"pyship verify\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">",
        checks.len()
    );
    for check in checks {
        let name = escape(&format!("{}: {}", check.id, check.title));
        let _ = write!(
            out,
            "  <testcase classname=\"pyship.verify\" name=\"{name}\">"
        );
        match check.status {
            Status::Fail => {
                let _ = write!(
                    out,
                    "<failure message=\"{}\">{}</failure>",
                    escape(&check.evidence),
                    escape(check.fix.as_deref().unwrap_or(""))
                );
            }
            Status::Skip => {
                let _ = write!(out, "<skipped message=\"{}\"/>", escape(&check.evidence));
            }
            Status::Warn | Status::Pass => {
                let _ = write!(out, "<system-out>{}</system-out>", escape(&check.evidence));
            }
        }
        let _ = writeln!(out, "</testcase>");
    }
    out.push_str("</testsuite>\n");
    out
}

fn escape(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&apos;".into(),
            other => other.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_escapes_and_counts() {
        let checks = vec![
            Check::pass("a", "ok", "fine"),
            Check::fail("b", "bad <x>", "saw \"it\" & more", "fix it"),
            Check::skip("c", "later", "skipped by request"),
        ];
        let xml = junit(&checks);
        assert!(xml.contains("tests=\"3\" failures=\"1\" skipped=\"1\""));
        assert!(xml.contains("name=\"b: bad &lt;x&gt;\""));
        assert!(xml.contains("message=\"saw &quot;it&quot; &amp; more\""));
    }
}
