//! Which Python a service needs and which interpreter of a base gives it: the
//! project's pin or `requires-python` against the interpreters found in the image.

use std::str::FromStr;

use anyhow::{Context, Result, bail};

use super::project::Project;
use crate::contract::DEFAULT_PYTHON;
use crate::oci::facts::{BaseFacts, Interpreter};

/// X.Y from `.python-version`, else the lower bound of `requires-python`.
pub fn wanted_python_xy(project: &Project) -> Option<String> {
    if let Some(pin) = &project.python_pin {
        let release = pin.release();
        return Some(format!("{}.{}", release.first()?, release.get(1)?));
    }
    let spec = project.requires_python.as_ref()?;
    spec.iter().find_map(|s| {
        matches!(
            s.operator(),
            uv_pep440::Operator::GreaterThanEqual
                | uv_pep440::Operator::TildeEqual
                | uv_pep440::Operator::Equal
        )
        .then(|| {
            let release = s.version().release();
            Some(format!(
                "{}.{}",
                release.first()?,
                release.get(1).copied().unwrap_or(0)
            ))
        })
        .flatten()
    })
}

/// `[tool.pyship] base`, else the contract's default base for the project's Python (the
/// contract's default Python when the project pins none); `pyship init` writes the same
/// default into Dockerfiles.
pub fn default_base(project: &Project) -> Result<String> {
    if let Some(base) = &project.config.base {
        return Ok(base.clone());
    }
    let xy = wanted_python_xy(project).unwrap_or_else(|| DEFAULT_PYTHON.to_owned());
    Ok(crate::contract::default_base(&xy))
}

/// The base's interpreter the project pins, else the base's preferred one.
pub fn choose(project: &Project, facts: &BaseFacts) -> Result<Interpreter> {
    let Some(first) = facts.interpreters.first() else {
        bail!(
            "the base image has no Python interpreter (looked in /usr/local/bin and /usr/bin): use a Python base such as python:3.12-slim"
        );
    };
    let pinned = project.python_pin.as_ref().map(|v| v.release().to_vec());
    let matching = pinned.as_ref().and_then(|release| {
        facts.interpreters.iter().find(|i| {
            release.len() >= 2
                && u64::from(i.major) == release[0]
                && u64::from(i.minor) == release[1]
        })
    });
    Ok(matching.unwrap_or(first).clone())
}

/// The seed-001 lesson: a venv made for one Python and run by another breaks, and
/// silently drifting versions hide bugs. A different X.Y is refused, naming both; a
/// different patch release of the pinned X.Y is accepted with a note to show, since
/// bases move patch releases and a venv does not depend on them.
pub fn check_version(
    project: &Project,
    interpreter: &Interpreter,
    full: &str,
) -> Result<Option<String>> {
    let found = uv_pep440::Version::from_str(full).context("base Python version")?;
    let mut note = None;
    if let Some(pin) = &project.python_pin {
        let want = pin.release();
        let have = found.release();
        let minor = want.len().min(2);
        if have.len() < minor || have[..minor] != want[..minor] {
            bail!(
                "the base image has Python {full} ({}) but {file} pins {pin}: use a base with Python {pin} (e.g. --base python:{pin}-slim) or change {file}",
                interpreter.path,
                file = project.python_pin_file
            );
        }
        if have.len() < want.len() || have[..want.len()] != *want {
            note = Some(format!(
                "warning: {} pins {pin}; the base has {full}, the same {}.{}: building with it",
                project.python_pin_file, want[0], want[1]
            ));
        }
    }
    if let Some(spec) = &project.requires_python
        && !spec.contains(&found)
    {
        bail!(
            "the base image has Python {full} but requires-python is {spec}: pick a base whose Python satisfies it"
        );
    }
    Ok(note)
}
