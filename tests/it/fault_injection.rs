//! Fault injection on the network: a fake registry and a fake package index on
//! 127.0.0.1 that answer 5xx, 429 with `Retry-After`, cut bodies off mid-way, send
//! uploads to another origin and log every `Authorization` header. pyship is driven
//! as users drive it (`pyship build … --push`), against the real loopback registry
//! behind the fakes.

use crate::common;
use crate::common::fake_http;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use base64::Engine as _;
use common::*;
use fake_http::{FakeServer, Reply, Request, proxy};

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A wheel of a pure-Python package `name` 1.0, large enough that cutting its body in
/// half is a real partial download.
fn wheel(name: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let dist = format!("{name}-1.0.dist-info");
    // Bytes that do not repeat, so a resumed download with a wrong offset cannot match.
    let mut state = 0x9e3779b97f4a7c15u64;
    let data: Vec<u8> = (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let files: Vec<(String, Vec<u8>)> = vec![
        (format!("{name}/__init__.py"), b"VALUE = 1\n".to_vec()),
        (format!("{name}/data.bin"), data),
        (
            format!("{dist}/METADATA"),
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n").into_bytes(),
        ),
        (
            format!("{dist}/WHEEL"),
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .to_vec(),
        ),
        (format!("{dist}/RECORD"), Vec::new()),
    ];
    for (path, bytes) in files {
        zip.start_file(path, stored).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Serves `bytes` honouring a `Range: bytes=N-` request as a registry or index would.
fn serve_range(request: &Request, bytes: &[u8]) -> Reply {
    let start = request
        .header("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
    match start {
        Some(start) if start < bytes.len() => Reply::body(206, bytes[start..].to_vec())
            .with_header(
                "Content-Range",
                &format!("bytes {start}-{}/{}", bytes.len() - 1, bytes.len()),
            ),
        _ => Reply::body(200, bytes.to_vec()),
    }
}

/// A service depending on the wheels in `wheels` (name, URL, bytes), each locked from
/// `index` (the `[[tool.uv.index]]` named `internal`).
fn project(index: &str, wheels: &[(&str, String, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<&str> = wheels.iter().map(|(name, _, _)| *name).collect();
    let quoted = |n: &&str| format!("\"{n}\"");
    let requirement = |n: &&str| format!("{{ name = \"{n}\" }}");
    std::fs::write(
        dir.path().join("pyproject.toml"),
        format!(
            "[project]\nname = \"svc\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\ndependencies = [{}]\n\n[[tool.uv.index]]\nname = \"internal\"\nurl = \"{index}\"\n\n[tool.pyship]\ncommand = [\"python\", \"-m\", \"svc\"]\n",
            names.iter().map(quoted).collect::<Vec<_>>().join(", ")
        ),
    )
    .unwrap();
    let mut lock = format!(
        "version = 1\nrevision = 2\nrequires-python = \">=3.11\"\n\n[[package]]\nname = \"svc\"\nversion = \"0.1.0\"\nsource = {{ virtual = \".\" }}\ndependencies = [{}]\n\n[package.metadata]\nrequires-dist = [{}]\n",
        names.iter().map(requirement).collect::<Vec<_>>().join(", "),
        names.iter().map(requirement).collect::<Vec<_>>().join(", "),
    );
    for (name, url, bytes) in wheels {
        lock.push_str(&format!(
            "\n[[package]]\nname = \"{name}\"\nversion = \"1.0\"\nsource = {{ registry = \"{index}\" }}\nwheels = [{{ url = \"{url}\", hash = \"{}\", size = {} }}]\n",
            sha256(bytes),
            bytes.len()
        ));
    }
    std::fs::write(dir.path().join("uv.lock"), lock).unwrap();
    std::fs::create_dir_all(dir.path().join("svc")).unwrap();
    std::fs::write(dir.path().join("svc/__init__.py"), "").unwrap();
    std::fs::write(dir.path().join("svc/__main__.py"), "print('svc')\n").unwrap();
    dir
}

/// `pyship build` of `project` on the test base, into an OCI layout, with no login
/// from the machine (no Docker config, no netrc, no registry variables).
fn build_command(pyship: &Pyship, project: &Path, out: &Path) -> std::process::Command {
    let mut command = pyship.command();
    command
        .args([
            "build",
            project.to_str().unwrap(),
            "--base",
            &python_base(),
            "--output",
            &format!("oci:{}", out.display()),
        ])
        .env("DOCKER_CONFIG", "/nonexistent")
        .env("NETRC", "/nonexistent")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("PYSHIP_REGISTRY")
        .env_remove("PYSHIP_REGISTRY_USERNAME")
        .env_remove("PYSHIP_REGISTRY_PASSWORD");
    command
}

/// Counts requests per path, so a handler can fail the first ones and serve the rest.
#[derive(Default)]
struct Attempts(Mutex<HashMap<String, usize>>);

impl Attempts {
    /// 1 for the first request of `key`, 2 for the second...
    fn next(&self, key: &str) -> usize {
        let mut seen = self.0.lock().unwrap();
        let count = seen.entry(key.to_owned()).or_default();
        *count += 1;
        *count
    }
}

#[test]
fn index_faults_are_retried_and_the_index_login_reaches_only_its_host() {
    let (a, b) = (wheel("tinya"), wheel("tinyb"));
    let a_served = a.clone();
    let attempts = Attempts::default();
    let login = basic("ci", "idx-pass");
    let expected = login.clone();
    // The index: wants its login, answers 503 first, then cuts the body in half, then
    // serves the rest of it.
    let index = FakeServer::start(move |request| {
        if request.header("authorization") != Some(expected.as_str()) {
            return Reply::status(401).with_header("WWW-Authenticate", "Basic realm=\"index\"");
        }
        match attempts.next(&request.path) {
            1 => Reply::status(503),
            2 => Reply::Cut {
                headers: Vec::new(),
                body: a_served.clone(),
                sent: a_served.len() / 2,
            },
            _ => serve_range(request, &a_served),
        }
    });
    // Another origin holding the second wheel: rate-limits once, and must never see
    // the index's login.
    let b_served = b.clone();
    let limited = Attempts::default();
    let files = FakeServer::start(move |request| match limited.next(&request.path) {
        1 => Reply::status(429).with_header("Retry-After", "1"),
        _ => serve_range(request, &b_served),
    });
    let index_url = format!("{}/simple", index.url());
    let project = project(
        &index_url,
        &[
            (
                "tinya",
                format!("{}/files/tinya-1.0-py3-none-any.whl", index.url()),
                &a,
            ),
            (
                "tinyb",
                format!("{}/files/tinyb-1.0-py3-none-any.whl", files.url()),
                &b,
            ),
        ],
    );
    let pyship = Pyship::new();
    let out = tempfile::tempdir().unwrap();
    let built = build_command(&pyship, project.path(), &out.path().join("image"))
        .env("UV_INDEX_INTERNAL_USERNAME", "ci")
        .env("UV_INDEX_INTERNAL_PASSWORD", "idx-pass")
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", stderr(&built));
    let index_gets = index
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("tinya-1.0-py3-none-any.whl"))
        .count();
    assert_eq!(index_gets, 3, "503, cut, resumed: {:?}", index.requests());
    assert!(
        index.authorizations().iter().all(|a| *a == login),
        "{:?}",
        index.authorizations()
    );
    assert_eq!(files.requests().len(), 2, "429 then served");
    assert!(
        files.authorizations().is_empty(),
        "the index's login went to another origin: {:?}",
        files.authorizations()
    );
    assert!(pyship.leftovers().is_empty(), "{:?}", pyship.leftovers());
}

#[test]
fn a_download_that_keeps_breaking_is_a_network_error_without_the_urls_password() {
    let a = wheel("tinya");
    let served = a.clone();
    let index = FakeServer::start(move |_| Reply::Cut {
        headers: Vec::new(),
        body: served.clone(),
        sent: 1000,
    });
    let host = index.address.clone();
    let project = project(
        &format!("{}/simple", index.url()),
        &[(
            "tinya",
            format!("http://tok:hunter2@{host}/files/tinya-1.0-py3-none-any.whl"),
            &a,
        )],
    );
    let pyship = Pyship::new();
    let out = tempfile::tempdir().unwrap();
    let built = build_command(&pyship, project.path(), &out.path().join("image"))
        .output()
        .unwrap();
    let err = stderr(&built);
    assert_eq!(built.status.code(), Some(2), "{err}");
    assert!(
        err.contains("broke off") && err.contains(&host),
        "not a network error naming the host: {err}"
    );
    assert!(!err.contains("hash"), "called a hash mismatch: {err}");
    assert!(
        !err.contains("hunter2"),
        "the URL's password was printed: {err}"
    );
    // The dependency layer may be tried twice (for the target guessed while the base
    // is read, then for the real one), each download at most 3 times.
    let tries = index.requests().len();
    assert!(
        (3..=6).contains(&tries) && tries.is_multiple_of(3),
        "not retried a bounded number of times: {tries} requests"
    );
    assert!(
        index
            .authorizations()
            .iter()
            .all(|a| *a == basic("tok", "hunter2")),
        "the URL's own login is sent to its host: {:?}",
        index.authorizations()
    );
    assert!(pyship.leftovers().is_empty(), "{:?}", pyship.leftovers());
}

#[test]
fn netrc_logins_go_to_their_machine_only() {
    let (a, b) = (wheel("tinya"), wheel("tinyb"));
    let (a_served, b_served) = (a.clone(), b.clone());
    // One listener, reached by two names: `localhost` has a .netrc entry, 127.0.0.1
    // has none, so only requests for localhost may carry a login.
    let server = FakeServer::start(move |request| {
        if request.path.contains("tinya") {
            serve_range(request, &a_served)
        } else {
            serve_range(request, &b_served)
        }
    });
    let port = server.address.rsplit(':').next().unwrap().to_owned();
    let project = project(
        &format!("http://localhost:{port}/simple"),
        &[
            (
                "tinya",
                format!("http://localhost:{port}/files/tinya-1.0-py3-none-any.whl"),
                &a,
            ),
            (
                "tinyb",
                format!("http://127.0.0.1:{port}/files/tinyb-1.0-py3-none-any.whl"),
                &b,
            ),
        ],
    );
    let netrc = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        netrc.path(),
        "machine localhost\n  login netrc-user\n  password netrc-pass\n",
    )
    .unwrap();
    let pyship = Pyship::new();
    let out = tempfile::tempdir().unwrap();
    let built = build_command(&pyship, project.path(), &out.path().join("image"))
        .env("NETRC", netrc.path())
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", stderr(&built));
    for request in server.requests() {
        let to_localhost = request
            .header("host")
            .is_some_and(|h| h.starts_with("localhost"));
        let expected = to_localhost.then(|| basic("netrc-user", "netrc-pass"));
        assert_eq!(
            request.header("authorization").map(str::to_owned),
            expected,
            "{} {} (host {:?})",
            request.method,
            request.path,
            request.header("host")
        );
    }
    assert_eq!(server.requests().len(), 2, "{:?}", server.requests());
}

/// A fake registry in front of the real loopback one: it wants `login` when given,
/// `faults` may answer a request itself, and the rest is proxied.
fn registry(
    login: Option<String>,
    faults: impl Fn(&Request, &Attempts) -> Option<Reply> + Send + Sync + 'static,
) -> FakeServer {
    let attempts = Attempts::default();
    FakeServer::start(move |request| {
        if let Some(login) = &login
            && request.header("authorization") != Some(login.as_str())
        {
            return Reply::status(401).with_header("WWW-Authenticate", "Basic realm=\"fake\"");
        }
        if let Some(reply) = faults(request, &attempts) {
            return reply;
        }
        let here = format!("http://{}", request.header("host").unwrap_or(""));
        proxy(request, REGISTRY, &here)
    })
}

#[test]
fn registry_faults_are_retried_and_credentials_stay_with_the_push_registry() {
    // Warm the base images first, so the fakes see only pyship.
    let base = python_base();
    let base_path = base.split_once('/').unwrap().1.to_owned();
    // The base's registry: 503 on the first manifest request, and every blob's body cut
    // in half the first time.
    let base_registry = registry(None, |request, attempts| {
        let first = attempts.next(&format!("{} {}", request.method, request.path)) == 1;
        if !first || request.method != "GET" {
            return None;
        }
        if request.path.contains("/manifests/") {
            return Some(Reply::status(503));
        }
        if request.path.contains("/blobs/sha256:") {
            let Reply::Full { headers, body, .. } = proxy(request, REGISTRY, "") else {
                unreachable!()
            };
            let sent = body.len() / 2;
            let headers = headers
                .into_iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                .collect();
            return Some(Reply::Cut {
                headers,
                body,
                sent,
            });
        }
        None
    });
    // Where the push registry sends uploads: another origin, which must see no login.
    let uploads = FakeServer::start(|request| proxy(request, REGISTRY, ""));
    let login = basic("pusher", "push-pass");
    let upload_origin = uploads.url();
    let push_registry = registry(Some(login.clone()), move |request, attempts| {
        let key = format!("{} {}", request.method, request.path);
        let first = attempts.next(&key) == 1;
        if first && request.method == "HEAD" {
            return Some(Reply::status(429).with_header("Retry-After", "1"));
        }
        if first && request.method == "PUT" && request.path.contains("/manifests/") {
            return Some(Reply::status(503));
        }
        if request.method == "POST" && request.path.contains("/blobs/uploads/") {
            return Some(proxy(request, REGISTRY, &upload_origin));
        }
        None
    });
    let (_index, project) = tiny_service();
    let pyship = Pyship::new();
    let tag = format!("v{}", std::process::id());
    let reference = format!("{}/fault/pushed:{tag}", push_registry.address);
    let pushed = pyship
        .command()
        .args([
            "build",
            project.path().to_str().unwrap(),
            "--base",
            &format!("{}/{base_path}", base_registry.address),
            "--push",
            &reference,
        ])
        .env("DOCKER_CONFIG", "/nonexistent")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("PYSHIP_REGISTRY")
        .env("PYSHIP_REGISTRY_USERNAME", "pusher")
        .env("PYSHIP_REGISTRY_PASSWORD", "push-pass")
        .output()
        .unwrap();
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    assert!(
        base_registry.authorizations().is_empty(),
        "push credentials went to the base's registry: {:?}",
        base_registry.authorizations()
    );
    assert!(
        uploads.authorizations().is_empty(),
        "credentials followed the upload Location to another origin: {:?}",
        uploads.authorizations()
    );
    assert!(
        uploads.requests().iter().any(|r| r.method == "PUT"),
        "the uploads did not go where the registry sent them"
    );
    assert!(
        push_registry.authorizations().iter().all(|a| *a == login),
        "{:?}",
        push_registry.authorizations()
    );
    let inspect = std::process::Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{REGISTRY}/fault/pushed:{tag}"),
        ])
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    assert!(pyship.leftovers().is_empty(), "{:?}", pyship.leftovers());
}

/// The service of [`project`] with one wheel, served by an index that needs no login.
fn tiny_service() -> (FakeServer, tempfile::TempDir) {
    let a = wheel("tinya");
    let served = a.clone();
    let index = FakeServer::start(move |request| serve_range(request, &served));
    let project = project(
        &format!("{}/simple", index.url()),
        &[(
            "tinya",
            format!("{}/files/tinya-1.0-py3-none-any.whl", index.url()),
            &a,
        )],
    );
    (index, project)
}

#[test]
fn docker_credential_helpers_log_in_and_environment_logins_keep_to_their_registry() {
    let login = basic("helper-user", "helper-secret");
    let push_registry = registry(Some(login.clone()), |_, _| None);
    let (_index, project) = tiny_service();
    let bin = tempfile::tempdir().unwrap();
    let helper = bin.path().join("docker-credential-test");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\nif [ \"$1\" = get ] && [ \"$server\" = \"{}\" ]; then\n  echo '{{\"Username\":\"helper-user\",\"Secret\":\"helper-secret\"}}'\nelse\n  echo 'credentials not found in native keychain'\n  exit 1\nfi\n",
            push_registry.address
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let pyship = Pyship::new();
    let push = |config_json: serde_json::Value| {
        std::fs::write(config.path().join("config.json"), config_json.to_string()).unwrap();
        pyship
            .command()
            .args([
                "build",
                project.path().to_str().unwrap(),
                "--base",
                &python_base(),
                "--push",
                &format!("{}/fault/helped:v1", push_registry.address),
            ])
            .env("PATH", &path)
            .env("DOCKER_CONFIG", config.path())
            .env_remove("REGISTRY_AUTH_FILE")
            // The environment's login belongs to another registry: it must not be used.
            .env("PYSHIP_REGISTRY", "registry.other.example")
            .env("PYSHIP_REGISTRY_USERNAME", "env-user")
            .env("PYSHIP_REGISTRY_PASSWORD", "env-pass")
            .output()
            .unwrap()
    };

    let missing = push(serde_json::json!({ "credsStore": "pyship-absent" }));
    let err = stderr(&missing);
    assert_eq!(missing.status.code(), Some(2), "{err}");
    assert!(
        err.contains("docker-credential-pyship-absent") && err.contains("not on PATH"),
        "{err}"
    );
    assert!(
        !push_registry
            .authorizations()
            .contains(&basic("env-user", "env-pass")),
        "the environment's login went to a registry PYSHIP_REGISTRY does not name"
    );

    let helped = push(serde_json::json!({
        "credHelpers": { push_registry.address.clone(): "test" }
    }));
    assert!(helped.status.success(), "{}", stderr(&helped));
    let sent = push_registry.authorizations();
    assert!(
        !sent.is_empty() && sent.iter().all(|a| *a == login),
        "{sent:?}"
    );
}

#[test]
fn a_refused_mount_falls_back_to_an_upload_of_the_base_layer() {
    // Answers a mount request as a registry that cannot mount: 202 with a plain upload.
    let refusing = registry(None, |request, _| {
        let (path, query) = request.path.split_once('?')?;
        if request.method != "POST" || !query.contains("mount=") {
            return None;
        }
        let plain = Request {
            path: path.to_owned(),
            ..request.clone()
        };
        let here = format!("http://{}", request.header("host").unwrap_or(""));
        Some(proxy(&plain, REGISTRY, &here))
    });
    let base_path = python_base().split_once('/').unwrap().1.to_owned();
    let base = format!("{}/{base_path}", refusing.address);
    let (_index, project) = tiny_service();
    let pyship = Pyship::new();
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("image");
    let built = pyship
        .command()
        .args([
            "build",
            project.path().to_str().unwrap(),
            "--base",
            &base,
            "--output",
            &format!("oci:{}", layout.display()),
        ])
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", stderr(&built));
    // What a later run has: the base's facts remembered, its layers no longer cached.
    let layers = layer_digests(&layout_manifest(&layout));
    for digest in &layers[..layers.len() - 3] {
        let hex = digest.trim_start_matches("sha256:");
        std::fs::remove_file(pyship.cache.path().join("blobs/sha256").join(hex)).unwrap();
    }
    // A repository never pushed to, so the registry cannot already hold the layers.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let repository = format!("fault/unmounted-{nanos}");
    let pushed = pyship
        .command()
        .args([
            "build",
            project.path().to_str().unwrap(),
            "--base",
            &base,
            "--push",
            &format!("{}/{repository}:v1", refusing.address),
        ])
        .output()
        .unwrap();
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    assert!(
        refusing
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.path.contains("mount=")),
        "no mount was tried"
    );
    let inspect = std::process::Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{REGISTRY}/{repository}:v1"),
        ])
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{}", stderr(&inspect));
}

/// Builds the tiny service on `base` into a layout, returning the run's output.
fn build_on(base: &str) -> std::process::Output {
    let (_index, project) = tiny_service();
    let pyship = Pyship::new();
    let out = tempfile::tempdir().unwrap();
    pyship
        .command()
        .args([
            "build",
            project.path().to_str().unwrap(),
            "--base",
            base,
            "--output",
            &format!("oci:{}", out.path().join("image").display()),
        ])
        .output()
        .unwrap()
}

/// The test base's repository on the real registry, and its tag.
fn base_repository_and_tag() -> (String, String) {
    let base = python_base();
    let path = base.split_once('/').unwrap().1;
    let (repository, tag) = path.rsplit_once(':').unwrap();
    (repository.to_owned(), tag.to_owned())
}

#[test]
fn an_oversized_manifest_is_refused_before_it_is_buffered() {
    let (repository, _) = base_repository_and_tag();
    let huge = registry(None, |request, _| {
        request.path.contains("/manifests/huge").then(|| {
            let mut body = b"{\"schemaVersion\":2".to_vec();
            body.resize(5 * 1024 * 1024, b' ');
            body.push(b'}');
            Reply::body(200, body)
                .with_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        })
    });
    let built = build_on(&format!("{}/{repository}:huge", huge.address));
    let err = stderr(&built);
    assert_eq!(built.status.code(), Some(2), "{err}");
    assert!(err.contains("larger than 4 MiB"), "{err}");
}

#[test]
fn a_blob_longer_than_its_descriptor_is_refused() {
    let (repository, tag) = base_repository_and_tag();
    let padded = registry(None, |request, _| {
        if request.method != "GET" || !request.path.contains("/blobs/sha256:") {
            return None;
        }
        let Reply::Full {
            status,
            headers,
            mut body,
        } = proxy(request, REGISTRY, "")
        else {
            unreachable!()
        };
        body.extend(std::iter::repeat_n(b'x', 1024 * 1024));
        Some(Reply::Full {
            status,
            headers,
            body,
        })
    });
    let built = build_on(&format!("{}/{repository}:{tag}", padded.address));
    let err = stderr(&built);
    assert_eq!(built.status.code(), Some(2), "{err}");
    assert!(err.contains("sent more than the"), "{err}");
}

#[test]
fn a_manifest_named_by_sha512_is_verified() {
    let (repository, tag) = base_repository_and_tag();
    let wrong = format!("sha512:{}", "ab".repeat(64));
    let listed = wrong.clone();
    let lying = registry(None, move |request, _| {
        if request.path.contains("/manifests/listed") {
            let index = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [{
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": listed,
                    "size": 1000,
                    "platform": { "os": "linux", "architecture": "amd64" }
                }]
            });
            return Some(
                Reply::body(200, index.to_string().into_bytes())
                    .with_header("Content-Type", "application/vnd.oci.image.index.v1+json"),
            );
        }
        if request.path.contains(&format!("/manifests/{listed}")) {
            // Any manifest but the one the digest names.
            let by_tag = Request {
                path: request.path.replace(&listed, &tag),
                ..request.clone()
            };
            return Some(proxy(&by_tag, REGISTRY, ""));
        }
        None
    });
    let built = build_on(&format!("{}/{repository}:listed", lying.address));
    let err = stderr(&built);
    assert_eq!(built.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&wrong) && err.contains("not trustworthy"),
        "{err}"
    );
}

#[test]
fn podman_auth_file_logs_in() {
    let login = basic("podman-user", "podman-pass");
    let push_registry = registry(Some(login.clone()), |_, _| None);
    let (_index, project) = tiny_service();
    let auth = tempfile::NamedTempFile::new().unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode("podman-user:podman-pass");
    std::fs::write(
        auth.path(),
        serde_json::json!({ "auths": { push_registry.address.clone(): { "auth": encoded } } })
            .to_string(),
    )
    .unwrap();
    let pushed = Pyship::new()
        .command()
        .args([
            "build",
            project.path().to_str().unwrap(),
            "--base",
            &python_base(),
            "--push",
            &format!("{}/fault/podman:v1", push_registry.address),
        ])
        .env("REGISTRY_AUTH_FILE", auth.path())
        .env("DOCKER_CONFIG", "/nonexistent")
        .env_remove("PYSHIP_REGISTRY_USERNAME")
        .env_remove("PYSHIP_REGISTRY_PASSWORD")
        .output()
        .unwrap();
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let sent = push_registry.authorizations();
    assert!(
        !sent.is_empty() && sent.iter().all(|a| *a == login),
        "{sent:?}"
    );
}
