//! `ARG`/`ENV` substitution: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:+alt}` and `${VAR+alt}`, with the escape character keeping a `$` literal.

use std::collections::HashMap;

/// The variables in scope at one point of a Dockerfile.
pub type Scope = HashMap<String, String>;

/// The result of substituting variables into a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    pub text: String,
    /// True when some variable had no value and no default: the text is a guess.
    pub unresolved: bool,
}

/// Defaults nest (`${A:-${B:-c}}`); deeper than this, the rest is left unexpanded so a
/// hostile file cannot exhaust the stack.
const MAX_NESTING: usize = 16;

/// Substitutes the variables of `scope` into `text`.
pub fn expand(text: &str, scope: &Scope, escape: char) -> Expanded {
    expand_nested(text, scope, escape, 0)
}

fn expand_nested(text: &str, scope: &Scope, escape: char, depth: usize) -> Expanded {
    if depth > MAX_NESTING {
        return Expanded {
            text: text.to_string(),
            unresolved: true,
        };
    }
    let mut out = String::with_capacity(text.len());
    let mut unresolved = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        if c == escape && rest.starts_with('$') {
            out.push('$');
            rest = &rest[1..];
        } else if c != '$' {
            out.push(c);
        } else if let Some(body) = rest.strip_prefix('{') {
            let Some(end) = closing_brace(body) else {
                out.push('$');
                continue;
            };
            let (value, known) = braced(&body[..end], scope, escape, depth);
            unresolved |= !known;
            out.push_str(&value);
            rest = &body[end + 1..];
        } else {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if len == 0 {
                out.push('$');
                continue;
            }
            match scope.get(&rest[..len]) {
                Some(value) => out.push_str(value),
                None => unresolved = true,
            }
            rest = &rest[len..];
        }
    }
    Expanded {
        text: out,
        unresolved,
    }
}

/// The offset of the `}` that closes a `${`, allowing nested `${…}` in defaults.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Evaluates the inside of `${…}`; the flag says whether the value is known.
fn braced(inner: &str, scope: &Scope, escape: char, depth: usize) -> (String, bool) {
    let name_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (name, op) = inner.split_at(name_len);
    let value = scope.get(name);
    let set_and_nonempty = value.is_some_and(|v| !v.is_empty());
    let word = |w: &str| {
        let e = expand_nested(w, scope, escape, depth + 1);
        (e.text, !e.unresolved)
    };
    match op {
        "" => value.map_or((String::new(), false), |v| (v.clone(), true)),
        _ if op.starts_with(":-") => match value {
            Some(v) if set_and_nonempty => (v.clone(), true),
            _ => word(&op[2..]),
        },
        _ if op.starts_with('-') => match value {
            Some(v) => (v.clone(), true),
            None => word(&op[1..]),
        },
        _ if op.starts_with(":+") => {
            if set_and_nonempty {
                word(&op[2..])
            } else {
                (String::new(), true)
            }
        }
        _ if op.starts_with('+') => {
            if value.is_some() {
                word(&op[1..])
            } else {
                (String::new(), true)
            }
        }
        // Pattern operators (`#`, `%`, `/`) are rare in Dockerfiles: keep the value.
        _ => value.map_or((String::new(), false), |v| (v.clone(), true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        [
            ("V".to_string(), "3.12".to_string()),
            ("E".to_string(), String::new()),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn plain_and_braced() {
        let e = expand("python:${V}-slim $V", &scope(), '\\');
        assert_eq!(e.text, "python:3.12-slim 3.12");
        assert!(!e.unresolved);
    }

    #[test]
    fn defaults_and_alternatives() {
        let s = scope();
        assert_eq!(expand("${X:-3.11}", &s, '\\').text, "3.11");
        assert_eq!(expand("${E:-d}", &s, '\\').text, "d");
        assert_eq!(expand("${E-d}", &s, '\\').text, "");
        assert_eq!(expand("${V:+yes}", &s, '\\').text, "yes");
        assert_eq!(expand("${X+yes}", &s, '\\').text, "");
        assert_eq!(expand("${X:-${V}}", &s, '\\').text, "3.12");
    }

    #[test]
    fn deep_nesting_stops_instead_of_overflowing() {
        let deep = format!("{}x{}", "${A:-".repeat(100_000), "}".repeat(100_000));
        let e = expand(&deep, &scope(), '\\');
        assert!(e.unresolved);
    }

    #[test]
    fn unknown_is_flagged_and_escape_keeps_dollar() {
        let e = expand("$NOPE", &scope(), '\\');
        assert!(e.unresolved);
        assert_eq!(expand("\\$V", &scope(), '\\').text, "$V");
        assert_eq!(
            expand("${unterminated", &scope(), '\\').text,
            "${unterminated"
        );
    }
}
