//! Catalogue text for PS100: input pyship cannot read, in a Dockerfile (`rules/mod.rs`)
//! or a workflow (`workflow/yaml.rs`).

use super::Category::Parse;
use super::{Rule, RuleId};
use crate::lint::severity::Severity::Error;

pub(super) const PS100: Rule = Rule {
    id: RuleId::PS100,
    name: "parse-error",
    category: Parse,
    severity: Error,
    summary: "syntax the file's reader would reject",
    hint: "fix the syntax; the rest of the file was still linted",
    explain: "BuildKit refuses to build a Dockerfile with a malformed instruction: an unknown \
keyword, a missing argument, an unterminated quote or here-document, invalid JSON in an \
exec-form array. pyship reports each such instruction and lints everything else, so one \
typo does not hide the other findings. In workflows, it marks YAML that does not parse.",
    hadolint: &["DL1000"],
    fixable: false,
};
