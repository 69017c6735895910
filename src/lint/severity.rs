//! How much a finding matters, and the threshold at which `pyship lint` fails.

use serde::{Deserialize, Serialize};

/// Ordered from least to most serious, so `>=` compares against `--fail-level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Advice worth knowing; never fails a build by default.
    Info,
    /// A practice that costs security, size, speed or reproducibility.
    Warning,
    /// An image that is broken or unsafe to ship.
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `--fail-level` choices: a severity, or `none` to always exit 0 on findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FailLevel {
    /// Any finding fails the run.
    Info,
    /// Warnings and errors fail the run; info findings do not.
    Warning,
    /// Only errors fail the run.
    Error,
    /// Findings never fail the run (read errors still exit 2).
    None,
}

impl FailLevel {
    /// Whether a finding of `severity` makes the run fail.
    pub fn fails_on(self, severity: Severity) -> bool {
        match self {
            FailLevel::Info => true,
            FailLevel::Warning => severity >= Severity::Warning,
            FailLevel::Error => severity >= Severity::Error,
            FailLevel::None => false,
        }
    }
}
