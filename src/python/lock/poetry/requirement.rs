//! One requirement as Poetry writes it, in pyproject.toml's `[tool.poetry.dependencies]`
//! and in poetry.lock's `[package.dependencies]`: a constraint string (`"^1.2"`), a
//! table (`{version, markers, python, platform, extras, optional, path, git, url, …}`) or
//! a list of tables, one per environment. PEP 508 strings from `[project]` and
//! `[dependency-groups]` become the same type.

use std::str::FromStr;

use anyhow::{Context, Result, bail};
use toml::Value;
use uv_normalize::ExtraName;
use uv_pep440::Version;
use uv_pep508::{MarkerEnvironment, MarkerTree, Requirement as Pep508, VerbatimUrl, VersionOrUrl};

use crate::python::lock::normalize;
use crate::python::poetry_constraint::Constraint;

/// A requirement on a package: which versions, in which environments, with which extras.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// The name, normalized.
    pub name: String,
    pub constraint: Constraint,
    pub marker: MarkerTree,
    /// Poetry's `python = "…"` key: the interpreter versions the requirement is for.
    pub python: Option<Constraint>,
    /// Poetry's `platform = "…"` key: a `sys_platform` value.
    pub platform: Option<String>,
    /// The extras asked of the package, normalized.
    pub extras: Vec<String>,
    /// Only wanted through an extra of the package that declares it.
    pub optional: bool,
}

impl Requirement {
    /// The requirements Poetry's value for `name` states (several for a list).
    pub fn from_poetry(name: &str, value: &Value) -> Result<Vec<Requirement>> {
        let entries = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        entries
            .into_iter()
            .map(|entry| Self::from_poetry_entry(name, entry))
            .collect::<Result<Vec<_>>>()
            .with_context(|| format!("the requirement on {name:?}"))
    }

    fn from_poetry_entry(name: &str, value: &Value) -> Result<Requirement> {
        let mut requirement = Requirement {
            name: normalize(name),
            constraint: Constraint::any(),
            marker: MarkerTree::TRUE,
            python: None,
            platform: None,
            extras: Vec::new(),
            optional: false,
        };
        match value {
            Value::String(constraint) => requirement.constraint = Constraint::parse(constraint)?,
            Value::Table(table) => {
                if let Some(version) = table.get("version") {
                    requirement.constraint = Constraint::parse(text(version, "version")?)?;
                }
                if let Some(markers) = table.get("markers") {
                    requirement.marker = marker(text(markers, "markers")?)?;
                }
                if let Some(python) = table.get("python") {
                    requirement.python = Some(Constraint::parse(text(python, "python")?)?);
                }
                if let Some(platform) = table.get("platform") {
                    requirement.platform = Some(text(platform, "platform")?.to_owned());
                }
                if let Some(extras) = table.get("extras") {
                    requirement.extras = extras
                        .as_array()
                        .context("`extras` is not a list")?
                        .iter()
                        .map(|e| text(e, "extras").map(normalize))
                        .collect::<Result<_>>()?;
                }
                requirement.optional = table
                    .get("optional")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
            }
            _ => bail!("it is neither a version constraint nor a table"),
        }
        Ok(requirement)
    }

    /// A PEP 508 requirement (`[project]`, `[dependency-groups]`).
    pub fn from_pep508(text: &str) -> Result<Requirement> {
        let parsed = Pep508::<VerbatimUrl>::from_str(text)
            .map_err(|err| anyhow::anyhow!("{text:?} is not a valid requirement: {err}"))?;
        let constraint = match parsed.version_or_url {
            Some(VersionOrUrl::VersionSpecifier(specifiers)) => {
                Constraint::from_specifiers(specifiers)
            }
            _ => Constraint::any(),
        };
        Ok(Requirement {
            name: parsed.name.to_string(),
            constraint,
            marker: parsed.marker,
            python: None,
            platform: None,
            extras: parsed.extras.iter().map(ToString::to_string).collect(),
            optional: false,
        })
    }

    /// True when the requirement holds in `env` for a package installed with `extras`.
    pub fn applies(&self, env: &MarkerEnvironment, extras: &[String]) -> bool {
        if let Some(python) = &self.python
            && !python_allows(python, env)
        {
            return false;
        }
        if let Some(platform) = &self.platform
            && platform != env.sys_platform()
        {
            return false;
        }
        let extras: Vec<ExtraName> = extras
            .iter()
            .filter_map(|e| ExtraName::from_str(e).ok())
            .collect();
        self.marker.evaluate(env, &extras)
    }
}

/// The name at the start of a requirement string as Poetry writes extras
/// (`"uvicorn[standard] (>=0.12)"`, `"tzdata ; platform_system == 'Windows'"`).
pub fn name_of(text: &str) -> String {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(text.len());
    normalize(&text[..end])
}

/// Whether `constraint`, Poetry's `python` key or `python-versions`, admits the
/// target's interpreter: compared as `python_version` (`3.11`) unless it names
/// patch releases.
pub fn python_allows(constraint: &Constraint, env: &MarkerEnvironment) -> bool {
    let version: &Version = if constraint.is_precise() {
        &env.python_full_version().version
    } else {
        &env.python_version().version
    };
    constraint.contains(version)
}

fn text<'a>(value: &'a Value, key: &str) -> Result<&'a str> {
    value
        .as_str()
        .with_context(|| format!("`{key}` is not a string"))
}

fn marker(text: &str) -> Result<MarkerTree> {
    MarkerTree::from_str(text).map_err(|err| anyhow::anyhow!("invalid marker {text:?}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(python: &str, platform: &str) -> MarkerEnvironment {
        let target = crate::python::target::Target::bookworm(
            crate::oci::platform::ImagePlatform::Amd64,
            python,
        )
        .unwrap();
        let env = target.marker_environment();
        env.with_sys_platform(platform)
    }

    fn one(name: &str, toml_value: &str) -> Requirement {
        let value: toml::Table = toml::from_str(&format!("v = {toml_value}")).unwrap();
        let mut all = Requirement::from_poetry(name, &value["v"]).unwrap();
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    #[test]
    fn poetry_tables_carry_markers_python_platform_and_extras() {
        let linux = env("3.11.9", "linux");
        let req = one(
            "Uvicorn",
            r#"{ version = "^0.30", extras = ["Standard"], markers = "sys_platform == 'linux'" }"#,
        );
        assert_eq!(
            (req.name.as_str(), req.extras.as_slice()),
            ("uvicorn", &["standard".to_owned()][..])
        );
        assert!(req.applies(&linux, &[]));
        assert!(!req.applies(&env("3.11.9", "win32"), &[]));
        assert!(!one("x", r#"{ version = "*", python = "<3.11" }"#).applies(&linux, &[]));
        assert!(one("x", r#"{ version = "*", python = "<=3.11" }"#).applies(&linux, &[]));
        assert!(!one("x", r#"{ version = "*", python = ">=3.11.10" }"#).applies(&linux, &[]));
        assert!(!one("colorama", r#"{ version = "*", platform = "win32" }"#).applies(&linux, &[]));
        let optional = one(
            "h",
            r#"{ version = ">=0.8", optional = true, markers = "extra == \"standard\"" }"#,
        );
        assert!(optional.optional);
        assert!(!optional.applies(&linux, &[]));
        assert!(optional.applies(&linux, &["standard".to_owned()]));
    }

    #[test]
    fn lists_give_one_requirement_per_entry() {
        let value: toml::Table = toml::from_str(
            r#"v = [{ version = "8.1.7", python = "<3.12" }, { version = "8.1.8", python = ">=3.12" }]"#,
        )
        .unwrap();
        let all = Requirement::from_poetry("click", &value["v"]).unwrap();
        let linux = env("3.12.1", "linux");
        let applying: Vec<_> = all.iter().filter(|r| r.applies(&linux, &[])).collect();
        assert_eq!(applying.len(), 1);
        assert!(
            applying[0]
                .constraint
                .contains(&Version::from_str("8.1.8").unwrap())
        );
    }

    #[test]
    fn pep508_and_extra_requirement_names() {
        let req =
            Requirement::from_pep508("Fast_API[all]>=0.115; python_version >= '3.8'").unwrap();
        assert_eq!(req.name, "fast-api");
        assert_eq!(req.extras, ["all"]);
        assert!(req.applies(&env("3.11.9", "linux"), &[]));
        assert_eq!(name_of("uvicorn[standard] (>=0.12.0)"), "uvicorn");
        assert_eq!(name_of("tzdata ; platform_system == \"Windows\""), "tzdata");
        assert_eq!(name_of("Foo.Bar>=1"), "foo-bar");
    }

    #[test]
    fn bad_values_name_the_package() {
        let value: toml::Table = toml::from_str("v = 3").unwrap();
        let err = format!(
            "{:#}",
            Requirement::from_poetry("flask", &value["v"]).unwrap_err()
        );
        assert!(err.contains("flask"), "{err}");
    }
}
