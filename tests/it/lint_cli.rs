//! The command-line contract of `pyship lint`: exit codes, output formats, `--explain`,
//! configuration and inline suppressions.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn pyship(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("pyship").unwrap();
    cmd.current_dir(dir).env("NO_COLOR", "1");
    cmd
}

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

const CLEAN: &str = "FROM python:3.12-slim@sha256:0000000000000000000000000000000000000000000000000000000000000000\n\
LABEL org.opencontainers.image.source=https://example.com/app\n\
ENV PYTHONUNBUFFERED=1\nUSER 10001\nCMD [\"python\", \"-m\", \"app\"]\n";

const ROOT_PIP: &str = "FROM python:3.12-slim\nRUN pip install -r requirements.txt\nCMD [\"python\", \"-m\", \"app\"]\n";

#[test]
fn clean_file_exits_zero() {
    let dir = project(&[("Dockerfile", CLEAN)]);
    pyship(dir.path())
        .args(["lint", "."])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("1 file checked, no findings"));
}

#[test]
fn findings_exit_one_with_a_caret_and_a_hint() {
    let dir = project(&[("Dockerfile", ROOT_PIP)]);
    pyship(dir.path())
        .args(["lint", "Dockerfile"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "warning[PS204]: pip stores its download cache in the layer",
        ))
        .stdout(predicate::str::contains("--> Dockerfile:2:5"))
        .stdout(predicate::str::contains("^^^^^^^^^^^"))
        .stdout(predicate::str::contains("= help: add `--no-cache-dir`"));
}

#[test]
fn fail_level_decides_the_exit_code() {
    let dir = project(&[("Dockerfile", ROOT_PIP)]);
    pyship(dir.path())
        .args(["lint", "--fail-level", "error", "."])
        .assert()
        .code(0);
    pyship(dir.path())
        .args(["lint", "--fail-level", "none", "."])
        .assert()
        .code(0);
    let info_only = project(&[(
        "Dockerfile",
        &CLEAN.replace(
            "@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "",
        ),
    )]);
    pyship(info_only.path())
        .args(["lint", "."])
        .assert()
        .code(0);
    pyship(info_only.path())
        .args(["lint", "--fail-level", "info", "."])
        .assert()
        .code(1);
}

#[test]
fn usage_and_read_errors_exit_two_on_one_line() {
    let dir = project(&[]);
    let out = pyship(dir.path())
        .args(["lint", "missing/Dockerfile"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("missing/Dockerfile") && stderr.contains("pass Dockerfiles"),
        "{stderr}"
    );

    pyship(dir.path())
        .args(["lint", "."])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no Dockerfile or workflow found"));
    pyship(dir.path())
        .args(["lint", "--explain", "PS999"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown rule `PS999`"));
    pyship(dir.path())
        .args(["lint", "--format", "xml"])
        .assert()
        .code(2);

    let binary = project(&[("Dockerfile", "")]);
    std::fs::write(binary.path().join("Dockerfile"), [0xff, 0xfe, 0x00]).unwrap();
    pyship(binary.path())
        .args(["lint", "."])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read ./Dockerfile"));
}

#[test]
fn explain_prints_the_rule_page() {
    let dir = project(&[]);
    pyship(dir.path())
        .args(["lint", "--explain", "ps205"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("PS205 uv-managed-python"))
        .stdout(predicate::str::contains("UV_PYTHON_DOWNLOADS=never"))
        .stdout(predicate::str::contains("# pyship: ignore=PS205"));
    pyship(dir.path())
        .args(["lint", "--explain", "PS204"])
        .assert()
        .stdout(predicate::str::contains("hadolint twin: DL3042"))
        .stdout(predicate::str::contains("--fix: rewrites it"));
}

#[test]
fn json_carries_positions_and_metadata() {
    let dir = project(&[("Dockerfile", ROOT_PIP)]);
    let out = pyship(dir.path())
        .args(["lint", "--format", "json", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pip = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "PS204")
        .unwrap();
    assert_eq!(pip["line"], 2);
    assert_eq!(pip["column"], 5);
    assert_eq!(pip["name"], "pip-cache-in-layer");
    assert_eq!(pip["severity"], "warning");
    assert_eq!(pip["fixable"], true);
}

#[test]
fn sarif_is_2_1_0_with_rule_metadata() {
    let dir = project(&[("Dockerfile", ROOT_PIP)]);
    let out = pyship(dir.path())
        .args(["lint", "--format", "sarif", "."])
        .output()
        .unwrap();
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.len() >= 40);
    for rule in rules {
        assert!(rule["name"].is_string() && rule["shortDescription"]["text"].is_string());
        assert!(rule["help"]["text"].as_str().unwrap().len() > 40, "{rule}");
    }
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        let region = &result["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().unwrap() >= 1);
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "Dockerfile"
        );
    }
}

#[test]
fn github_format_emits_workflow_commands() {
    let dir = project(&[("Dockerfile", ROOT_PIP)]);
    pyship(dir.path())
        .args(["lint", "--format", "github", "."])
        .assert()
        .code(1)
        .stdout(predicate::str::is_match(r"(?m)^::warning file=\./Dockerfile,line=2,col=5,endLine=2,endColumn=16,title=PS204 pip-cache-in-layer::").unwrap());
}

#[test]
fn pyproject_config_ignores_and_reweights_rules() {
    let config = "[project]\nname = \"app\"\n\n[tool.pyship.lint]\nignore = [\"PS204\"]\nfail-level = \"error\"\n\n[tool.pyship.lint.severity]\nPS301 = \"error\"\n";
    let dir = project(&[("Dockerfile", ROOT_PIP), ("pyproject.toml", config)]);
    let out = pyship(dir.path())
        .args(["lint", "--format", "json", "."])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "PS301 raised to error must fail at fail-level error"
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(!rules.contains(&"PS204"), "{rules:?}");
    let root = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "PS301")
        .unwrap();
    assert_eq!(root["severity"], "error");

    let bad = project(&[
        ("Dockerfile", ROOT_PIP),
        (".pyship.toml", "[lint]\nignore = [\"NOPE1\"]\n"),
    ]);
    pyship(bad.path())
        .args(["lint", "."])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            ".pyship.toml: unknown rule `NOPE1`",
        ));
}

#[test]
fn inline_comments_suppress_one_instruction() {
    let text = "FROM python:3.12-slim\n\
# pyship: ignore=PS204\n\
RUN pip install -r requirements.txt\n\
# hadolint ignore=DL3042\n\
RUN pip install -r other.txt\n\
RUN pip install -r third.txt\n\
CMD [\"python\", \"-m\", \"app\"]\n";
    let dir = project(&[("Dockerfile", text)]);
    let out = pyship(dir.path())
        .args(["lint", "--format", "json", "."])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lines: Vec<u64> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "PS204")
        .map(|f| f["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [6]);
}

#[test]
fn malformed_instructions_do_not_stop_linting() {
    let text = "FROM python:3.12-slim\nRUNN echo \\\n  continued\nCOPY --chown=1:1\nRUN pip install -r requirements.txt\n";
    let dir = project(&[("Dockerfile", text)]);
    let out = pyship(dir.path())
        .args(["lint", "--format", "json", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<(String, u64)> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(found.contains(&("PS100".into(), 2)), "{found:?}");
    assert!(found.contains(&("PS100".into(), 4)), "{found:?}");
    assert!(found.contains(&("PS204".into(), 5)), "{found:?}");
    assert_eq!(
        found.iter().filter(|(rule, _)| rule == "PS100").count(),
        2,
        "{found:?}"
    );
}

#[test]
fn directories_are_searched_for_dockerfiles_and_workflows() {
    let dir = project(&[
        ("api/Dockerfile", CLEAN),
        ("worker/worker.Dockerfile", CLEAN),
        ("Dockerfile.prod", CLEAN),
        (".github/workflows/ci.yml", "on: push\njobs: {}\n"),
        ("docs/Dockerfile.md", "not a dockerfile"),
    ]);
    pyship(dir.path())
        .args(["lint", "."])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("4 files checked, no findings"));
}

#[test]
fn fix_rewrites_only_what_is_mechanical() {
    let before = "FROM python:3.12-slim AS build\n\
RUN apt-get update && apt-get install -y gcc \\\n    && rm -rf /var/lib/apt/lists/*\n\
RUN --mount=type=cache,target=/root/.cache/uv uv sync --no-dev\n\
FROM python:3.12-slim\n\
# keep this comment\n\
RUN pip install -r requirements.txt\n\
USER 10001\n\
CMD uvicorn app.main:app --host 0.0.0.0\n\
ENTRYPOINT exec \"$@\"\n";
    let expected = "FROM python:3.12-slim AS build\n\
RUN apt-get update && apt-get install --no-install-recommends -y gcc \\\n    && rm -rf /var/lib/apt/lists/*\n\
RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked --no-dev\n\
FROM python:3.12-slim\n\
ENV PYTHONUNBUFFERED=1\n\
# keep this comment\n\
RUN pip install --no-cache-dir -r requirements.txt\n\
USER 10001\n\
CMD [\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\"]\n\
ENTRYPOINT exec \"$@\"\n";
    let dir = project(&[("Dockerfile", before)]);
    let out = pyship(dir.path())
        .args(["lint", "--fix", "--fail-level", "none", "."])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        expected
    );
    for change in [
        "added `--no-install-recommends`",
        "added `--locked`",
        "added `ENV PYTHONUNBUFFERED=1`",
        "added `--no-cache-dir`",
        "rewrote CMD in exec form",
    ] {
        assert!(
            stdout.contains(change),
            "{change} not reported in:\n{stdout}"
        );
    }
    // The shell-form ENTRYPOINT needs "$@" expanded by a shell: reported, not rewritten.
    assert!(stdout.contains("shell-form ENTRYPOINT"), "{stdout}");
}

/// A Dockerfile whose fixable findings sit next to flags a variable or a cache mount
/// already supplies: `--fix` must touch only the lines where its edit is safe, and the
/// result must build. uv refuses `--locked` with `--frozen`, so a fix that ignored
/// `$UV_FLAGS` would fail here.
const FIX_NEIGHBOURS: &str = r#"FROM 127.0.0.1:5000/pyship-test/python:3.11-slim
COPY --from=127.0.0.1:5000/pyship-test/uv:0.13.9 /uv /bin/uv
ENV UV_PYTHON_DOWNLOADS=never UV_OFFLINE=1 UV_NO_CACHE=1
ARG UV_FLAGS="--frozen"
ARG PIP_FLAGS="--no-cache"
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync $UV_FLAGS --no-dev --no-install-project
RUN uv sync --no-dev --no-install-project
RUN python3 -m venv /opt/tools
RUN /opt/tools/bin/pip install --no-index $PIP_FLAGS pip
RUN --mount=type=cache,target=/root/.cache /opt/tools/bin/pip install --no-index pip
RUN /opt/tools/bin/pip install --no-index pip
USER 10001
CMD python3 --version
"#;

const EMPTY_PROJECT: &str = "[project]\nname = \"app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\ndependencies = []\n";

const EMPTY_LOCK: &str = "version = 1\nrevision = 5\nrequires-python = \">=3.11\"\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = { virtual = \".\" }\n";

#[test]
fn fixed_dockerfile_builds_with_buildkit() {
    let dir = project(&[
        ("Dockerfile", FIX_NEIGHBOURS),
        ("pyproject.toml", EMPTY_PROJECT),
        ("uv.lock", EMPTY_LOCK),
    ]);
    pyship(dir.path())
        .args(["lint", "--fix", "--fail-level", "none", "."])
        .assert()
        .success();
    let fixed = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert!(fixed.contains("RUN uv sync $UV_FLAGS --no-dev --no-install-project\n"));
    assert!(fixed.contains("RUN uv sync --locked --no-dev --no-install-project\n"));
    assert!(fixed.contains("pip install --no-index $PIP_FLAGS pip\n"));
    assert!(fixed.contains("/root/.cache /opt/tools/bin/pip install --no-index pip\n"));
    assert!(fixed.contains("/opt/tools/bin/pip install --no-cache-dir --no-index pip\n"));
    assert!(fixed.contains(r#"CMD ["python3", "--version"]"#));
    let docker = if Path::new("/usr/bin/docker").exists() {
        "/usr/bin/docker"
    } else {
        "docker"
    };
    let build = std::process::Command::new(docker)
        .env("DOCKER_BUILDKIT", "1")
        .args(["build", "--quiet", "--network", "host", "."])
        .current_dir(dir.path())
        .output()
        .expect("a Docker engine");
    assert!(
        build.status.success(),
        "the fixed Dockerfile does not build:\n{fixed}\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let image = String::from_utf8_lossy(&build.stdout).trim().to_string();
    let _ = std::process::Command::new(docker)
        .args(["image", "rm", "-f", &image])
        .output();
}
