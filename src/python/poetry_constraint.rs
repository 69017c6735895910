//! Poetry's version constraints (`^3.11`, `~3.11`, `3.11.*`, `>=3.9 <3.13`) in PEP 440
//! terms, as Poetry itself defines them, for the places Poetry writes them where
//! pyship needs a specifier (a project's `python` dependency).

use std::str::FromStr;

use uv_pep440::{Version, VersionSpecifiers};

/// The PEP 440 specifiers a Poetry constraint means; `None` when it cannot be said as
/// one set of specifiers (an `||` of ranges) or is not a constraint.
pub fn to_pep440(constraint: &str) -> Option<VersionSpecifiers> {
    let constraint = constraint.trim();
    if constraint.contains("||") || constraint.contains('|') {
        return None;
    }
    if constraint.is_empty() || constraint == "*" {
        return VersionSpecifiers::from_str("").ok();
    }
    let mut parts = Vec::new();
    for word in words(constraint) {
        parts.extend(one(&word)?);
    }
    VersionSpecifiers::from_str(&parts.join(", ")).ok()
}

/// The constraints of a conjunction: separated by `,` or by spaces, with an operator
/// written apart from its version (`>= 3.9`) joined back to it.
fn words(constraint: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in constraint.split([',', ' ']).filter(|w| !w.is_empty()) {
        match words.last_mut() {
            Some(last) if last.chars().all(|c| "<>=!~^".contains(c)) => last.push_str(word),
            _ => words.push(word.to_owned()),
        }
    }
    words
}

fn one(word: &str) -> Option<Vec<String>> {
    if let Some(version) = word.strip_prefix('^') {
        let release = release(version)?;
        // Up to the first non-zero part stays fixed.
        let fixed = release
            .iter()
            .position(|&part| part != 0)
            .unwrap_or(release.len() - 1);
        return Some(vec![
            format!(">={version}"),
            format!("<{}", bump(&release, fixed)),
        ]);
    }
    if let Some(version) = word.strip_prefix('~').filter(|v| !v.starts_with('=')) {
        let release = release(version)?;
        let fixed = if release.len() == 1 { 0 } else { 1 };
        return Some(vec![
            format!(">={version}"),
            format!("<{}", bump(&release, fixed)),
        ]);
    }
    if word.starts_with(['<', '>', '=', '!', '~']) {
        return Some(vec![word.to_owned()]);
    }
    // A bare version is that version; with a wildcard, that series.
    release(word.trim_end_matches(".*"))?;
    Some(vec![format!("=={word}")])
}

/// The numeric release parts of a version.
fn release(version: &str) -> Option<Vec<u64>> {
    let parsed = Version::from_str(version).ok()?;
    Some(parsed.release().to_vec())
}

/// The release with the part at `index` raised by one and everything after it dropped.
fn bump(release: &[u64], index: usize) -> String {
    let mut parts: Vec<u64> = release[..=index].to_vec();
    parts[index] += 1;
    parts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pep440(constraint: &str) -> Option<String> {
        to_pep440(constraint).map(|spec| spec.to_string())
    }

    #[test]
    fn poetry_operators_become_pep_440_ranges() {
        assert_eq!(pep440("^3.11").as_deref(), Some(">=3.11, <4"));
        assert_eq!(pep440("^0.2.3").as_deref(), Some(">=0.2.3, <0.3"));
        assert_eq!(pep440("~3.11").as_deref(), Some(">=3.11, <3.12"));
        assert_eq!(pep440("~3").as_deref(), Some(">=3, <4"));
        assert_eq!(pep440(">=3.9 <3.13").as_deref(), Some(">=3.9, <3.13"));
        assert_eq!(pep440(">= 3.9, < 3.13").as_deref(), Some(">=3.9, <3.13"));
        assert_eq!(pep440("3.11.*").as_deref(), Some("==3.11.*"));
        assert_eq!(pep440("~=3.11").as_deref(), Some("~=3.11"));
        assert_eq!(pep440("*").as_deref(), Some(""));
        assert_eq!(pep440("^3.8 || ^3.10"), None);
        assert_eq!(pep440("latest"), None);
    }
}
