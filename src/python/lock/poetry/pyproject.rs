//! pyproject.toml as Poetry reads it: the main dependencies (PEP 621 `[project]` when it
//! declares them, else `[tool.poetry.dependencies]`), the extras, the groups
//! (`[tool.poetry.group.NAME]`, the 1.x `dev-dependencies` as `dev`, PEP 735
//! `[dependency-groups]`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};
use toml::{Table, Value};

use super::requirement::{Requirement, name_of};
use crate::python::lock::normalize;

/// Poetry's group for the project's own dependencies.
pub const MAIN_GROUP: &str = "main";

#[derive(Debug, Clone)]
pub struct PoetryProject {
    /// The whole file, for the content hash.
    pub pyproject: Table,
    /// What the project needs without extras or groups.
    pub main: Vec<Requirement>,
    /// Extra (normalized) to the requirements it adds.
    pub extras: BTreeMap<String, Vec<Requirement>>,
    /// Group (normalized, `main` excluded) to its requirements, includes resolved.
    pub groups: BTreeMap<String, Vec<Requirement>>,
    /// True when `[project]` declares the dependencies (Poetry 2's PEP 621 form).
    pub pep621: bool,
}

impl PoetryProject {
    pub fn read(root: &Path) -> Result<PoetryProject> {
        let path = root.join("pyproject.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let pyproject: Table = toml::from_str(&text)
            .map_err(|err| anyhow::anyhow!("{}: {}", path.display(), err.message()))?;
        Self::from_table(pyproject).with_context(|| path.display().to_string())
    }

    pub fn from_table(pyproject: Table) -> Result<PoetryProject> {
        let empty = Table::new();
        let project = table_at(&pyproject, &["project"]).unwrap_or(&empty);
        let poetry = table_at(&pyproject, &["tool", "poetry"]).unwrap_or(&empty);
        let pep621_main = strings(project.get("dependencies"), "[project] dependencies")?;
        let mut pep621_extras = BTreeMap::new();
        for (extra, reqs) in table_at(project, &["optional-dependencies"]).unwrap_or(&empty) {
            let reqs = strings(Some(reqs), "[project.optional-dependencies]")?;
            pep621_extras.insert(normalize(extra), pep508_all(&reqs)?);
        }
        let poetry_main = poetry_table(poetry.get("dependencies"), "[tool.poetry.dependencies]")?;
        let pep621 = !pep621_main.is_empty() || !pep621_extras.is_empty();
        let (main, extras) = if pep621 {
            let mut main = pep508_all(&pep621_main)?;
            // With `dynamic = ["dependencies"]`, [tool.poetry] adds to [project].
            let dynamic = strings(project.get("dynamic"), "[project] dynamic")?;
            if dynamic.iter().any(|d| d == "dependencies") {
                main.extend(poetry_main.into_iter().filter(|r| !r.optional));
            }
            (main, pep621_extras)
        } else {
            let extras = legacy_extras(poetry, &poetry_main)?;
            (
                poetry_main.into_iter().filter(|r| !r.optional).collect(),
                extras,
            )
        };
        Ok(PoetryProject {
            groups: groups(&pyproject, poetry)?,
            pyproject,
            main,
            extras,
            pep621,
        })
    }

    /// Where the project's extras are declared, for messages.
    pub fn extras_table(&self) -> &'static str {
        if self.pep621 {
            "[project.optional-dependencies]"
        } else {
            "[tool.poetry.extras]"
        }
    }
}

/// `[tool.poetry.extras]`: extra to the names of optional main dependencies.
fn legacy_extras(
    poetry: &Table,
    main: &[Requirement],
) -> Result<BTreeMap<String, Vec<Requirement>>> {
    let mut extras = BTreeMap::new();
    let Some(declared) = poetry.get("extras") else {
        return Ok(extras);
    };
    let declared = declared
        .as_table()
        .context("[tool.poetry.extras] is not a table")?;
    for (extra, names) in declared {
        let names = strings(Some(names), "[tool.poetry.extras]")?;
        let wanted: BTreeSet<String> = names.iter().map(|n| name_of(n)).collect();
        let reqs = main
            .iter()
            .filter(|r| wanted.contains(&r.name))
            .map(|r| Requirement {
                optional: false,
                ..r.clone()
            })
            .collect();
        extras.insert(normalize(extra), reqs);
    }
    Ok(extras)
}

/// Every group's requirements with its included groups' folded in.
fn groups(pyproject: &Table, poetry: &Table) -> Result<BTreeMap<String, Vec<Requirement>>> {
    let mut own: BTreeMap<String, Vec<Requirement>> = BTreeMap::new();
    let mut includes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(pep735) = table_at(pyproject, &["dependency-groups"]) {
        for (group, entries) in pep735 {
            let name = normalize(group);
            let entries = entries
                .as_array()
                .with_context(|| format!("[dependency-groups] {group} is not a list"))?;
            for entry in entries {
                match entry {
                    Value::String(text) => own
                        .entry(name.clone())
                        .or_default()
                        .push(Requirement::from_pep508(text)?),
                    Value::Table(t) => {
                        let included = t
                            .get("include-group")
                            .and_then(Value::as_str)
                            .with_context(|| {
                                format!(
                                    "[dependency-groups] {group} has a table without include-group"
                                )
                            })?;
                        includes
                            .entry(name.clone())
                            .or_default()
                            .push(normalize(included));
                    }
                    _ => {
                        bail!("[dependency-groups] {group} has an entry that is not a requirement")
                    }
                }
            }
            own.entry(name).or_default();
        }
    }
    for (group, config) in table_at(poetry, &["group"]).unwrap_or(&Table::new()) {
        let name = normalize(group);
        let deps = poetry_table(
            config.get("dependencies"),
            &format!("[tool.poetry.group.{group}.dependencies]"),
        )?;
        // A group both tables declare takes its requirements from [dependency-groups].
        if own.get(&name).is_none_or(Vec::is_empty) {
            own.insert(name.clone(), deps);
        }
        let included = strings(config.get("include-groups"), "include-groups")?;
        includes
            .entry(name)
            .or_default()
            .extend(included.iter().map(|g| normalize(g)));
    }
    let dev = poetry_table(
        poetry.get("dev-dependencies"),
        "[tool.poetry.dev-dependencies]",
    )?;
    if !dev.is_empty() {
        own.entry("dev".to_owned()).or_default().extend(dev);
    }
    let mut resolved = BTreeMap::new();
    for name in own.keys() {
        let mut reqs = Vec::new();
        let mut seen = BTreeSet::new();
        collect_group(name, &own, &includes, &mut seen, &mut reqs)?;
        resolved.insert(name.clone(), reqs);
    }
    Ok(resolved)
}

fn collect_group(
    name: &str,
    own: &BTreeMap<String, Vec<Requirement>>,
    includes: &BTreeMap<String, Vec<String>>,
    seen: &mut BTreeSet<String>,
    out: &mut Vec<Requirement>,
) -> Result<()> {
    if !seen.insert(name.to_owned()) {
        return Ok(());
    }
    let Some(reqs) = own.get(name) else {
        bail!(
            "a group includes the group {name:?}, which is not declared: add it or remove the include"
        );
    };
    out.extend(reqs.iter().cloned());
    for included in includes.get(name).into_iter().flatten() {
        collect_group(included, own, includes, seen, out)?;
    }
    Ok(())
}

/// A `[tool.poetry…dependencies]` table as requirements, `python` left out.
fn poetry_table(value: Option<&Value>, what: &str) -> Result<Vec<Requirement>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let table = value
        .as_table()
        .with_context(|| format!("{what} is not a table"))?;
    let mut reqs = Vec::new();
    for (name, spec) in table {
        if name.eq_ignore_ascii_case("python") {
            continue;
        }
        reqs.extend(Requirement::from_poetry(name, spec).with_context(|| what.to_owned())?);
    }
    Ok(reqs)
}

fn pep508_all(texts: &[String]) -> Result<Vec<Requirement>> {
    texts.iter().map(|t| Requirement::from_pep508(t)).collect()
}

fn strings(value: Option<&Value>, what: &str) -> Result<Vec<String>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    value
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .with_context(|| format!("{what} is not a list of strings"))
}

fn table_at<'a>(table: &'a Table, path: &[&str]) -> Option<&'a Table> {
    let mut current = table;
    for key in path {
        current = current.get(*key)?.as_table()?;
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> PoetryProject {
        PoetryProject::from_table(toml::from_str(text).unwrap()).unwrap()
    }

    fn names(reqs: &[Requirement]) -> Vec<&str> {
        reqs.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn poetry_1_tables_give_main_extras_and_groups() {
        let project = read(
            r#"
[tool.poetry.dependencies]
python = "^3.11"
Flask = "^3.0"
python-dotenv = { version = "^1.0", optional = true }
[tool.poetry.extras]
DotEnv = ["python-dotenv"]
[tool.poetry.dev-dependencies]
mypy = "*"
[tool.poetry.group.dev.dependencies]
pytest = "^8"
[tool.poetry.group.test]
include-groups = ["dev"]
[tool.poetry.group.test.dependencies]
coverage = "*"
"#,
        );
        assert_eq!(names(&project.main), ["flask"]);
        assert_eq!(names(&project.extras["dotenv"]), ["python-dotenv"]);
        assert!(!project.extras["dotenv"][0].optional);
        assert_eq!(names(&project.groups["dev"]), ["pytest", "mypy"]);
        assert_eq!(
            names(&project.groups["test"]),
            ["coverage", "pytest", "mypy"]
        );
        assert!(!project.pep621);
        assert_eq!(project.extras_table(), "[tool.poetry.extras]");
    }

    #[test]
    fn pep621_projects_take_dependencies_and_extras_from_project() {
        let project = read(
            r#"
[project]
name = "svc"
dependencies = ["fastapi>=0.115"]
[project.optional-dependencies]
yaml = ["pyyaml>=6"]
[dependency-groups]
dev = ["pytest>=8", { include-group = "lint" }]
lint = ["ruff"]
[tool.poetry]
package-mode = false
[tool.poetry.dependencies]
fastapi = { source = "internal" }
[tool.poetry.extras]
ignored = ["fastapi"]
"#,
        );
        assert_eq!(names(&project.main), ["fastapi"]);
        assert_eq!(project.extras.keys().collect::<Vec<_>>(), ["yaml"]);
        assert_eq!(names(&project.groups["dev"]), ["pytest", "ruff"]);
        assert!(project.pep621);
    }

    #[test]
    fn an_include_of_an_undeclared_group_is_an_error() {
        let err = PoetryProject::from_table(
            toml::from_str("[dependency-groups]\ndev = [{ include-group = \"nope\" }]\n").unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("\"nope\""), "{err}");
    }
}
