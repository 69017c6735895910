//! `[tool.pyship.lint]` in pyproject.toml, or `[lint]` in `.pyship.toml`: rules to skip,
//! severities to change, and the default fail level.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use super::rule::{self, RuleId};
use super::severity::{FailLevel, Severity};

/// The lint configuration, after validation: every rule ID in it exists.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Rule IDs never reported.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Per-rule severity overrides.
    #[serde(default)]
    pub severity: HashMap<String, Severity>,
    pub fail_level: Option<FailLevel>,
}

#[derive(Deserialize)]
struct PyProject {
    tool: Option<Tool>,
}
#[derive(Deserialize)]
struct Tool {
    pyship: Option<PyshipTable>,
}
#[derive(Deserialize)]
struct PyshipTable {
    lint: Option<Config>,
}

impl Config {
    /// Reads an explicit config file (`--config`), either format.
    pub fn read(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read config {}; check the --config path",
                path.display()
            )
        })?;
        let parsed = if path.file_name().is_some_and(|n| n == "pyproject.toml") {
            toml::from_str::<PyProject>(&text)
                .map(|p| p.tool.and_then(|t| t.pyship).and_then(|p| p.lint))
        } else {
            toml::from_str::<PyshipTable>(&text).map(|t| t.lint)
        };
        let config = parsed
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?
            .unwrap_or_default();
        config.validate(path)?;
        Ok(config)
    }

    /// Finds the configuration for a run started in `dir`: the nearest `.pyship.toml`, or
    /// `pyproject.toml` with a `[tool.pyship.lint]` table, in `dir` or its parents.
    pub fn discover(dir: &Path) -> anyhow::Result<(Config, Option<PathBuf>)> {
        for ancestor in dir.ancestors() {
            let dotfile = ancestor.join(".pyship.toml");
            if dotfile.is_file() {
                return Ok((Config::read(&dotfile)?, Some(dotfile)));
            }
            let pyproject = ancestor.join("pyproject.toml");
            if pyproject.is_file() {
                let text = std::fs::read_to_string(&pyproject).unwrap_or_default();
                if text.contains("[tool.pyship") {
                    return Ok((Config::read(&pyproject)?, Some(pyproject)));
                }
            }
        }
        Ok((Config::default(), None))
    }

    fn validate(&self, path: &Path) -> anyhow::Result<()> {
        for id in self.ignore.iter().chain(self.severity.keys()) {
            if rule::find(id).is_none() {
                bail!(
                    "{}: unknown rule `{id}`; `pyship lint --list-rules` lists the valid IDs",
                    path.display()
                );
            }
        }
        Ok(())
    }

    pub fn ignores(&self, id: RuleId) -> bool {
        self.ignore
            .iter()
            .any(|i| i.eq_ignore_ascii_case(id.as_str()))
    }

    pub fn severity_of(&self, rule: &rule::Rule) -> Severity {
        self.severity
            .iter()
            .find(|(id, _)| id.eq_ignore_ascii_case(rule.id.as_str()))
            .map_or(rule.severity, |(_, s)| *s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pyproject_table_and_rejects_unknown_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyproject.toml");
        std::fs::write(
            &path,
            "[project]\nname='x'\n[tool.pyship.lint]\nignore=['PS309']\nfail-level='error'\n[tool.pyship.lint.severity]\nPS103='warning'\n",
        )
        .unwrap();
        let config = Config::read(&path).unwrap();
        assert!(config.ignores(RuleId::PS309));
        // Users may write IDs in any case.
        let lowercase = Config {
            ignore: vec!["ps309".into()],
            ..Config::default()
        };
        assert!(lowercase.ignores(RuleId::PS309));
        assert_eq!(config.fail_level, Some(FailLevel::Error));
        assert_eq!(config.severity_of(RuleId::PS103.rule()), Severity::Warning);

        std::fs::write(&path, "[tool.pyship.lint]\nignore=['XX1']\n").unwrap();
        let err = Config::read(&path).unwrap_err().to_string();
        assert!(err.contains("unknown rule `XX1`"), "{err}");
    }
}
