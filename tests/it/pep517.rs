//! PEP 517 builds in `pyship build`: a dependency published only as an sdist and the
//! project itself, each built into a wheel by its declared backend and installed like
//! any other, reproducibly; compiled code built for this machine refused. Real sdists
//! from PyPI, real backends, images run hardened with `-e PORT=8080`.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::*;

fn summary(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("a JSON summary")
}

/// How each package was installed, by name.
fn origins(summary: &serde_json::Value) -> Vec<(String, String)> {
    summary["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["from"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// docopt 0.6.2 has only ever been published as an sdist; the project has a setuptools
/// build system and a console script.
#[test]
fn an_sdist_only_dependency_and_the_project_install_as_wheels_reproducibly() {
    let project = copy_fixture("build", "sdist-docopt");
    let outs = tempfile::tempdir().unwrap();
    let tag = format!("pyship-pep517/sdist-app:{}", std::process::id());
    let first = Pyship::new();
    let out = build_to_layout(
        &first,
        project.path(),
        &outs.path().join("a"),
        &["--load", "-t", &tag, "--format", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        origins(&summary(&out)),
        [
            ("docopt".to_owned(), "sdist".to_owned()),
            ("sdist-app".to_owned(), "local".to_owned())
        ]
    );

    // Another cache builds both wheels again, to the same bytes.
    let second = Pyship::new();
    let out = build_to_layout(&second, project.path(), &outs.path().join("b"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("build   docopt 0.6.2 from docopt-0.6.2.tar.gz"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        layout_manifest(&outs.path().join("a")),
        layout_manifest(&outs.path().join("b")),
        "two caches built different images"
    );
    let again = build_to_layout(&second, project.path(), &outs.path().join("c"), &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        !stderr(&again).contains("building"),
        "an unchanged build built again: {}",
        stderr(&again)
    );

    let (container, port) = run_hardened(&tag);
    let logs = || stderr(&docker(&["logs", &container.0]));
    assert_eq!(
        wait_for_http(port, "/health", Duration::from_secs(30)),
        Some(200),
        "{}",
        logs()
    );
    let versions = docker_ok(&[
        "exec",
        &container.0,
        "python",
        "-c",
        "import importlib.metadata as m; print(m.version('sdist-app'), m.version('docopt'))",
    ]);
    assert_eq!(versions, "1.2.3 0.6.2");
    docker_ok(&[
        "exec",
        &container.0,
        "test",
        "-x",
        "/app/.venv/bin/sdist-app",
    ]);
    let site = "/app/.venv/lib/python3.11/site-packages";
    let generator = docker_ok(&[
        "exec",
        &container.0,
        "cat",
        &format!("{site}/sdist_app-1.2.3.dist-info/WHEEL"),
        &format!("{site}/docopt-0.6.2.dist-info/WHEEL"),
    ]);
    assert_eq!(
        generator.matches("Generator: setuptools").count(),
        2,
        "not wheels from their backend: {generator}"
    );
    drop(container);
    docker(&["rmi", &tag]);
}

/// Two tiny C extensions locked as local sdists: built here they are
/// `linux_x86_64` wheels, code for this machine, and the build names both.
#[test]
fn compiled_sdists_are_refused_together_and_nothing_is_kept() {
    let project = copy_fixture("build", "sdist-compiled");
    let pyship = Pyship::new();
    let layout = project.path().join("out");
    let out = build_to_layout(&pyship, project.path(), &layout, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert_eq!(err.lines().last(), Some(lines[0]), "{err}");
    for said in [
        "cext-one 0.1.0 (cext_one-0.1.0-cp",
        "cext-two 0.1.0 (cext_two-0.1.0-cp",
        "compiled into wheels for this machine only",
        "pin a version that publishes wheels for CPython 3.11",
    ] {
        assert!(lines[0].contains(said), "{said:?} missing: {err}");
    }
    assert!(pyship.leftovers().is_empty(), "{:?}", pyship.leftovers());
    assert!(!layout.join("index.json").exists(), "an image was written");
    let records = pyship.cache.path().join("records/sdist-wheels-v1");
    assert!(!records.exists(), "a refused build was recorded");
    assert!(
        !blobs(pyship.cache.path()).any(|blob| is_zip(&blob)),
        "a refused wheel was kept in the cache"
    );
}

#[test]
fn without_a_python_on_the_host_the_build_says_what_to_install() {
    let project = copy_fixture("build", "sdist-docopt");
    let pyship = Pyship::new();
    let empty = tempfile::tempdir().unwrap();
    let layout = project.path().join("out");
    let out = pyship
        .command()
        .env("PATH", empty.path())
        .args(["build", project.path().to_str().unwrap(), "--base"])
        .arg(python_base())
        .arg("--output")
        .arg(format!("oci:{}", layout.display()))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: docopt 0.6.2 from docopt-0.6.2.tar.gz must be built from source")
            && last.ends_with(
                "neither python3.11 nor python3 is on PATH: install python3 and python3-pip"
            ),
        "{err}"
    );
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert!(pyship.leftovers().is_empty(), "{:?}", pyship.leftovers());
    assert!(!layout.join("index.json").exists());
}

fn blobs(cache: &Path) -> impl Iterator<Item = std::path::PathBuf> {
    std::fs::read_dir(cache.join("blobs/sha256"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
}

fn is_zip(path: &Path) -> bool {
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && head == *b"PK\x03\x04"
}

/// Commits everything in `dir` as the test user.
fn commit(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    let who = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"];
    git(
        dir,
        &[&who[..], &["commit", "-q", "--allow-empty", "-m", message]].concat(),
    );
}

/// The wheel the build made of `name`, from the JSON summary.
fn built_wheel(out: &std::process::Output, name: &str) -> String {
    let summary = summary(out);
    let package = summary["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {summary}"));
    package["wheel"].as_str().unwrap().to_owned()
}

/// hatch-vcs reads the project's version from git tags, and pyship builds from a copy
/// without `.git`: the version git describes reaches the backend. On the tag, the
/// image answers with the tag's version; a commit later, the next development version,
/// the same bytes from another cache; with no checkout, one line naming the fallback.
#[test]
fn a_version_from_git_tags_reaches_the_installed_distribution() {
    let project = copy_fixture("build", "vcs-version");
    let dir = project.path();
    git(dir, &["init", "-q"]);
    commit(dir, "fixture");
    git(dir, &["tag", "v2.4.0"]);

    let tag = format!("pyship-pep517/vcs-app:{}", std::process::id());
    let pyship = Pyship::new();
    let base = python_base();
    let out = pyship.run(&[
        "build",
        dir.to_str().unwrap(),
        "--base",
        &base,
        "--load",
        "-t",
        &tag,
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        built_wheel(&out, "vcs-app"),
        "vcs_app-2.4.0-py3-none-any.whl"
    );
    let listed = summary(&out)["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "vcs-app")
        .map(|p| p["version"].clone());
    assert_eq!(
        listed,
        Some("2.4.0".into()),
        "the summary names the built version"
    );
    let (container, port) = run_hardened(&tag);
    assert_eq!(
        wait_for_http(port, "/health", Duration::from_secs(30)),
        Some(200),
        "{}",
        stderr(&docker(&["logs", &container.0]))
    );
    let answer = std::process::Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{port}/health")])
        .output()
        .unwrap();
    assert_eq!(stdout(&answer).trim(), r#"{"version":"2.4.0"}"#);
    drop(container);
    docker(&["rmi", &tag]);

    // A commit later: a new version, though not a file has changed.
    commit(dir, "next");
    let outs = tempfile::tempdir().unwrap();
    let json = ["--format", "json"];
    let a = build_to_layout(&pyship, dir, &outs.path().join("a"), &json);
    assert!(a.status.success(), "{}", stderr(&a));
    let wheel = built_wheel(&a, "vcs-app");
    assert!(
        wheel.starts_with("vcs_app-2.4.1.dev1+g") && wheel.ends_with("-py3-none-any.whl"),
        "{wheel}"
    );
    let b = build_to_layout(&Pyship::new(), dir, &outs.path().join("b"), &[]);
    assert!(b.status.success(), "{}", stderr(&b));
    assert_eq!(
        layout_manifest(&outs.path().join("a")),
        layout_manifest(&outs.path().join("b")),
        "one commit, two caches, two images"
    );

    // No checkout around the project: the backend cannot ask git.
    std::fs::remove_dir_all(dir.join(".git")).unwrap();
    let out = build_to_layout(&Pyship::new(), dir, &outs.path().join("c"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or(&err);
    assert!(
        line.contains("takes its version from git (hatch-vcs)")
            && line.contains("fallback-version = \"0.0.0\" in [tool.hatch.version]"),
        "{err}"
    );
}
