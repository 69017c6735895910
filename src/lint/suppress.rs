//! Inline suppressions: `# pyship: ignore=PS201,PS202` on the comment lines just above
//! an instruction (or a workflow line), and `# hadolint ignore=DL3013` for the rules that
//! share ground with a hadolint rule.

use super::rule::Rule;

/// The rule IDs suppressed by the comment block directly above 1-based `line`.
pub fn suppressed(text: &str, line: usize, rule: &Rule) -> bool {
    let lines: Vec<&str> = text.lines().take(line.saturating_sub(1)).collect();
    for comment in lines.iter().rev() {
        let trimmed = comment.trim();
        let Some(body) = trimmed.strip_prefix('#') else {
            break;
        };
        if mentions(body, "pyship:", rule.id.as_str())
            || rule.hadolint.iter().any(|h| mentions(body, "hadolint", h))
        {
            return true;
        }
    }
    false
}

/// Whether a comment body of the form `<tool> ignore=A,B` lists `id`.
fn mentions(body: &str, tool: &str, id: &str) -> bool {
    let body = body.trim();
    let Some(rest) = body.strip_prefix(tool) else {
        return false;
    };
    let Some(list) = rest.trim_start().strip_prefix("ignore=") else {
        return false;
    };
    list.split(|c: char| c == ',' || c.is_whitespace())
        .any(|item| item.eq_ignore_ascii_case(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rule::RuleId::*;

    #[test]
    fn comment_block_above_counts() {
        let text = "FROM x\n# pyship: ignore=PS204\n# why: tiny image\nRUN pip install a\n";
        assert!(suppressed(text, 4, PS204.rule()));
        assert!(!suppressed(text, 4, PS201.rule()));
        assert!(!suppressed(text, 1, PS204.rule()));
    }

    #[test]
    fn hadolint_pragmas_apply_to_twins() {
        let text = "FROM x\n# hadolint ignore=DL3042,DL3013\nRUN pip install a\n";
        assert!(suppressed(text, 3, PS204.rule()));
        assert!(suppressed(text, 3, PS201.rule()));
        assert!(!suppressed(text, 3, PS202.rule()));
    }
}
