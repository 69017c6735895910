//! `--fix`: applies the mechanical rewrites findings carry, touching no other byte.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::finding::{Edit, Finding};

/// One fix written to a file, for the report.
#[derive(Debug, Clone)]
pub struct Applied {
    pub path: PathBuf,
    /// 1-based line of the finding in the text the fix was applied to.
    pub line: usize,
    pub description: String,
}

/// Applies the fixes of `findings` (all from one file) to `text`. A fix whose edits overlap
/// an earlier one is left for the next pass. Returns the new text and what was applied.
pub fn apply(text: &str, findings: &[Finding]) -> (String, Vec<Applied>) {
    let mut chosen: Vec<(&Finding, &Edit)> = Vec::new();
    let mut fixable: Vec<&Finding> = findings.iter().filter(|f| f.fix.is_some()).collect();
    fixable.sort_by_key(|f| {
        f.fix
            .as_ref()
            .map(|x| x.edits.first().map_or(0, |e| e.span.start))
    });
    let mut applied = Vec::new();
    for finding in fixable {
        let Some(fix) = &finding.fix else { continue };
        let overlaps = fix.edits.iter().any(|edit| {
            chosen.iter().any(|(_, other)| {
                edit.span.start < other.span.end && other.span.start < edit.span.end
                    || (edit.span.is_empty()
                        && other.span.is_empty()
                        && edit.span.start == other.span.start)
            })
        });
        let in_bounds = fix.edits.iter().all(|e| {
            e.span.end <= text.len()
                && text.is_char_boundary(e.span.start)
                && text.is_char_boundary(e.span.end)
        });
        if overlaps || !in_bounds {
            continue;
        }
        chosen.extend(fix.edits.iter().map(|e| (finding, e)));
        applied.push(Applied {
            path: finding.path.clone(),
            line: finding.start.line,
            description: fix.description.clone(),
        });
    }
    chosen.sort_by_key(|(_, e)| std::cmp::Reverse(e.span.start));
    let mut out = text.to_string();
    for (_, edit) in chosen {
        out.replace_range(edit.span.clone(), &edit.replacement);
    }
    (out, applied)
}

/// Writes the fixed `text` over `path` atomically (a full disk or a kill leaves the old
/// file, never half of the new one), keeping its mode. A symlink is refused rather than
/// followed or replaced: its target may be shared with other projects or lie outside
/// this one, and replacing the link with a file would quietly end the sharing.
pub fn write(path: &Path, text: &str) -> Result<()> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        bail!(
            "{} is a symlink to {}: --fix does not write through links; run `pyship lint --fix` on the file itself",
            path.display(),
            target.display()
        );
    }
    crate::store::atomic::write_file(path, |out| Ok(out.write_all(text.as_bytes())?)).with_context(
        || {
            format!(
                "cannot write the fix to {}; check permissions and free space",
                path.display()
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::Position;
    use crate::lint::finding::Fix;
    use crate::lint::rule::RuleId;

    fn finding(fix: Fix) -> Finding {
        let at = Position { line: 1, column: 1 };
        Finding {
            rule: RuleId::PS204.rule(),
            severity: RuleId::PS204.rule().severity,
            path: PathBuf::from("Dockerfile"),
            span: 0..0,
            start: at,
            end: at,
            message: String::new(),
            fix: Some(fix),
        }
    }

    #[test]
    fn applies_from_the_end_and_skips_overlaps() {
        let text = "RUN a b c";
        let findings = [
            finding(Fix::insert(5, " X", "x")),
            finding(Fix::replace(4..7, "Y", "y")),
            finding(Fix::insert(9, " Z", "z")),
        ];
        let (out, applied) = apply(text, &findings);
        assert_eq!(out, "RUN Y c Z");
        assert_eq!(applied.len(), 2);
    }

    #[test]
    fn out_of_bounds_edits_are_ignored() {
        let (out, applied) = apply("é", &[finding(Fix::insert(1, "x", "inside a character"))]);
        assert_eq!(out, "é");
        assert!(applied.is_empty());
    }
}
