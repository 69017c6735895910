//! Bad inputs to `pyship build`: each must give one line naming the thing and the fix,
//! exit 2, never panic, and leave nothing behind in the cache.

use crate::common;

use std::io::Write;
use std::path::Path;

use common::*;
use sha2::{Digest as _, Sha256};

/// Runs a build of `project` and checks the failure contract; returns stderr.
fn fails(pyship: &Pyship, project: &Path, extra: &[&str], expected: &str) -> String {
    let mut args = vec!["build", project.to_str().unwrap(), "--output"];
    let out_dir = project.join("out-layout");
    let output = format!("oci:{}", out_dir.display());
    args.push(&output);
    args.extend_from_slice(extra);
    let out = pyship.run(&args);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected exit 2, got {:?}: {err}",
        out.status.code()
    );
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "expected one error line: {err}");
    assert_eq!(
        err.lines().last().unwrap(),
        lines[0],
        "the error must be the last line: {err}"
    );
    assert!(
        lines[0].contains(expected),
        "error lacks {expected:?}: {err}"
    );
    assert!(
        pyship.leftovers().is_empty(),
        "scratch files left in the cache: {:?}",
        pyship.leftovers()
    );
    assert!(
        !out_dir.join("index.json").exists(),
        "an output was written despite the failure"
    );
    err
}

#[test]
fn no_lockfile() {
    let project = copy_example("hello-fastapi");
    std::fs::remove_file(project.path().join("uv.lock")).unwrap();
    fails(
        &Pyship::new(),
        project.path(),
        &["--base", &python_base()],
        "has no lockfile: add uv.lock (`uv lock`)",
    );
}

#[test]
fn stale_lockfile_names_the_difference() {
    let project = copy_example("hello-fastapi");
    let pyproject = project.path().join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject)
        .unwrap()
        .replace("\"uvicorn\",", "\"uvicorn\",\n    \"requests>=2\",");
    std::fs::write(&pyproject, text).unwrap();
    let err = fails(
        &Pyship::new(),
        project.path(),
        &["--base", &python_base()],
        "uv.lock is out of date",
    );
    assert!(err.contains("requests>=2"), "{err}");
}

#[test]
fn python_version_mismatch_names_both() {
    let project = copy_example("hello-fastapi");
    std::fs::write(project.path().join(".python-version"), "3.12\n").unwrap();
    let err = fails(
        &Pyship::new(),
        project.path(),
        &["--base", &python_base()],
        "pins 3.12",
    );
    assert!(err.contains("Python 3.11"), "{err}");
}

#[test]
fn base_without_python() {
    let project = copy_example("hello-fastapi");
    fails(
        &Pyship::new(),
        project.path(),
        &["--base", &nopython_base()],
        "has no Python interpreter",
    );
}

#[test]
fn unreachable_registry_for_base_and_for_push() {
    let project = copy_example("hello-fastapi");
    let pyship = Pyship::new();
    fails(
        &pyship,
        project.path(),
        &["--base", "127.0.0.1:9/nothing/here:1"],
        "cannot reach the registry 127.0.0.1:9/nothing/here",
    );
    // The push fails after the layout output was asked for: the layout may be written,
    // but the unreachable registry must not get a tag. Use only --push here.
    let out = pyship.run(&[
        "build",
        project.path().to_str().unwrap(),
        "--base",
        &python_base(),
        "--push",
        "127.0.0.1:9/x/y:z",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot reach the registry 127.0.0.1:9/x/y"),
        "{}",
        stderr(&out)
    );
    assert!(pyship.leftovers().is_empty());
}

#[test]
fn wheel_whose_hash_does_not_match_is_refused_and_not_cached() {
    let project = copy_example("hello-fastapi");
    let lock_path = project.path().join("uv.lock");
    let lock = std::fs::read_to_string(&lock_path).unwrap();
    // Point the h11 wheel at a hash of other bytes.
    let start = lock
        .match_indices("/h11-")
        .map(|(i, _)| i)
        .find(|&i| {
            lock[i..]
                .split('"')
                .next()
                .is_some_and(|url| url.ends_with(".whl"))
        })
        .expect("h11 wheel is locked");
    let hash_at =
        start + lock[start..].find("hash = \"sha256:").unwrap() + "hash = \"sha256:".len();
    let bogus = hex::encode(Sha256::digest(b"not the wheel"));
    let tampered = format!("{}{bogus}{}", &lock[..hash_at], &lock[hash_at + 64..]);
    std::fs::write(&lock_path, tampered).unwrap();
    let pyship = Pyship::new();
    fails(
        &pyship,
        project.path(),
        &["--base", &python_base()],
        "does not match the hash in uv.lock",
    );
    assert!(
        !pyship
            .cache
            .path()
            .join("blobs/sha256")
            .join(&bogus)
            .exists()
    );
}

/// A project whose one dependency is served by a local index as `bytes`: a wheel or
/// an sdist by `file`'s name, locked with `bytes`' hash or, given, another.
fn project_with_local_file(
    name: &str,
    file: &str,
    bytes: Vec<u8>,
    locked_sha256: Option<&str>,
) -> (tempfile::TempDir, LocalIndex) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        format!("[project]\nname = \"svc\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\ndependencies = [\"{name}\"]\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join(".python-version"), "3.11\n").unwrap();
    std::fs::write(dir.path().join("main.py"), "print('hi')\n").unwrap();
    let index = LocalIndex::serve(bytes);
    let entry = format!(
        "{{ url = \"http://127.0.0.1:{}/{file}\", hash = \"sha256:{}\", size = {} }}",
        index.port,
        locked_sha256.unwrap_or(&index.sha256),
        index.size
    );
    let artifact = if file.ends_with(".whl") {
        format!("wheels = [{entry}]")
    } else {
        format!("sdist = {entry}")
    };
    std::fs::write(
        dir.path().join("uv.lock"),
        format!(
            "version = 1\nrequires-python = \">=3.11\"\n\n[[package]]\nname = \"svc\"\nversion = \"0.1.0\"\nsource = {{ virtual = \".\" }}\ndependencies = [{{ name = \"{name}\" }}]\n\n[package.metadata]\nrequires-dist = [{{ name = \"{name}\" }}]\n\n[[package]]\nname = \"{name}\"\nversion = \"1.0\"\nsource = {{ registry = \"http://127.0.0.1/simple\" }}\n{artifact}\n"
        ),
    )
    .unwrap();
    (dir, index)
}

#[test]
fn an_sdist_is_hash_checked_before_anything_builds_it() {
    let bogus = hex::encode(Sha256::digest(b"the sdist that was locked"));
    let (project, _index) = project_with_local_file(
        "srconly",
        "srconly-1.0.tar.gz",
        b"other bytes".to_vec(),
        Some(&bogus),
    );
    let pyship = Pyship::new();
    fails(
        &pyship,
        project.path(),
        &["--base", &python_base()],
        "srconly-1.0.tar.gz does not match the hash in uv.lock",
    );
    let records = pyship.cache.path().join("records/sdist-wheels-v1");
    assert!(!records.exists(), "a build was recorded");
}

#[test]
fn wheel_with_escaping_paths_is_refused() {
    for evil_member in ["../../../etc/evil.py", "/etc/evil.py"] {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, body) in [
            (evil_member, "x = 1\n"),
            ("evil-1.0.dist-info/METADATA", "Name: evil\n"),
        ] {
            zip.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        }
        let bytes = zip.finish().unwrap().into_inner();
        let (project, _index) =
            project_with_local_file("evil", "evil-1.0-py3-none-any.whl", bytes, None);
        fails(
            &Pyship::new(),
            project.path(),
            &["--base", &python_base()],
            "unsafe path",
        );
    }
}

#[test]
fn a_package_that_is_no_workspace_member_is_refused_naming_the_members() {
    let workspace = copy_fixture("build", "workspace");
    let err = fails(
        &Pyship::new(),
        workspace.path(),
        &["--package", "web"],
        "--package web is not a member of the uv workspace",
    );
    assert!(err.contains("(its members: api, jobs, ws-lib)"), "{err}");
}

#[test]
fn a_member_of_a_workspace_without_a_lock() {
    let workspace = copy_fixture("build", "workspace");
    std::fs::remove_file(workspace.path().join("uv.lock")).unwrap();
    fails(
        &Pyship::new(),
        &workspace.path().join("packages/api"),
        &[],
        "which has no uv.lock: run `uv lock` in",
    );
}

#[test]
fn a_member_is_stale_by_its_own_requirements() {
    let workspace = copy_fixture("build", "workspace");
    let api = workspace.path().join("packages/api/pyproject.toml");
    let text = std::fs::read_to_string(&api)
        .unwrap()
        .replace("[\"ws-lib\"]", "[\"ws-lib\", \"requests>=2\"]");
    std::fs::write(&api, text).unwrap();
    let err = fails(
        &Pyship::new(),
        workspace.path(),
        &["--package", "api"],
        "uv.lock is out of date",
    );
    assert!(err.contains("requests>=2"), "{err}");
}

#[test]
fn poetry_lock_out_of_date_unknown_group_or_extra_and_git_source() {
    let base = python_base();
    let stale = copy_fixture("build", "poetry1-flask");
    let pyproject = stale.path().join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap().replace(
        "gunicorn = \"^23.0\"",
        "gunicorn = \"^23.0\"\nrequests = \"^2\"",
    );
    std::fs::write(&pyproject, text).unwrap();
    let err = fails(
        &Pyship::new(),
        stale.path(),
        &["--base", &base],
        "poetry.lock is out of date with pyproject.toml",
    );
    assert!(err.contains("run `poetry lock --no-update`"), "{err}");

    let fastapi = copy_fixture("build", "poetry2-fastapi");
    for (flag, name, says) in [
        (
            "--group",
            "lint",
            "the dependency group \"lint\" is not in [tool.poetry.group] or [dependency-groups] (it has: dev)",
        ),
        (
            "--extra",
            "docs",
            "the extra \"docs\" is not in [project.optional-dependencies] (it has: yaml)",
        ),
    ] {
        fails(
            &Pyship::new(),
            fastapi.path(),
            &["--base", &base, flag, name],
            says,
        );
    }

    let git = copy_fixture("build", "poetry-git");
    let err = fails(
        &Pyship::new(),
        git.path(),
        &["--base", &base],
        "poetry.lock installs mylib from git",
    );
    assert!(err.contains("publish it to an index"), "{err}");
}

/// A copy of the hashed requirements fixture with `edit` applied to one of its files.
fn requirements_service(file: &str, edit: impl FnOnce(String) -> String) -> tempfile::TempDir {
    let project = copy_fixture("build", "requirements-flask");
    let path = project.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(text)).unwrap();
    project
}

#[test]
fn unpinned_requirement_names_the_line_and_the_command_that_pins() {
    let project = requirements_service("base.txt", |text| {
        text.replace("flask==3.1.3", "flask>=3.1")
    });
    let err = fails(
        &Pyship::new(),
        project.path(),
        &["--base", &python_base()],
        "base.txt:",
    );
    assert!(
        err.contains("`flask>=3.1` is not pinned to one version"),
        "{err}"
    );
    assert!(
        err.contains("uv pip compile base.in --generate-hashes -o base.txt"),
        "{err}"
    );
}

#[test]
fn a_line_without_a_hash_among_hashed_ones_is_refused() {
    let project = requirements_service("requirements.txt", |text| {
        let mut lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("gunicorn=="))
            .unwrap();
        // Drop the hashes that follow the gunicorn line, and its continuation.
        lines[at] = "gunicorn==27.0.1";
        let end = at
            + 1
            + lines[at + 1..]
                .iter()
                .take_while(|l| l.trim_start().starts_with("--hash"))
                .count();
        lines.drain(at + 1..end);
        lines.join("\n") + "\n"
    });
    let err = fails(
        &Pyship::new(),
        project.path(),
        &["--base", &python_base()],
        "`gunicorn==27.0.1` has no --hash",
    );
    assert!(err.contains("requirements.txt:"), "{err}");
    assert!(err.contains("hash-checking mode"), "{err}");
}

#[test]
fn an_include_that_does_not_exist_names_the_line() {
    let project = requirements_service("requirements.txt", |text| {
        text.replace("-r base.txt", "-r common.txt")
    });
    fails(
        &Pyship::new(),
        project.path(),
        &["--base", &python_base()],
        "requirements.txt:3: -r common.txt:",
    );
}

#[test]
fn an_index_host_that_does_not_answer_is_named_with_the_line_that_set_it() {
    // Nothing listens on port 1 of the loopback: the connection is refused at once.
    let project = requirements_service("requirements.txt", |text| {
        format!("--index-url http://127.0.0.1:1/simple\n{text}")
    });
    let err = fails(
        &Pyship::new(),
        project.path(),
        &["--base", &python_base()],
        "cannot reach the package index 127.0.0.1:1",
    );
    assert!(
        err.contains("check --index-url in requirements.txt:1"),
        "{err}"
    );
}

#[test]
fn pins_of_the_top_level_packages_only_are_refused_naming_what_they_need() {
    // As seed 000's requirements.txt is: the service's own packages, not what they need.
    let project = copy_fixture("build", "requirements-only");
    std::fs::write(
        project.path().join("requirements.txt"),
        "flask==3.1.3\nwaitress==3.0.2\n",
    )
    .unwrap();
    let err = fails(
        &Pyship::new(),
        project.path(),
        &["--base", &python_base()],
        "requirements.txt does not pin every package its packages need (flask 3.1.3 needs ",
    );
    assert!(err.contains("werkzeug>="), "{err}");
    assert!(err.contains("uv pip compile"), "{err}");
}
