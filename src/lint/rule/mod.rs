//! The rule catalogue: every rule's stable ID, default severity, summary, fix hint and the
//! page `pyship lint --explain ID` prints. Rule logic lives in `rules/`; this is its text,
//! one file per rule family.

mod base;
mod hygiene;
mod id;
mod install;
mod parse;
mod runtime;
mod secrets;
mod workflow;

pub use id::RuleId;

use super::severity::Severity;

/// What a rule is about, for grouping in `--explain` and SARIF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Parse,
    Base,
    Dependencies,
    Runtime,
    Secrets,
    Shell,
    Workflow,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Parse => "parse",
            Category::Base => "base image",
            Category::Dependencies => "dependencies",
            Category::Runtime => "runtime",
            Category::Secrets => "secrets and context",
            Category::Shell => "shell hygiene",
            Category::Workflow => "container workflow",
        }
    }
}

/// A rule's identity and documentation.
#[derive(Debug)]
pub struct Rule {
    /// Stable identifier, never reused.
    pub id: RuleId,
    /// Short kebab-case name, shown by code-scanning tools.
    pub name: &'static str,
    pub category: Category,
    pub severity: Severity,
    /// One line: what is wrong.
    pub summary: &'static str,
    /// One line: what to do instead.
    pub hint: &'static str,
    /// The page for `--explain`: why it matters, and what good looks like.
    pub explain: &'static str,
    /// hadolint rules covering the same ground; their ignore pragmas apply here too.
    pub hadolint: &'static [&'static str],
    /// Whether `--fix` can rewrite it.
    pub fixable: bool,
}

/// Looks up a rule ID a user wrote (`--explain`, `--ignore`, config), case-insensitively;
/// `None` when no rule has it.
pub fn find(id: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.id.as_str().eq_ignore_ascii_case(id))
}

impl RuleId {
    /// The catalogue entry. Cannot fail: `RULES` holds one entry per ID in declaration
    /// order, which is checked at compile time below.
    pub fn rule(self) -> &'static Rule {
        &RULES[self as usize]
    }
}

// `RuleId::rule` indexes the catalogue by ID; a missing or misplaced entry must stop the
// build rather than return the wrong rule's text.
const _: () = {
    assert!(
        RULES.len() == RuleId::COUNT,
        "RULES must hold one entry per RuleId"
    );
    let mut i = 0;
    while i < RULES.len() {
        assert!(
            RULES[i].id as usize == i,
            "RULES must list the rules in RuleId order"
        );
        i += 1;
    }
};

/// Every rule, in `RuleId` order.
pub static RULES: &[Rule] = &[
    parse::PS100,
    base::PS101,
    base::PS102,
    base::PS103,
    base::PS104,
    base::PS105,
    base::PS106,
    base::PS107,
    base::PS108,
    base::PS109,
    install::PS201,
    install::PS202,
    install::PS203,
    install::PS204,
    install::PS205,
    install::PS206,
    install::PS207,
    install::PS208,
    install::PS209,
    runtime::PS301,
    runtime::PS302,
    runtime::PS303,
    runtime::PS304,
    runtime::PS305,
    runtime::PS306,
    runtime::PS307,
    runtime::PS308,
    runtime::PS309,
    runtime::PS310,
    secrets::PS401,
    secrets::PS402,
    secrets::PS403,
    secrets::PS404,
    secrets::PS405,
    hygiene::PS501,
    hygiene::PS502,
    hygiene::PS503,
    hygiene::PS504,
    workflow::PS601,
    workflow::PS602,
    workflow::PS603,
    workflow::PS604,
    workflow::PS605,
    workflow::PS606,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_unique_and_well_formed() {
        let mut ids = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for rule in RULES {
            assert!(ids.insert(rule.id), "duplicate id {}", rule.id);
            assert!(names.insert(rule.name), "duplicate name {}", rule.name);
            assert!(
                rule.id.as_str().starts_with("PS") && rule.id.as_str().len() == 5,
                "{}",
                rule.id
            );
            assert!(!rule.summary.ends_with('.') && !rule.hint.is_empty());
        }
    }

    #[test]
    fn ids_sort_as_their_text() {
        // Findings at one place are ordered by ID; that order must stay the textual one.
        assert!(
            RULES
                .windows(2)
                .all(|w| w[0].id.as_str() < w[1].id.as_str())
        );
    }

    #[test]
    fn find_reads_user_input_without_panicking() {
        assert_eq!(find("ps204").map(|r| r.id), Some(RuleId::PS204));
        assert!(find("PS999").is_none());
        assert!(find("").is_none());
    }
}
