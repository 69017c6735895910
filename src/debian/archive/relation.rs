//! Relationship fields of binary packages (Debian policy §7.1): `Depends`, `Pre-Depends`
//! and `Provides`, such as `libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0`.
//! Architecture restrictions (`[amd64]`) and build profiles (`<!nocheck>`) belong to
//! source packages; binary indexes carry none, so they are skipped if present.

use std::fmt;

use anyhow::{Result, bail};
use debversion::Version;

/// One comma-separated entry: satisfied by any of its alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub alternatives: Vec<Alternative>,
}

/// One package name, possibly with a version constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    /// The name without its `:any`/`:ARCH` qualifier.
    pub name: String,
    pub constraint: Option<(Op, Version)>,
}

/// The version relations of policy §7.1, `<` and `>` read as their old meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Earlier,
    EarlierOrEqual,
    Exactly,
    LaterOrEqual,
    Later,
}

impl Op {
    fn parse(text: &str) -> Option<Op> {
        Some(match text {
            "<<" => Op::Earlier,
            "<=" | "<" => Op::EarlierOrEqual,
            "=" => Op::Exactly,
            ">=" | ">" => Op::LaterOrEqual,
            ">>" => Op::Later,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Op::Earlier => "<<",
            Op::EarlierOrEqual => "<=",
            Op::Exactly => "=",
            Op::LaterOrEqual => ">=",
            Op::Later => ">>",
        }
    }
}

impl Alternative {
    /// True when `version` satisfies the constraint (always, without one).
    pub fn allows(&self, version: &Version) -> bool {
        let Some((op, wanted)) = &self.constraint else {
            return true;
        };
        let order = version.cmp(wanted);
        match op {
            Op::Earlier => order.is_lt(),
            Op::EarlierOrEqual => order.is_le(),
            Op::Exactly => order.is_eq(),
            Op::LaterOrEqual => order.is_ge(),
            Op::Later => order.is_gt(),
        }
    }
}

impl fmt::Display for Alternative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.constraint {
            Some((op, version)) => write!(f, "{} ({} {version})", self.name, op.as_str()),
            None => f.write_str(&self.name),
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, alternative) in self.alternatives.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{alternative}")?;
        }
        Ok(())
    }
}

/// Parses a `Depends`-style field.
pub fn parse_relations(text: &str) -> Result<Vec<Relation>> {
    let mut relations = Vec::new();
    for entry in text.split(',') {
        if entry.trim().is_empty() {
            continue;
        }
        let alternatives = entry
            .split('|')
            .map(parse_alternative)
            .collect::<Result<Vec<_>>>()?;
        relations.push(Relation { alternatives });
    }
    Ok(relations)
}

/// Parses a `Provides` field: a list of names, each with at most an `=` version.
pub fn parse_provides(text: &str) -> Result<Vec<Alternative>> {
    let mut provides = Vec::new();
    for relation in parse_relations(text)? {
        let [alternative] = <[Alternative; 1]>::try_from(relation.alternatives)
            .map_err(|_| anyhow::anyhow!("`|` in Provides: {text:?}"))?;
        if let Some((op, _)) = &alternative.constraint
            && *op != Op::Exactly
        {
            bail!("Provides may only use `=`: {text:?}");
        }
        provides.push(alternative);
    }
    Ok(provides)
}

fn parse_alternative(text: &str) -> Result<Alternative> {
    let text = strip_restrictions(text);
    let text = text.trim();
    let name_end = text.find(['(', ' ', '\t', '\n']).unwrap_or(text.len());
    let qualified = &text[..name_end];
    let name = qualified
        .split_once(':')
        .map_or(qualified, |(name, _)| name);
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
    {
        bail!("invalid package name in relation {text:?}");
    }
    let rest = text[name_end..].trim();
    let constraint = if rest.is_empty() {
        None
    } else {
        let inner = rest
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(|| anyhow::anyhow!("invalid version constraint in {text:?}"))?
            .trim();
        let op_end = inner
            .find(|c: char| !"<>=".contains(c))
            .unwrap_or(inner.len());
        let op = Op::parse(&inner[..op_end])
            .ok_or_else(|| anyhow::anyhow!("invalid version relation in {text:?}"))?;
        let version = inner[op_end..].trim();
        let version = version
            .parse::<Version>()
            .map_err(|_| anyhow::anyhow!("invalid version {version:?} in {text:?}"))?;
        Some((op, version))
    };
    Ok(Alternative {
        name: name.to_owned(),
        constraint,
    })
}

/// `text` without `[...]` architecture lists and `<...>` build profiles.
fn strip_restrictions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth_square = 0u32;
    let mut depth_angle = 0u32;
    let mut in_parens = false;
    for c in text.chars() {
        match c {
            '(' => in_parens = true,
            ')' => in_parens = false,
            '[' if !in_parens => depth_square += 1,
            ']' if !in_parens && depth_square > 0 => {
                depth_square -= 1;
                continue;
            }
            '<' if !in_parens => depth_angle += 1,
            '>' if !in_parens && depth_angle > 0 => {
                depth_angle -= 1;
                continue;
            }
            _ => {}
        }
        if depth_square == 0 && depth_angle == 0 {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        text.parse().unwrap()
    }

    #[test]
    fn parses_alternatives_versions_and_qualifiers() {
        let rs = parse_relations(
            "libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, python3:any (<< 3.12~), zlib1g (>>1:1.2) [amd64] <!nocheck>, ",
        )
        .unwrap();
        assert_eq!(rs.len(), 4);
        assert_eq!(rs[0].to_string(), "libc6 (>= 2.34)");
        assert_eq!(rs[1].alternatives.len(), 2);
        assert_eq!(rs[1].alternatives[1].name, "debconf-2.0");
        assert_eq!(rs[2].alternatives[0].name, "python3");
        assert_eq!(rs[2].to_string(), "python3 (<< 3.12~)");
        assert_eq!(rs[3].to_string(), "zlib1g (>> 1:1.2)");
    }

    #[test]
    fn version_relations_follow_debian_ordering() {
        let alt = |text: &str| {
            parse_relations(text)
                .unwrap()
                .remove(0)
                .alternatives
                .remove(0)
        };
        assert!(alt("a (>= 2.36-9)").allows(&v("2.36-9+deb12u9")));
        assert!(!alt("a (>= 2.36-9)").allows(&v("2.36-9~bpo1")));
        assert!(alt("a (<< 3.12~)").allows(&v("3.11.2-1")));
        assert!(!alt("a (<< 3.12~)").allows(&v("3.12")));
        assert!(!alt("a (<< 3.12~)").allows(&v("3.12~rc1")));
        assert!(alt("a (>> 1.0)").allows(&v("1:0.1")));
        assert!(alt("a (= 1.0-1)").allows(&v("1.0-1")));
        assert!(alt("a (<= 1.0)").allows(&v("1.0~beta")));
        assert!(alt("a (> 1.0)").allows(&v("1.0")));
        assert!(alt("a").allows(&v("0")));
    }

    #[test]
    fn provides_take_only_exact_versions() {
        let ps = parse_provides("awk, libssl (= 3.0.15-1~deb12u1), python3-foo:any").unwrap();
        assert_eq!(ps.len(), 3);
        assert_eq!(ps[1].to_string(), "libssl (= 3.0.15-1~deb12u1)");
        assert!(parse_provides("a (>= 1)").is_err());
        assert!(parse_provides("a | b").is_err());
    }

    #[test]
    fn rejects_malformed_relations() {
        for bad in ["Libc6", "a (>= )", "a (~ 1)", "a >= 1", "(>= 1)", "a (>= 1"] {
            assert!(parse_relations(bad).is_err(), "{bad}");
        }
    }
}
