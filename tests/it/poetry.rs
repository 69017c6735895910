//! Poetry services built from their poetry.lock as Poetry 1.8 and Poetry 2 wrote it:
//! each image is the same from two directories and two caches, holds no dev group,
//! runs hardened with `-e PORT=8080`, answers its health path and stops with exit 0.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// Fixture, the server its command must name, a dev-group package, and whether the
/// project is a package (installed with its metadata) or `package-mode = false`.
const SERVICES: [(&str, &str, &str, bool); 2] = [
    ("poetry1-flask", "gunicorn", "pytest", true),
    ("poetry2-fastapi", "uvicorn", "pytest", false),
];

/// `pyship build` into an OCI layout (and the engine when `tag` is given); returns the
/// JSON summary.
fn build(pyship: &Pyship, project: &Path, layout: &Path, tag: Option<&str>) -> serde_json::Value {
    let mut extra = vec!["--format", "json"];
    if let Some(tag) = tag {
        extra.extend(["--load", "-t", tag]);
    }
    let out = build_to_layout(pyship, project, layout, &extra);
    assert!(
        out.status.success(),
        "build {}: {}",
        project.display(),
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn poetry_services_are_reproducible_run_hardened_and_stop_cleanly() {
    let mut wrong = Vec::new();
    for (name, server, dev, package) in SERVICES {
        let (a, b) = (copy_fixture("build", name), copy_fixture("build", name));
        let outs = tempfile::tempdir().unwrap();
        let tag = format!("pyship-poetry/{name}:{}", std::process::id());
        let summary = build(&Pyship::new(), a.path(), &outs.path().join("a"), Some(&tag));
        build(&Pyship::new(), b.path(), &outs.path().join("b"), None);
        if layout_manifest(&outs.path().join("a")) != layout_manifest(&outs.path().join("b")) {
            wrong.push(format!(
                "{name}: two directories, two caches, two manifests"
            ));
        }
        let packages: Vec<String> = summary["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_lowercase())
            .collect();
        if !packages.iter().any(|p| p == server) || packages.iter().any(|p| p == dev) {
            wrong.push(format!("{name}: installed {packages:?}"));
        }
        let command = summary["command"].to_string();
        if !command.contains(server) {
            wrong.push(format!("{name}: command {command} does not run {server}"));
        }

        let (container, port) = run_hardened(&tag);
        let logs =
            || stdout(&docker(&["logs", &container.0])) + &stderr(&docker(&["logs", &container.0]));
        if wait_for_http(port, "/health", Duration::from_secs(30)) != Some(200) {
            wrong.push(format!("{name}: no 200 from /health on $PORT: {}", logs()));
        }
        assert_not_importable(&container, &[dev]);
        let version = docker(&[
            "exec",
            &container.0,
            "python",
            "-c",
            &format!("import importlib.metadata as m; print(m.version({name:?}))"),
        ]);
        if version.status.success() != package {
            wrong.push(format!(
                "{name}: installed as a distribution: {}, expected {package}: {}",
                version.status.success(),
                stderr(&version)
            ));
        }
        let started = Instant::now();
        docker_ok(&["stop", "-t", "10", &container.0]);
        let code = docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &container.0]);
        if code != "0" || started.elapsed() > Duration::from_secs(9) {
            wrong.push(format!(
                "{name}: SIGTERM gave exit {code} after {:?}: {}",
                started.elapsed(),
                logs()
            ));
        }
        drop(container);
        docker(&["rmi", "-f", &tag]);
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn extras_and_groups_install_only_on_request() {
    let pyship = Pyship::new();
    let project = copy_fixture("build", "poetry1-flask");
    let layout = project.path().join("out");
    let names = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["--format", "json"];
        args.extend_from_slice(extra);
        let out = build_to_layout(&pyship, project.path(), &layout, &args);
        assert!(out.status.success(), "{}", stderr(&out));
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        summary["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_lowercase())
            .collect()
    };
    let both = names(&["--extra", "dotenv", "--group", "dev"]);
    for wanted in ["python-dotenv", "pytest", "pluggy", "flask"] {
        assert!(both.iter().any(|p| p == wanted), "{wanted}: {both:?}");
    }
}
