//! Publishing: the tags `pyship build --push REPOSITORY` derives from git, and
//! `pyship promote` by digest against the real loopback registry, seen through a
//! counting proxy (no blob is uploaded; cross-repository promotion mounts), with its
//! referrer gate; and the shell completion scripts.

use crate::common;
use crate::common::fake_http::{FakeServer, Reply, Request, proxy};

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::*;
use sha2::Digest as _;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
const CYCLONEDX: &str = "application/vnd.cyclonedx+json";
const SIGSTORE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// A repository name no earlier run used.
fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("pyship-publish/{name}-{nanos}")
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// The manifest or index `reference` names on the loopback registry, as stored.
fn raw_manifest(reference: &str) -> Option<Vec<u8>> {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    out.status.success().then_some(out.stdout)
}

/// The digest of what `reference` names, checked with skopeo rather than pyship.
fn digest_of(reference: &str) -> String {
    let raw =
        raw_manifest(reference).unwrap_or_else(|| panic!("{reference} is not in the registry"));
    sha256(&raw)
}

fn tags_of(repository: &str) -> Vec<String> {
    let out = Command::new("skopeo")
        .args(["list-tags", "--tls-verify=false"])
        .arg(format!("docker://{REGISTRY}/{repository}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut tags: Vec<String> = json["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    tags.sort();
    tags
}

/// The example service in a git repository on branch `feature/x`, with `v1.2.3` and a
/// tag that is no version on HEAD. Returns the directory and the commit.
fn git_fixture() -> (tempfile::TempDir, String) {
    let dir = copy_example("hello-fastapi");
    let path = dir.path();
    git(path, &["init", "-q"]);
    git(path, &["checkout", "-q", "-b", "feature/x"]);
    git(path, &["add", "-A"]);
    git(
        path,
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
    git(path, &["tag", "v1.2.3"]);
    git(path, &["tag", "not-a-version"]);
    let head = Command::new("git")
        .arg("-C")
        .arg(path)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    (dir, stdout(&head).trim().to_owned())
}

fn push(pyship: &Pyship, project: &Path, reference: &str, extra: &[&str]) -> Output {
    let base = python_base();
    let mut args = vec![
        "build",
        project.to_str().unwrap(),
        "--base",
        &base,
        "--push",
        reference,
    ];
    args.extend_from_slice(extra);
    pyship.run(&args)
}

/// The example pushed once from the git fixture to a repository without a tag, shared
/// by the tag and promotion tests.
struct Published {
    repository: String,
    digest: String,
    commit: String,
    stdout: Vec<String>,
}

fn published() -> &'static Published {
    static PUBLISHED: OnceLock<Published> = OnceLock::new();
    PUBLISHED.get_or_init(|| {
        let (project, commit) = git_fixture();
        let repository = unique("tags");
        let out = push(
            &Pyship::new(),
            project.path(),
            &format!("{REGISTRY}/{repository}"),
            &[],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let stdout: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
        let digest = stdout[0]
            .split_once('@')
            .unwrap_or_else(|| panic!("the first line is not pinned: {stdout:?}"))
            .1
            .to_owned();
        Published {
            repository,
            digest,
            commit,
            stdout,
        }
    })
}

#[test]
fn a_push_to_a_repository_tags_the_commit_branch_and_release_at_one_digest() {
    let published = published();
    let name = format!("{REGISTRY}/{}", published.repository);
    let sha_tag = format!("sha-{}", published.commit);
    assert_eq!(
        published.stdout,
        [
            format!("{name}@{}", published.digest),
            format!("{name}:{sha_tag}"),
            format!("{name}:feature-x"),
            format!("{name}:1.2.3"),
        ],
        "the pinned reference first, then each tag"
    );
    let expected = [sha_tag, "feature-x".to_owned(), "1.2.3".to_owned()];
    // Other tests promote into this repository at the same time: no exact list.
    let tags = tags_of(&published.repository);
    assert!(expected.iter().all(|t| tags.contains(t)), "{tags:?}");
    assert!(!tags.contains(&"not-a-version".to_owned()) && !tags.contains(&"latest".to_owned()));
    for tag in &expected {
        assert_eq!(
            digest_of(&format!("{name}:{tag}")),
            published.digest,
            "{tag}"
        );
    }
}

#[test]
fn a_dirty_tree_gets_no_sha_tag_and_no_git_repository_is_refused() {
    let (project, commit) = git_fixture();
    let pyship = Pyship::new();
    std::fs::write(project.path().join("app/extra.py"), "VALUE = 1\n").unwrap();
    // Untracked files alone leave the tree clean.
    let clean = unique("clean");
    let out = push(&pyship, project.path(), &format!("{REGISTRY}/{clean}"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(tags_of(&clean).contains(&format!("sha-{commit}")));

    let main = project.path().join("app/main.py");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, format!("{text}\n# edited\n")).unwrap();
    let dirty = unique("dirty");
    let out = push(&pyship, project.path(), &format!("{REGISTRY}/{dirty}"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(tags_of(&dirty), ["1.2.3", "feature-x"]);
    let err = stderr(&out);
    let warning: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect::<Vec<_>>();
    assert!(
        warning.len() == 1
            && warning[0].contains("no sha- tag")
            && warning[0].contains("--allow-dirty"),
        "{warning:?}"
    );
    let allowed = unique("allowed");
    let out = push(
        &pyship,
        project.path(),
        &format!("{REGISTRY}/{allowed}"),
        &["--allow-dirty"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(tags_of(&allowed).contains(&format!("sha-{commit}")));

    let outside = copy_example("hello-fastapi");
    let out = push(
        &pyship,
        outside.path(),
        &format!("{REGISTRY}/{}", unique("nogit")),
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("not in a git repository") && err.contains("--push REPO:TAG"),
        "{err}"
    );
}

/// A proxy in front of the loopback registry that logs every request; `intercept`
/// may answer one itself.
fn counting_proxy(
    intercept: impl Fn(&Request, &str) -> Option<Reply> + Send + Sync + 'static,
) -> FakeServer {
    FakeServer::start(move |request| {
        let here = format!("http://{}", request.header("host").unwrap_or(""));
        intercept(request, &here).unwrap_or_else(|| proxy(request, REGISTRY, &here))
    })
}

fn blob_uploads(server: &FakeServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .filter(|r| matches!(r.method.as_str(), "PUT" | "PATCH") && r.path.contains("/blobs/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn promote(args: &[&str]) -> Output {
    Pyship::new().run(&[&["promote"], args].concat())
}

#[test]
fn promotion_points_tags_at_the_digest_without_uploading_a_blob() {
    let published = published();
    let proxy = counting_proxy(|_, _| None);
    let via = format!("{}/{}", proxy.address, published.repository);
    let out = promote(&[&format!("{via}:feature-x"), "prod", "candidate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>(),
        [
            format!("{via}@{}", published.digest),
            format!("{via}:prod"),
            format!("{via}:candidate"),
        ],
        "the tag is resolved and its digest printed first"
    );
    for tag in ["prod", "candidate"] {
        let reference = format!("{REGISTRY}/{}:{tag}", published.repository);
        assert_eq!(digest_of(&reference), published.digest);
    }
    assert!(
        blob_uploads(&proxy).is_empty(),
        "{:?}",
        blob_uploads(&proxy)
    );
    assert!(
        !proxy.requests().iter().any(|r| r.path.contains("/blobs/")),
        "a retag in one repository touches no blob: {:?}",
        proxy.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
    );

    let other = unique("releases");
    let out = promote(&[
        &format!("{via}@{}", published.digest),
        &format!("{}/{other}:1.2.3", proxy.address),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        digest_of(&format!("{REGISTRY}/{other}:1.2.3")),
        published.digest
    );
    assert!(
        blob_uploads(&proxy).is_empty(),
        "{:?}",
        blob_uploads(&proxy)
    );
    let mounts: Vec<Request> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.contains("mount="))
        .collect();
    let manifest: serde_json::Value =
        serde_json::from_slice(&raw_manifest(&format!("{REGISTRY}/{other}:1.2.3")).unwrap())
            .unwrap();
    let blobs = 1 + manifest["layers"].as_array().unwrap().len();
    assert_eq!(mounts.len(), blobs, "each blob mounted once");
    assert!(
        mounts
            .iter()
            .all(|r| r.path.contains(&format!("from={}", published.repository)))
    );
}

#[test]
fn a_refused_mount_is_streamed_and_an_index_is_promoted_whole() {
    let published = published();
    // An index naming the published image, as a multi-platform push leaves.
    let manifest = raw_manifest(&format!(
        "{REGISTRY}/{}@{}",
        published.repository, published.digest
    ))
    .unwrap();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": OCI_MANIFEST,
            "digest": published.digest,
            "size": manifest.len(),
            "platform": {"os": "linux", "architecture": "amd64"},
        }]
    }))
    .unwrap();
    put_manifest(&published.repository, "index", OCI_INDEX, &index);

    // A registry that cannot mount: it answers a mount with a plain upload session.
    let refusing = counting_proxy(|request, here| {
        let (path, query) = request.path.split_once('?')?;
        if request.method != "POST" || !query.contains("mount=") {
            return None;
        }
        let plain = Request {
            path: path.to_owned(),
            ..request.clone()
        };
        Some(proxy(&plain, REGISTRY, here))
    });
    let other = unique("streamed");
    let out = promote(&[
        &format!("{}/{}:index", refusing.address, published.repository),
        &format!("{}/{other}:stable", refusing.address),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refused to mount"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        digest_of(&format!("{REGISTRY}/{other}:stable")),
        sha256(&index)
    );
    assert_eq!(
        digest_of(&format!("{REGISTRY}/{other}@{}", published.digest)),
        published.digest,
        "the index's manifest is in the new repository by digest"
    );
    let uploads = blob_uploads(&refusing);
    let image: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(
        uploads.len(),
        1 + image["layers"].as_array().unwrap().len(),
        "{uploads:?}"
    );
    // The streamed blobs are whole: skopeo checks every digest as it pulls.
    let pull_dir = tempfile::tempdir().unwrap();
    let pulled = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{REGISTRY}/{other}@{}", published.digest))
        .arg(format!("oci:{}", pull_dir.path().join("image").display()))
        .output()
        .unwrap();
    assert!(pulled.status.success(), "{}", stderr(&pulled));
}

#[test]
fn promotion_requires_the_referrers_asked_for() {
    let published = published();
    let source = format!("{REGISTRY}/{}@{}", published.repository, published.digest);
    let out = promote(&[&source, "gated", "--require", "sbom"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no sbom referrer"), "{err}");
    assert!(!tags_of(&published.repository).contains(&"gated".to_owned()));

    // An SBOM attached as registry:2 allows it: the referrers tag schema.
    let manifest = raw_manifest(&source).unwrap();
    attach_by_tag_schema(
        &published.repository,
        &published.digest,
        manifest.len(),
        CYCLONEDX,
    );
    let out = promote(&[&source, "gated", "--require", "sbom"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        digest_of(&format!("{REGISTRY}/{}:gated", published.repository)),
        published.digest
    );
    let out = promote(&[&source, "signed", "--require", "sbom,signature"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no signature referrer"),
        "{}",
        stderr(&out)
    );

    // A registry with the referrers API is asked through it.
    let digest = published.digest.clone();
    let api = counting_proxy(move |request, _| {
        if !request.path.contains(&format!("/referrers/{digest}")) {
            return None;
        }
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{
                "mediaType": OCI_MANIFEST,
                "digest": sha256(b"bundle"),
                "size": 6,
                "artifactType": SIGSTORE,
            }]
        });
        Some(
            Reply::body(200, index.to_string().into_bytes()).with_header("Content-Type", OCI_INDEX),
        )
    });
    let via = format!(
        "{}/{}@{}",
        api.address, published.repository, published.digest
    );
    let out = promote(&[&via, "signed", "--require", "signature"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        api.requests()
            .iter()
            .any(|r| r.path.contains("/referrers/"))
    );
}

/// PUTs a manifest or index under `reference` (a tag or digest) on the loopback registry.
fn put_manifest(repository: &str, reference: &str, media_type: &str, bytes: &[u8]) {
    let response = reqwest::blocking::Client::new()
        .put(format!(
            "http://{REGISTRY}/v2/{repository}/manifests/{reference}"
        ))
        .header("Content-Type", media_type)
        .body(bytes.to_vec())
        .send()
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().unwrap()
    );
}

fn put_blob(repository: &str, bytes: &[u8]) -> String {
    let client = reqwest::blocking::Client::new();
    let started = client
        .post(format!("http://{REGISTRY}/v2/{repository}/blobs/uploads/"))
        .send()
        .unwrap();
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let location = if location.starts_with('/') {
        format!("http://{REGISTRY}{location}")
    } else {
        location
    };
    let digest = sha256(bytes);
    let separator = if location.contains('?') { '&' } else { '?' };
    let response = client
        .put(format!("{location}{separator}digest={digest}"))
        .body(bytes.to_vec())
        .send()
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().unwrap()
    );
    digest
}

/// Attaches an artifact of `artifact_type` to `subject` the way a client does for a
/// registry without the referrers API: the artifact manifest with its `subject`, and
/// the index of referrers under the tag `sha256-<hex>`.
fn attach_by_tag_schema(repository: &str, subject: &str, subject_size: usize, artifact_type: &str) {
    let config = put_blob(repository, b"{}");
    let content = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1}"#;
    let layer = put_blob(repository, content);
    let artifact = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": EMPTY_CONFIG, "digest": config, "size": 2},
        "layers": [{"mediaType": artifact_type, "digest": layer, "size": content.len()}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_size},
    }))
    .unwrap();
    let artifact_digest = sha256(&artifact);
    put_manifest(repository, &artifact_digest, OCI_MANIFEST, &artifact);
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": OCI_MANIFEST,
            "digest": artifact_digest,
            "size": artifact.len(),
            "artifactType": artifact_type,
        }]
    }))
    .unwrap();
    let tag = subject.replace(':', "-");
    put_manifest(repository, &tag, OCI_INDEX, &index);
}

#[test]
fn completion_scripts_are_written_for_each_shell() {
    let pyship = Pyship::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = pyship.run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(
            script.contains("promote") && script.contains("cache"),
            "{shell}: {script}"
        );
        if shell == "bash" {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("pyship.bash");
            std::fs::write(&file, &script).unwrap();
            let checked = Command::new("bash").arg("-n").arg(&file).output().unwrap();
            assert!(checked.status.success(), "{}", stderr(&checked));
        }
    }
    let out = pyship.run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}
