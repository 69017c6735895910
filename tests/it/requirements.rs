//! Services pinned by requirements files, built as their users build them: a hashed
//! file with an include and marker lines next to a pyproject.toml without `[project]`,
//! and an unhashed file with no pyproject.toml at all, both found on real PyPI, run
//! hardened with `PORT=8080`; and the package-index lookup against fake indexes on
//! 127.0.0.1 (JSON, HTML only, logins, several indexes, a warm build that asks none).

use crate::common;
use crate::common::fake_http;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use common::*;
use fake_http::{FakeServer, Reply, Request};

/// Builds `fixture` twice from two copies with two caches (the first also loaded into
/// the engine as `tag`): the manifests must be one. Each copy keeps the fixture's
/// directory name, which names a service that declares no name of its own.
fn build_twice(fixture: &str, tag: &str) {
    let outs = tempfile::tempdir().unwrap();
    let manifests: Vec<serde_json::Value> = (0..2)
        .map(|run| {
            let parent = tempfile::tempdir().unwrap();
            let project = parent.path().join(fixture);
            copy_dir(
                &repo_root().join("tests/fixtures/build").join(fixture),
                &project,
            );
            let layout = outs.path().join(format!("run{run}"));
            let mut extra = vec!["-t", tag];
            if run == 0 {
                extra.push("--load");
            }
            let out = build_to_layout(&Pyship::new(), &project, &layout, &extra);
            assert!(out.status.success(), "{fixture}: {}", stderr(&out));
            layout_manifest(&layout)
        })
        .collect();
    assert_eq!(
        manifests[0], manifests[1],
        "{fixture}: two directories, two caches, two manifests"
    );
}

/// Runs `tag` hardened with PORT=8080: /health answers 200, `present` imports, `absent`
/// does not, and SIGTERM ends it with 0.
fn serves_and_stops(tag: &str, present: &[&str], absent: &[&str]) {
    let (container, port) = run_hardened(tag);
    assert_eq!(
        wait_for_http(port, "/health", Duration::from_secs(15)),
        Some(200),
        "{tag}: no 200 from /health on $PORT: {}",
        stderr(&docker(&["logs", &container.0]))
    );
    assert_eq!(docker_ok(&["exec", &container.0, "id", "-u"]), "1001");
    for module in present {
        let import = docker(&[
            "exec",
            &container.0,
            "/app/.venv/bin/python",
            "-c",
            &format!("import {module}"),
        ]);
        assert!(
            import.status.success(),
            "{module} is missing: {}",
            stderr(&import)
        );
    }
    assert_not_importable(&container, absent);
    docker_ok(&["stop", "-t", "10", &container.0]);
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &container.0]),
        "0",
        "{tag}: SIGTERM did not end the service with 0"
    );
    docker(&["rmi", tag]);
}

#[test]
fn hashed_requirements_with_an_include_and_markers_and_no_project_table() {
    let tag = format!("pyship-e2e/requirements-flask:{}", std::process::id());
    build_twice("requirements-flask", &tag);
    // setproctitle is pinned for Linux only, colorama for Windows only.
    serves_and_stops(&tag, &["flask", "gunicorn", "setproctitle"], &["colorama"]);
}

#[test]
fn requirements_only_service_without_pyproject_served_by_waitress() {
    let tag = format!("pyship-e2e/requirements-only:{}", std::process::id());
    build_twice("requirements-only", &tag);
    serves_and_stops(&tag, &["flask", "waitress"], &[]);
}

/// A wheel of the pure-Python package `demo` 1.0.
fn demo_wheel() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (path, text) in [
        ("demo/__init__.py", "VALUE = 1\n"),
        (
            "demo-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        ),
        (
            "demo-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        ("demo-1.0.dist-info/RECORD", ""),
    ] {
        zip.start_file(path, options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// How a fake index answers.
#[derive(Clone, Default)]
struct Index {
    /// Serve PEP 503 HTML whatever the client accepts.
    html_only: bool,
    /// The `Authorization` every request must carry.
    login: Option<String>,
    /// Where the wheel's link points (default: this index's `/files/`).
    files_at: Option<String>,
}

/// A fake index with `demo` 1.0 (the wheel) and 2.0 (never to be taken).
fn serve_index(index: Index) -> FakeServer {
    let wheel = demo_wheel();
    let hash = sha256_hex(&wheel);
    FakeServer::start(move |request: &Request| {
        if let Some(login) = &index.login
            && request.header("authorization") != Some(login.as_str())
        {
            return Reply::status(401).with_header("WWW-Authenticate", "Basic realm=\"index\"");
        }
        let files = index
            .files_at
            .clone()
            .unwrap_or_else(|| "../../files".to_owned());
        match request.path.as_str() {
            "/simple/demo/" => {
                let json = !index.html_only
                    && request
                        .header("accept")
                        .is_some_and(|a| a.starts_with("application/vnd.pypi.simple.v1+json"));
                if json {
                    let body = serde_json::json!({
                        "meta": {"api-version": "1.1"},
                        "name": "demo",
                        "files": [
                            {"filename": "demo-1.0-py3-none-any.whl", "url": format!("{files}/demo-1.0-py3-none-any.whl"), "hashes": {"sha256": hash}},
                            {"filename": "demo-2.0-py3-none-any.whl", "url": format!("{files}/demo-2.0-py3-none-any.whl"), "hashes": {"sha256": "00"}},
                        ]
                    });
                    Reply::body(200, body.to_string().into_bytes())
                        .with_header("Content-Type", "application/vnd.pypi.simple.v1+json")
                } else {
                    let body = format!(
                        "<!DOCTYPE html><html><body><a href=\"{files}/demo-1.0-py3-none-any.whl#sha256={hash}\">demo-1.0-py3-none-any.whl</a><br>\n<a href=\"{files}/demo-2.0-py3-none-any.whl#sha256=00\">demo-2.0-py3-none-any.whl</a></body></html>"
                    );
                    Reply::body(200, body.into_bytes()).with_header("Content-Type", "text/html")
                }
            }
            "/files/demo-1.0-py3-none-any.whl" => Reply::body(200, wheel.clone()),
            _ => Reply::status(404),
        }
    })
}

/// A service pinned by a requirements.txt of `lines`, started by a plain command.
fn service(lines: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("requirements.txt"), lines).unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.pyship]\ncommand = [\"python\", \"-c\", \"import demo\"]\n",
    )
    .unwrap();
    dir
}

/// Builds `project` into a layout with `pyship`, no login from the machine; returns
/// (exit code, stderr, installed package names).
fn build(pyship: &Pyship, project: &Path) -> (Option<i32>, String, Vec<String>) {
    let layout = project.join("out");
    let out = pyship
        .command()
        .args([
            "build",
            project.to_str().unwrap(),
            "--base",
            &python_base(),
            "--output",
            &format!("oci:{}", layout.display()),
            "--format",
            "json",
        ])
        .env("NETRC", "/nonexistent")
        .output()
        .unwrap();
    let packages = serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .ok()
        .and_then(|summary| {
            Some(
                summary["packages"]
                    .as_array()?
                    .iter()
                    .filter_map(|p| {
                        Some(format!(
                            "{}=={}",
                            p["name"].as_str()?,
                            p["version"].as_str()?
                        ))
                    })
                    .collect(),
            )
        })
        .unwrap_or_default();
    (out.status.code(), stderr(&out), packages)
}

#[test]
fn indexes_are_searched_in_order_and_a_warm_build_asks_none() {
    let empty = FakeServer::start(|_: &Request| Reply::status(404));
    let index = serve_index(Index::default());
    let hash = sha256_hex(&demo_wheel());
    let project = service(&format!(
        "--index-url {}/simple\n--extra-index-url {}/simple\ndemo==1.0 --hash=sha256:{hash}\n",
        empty.url(),
        index.url()
    ));
    let pyship = Pyship::new();
    let (code, err, packages) = build(&pyship, project.path());
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(packages, ["demo==1.0"]);
    assert_eq!(empty.requests().len(), 1, "the first index is asked first");
    let asked = index.requests();
    assert!(
        asked[0]
            .header("accept")
            .unwrap()
            .starts_with("application/vnd.pypi.simple.v1+json"),
        "JSON is asked for first"
    );
    assert!(
        asked
            .iter()
            .any(|r| r.path == "/files/demo-1.0-py3-none-any.whl")
    );
    assert!(!asked.iter().any(|r| r.path.contains("demo-2.0")));

    let before = (empty.requests().len(), index.requests().len());
    let (code, err, _) = build(&pyship, project.path());
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        (empty.requests().len(), index.requests().len()),
        before,
        "a warm build asked an index"
    );
}

#[test]
fn an_index_that_speaks_only_html_is_read() {
    let index = serve_index(Index {
        html_only: true,
        ..Index::default()
    });
    let project = service(&format!("-i {}/simple\ndemo==1.0\n", index.url()));
    let (code, err, packages) = build(&Pyship::new(), project.path());
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(packages, ["demo==1.0"]);
}

#[test]
fn an_index_login_goes_to_its_own_origin_and_no_further() {
    let files = serve_index(Index::default());
    let index = serve_index(Index {
        login: Some(basic("ci", "t0ken")),
        files_at: Some(format!("{}/files", files.url())),
        ..Index::default()
    });
    let with_login = index.url().replace("http://", "http://ci:t0ken@");
    let project = service(&format!("--index-url {with_login}/simple\ndemo==1.0\n"));
    let (code, err, packages) = build(&Pyship::new(), project.path());
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(packages, ["demo==1.0"]);
    assert!(!err.contains("t0ken"), "the password was printed: {err}");
    assert!(
        index
            .requests()
            .iter()
            .all(|r| r.header("authorization") == Some(basic("ci", "t0ken").as_str())),
        "the index did not get its login"
    );
    assert!(
        files
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none()),
        "the login went to another origin"
    );
    assert!(files.requests().iter().any(|r| r.path.ends_with(".whl")));

    let project = service(&format!("--index-url {}/simple\ndemo==1.0\n", index.url()));
    let (code, err, _) = build(&Pyship::new(), project.path());
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "the package index {} asks for a login to list demo",
            index.address
        )),
        "{err}"
    );
    assert!(err.contains("--index-url in requirements.txt:1"), "{err}");
}

#[test]
fn a_hash_no_file_on_the_index_has_is_refused_naming_the_package() {
    let index = serve_index(Index::default());
    let project = service(&format!(
        "-i {}/simple\n\ndemo==1.0 --hash=sha256:{}\n",
        index.url(),
        "ab".repeat(32)
    ));
    let pyship = Pyship::new();
    let (code, err, _) = build(&pyship, project.path());
    assert_eq!(code, Some(2), "{err}");
    let line = err.lines().last().unwrap();
    assert!(
        line.contains(&format!(
            "none of the 1 files {} has for demo 1.0 matches a hash in requirements.txt:3",
            index.address
        )),
        "{err}"
    );
    assert!(pyship.leftovers().is_empty(), "{:?}", pyship.leftovers());
}

/// pip-compile writes `-e .` (or `.`) for a project with a build system: pyship installs
/// the project itself from it, not editable; a project with nothing to build it from
/// gets one line naming the line to remove.
#[test]
fn a_line_that_installs_the_project_installs_it_as_a_distribution() {
    let project = copy_fixture("build", "requirements-only");
    let dir = project.path();
    let pinned = std::fs::read_to_string(dir.join("requirements.txt")).unwrap();
    std::fs::write(dir.join("requirements.txt"), format!("{pinned}-e .\n")).unwrap();

    let out = build_to_layout(&Pyship::new(), dir, &dir.join("out-a"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("requirements.txt:") && err.contains("the line installs the project"),
        "{err}"
    );

    std::fs::write(
        dir.join("setup.py"),
        "from setuptools import setup\n\nsetup(name='reqsvc', version='0.3.0', py_modules=['app'])\n",
    )
    .unwrap();
    let tag = format!("pyship-e2e/requirements-project:{}", std::process::id());
    let out = build_to_layout(
        &Pyship::new(),
        dir,
        &dir.join("out-b"),
        &["--load", "-t", &tag],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (container, port) = run_hardened(&tag);
    assert_eq!(
        wait_for_http(port, "/health", Duration::from_secs(15)),
        Some(200),
        "{}",
        stderr(&docker(&["logs", &container.0]))
    );
    let version = docker_ok(&[
        "exec",
        &container.0,
        "/app/.venv/bin/python",
        "-c",
        "import importlib.metadata as m; print(m.version('reqsvc'))",
    ]);
    assert_eq!(version, "0.3.0");
    drop(container);
    docker(&["rmi", &tag]);
}
