//! Poetry's version constraints (`^1.2`, `~1.2`, `1.2.*`, `>=3.9 <3.13`, `>=1,<2 || 3.0`)
//! in PEP 440 terms, as Poetry itself defines them, so uv's version type can test them.
//!
//! Poetry writes them in `[tool.poetry.dependencies]` (a project's `python` among them),
//! in the `python` key of a dependency and in poetry.lock's `[package.dependencies]`; a
//! PEP 440 specifier is also a valid Poetry constraint, so one parser reads both.

use std::str::FromStr;

use anyhow::{Result, bail};
use uv_pep440::{Version, VersionSpecifiers};

/// A union of PEP 440 specifier sets: a version is allowed when any set allows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    any_of: Vec<VersionSpecifiers>,
}

impl Constraint {
    /// Any version (`*`).
    pub fn any() -> Constraint {
        Constraint {
            any_of: vec![VersionSpecifiers::empty()],
        }
    }

    pub fn from_specifiers(specifiers: VersionSpecifiers) -> Constraint {
        Constraint {
            any_of: vec![specifiers],
        }
    }

    /// Parses a Poetry constraint; the error names the constraint.
    pub fn parse(text: &str) -> Result<Constraint> {
        let any_of = text
            .split('|')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                let pep440 = conjunction(part)?;
                VersionSpecifiers::from_str(&pep440).map_err(|err| {
                    anyhow::anyhow!("{text:?} is not a version constraint Poetry writes: {err}")
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if any_of.is_empty() {
            return Ok(Constraint::any());
        }
        Ok(Constraint { any_of })
    }

    /// The one PEP 440 specifier set the constraint is; `None` for an `||` of ranges,
    /// which no single set can say.
    pub fn single(self) -> Option<VersionSpecifiers> {
        match <[VersionSpecifiers; 1]>::try_from(self.any_of) {
            Ok([one]) => Some(one),
            Err(_) => None,
        }
    }

    pub fn contains(&self, version: &Version) -> bool {
        self.any_of.iter().any(|set| set.contains(version))
    }

    /// True when every bound names at least a patch release (`3.11.4`): such a
    /// `python` constraint is about `python_full_version`, otherwise `python_version`.
    pub fn is_precise(&self) -> bool {
        self.any_of
            .iter()
            .flat_map(|set| set.iter())
            .any(|spec| spec.version().release().len() >= 3)
    }
}

/// One `,`- or space-separated conjunction, as a PEP 440 specifier list.
fn conjunction(text: &str) -> Result<String> {
    let mut atoms: Vec<String> = Vec::new();
    let mut pending_operator = String::new();
    for word in text.split([',', ' ', '\t']).filter(|w| !w.is_empty()) {
        // `>= 1.2` has the operator and the version as two words.
        if word.chars().all(|c| "<>=!~^".contains(c)) {
            pending_operator.push_str(word);
            continue;
        }
        atoms.push(format!("{pending_operator}{word}"));
        pending_operator.clear();
    }
    if !pending_operator.is_empty() {
        bail!("{text:?} ends in an operator without a version");
    }
    let specifiers = atoms
        .iter()
        .map(|atom| atom_to_pep440(atom))
        .collect::<Result<Vec<_>>>()?;
    Ok(specifiers
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", "))
}

/// One atom (`^1.2`, `~1.2`, `~=1.2`, `1.2.*`, `>=1.2`, `1.2`) as PEP 440 text; empty
/// for "any version".
fn atom_to_pep440(atom: &str) -> Result<String> {
    let atom = atom.trim();
    if atom
        .trim_start_matches(['v', 'V'])
        .split('.')
        .all(|part| matches!(part, "*" | "x" | "X"))
    {
        return Ok(String::new());
    }
    if let Some(version) = atom.strip_prefix("~=") {
        let release = release_of(version)?;
        if release.len() < 2 {
            return Ok(format!(">={version}, <{}", bump(&release, 0)));
        }
        return Ok(format!("~={version}"));
    }
    if let Some(version) = atom.strip_prefix('~') {
        let release = release_of(version)?;
        let upper = if release.len() == 1 {
            bump(&release, 0)
        } else {
            bump(&release, 1)
        };
        return Ok(format!(">={version}, <{upper}"));
    }
    if let Some(version) = atom.strip_prefix('^') {
        let release = release_of(version)?;
        return Ok(format!(">={version}, <{}", next_breaking(&release)));
    }
    let operator_len = atom
        .find(|c: char| !"<>=!".contains(c))
        .unwrap_or(atom.len());
    let (operator, version) = atom.split_at(operator_len);
    let version = version.trim_start_matches(['v', 'V']);
    let operator = match operator {
        "" | "=" => "==",
        "<>" => "!=",
        other => other,
    };
    Ok(format!("{operator}{version}"))
}

/// The release numbers of `text` (`1.2.3rc1` gives `[1, 2, 3]`), as written.
fn release_of(text: &str) -> Result<Vec<u64>> {
    let version = Version::from_str(text.trim())
        .map_err(|err| anyhow::anyhow!("{text:?} is not a version: {err}"))?;
    Ok(version.release().to_vec())
}

/// The release after `release` at `position` (0 major, 1 minor, 2 patch), zero-padded to
/// that position: `bump([1, 2, 3], 1)` is `1.3`.
fn bump(release: &[u64], position: usize) -> String {
    let mut parts: Vec<u64> = (0..=position)
        .map(|i| release.get(i).copied().unwrap_or(0))
        .collect();
    parts[position] += 1;
    parts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Poetry's caret bound: the next release that may break, from the first non-zero
/// part written (`^1.2` → `2`, `^0.2` → `0.3`, `^0.0.3` → `0.0.4`, `^0` → `1`).
fn next_breaking(release: &[u64]) -> String {
    let major = release.first().copied().unwrap_or(0);
    if major > 0 || release.len() < 2 {
        return bump(release, 0);
    }
    if release[1] > 0 || release.len() < 3 {
        return bump(release, 1);
    }
    bump(release, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(constraint: &str, version: &str) -> bool {
        Constraint::parse(constraint)
            .unwrap()
            .contains(&Version::from_str(version).unwrap())
    }

    #[test]
    fn caret_and_tilde_follow_poetry() {
        assert!(allows("^1.2", "1.9.0") && !allows("^1.2", "2.0"));
        assert!(allows("^0.2.3", "0.2.9") && !allows("^0.2.3", "0.3.0"));
        assert!(allows("^0.0.3", "0.0.3") && !allows("^0.0.3", "0.0.4"));
        assert!(allows("^0", "0.9") && !allows("^0", "1.0"));
        assert!(allows("^0.0", "0.0.9") && !allows("^0.0", "0.1"));
        assert!(allows("~1.2.3", "1.2.9") && !allows("~1.2.3", "1.3.0"));
        assert!(allows("~1", "1.9") && !allows("~1", "2.0"));
        assert!(allows("~=1.4.5", "1.4.9") && !allows("~=1.4.5", "1.5"));
        assert!(allows("~=2", "2.5") && !allows("~=2", "3"));
    }

    #[test]
    fn comparisons_wildcards_unions_and_bare_versions() {
        assert!(allows("*", "0.1") && allows("", "7"));
        assert!(allows(">=1.0,<2.0", "1.5") && !allows(">=1.0,<2.0", "2.0"));
        assert!(allows(">= 1.0 < 2.0", "1.5") && !allows(">= 1.0 < 2.0", "0.9"));
        assert!(allows("1.2.*", "1.2.7") && !allows("1.2.*", "1.3"));
        assert!(!allows("!=1.2.*", "1.2.7") && allows("!=1.2.*", "1.3"));
        assert!(allows("2.50.4", "2.50.4") && !allows("2.50.4", "2.50.5"));
        assert!(allows("=1.0", "1.0") && !allows("<>1.0", "1.0"));
        assert!(allows("<3.9 || >=3.11", "3.12") && !allows("<3.9 || >=3.11", "3.10"));
        assert!(allows("<3.9 | >=3.11", "3.8"));
    }

    #[test]
    fn precision_tells_python_version_from_full_version() {
        assert!(!Constraint::parse(">=3.11,<4").unwrap().is_precise());
        assert!(Constraint::parse(">=3.11.4").unwrap().is_precise());
    }

    fn pep440(constraint: &str) -> Option<String> {
        Constraint::parse(constraint)
            .ok()?
            .single()
            .map(|spec| spec.to_string())
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

    #[test]
    fn nonsense_is_an_error_naming_it() {
        let err = Constraint::parse("^banana").unwrap_err().to_string();
        assert!(err.contains("banana"), "{err}");
        assert!(Constraint::parse(">=").is_err());
    }
}
