//! What must never leave its place: a token in the git remote, credential files in the
//! project, and secrets a later layer deleted — checked on the image people push and by
//! `pyship verify` on images made the way users make them.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::*;

const TOKEN: &str = "glpat-Zx8Yw7Vu6Ts5Rq4Po3Nm";

/// The files where tools keep logins, each holding a real-looking login.
const CREDENTIAL_FILES: &[(&str, &str)] = &[
    (
        ".npmrc",
        "//npm.example/:_authToken=npm_abcdefghijklmnopqrstuvwxyz0123456789\n",
    ),
    (
        ".pypirc",
        "[pypi]\nusername = __token__\npassword = pypi-secret\n",
    ),
    (".netrc", "machine pypi.example login u password p\n"),
    (".git-credentials", "https://u:p@git.example\n"),
    (".aws/credentials", "[default]\naws_secret_access_key = x\n"),
    (
        ".docker/config.json",
        "{\"auths\":{\"r.example\":{\"auth\":\"dTpw\"}}}\n",
    ),
    ("credentials.json", "{\"type\":\"service_account\"}\n"),
    (".envrc", "export DATABASE_URL=postgres://u:p@db/app\n"),
    ("certs/client.p12", "p12"),
    ("certs/client.pfx", "pfx"),
];

/// Every path in every layer of an OCI layout's image, with the layer's bytes joined.
fn layer_files(dir: &Path) -> Vec<String> {
    let manifest = layout_manifest(dir);
    let mut paths = Vec::new();
    for digest in layer_digests(&manifest) {
        let blob = std::fs::File::open(
            dir.join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(blob));
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            paths.push(entry.path().unwrap().to_string_lossy().into_owned());
        }
    }
    paths
}

fn blob(dir: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(
        dir.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap()
}

/// The `secrets` check of `pyship verify --static-only IMAGE`: (status, evidence).
fn secrets_check(image: &str) -> (String, String) {
    let out = Pyship::new().run(&["verify", image, "--static-only", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("verify {image}: no JSON: {}", stderr(&out)));
    let check = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "secrets")
        .unwrap()
        .clone();
    (
        check["status"].as_str().unwrap().to_owned(),
        check["evidence"].as_str().unwrap_or("").to_owned(),
    )
}

#[test]
fn a_token_in_the_git_remote_and_credential_files_never_reach_the_image() {
    let project = copy_example("hello-fastapi");
    let root = project.path();
    for (path, text) in CREDENTIAL_FILES {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), text).unwrap();
    }
    // How GitLab CI clones: the job token in the remote's URL.
    let remote = format!("https://gitlab-ci-token:{TOKEN}@gitlab.example/acme/service.git");
    git_repo_with_remote(root, &remote);

    let out_dir = tempfile::tempdir().unwrap();
    let layout = out_dir.path().join("image");
    let out = build_to_layout(&Pyship::new(), root, &layout, &["-q"]);
    assert!(out.status.success(), "build: {}", stderr(&out));

    let manifest = layout_manifest(&layout);
    let config = blob(&layout, manifest["config"]["digest"].as_str().unwrap());
    let config_text = String::from_utf8_lossy(&config);
    assert!(!config_text.contains(TOKEN), "the token is in the config");
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.source"],
        "https://gitlab.example/acme/service.git"
    );
    assert!(!serde_json::to_string(&manifest).unwrap().contains(TOKEN));

    let shipped = layer_files(&layout);
    for (path, _) in CREDENTIAL_FILES {
        let in_app = format!("app/{path}");
        assert!(
            !shipped.iter().any(|p| p.trim_end_matches('/') == in_app),
            "{path} shipped in the project layer"
        );
    }
    assert!(
        shipped.iter().any(|p| p == "app/app/main.py"),
        "{shipped:?}"
    );

    let (status, evidence) = secrets_check(&format!("oci:{}", layout.display()));
    assert_eq!(status, "pass", "{evidence}");
}

/// The test base plus `lines` (then a non-root user), as an image name verify reads.
fn derived(name: &str, lines: &str) -> String {
    let repository = format!("pyship-trust-test/{name}");
    let tag = docker_derived(
        &python_base(),
        &repository,
        &format!("{lines}\nUSER 1001:1001"),
        &[],
    );
    format!("docker:{tag}")
}

#[test]
fn verify_reads_labels_and_says_which_secrets_a_later_layer_deleted() {
    let label = derived(
        "label",
        &format!(
            "LABEL org.opencontainers.image.source=https://ci:{TOKEN}@gitlab.example/acme/service.git"
        ),
    );
    let (status, evidence) = secrets_check(&label);
    assert_eq!(status, "fail", "a token in a label passed: {evidence}");
    assert!(
        evidence.contains("label org.opencontainers.image.source"),
        "{evidence}"
    );

    let key = "RUN printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjE=\\n-----END OPENSSH PRIVATE KEY-----\\n' > /opt/deploy_key";
    let kept = derived("keptkey", key);
    let (status, evidence) = secrets_check(&kept);
    assert_eq!(status, "fail", "{evidence}");
    assert!(evidence.contains("/opt/deploy_key"), "{evidence}");
    assert!(
        !evidence.contains("deleted"),
        "a key still in the image was called deleted: {evidence}"
    );

    let deleted = derived("deletedkey", &format!("{key}\nRUN rm /opt/deploy_key"));
    let (status, evidence) = secrets_check(&deleted);
    assert_eq!(status, "fail", "{evidence}");
    assert!(evidence.contains("deleted by a later layer"), "{evidence}");

    for image in [label, kept, deleted] {
        let _ = Command::new(docker_cli())
            .args(["rmi", "-f", image.trim_start_matches("docker:")])
            .output();
    }
}

#[test]
fn credential_file_contents_are_judged_on_evidence() {
    // An .npmrc that only points at a registry is configuration, not a secret: the same
    // file with a token is one.
    let config_only = derived(
        "npmrc-config",
        "RUN mkdir -p /opt/web && printf 'registry=https://npm.example/\\n' > /opt/web/.npmrc",
    );
    let (status, evidence) = secrets_check(&config_only);
    assert_eq!(status, "pass", "{evidence}");
    let with_token = derived(
        "npmrc-token",
        "RUN mkdir -p /opt/web && printf '//npm.example/:_authToken=abc\\n' > /opt/web/.npmrc",
    );
    let (status, evidence) = secrets_check(&with_token);
    assert_eq!(status, "fail", "{evidence}");
    assert!(evidence.contains("/opt/web/.npmrc"), "{evidence}");
    for image in [config_only, with_token] {
        let _ = Command::new(docker_cli())
            .args(["rmi", "-f", image.trim_start_matches("docker:")])
            .output();
    }
}

#[test]
fn verify_stopped_by_sigterm_removes_its_container_and_loaded_image() {
    let project = copy_example("hello-fastapi");
    let out_dir = tempfile::tempdir().unwrap();
    let layout = out_dir.path().join("image");
    let pyship = Pyship::new();
    let out = build_to_layout(&pyship, project.path(), &layout, &["-q"]);
    assert!(out.status.success(), "build: {}", stderr(&out));
    // A health path that never answers keeps verify waiting with its container up.
    let mut verify = pyship
        .command()
        .args(["verify", &format!("oci:{}", layout.display())])
        .args(["--health-path", "/never", "--health-timeout", "120"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Everything a verify run creates is named or labelled after its process id.
    let ours = |args: &[&str], needle: &str| -> Vec<String> {
        docker_ok(args)
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect()
    };
    let label = format!("pyship.verify={}-", verify.id());
    let image = format!("pyship-verify/run-{}-", verify.id());
    let containers = || ours(&["ps", "-a", "--format", "{{.ID}} {{.Labels}}"], &label);
    let images = || ours(&["images", "--format", "{{.Repository}}:{{.Tag}}"], &image);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while containers().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(
        !containers().is_empty(),
        "verify never started its container"
    );
    assert!(!images().is_empty(), "verify loaded no image");
    let killed = Command::new("kill")
        .args(["-TERM", &verify.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = verify.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(130),
        "verify did not stop as interrupted"
    );
    assert!(
        containers().is_empty(),
        "containers left: {:?}",
        containers()
    );
    assert!(images().is_empty(), "images left: {:?}", images());
}
