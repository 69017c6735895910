//! uv workspaces: a member builds from its own directory or by `--package` from the
//! root, with the lock at the root, the library member it depends on built from source
//! and installed as a real distribution, and the virtual member left out.

use crate::common;

use std::time::Duration;

use common::*;

#[test]
fn a_member_builds_by_path_and_by_name_with_the_members_it_needs() {
    let workspace = copy_fixture("build", "workspace");
    let outs = tempfile::tempdir().unwrap();
    let pyship = Pyship::new();
    let tag = format!("pyship-workspace/api:{}", std::process::id());
    let by_path = build_to_layout(
        &pyship,
        &workspace.path().join("packages/api"),
        &outs.path().join("path"),
        &["--load", "-t", &tag, "--format", "json"],
    );
    assert!(by_path.status.success(), "{}", stderr(&by_path));
    let summary: serde_json::Value = serde_json::from_slice(&by_path.stdout).unwrap();
    let mut packages: Vec<String> = summary["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["name"].as_str().unwrap(),
                p["from"].as_str().unwrap()
            )
        })
        .collect();
    packages.sort();
    assert_eq!(packages, ["api local", "six wheel", "ws-lib local"]);

    let by_name = build_to_layout(
        &pyship,
        workspace.path(),
        &outs.path().join("name"),
        &["--package", "api", "--format", "json"],
    );
    assert!(by_name.status.success(), "{}", stderr(&by_name));
    let named: serde_json::Value = serde_json::from_slice(&by_name.stdout).unwrap();
    assert_eq!(named["digest"], summary["digest"], "two routes, two images");

    let (container, port) = run_hardened(&tag);
    let logs = || stderr(&docker(&["logs", &container.0]));
    assert_eq!(
        wait_for_http(port, "/health", Duration::from_secs(30)),
        Some(200),
        "{}",
        logs()
    );
    let said = docker_ok(&[
        "exec",
        &container.0,
        "python",
        "-c",
        "import urllib.request as r; print(r.urlopen('http://127.0.0.1:8080/health').read().decode().strip())",
    ]);
    assert_eq!(said, "hello from ws-lib 0.1.0");
    let installed = docker_ok(&[
        "exec",
        &container.0,
        "python",
        "-c",
        "import ws_lib, importlib.metadata as m; print(ws_lib.__file__, m.distribution('ws-lib').read_text('WHEEL').splitlines()[1])",
    ]);
    let (file, wheel) = installed.split_once(' ').unwrap();
    assert_eq!(
        file,
        "/app/.venv/lib/python3.11/site-packages/ws_lib/__init__.py"
    );
    assert!(
        wheel.starts_with("Generator: flit"),
        "ws-lib is not a wheel from its backend: {installed}"
    );
    assert_not_importable(&container, &["jobs"]);
    assert_eq!(
        docker_ok(&["exec", &container.0, "ls", "/app"]),
        "api\npyproject.toml",
        "/app holds the member's own files"
    );
    drop(container);
    docker(&["rmi", &tag]);
}
