//! The repository's `.pre-commit-hooks.yaml` under real pre-commit (from PyPI,
//! installed by `.ci/run`): `pre-commit try-repo` runs `pyship lint` on a project's
//! Dockerfiles and workflows only, passes a clean project and fails a bad Dockerfile.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn commit_all(dir: &Path) {
    git(dir, &["add", "-A"]);
    git(
        dir,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-qm",
            "files",
        ],
    );
}

/// `pre-commit try-repo HOOKS pyship-lint --all-files` in `project`, with the pyship
/// under test first on PATH and pre-commit's store in `home`.
fn try_repo(hooks: &Path, project: &Path, home: &Path) -> Output {
    let pyship = Path::new(env!("CARGO_BIN_EXE_pyship"));
    let path = format!(
        "{}:{}",
        pyship.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("pre-commit")
        .args([
            "try-repo",
            hooks.to_str().unwrap(),
            "pyship-lint",
            "--all-files",
            "--verbose",
        ])
        .current_dir(project)
        .env("PATH", path)
        .env("PRE_COMMIT_HOME", home)
        .env("PYSHIP_CACHE_DIR", home.join("pyship-cache"))
        .env_remove("PRE_COMMIT")
        .output()
        .expect("pre-commit is not installed: run `pip install pre-commit` (or bash .ci/run)")
}

#[test]
fn the_pre_commit_hook_lints_dockerfiles_and_workflows() {
    // The hook repository: only the manifest matters to a `language: system` hook.
    let hooks = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo_root().join(".pre-commit-hooks.yaml"),
        hooks.path().join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    git(hooks.path(), &["init", "-q"]);
    commit_all(hooks.path());

    // A project with the files `pyship init` writes, plus files the hook must skip.
    let project = copy_fixture("init", "src-layout");
    let init = Pyship::new().run(&["init", project.path().to_str().unwrap(), "--offline"]);
    assert!(init.status.success(), "{}", stderr(&init));
    std::fs::write(
        project.path().join("Dockerfile.md"),
        "# Notes, not a Dockerfile\n",
    )
    .unwrap();
    std::fs::write(project.path().join("README.md"), "FROM nothing\n").unwrap();
    git(project.path(), &["init", "-q"]);
    commit_all(project.path());

    let home = tempfile::tempdir().unwrap();
    let clean = try_repo(hooks.path(), project.path(), home.path());
    let said = format!("{}{}", stdout(&clean), stderr(&clean));
    assert!(clean.status.success(), "{said}");
    assert!(
        said.contains("pyship lint") && said.contains("Passed"),
        "{said}"
    );
    assert!(
        said.contains("2 files checked"),
        "the Dockerfile and the workflow only: {said}"
    );

    std::fs::write(
        project.path().join("Dockerfile.dev"),
        "FROM python:3.11-slim\nCMD [\"flask\", \"run\", \"--reload\"]\n",
    )
    .unwrap();
    commit_all(project.path());
    let bad = try_repo(hooks.path(), project.path(), home.path());
    let said = format!("{}{}", stdout(&bad), stderr(&bad));
    assert_eq!(bad.status.code(), Some(1), "{said}");
    assert!(said.contains("Failed") && said.contains("PS304"), "{said}");
    assert!(said.contains("3 files checked"), "{said}");
}
