//! Output formats: human (rustc-style snippets), JSON, SARIF 2.1.0 and GitHub annotations.

pub mod github;
pub mod human;
pub mod json;
pub mod sarif;

use super::finding::Finding;
use super::fix::Applied;

/// Which `--format` to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Snippets with a caret under each finding, and a hint.
    Human,
    /// One JSON document with every finding.
    Json,
    /// SARIF 2.1.0, for code-scanning upload.
    Sarif,
    /// GitHub Actions workflow commands (`::warning file=…`), shown as annotations.
    Github,
}

/// Everything a run produced, for the printers.
pub struct Report<'a> {
    pub findings: &'a [Finding],
    /// The text of each linted file, for snippets.
    pub sources: &'a std::collections::HashMap<std::path::PathBuf, String>,
    pub fixes: &'a [Applied],
    pub files: usize,
}

pub fn render(format: Format, report: &Report<'_>, color: bool) -> String {
    match format {
        Format::Human => human::render(report, color),
        Format::Json => json::render(report),
        Format::Sarif => sarif::render(report),
        Format::Github => github::render(report),
    }
}
