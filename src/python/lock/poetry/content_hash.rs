//! `[metadata] content-hash`: how Poetry tells a lock from a stale one. It is the
//! SHA-256 of the pyproject tables that decide the resolution, serialised as Python's
//! `json.dumps(..., sort_keys=True)` writes them. Which tables count changed twice:
//!
//! - Poetry 1.x: `[tool.poetry]` `dependencies`, `dev-dependencies`, `source` and
//!   `extras` (each written, `null` when absent), and `group` when present.
//! - Poetry 2.x: the same, nested as `{"tool": {"poetry": …}}` beside
//!   `{"project": …}` (`requires-python`, `dependencies`, `optional-dependencies`)
//!   whenever those or `[dependency-groups]` are present; the old flat form otherwise.
//! - Poetry 2.3 added `[dependency-groups]`; locks from earlier 2.x omit it, and
//!   Poetry still accepts them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Result, bail};
use sha2::{Digest as _, Sha256};
use toml::{Table, Value};

/// The `[tool.poetry]` keys every Poetry version hashes, `null` when absent.
const LEGACY_KEYS: [&str; 4] = ["dependencies", "source", "extras", "dev-dependencies"];

/// The `[project]` keys Poetry 2 hashes when present.
const PROJECT_KEYS: [&str; 3] = ["requires-python", "dependencies", "optional-dependencies"];

/// The rules of one line of Poetry releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// Poetry 1.x: `[tool.poetry]` only.
    Poetry1,
    /// Poetry 2.x, with or without `[dependency-groups]` (added in 2.3).
    Poetry2 { dependency_groups: bool },
}

/// The content hash `rules` give for `pyproject` (the whole parsed file).
pub fn content_hash(pyproject: &Table, rules: Rules) -> Result<String> {
    let mut json = String::new();
    relevant_content(pyproject, rules).write(&mut json)?;
    Ok(hex::encode(Sha256::digest(json.as_bytes())))
}

/// What Poetry hashes: pyproject values, `None` for absent legacy keys, and the
/// objects it builds around them.
enum Node<'a> {
    Null,
    Toml(&'a Value),
    Object(BTreeMap<&'a str, Node<'a>>),
}

fn relevant_content(pyproject: &Table, rules: Rules) -> Node<'_> {
    let tool_poetry = pyproject
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(Value::as_table);
    let (project, groups) = match rules {
        Rules::Poetry1 => (BTreeMap::new(), None),
        Rules::Poetry2 { dependency_groups } => {
            let project = pyproject.get("project").and_then(Value::as_table);
            let project: BTreeMap<&str, Node<'_>> = PROJECT_KEYS
                .iter()
                .filter_map(|key| Some((*key, Node::Toml(project?.get(*key)?))))
                .collect();
            let groups = pyproject
                .get("dependency-groups")
                .filter(|g| dependency_groups && g.as_table().is_none_or(|t| !t.is_empty()));
            (project, groups)
        }
    };
    // Absent legacy keys are written as null, except beside [project] or groups.
    let nested = !project.is_empty() || groups.is_some();
    let mut poetry = BTreeMap::new();
    for key in LEGACY_KEYS.iter().chain(&["group"]) {
        match tool_poetry.and_then(|t| t.get(*key)) {
            Some(value) => {
                poetry.insert(*key, Node::Toml(value));
            }
            None if LEGACY_KEYS.contains(key) && !nested => {
                poetry.insert(*key, Node::Null);
            }
            None => {}
        }
    }
    if !nested {
        return Node::Object(poetry);
    }
    let mut relevant = BTreeMap::new();
    if !project.is_empty() {
        relevant.insert("project", Node::Object(project));
    }
    if let Some(groups) = groups {
        relevant.insert("dependency-groups", Node::Toml(groups));
    }
    relevant.insert(
        "tool",
        Node::Object(BTreeMap::from([("poetry", Node::Object(poetry))])),
    );
    Node::Object(relevant)
}

impl Node<'_> {
    fn write(&self, out: &mut String) -> Result<()> {
        match self {
            Node::Null => out.push_str("null"),
            Node::Toml(value) => write_json(out, value)?,
            Node::Object(entries) => {
                out.push('{');
                for (i, (key, node)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_string(out, key);
                    out.push_str(": ");
                    node.write(out)?;
                }
                out.push('}');
            }
        }
        Ok(())
    }
}

/// Writes `value` exactly as Python's `json.dumps(value, sort_keys=True)` does:
/// `", "` and `": "` separators, keys in code point order, non-ASCII escaped.
fn write_json(out: &mut String, value: &Value) -> Result<()> {
    match value {
        Value::String(text) => write_string(out, text),
        Value::Integer(number) => {
            let _ = write!(out, "{number}");
        }
        Value::Float(number) => write_float(out, *number),
        Value::Boolean(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Datetime(_) => {
            bail!("pyproject.toml has a date where Poetry's content hash expects none")
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(out, item)?;
            }
            out.push(']');
        }
        Value::Table(table) => {
            Node::Object(
                table
                    .iter()
                    .map(|(k, v)| (k.as_str(), Node::Toml(v)))
                    .collect(),
            )
            .write(out)?;
        }
    }
    Ok(())
}

/// A JSON string with `ensure_ascii`: printable ASCII as is, the rest as `\uXXXX`
/// (UTF-16 units, so characters beyond the BMP become surrogate pairs).
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(ch),
            _ => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// A float as Python's `repr`: the shortest digits that round-trip, positional
/// between 1e-4 and 1e16, else `d.ddde+XX`.
fn write_float(out: &mut String, number: f64) {
    if number.is_nan() {
        out.push_str("NaN");
        return;
    }
    if number.is_infinite() {
        out.push_str(if number > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        });
        return;
    }
    let scientific = format!("{number:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if number == 0.0 || (-4..16).contains(&exponent) {
        let positional = format!("{number}");
        out.push_str(&positional);
        if !positional.contains('.') {
            out.push_str(".0");
        }
        return;
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    let _ = write!(out, "{mantissa}e{sign}{:02}", exponent.abs());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> String {
        let value: Table = toml::from_str(text).unwrap();
        let mut out = String::new();
        write_json(&mut out, &Value::Table(value)).unwrap();
        out
    }

    #[test]
    fn json_is_written_as_python_writes_it() {
        assert_eq!(
            json("b = 1\na = [\"x\", true, 2.5]\n[c]\nz = {}\ny = []"),
            r#"{"a": ["x", true, 2.5], "b": 1, "c": {"y": [], "z": {}}}"#
        );
        assert_eq!(
            json("s = \"caf\u{e9} \u{1f600} \\\"q\\\" \\\\ \\t\\u007f\""),
            r#"{"s": "caf\u00e9 \ud83d\ude00 \"q\" \\ \t\u007f"}"#
        );
        assert_eq!(
            json("a = 1e16\nb = 1.0\nc = 0.0001\nd = 0.00001\ne = -1.5e-7\nf = 123456789012345.6"),
            r#"{"a": 1e+16, "b": 1.0, "c": 0.0001, "d": 1e-05, "e": -1.5e-07, "f": 123456789012345.6}"#
        );
    }

    #[test]
    fn keys_sort_by_code_point_and_nulls_stand_for_absent_legacy_keys() {
        let pyproject: Table = toml::from_str(
            "[tool.poetry.dependencies]\npython = \"^3.11\"\nB = \"*\"\na = \"*\"\n",
        )
        .unwrap();
        let mut out = String::new();
        relevant_content(&pyproject, Rules::Poetry1)
            .write(&mut out)
            .unwrap();
        assert_eq!(
            out,
            r#"{"dependencies": {"B": "*", "a": "*", "python": "^3.11"}, "dev-dependencies": null, "extras": null, "source": null}"#
        );
    }

    /// Expected hashes from Python's json.dumps over tomllib's parse, the way Poetry
    /// computes them: escapes, floats, non-ASCII keys, lists of tables, groups.
    #[test]
    fn hashes_match_python_on_awkward_values() {
        let awkward = r#"
[project]
name = "x"
dependencies = ["caf\u00e9>=1", "emoji-\U0001F600"]
requires-python = ">=3.9"
[tool.poetry]
package-mode = false
extras = { a = ["b"] }
[tool.poetry.group.z.dependencies]
"Ünï" = { version = "1", weird = 1.5e20, small = 0.0001, tiny = 1e-7, big = 123456789, neg = -2.0, t = true, tab = "a\tb\u007f\"\\" }
"#;
        let groups = r#"
[tool.poetry]
name = "y"
[tool.poetry.dependencies]
python = "^3.8"
requests = [{version = "2.0", python = "<3.9"}, {version = "2.1", python = ">=3.9", markers = "os_name == 'nt'"}]
[dependency-groups]
dev = ["pytest", {include-group = "lint"}]
lint = []
"#;
        let hash = |text: &str, rules| content_hash(&toml::from_str(text).unwrap(), rules).unwrap();
        let with_groups = Rules::Poetry2 {
            dependency_groups: true,
        };
        let without_groups = Rules::Poetry2 {
            dependency_groups: false,
        };
        assert_eq!(
            hash(awkward, with_groups),
            "db3bd7b72efdbc281b8a9f1087af1707285329c1a13d9a0e23f49ae2f2b046fc"
        );
        assert_eq!(
            hash(groups, with_groups),
            "165700e275047335d7226e5d68d4c6a07405d141bd9bb56fd050af8bf416ecf7"
        );
        assert_eq!(
            hash(groups, without_groups),
            "9739ff1f8af11cb81fbe4de316cb07abc97aecbc9856b412ccaaab237a96d65b"
        );
    }
}
