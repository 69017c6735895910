//! Locks as uv writes them, read as uv reads them: a lock `uv lock --check` accepts is
//! never refused, extras and groups are installed only when asked for, and a patch
//! release pin is matched by minor version.

use crate::common;

use std::path::Path;

use common::*;

fn fixture(name: &str) -> tempfile::TempDir {
    copy_fixture("build", name)
}

/// Builds `project` into a layout; returns the exit code, stderr and the package names.
fn build(project: &Path, extra: &[&str]) -> (Option<i32>, String, Vec<String>) {
    let layout = project.join("out");
    let mut args = vec![
        "build".to_owned(),
        project.to_str().unwrap().to_owned(),
        "--base".to_owned(),
        python_base(),
        "--output".to_owned(),
        format!("oci:{}", layout.display()),
        "--format".to_owned(),
        "json".to_owned(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = Pyship::new().run(&argv);
    let packages = serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .ok()
        .map(|summary| {
            summary["packages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_lowercase())
                .collect()
        })
        .unwrap_or_default();
    (out.status.code(), stderr(&out), packages)
}

#[test]
fn a_lock_with_extras_is_fresh_and_extras_install_only_on_request() {
    let project = fixture("extras-fastapi");
    let (code, err, plain) = build(project.path(), &[]);
    assert_eq!(code, Some(0), "a lock uv accepts was refused: {err}");
    assert!(plain.contains(&"fastapi".to_owned()), "{plain:?}");
    assert!(!plain.contains(&"markdown".to_owned()), "{plain:?}");
    assert!(!plain.contains(&"pytest".to_owned()), "{plain:?}");

    let (code, err, one) = build(project.path(), &["--extra", "markdown"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(one.contains(&"markdown".to_owned()), "{one:?}");
    assert!(!one.contains(&"pyyaml".to_owned()), "{one:?}");

    let (code, err, all) = build(project.path(), &["--all-extras", "--group", "dev"]);
    assert_eq!(code, Some(0), "{err}");
    for name in ["markdown", "pyyaml", "pytest"] {
        assert!(all.contains(&name.to_owned()), "{name} missing: {all:?}");
    }
}

#[test]
fn an_unknown_extra_or_group_is_one_line_naming_what_exists() {
    let project = fixture("extras-fastapi");
    for (flag, name, says) in [
        (
            "--extra",
            "docs",
            "the extra \"docs\" is not in [project.optional-dependencies]",
        ),
        (
            "--group",
            "lint",
            "the dependency group \"lint\" is not in [dependency-groups]",
        ),
    ] {
        let (code, err, _) = build(project.path(), &[flag, name]);
        assert_eq!(code, Some(2), "{err}");
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(lines[0].contains(says), "{err}");
        assert!(
            lines[0].contains("markdown, yaml") || lines[0].contains("dev"),
            "{err}"
        );
    }
}

#[test]
fn a_patch_pin_builds_on_another_patch_of_the_same_python() {
    let project = fixture("extras-fastapi");
    std::fs::write(project.path().join(".python-version"), "3.11.15\n").unwrap();
    let (code, err, _) = build(project.path(), &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(".python-version pins 3.11.15"), "{err}");
}
