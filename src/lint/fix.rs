//! `--fix`: applies the mechanical rewrites findings carry, touching no other byte.

use std::path::PathBuf;

use super::finding::{Edit, Finding};

/// One fix written to a file, for the report.
#[derive(Debug, Clone)]
pub struct Applied {
    pub path: PathBuf,
    /// 1-based line of the finding in the file as it was before the fix.
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
