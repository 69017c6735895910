//! A finding: one rule violated at one place, with an optional mechanical fix.

use std::ops::Range;
use std::path::PathBuf;

use serde::Serialize;

use super::rule::{Rule, RuleId};
use super::severity::Severity;
use crate::dockerfile::Position;

/// A rule's verdict before it is placed in a file: what the rule modules produce.
#[derive(Debug, Clone)]
pub struct Draft {
    pub rule: &'static Rule,
    /// Byte range in the linted file.
    pub span: Range<usize>,
    pub message: String,
    pub fix: Option<Fix>,
}

impl Draft {
    pub fn new(id: RuleId, span: Range<usize>, message: impl Into<String>) -> Draft {
        Draft {
            rule: id.rule(),
            span,
            message: message.into(),
            fix: None,
        }
    }

    pub fn with_fix(mut self, fix: Fix) -> Draft {
        self.fix = Some(fix);
        self
    }
}

/// A text replacement that resolves a finding; `edits` never overlap.
#[derive(Debug, Clone, Serialize)]
pub struct Fix {
    pub description: String,
    pub edits: Vec<Edit>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Edit {
    pub span: Range<usize>,
    pub replacement: String,
}

impl Fix {
    pub fn insert(at: usize, text: impl Into<String>, description: impl Into<String>) -> Fix {
        Fix::replace(at..at, text, description)
    }

    pub fn replace(
        span: Range<usize>,
        text: impl Into<String>,
        description: impl Into<String>,
    ) -> Fix {
        Fix {
            description: description.into(),
            edits: vec![Edit {
                span,
                replacement: text.into(),
            }],
        }
    }
}

/// A finding placed in a file, with its effective severity.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static Rule,
    pub severity: Severity,
    pub path: PathBuf,
    pub span: Range<usize>,
    pub start: Position,
    pub end: Position,
    pub message: String,
    pub fix: Option<Fix>,
}
