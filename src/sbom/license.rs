//! A distribution's declared license, as its core metadata states it: PEP 639's
//! `License-Expression`, else the older free-text `License` field. Text that parses as
//! an SPDX expression is one; anything else stays the words the author wrote, and no
//! license is guessed from classifiers or files.

/// What a distribution declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum License {
    /// A valid SPDX license expression, such as `MIT` or `Apache-2.0 OR BSD-3-Clause`.
    Expression(String),
    /// Free text that is no SPDX expression, such as `BSD` or `Apache 2.0`.
    Named(String),
}

/// The longest free-text license kept: some `License` fields hold a whole license text,
/// whose first line names it.
const NAME_LIMIT: usize = 200;

impl License {
    /// The license a METADATA file declares, from its two license fields.
    pub fn declared(expression: Option<&str>, text: Option<&str>) -> Option<License> {
        if let Some(expression) = expression.map(str::trim).filter(|e| !e.is_empty()) {
            return Some(License::from_text(expression));
        }
        let first_line = text?.lines().map(str::trim).find(|l| !l.is_empty())?;
        if first_line.eq_ignore_ascii_case("UNKNOWN") {
            return None;
        }
        let name: String = first_line.chars().take(NAME_LIMIT).collect();
        Some(License::from_text(&name))
    }

    fn from_text(text: &str) -> License {
        match spdx::Expression::parse(text) {
            Ok(_) => License::Expression(text.to_owned()),
            Err(_) => License::Named(text.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_are_kept_and_free_text_is_named() {
        assert_eq!(
            License::declared(Some("BSD-3-Clause"), Some("ignored")),
            Some(License::Expression("BSD-3-Clause".into()))
        );
        assert_eq!(
            License::declared(None, Some("MIT")),
            Some(License::Expression("MIT".into()))
        );
        assert_eq!(
            License::declared(None, Some("Apache 2.0\n\nfull text...")),
            Some(License::Named("Apache 2.0".into()))
        );
        assert_eq!(License::declared(None, Some("UNKNOWN")), None);
        assert_eq!(License::declared(Some(" "), None), None);
    }
}
