//! SBOMs, provenance and signatures on pushed images, checked by tools pyship does not
//! share code with: CycloneDX's and SPDX's own validators from PyPI, uv's export of
//! the lock, dpkg in the base image, curl against the registry, and Sigstore's
//! JavaScript verifier.

use crate::common;
use crate::common::fake_http::{FakeServer, Reply, proxy};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::*;
use serde_json::Value;
use sha2::Digest as _;

const SIGSTORE_BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const CYCLONEDX: &str = "application/vnd.cyclonedx+json";
const SPDX: &str = "application/spdx+json";
const IN_TOTO: &str = "application/vnd.in-toto+json";

/// The example, pushed twice: signed with every attestation, and bare.
struct Pushed {
    pyship: Pyship,
    project: tempfile::TempDir,
    keys: tempfile::TempDir,
    /// `registry/repository:tag` of the signed image, and its digest.
    signed: String,
    digest: String,
    /// The same image in another repository, pushed with --no-attest.
    bare: String,
}

fn pushed() -> &'static Pushed {
    static PUSHED: OnceLock<Pushed> = OnceLock::new();
    PUSHED.get_or_init(|| {
        let pyship = Pyship::new();
        let project = copy_example("hello-fastapi");
        // A token in the remote must not reach the provenance.
        git_repo_with_remote(
            project.path(),
            "https://ci-bot:s3cret-token@example.invalid/acme/service.git",
        );
        let keys = tempfile::tempdir().unwrap();
        openssl(
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
            ],
            &keys.path().join("key.pem"),
        );
        public_half(&keys.path().join("key.pem"), &keys.path().join("key.pub"));
        openssl(
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
            ],
            &keys.path().join("other.pem"),
        );
        public_half(
            &keys.path().join("other.pem"),
            &keys.path().join("other.pub"),
        );
        let id = std::process::id();
        let signed = format!("{REGISTRY}/pyship-test-attest/hello:{id}");
        let key = keys.path().join("key.pem");
        let out = build_push(
            &pyship,
            project.path(),
            &signed,
            &["--sign-key", key.to_str().unwrap()],
        );
        assert!(out.status.success(), "signed push: {}", stderr(&out));
        // The pinned reference comes first, then the tag.
        let digest = stdout(&out)
            .lines()
            .next()
            .unwrap()
            .rsplit('@')
            .next()
            .unwrap()
            .to_owned();
        let bare = format!("{REGISTRY}/pyship-test-attest/bare:{id}");
        let out = build_push(&pyship, project.path(), &bare, &["--no-attest"]);
        assert!(out.status.success(), "bare push: {}", stderr(&out));
        assert!(stdout(&out).contains(&digest), "same image, same digest");
        Pushed {
            pyship,
            project,
            keys,
            signed,
            digest,
            bare,
        }
    })
}

fn build_push(pyship: &Pyship, project: &Path, reference: &str, extra: &[&str]) -> Output {
    let base = python_base();
    let mut args = vec![
        "build",
        project.to_str().unwrap(),
        "--base",
        &base,
        "--push",
        reference,
        "-q",
    ];
    args.extend_from_slice(extra);
    pyship.run(&args)
}

fn openssl(args: &[&str], out: &Path) {
    let status = Command::new("openssl")
        .args(args)
        .arg(out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "openssl {args:?}: {}",
        stderr(&status)
    );
}

fn public_half(private: &Path, public: &Path) {
    let out = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(private)
        .arg("-out")
        .arg(public)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl pkey: {}", stderr(&out));
}

/// `registry/repository` and the path part of a reference.
fn repository(reference: &str) -> &str {
    reference
        .strip_prefix(&format!("{REGISTRY}/"))
        .unwrap()
        .split([':', '@'])
        .next()
        .unwrap()
}

/// GETs `/v2/{repository}/{path}` from the loopback registry with curl: the body, or
/// `None` on a 404.
fn registry_get(repository: &str, path: &str, accept: &str) -> Option<Vec<u8>> {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "-H"])
        .arg(format!("Accept: {accept}"))
        .arg(format!("http://{REGISTRY}/v2/{repository}/{path}"))
        .output()
        .unwrap();
    let text = out.stdout;
    let split = text.iter().rposition(|&b| b == b'\n').unwrap();
    let code = String::from_utf8_lossy(&text[split + 1..]).to_string();
    match code.as_str() {
        "200" => Some(text[..split].to_vec()),
        "404" => None,
        other => panic!("registry answered {other} for {path}"),
    }
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// The referrers the tag schema lists for `digest` in `repository`: (artifact type,
/// manifest digest).
fn referrers(repository: &str, digest: &str) -> Vec<(String, String)> {
    let tag = digest.replace(':', "-");
    let Some(index) = registry_get(
        repository,
        &format!("manifests/{tag}"),
        "application/vnd.oci.image.index.v1+json",
    ) else {
        return Vec::new();
    };
    json(&index)["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["artifactType"].as_str().unwrap().to_owned(),
                m["digest"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn manifest_bytes(repository: &str, digest: &str) -> Vec<u8> {
    registry_get(
        repository,
        &format!("manifests/{digest}"),
        "application/vnd.oci.image.manifest.v1+json",
    )
    .unwrap()
}

/// The one document an artifact manifest carries.
fn artifact_document(repository: &str, manifest: &[u8]) -> Vec<u8> {
    let blob = json(manifest)["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    registry_get(repository, &format!("blobs/{blob}"), "*/*").unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Runs Sigstore's JavaScript verifier on a bundle, the bytes it signs and a key.
fn sigstore_js(bundle: &[u8], artifact: &[u8], key: &Path) -> Output {
    let dir = repo_root().join("tests/support/sigstore");
    assert!(
        dir.join("node_modules/@sigstore/verify").is_dir(),
        "@sigstore/verify is not installed: run `npm install --prefix tests/support/sigstore` (or bash .ci/run)"
    );
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(scratch.path().join("bundle.json"), bundle).unwrap();
    std::fs::write(scratch.path().join("artifact"), artifact).unwrap();
    Command::new("node")
        .arg(dir.join("verify.cjs"))
        .arg(scratch.path().join("bundle.json"))
        .arg(scratch.path().join("artifact"))
        .arg(key)
        .output()
        .expect("node on PATH")
}

/// The packages `uv export` lists for the runtime (no dev group) or for the dev group
/// only, whose markers hold on linux/x86_64 CPython 3.11; names normalized.
fn uv_export(project: &Path, selection: &str) -> BTreeSet<(String, String)> {
    let out = Command::new("uv")
        .args([
            "export",
            "--frozen",
            "--no-emit-project",
            "--no-hashes",
            selection,
        ])
        .current_dir(project)
        .output()
        .expect("uv on PATH");
    assert!(out.status.success(), "uv export: {}", stderr(&out));
    let script = r##"
import sys
from pip._vendor.packaging.markers import Marker
env = {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
       "os_name": "posix", "python_version": "3.11", "python_full_version": "3.11.2",
       "implementation_name": "cpython", "platform_python_implementation": "CPython"}
for line in sys.stdin:
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    req, _, marker = line.partition(";")
    if marker.strip() and not Marker(marker.strip()).evaluate(env):
        continue
    name, _, version = req.strip().partition("==")
    print(name.lower().replace("_", "-").replace(".", "-"), version)
"##;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &out.stdout).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (name, version) = l.split_once(' ').unwrap();
            (name.to_owned(), version.to_owned())
        })
        .collect()
}

/// `pkg:pypi/NAME@VERSION` purls of a set of packages.
fn pypi_purls(packages: &BTreeSet<(String, String)>) -> BTreeSet<String> {
    packages
        .iter()
        .map(|(name, version)| format!("pkg:pypi/{name}@{version}"))
        .collect()
}

/// The installed Debian packages of the base, by dpkg itself: (name, version, arch).
fn base_debs() -> BTreeSet<(String, String, String)> {
    let listing = docker_ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "dpkg-query",
        &python_base(),
        "-W",
        "-f",
        "${db:Status-Status} ${Package} ${Version} ${Architecture}\n",
    ]);
    listing
        .lines()
        .filter_map(|l| l.strip_prefix("installed "))
        .map(|l| {
            let mut parts = l.split(' ');
            let mut next = || parts.next().unwrap().to_owned();
            (next(), next(), next())
        })
        .collect()
}

fn sbom(pushed: &Pushed, format: &str, file: &Path) {
    let out = pushed.pyship.run(&[
        "sbom",
        &pushed.signed,
        "--format",
        format,
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "pyship sbom --format {format}: {}",
        stderr(&out)
    );
}

fn validate_cyclonedx(file: &Path) {
    let script = "import sys\nfrom cyclonedx.schema import SchemaVersion\nfrom cyclonedx.validation.json import JsonStrictValidator\nerror = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\nprint(error or 'valid')\nsys.exit(1 if error else 0)\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "CycloneDX validator: {}{}",
        stdout(&out),
        stderr(&out)
    );
}

fn validate_spdx(file: &Path) {
    let out = Command::new("pyspdxtools")
        .arg("-i")
        .arg(file)
        .output()
        .expect("pyspdxtools on PATH (pip install spdx-tools)");
    assert!(
        out.status.success() && !stdout(&out).to_lowercase().contains("invalid"),
        "pyspdxtools: {}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn sbom_lists_every_locked_runtime_package_and_every_base_package_and_no_dev_one() {
    let pushed = pushed();
    let dir = tempfile::tempdir().unwrap();
    let (cdx_file, spdx_file) = (
        dir.path().join("sbom.cdx.json"),
        dir.path().join("sbom.spdx.json"),
    );
    sbom(pushed, "cyclonedx", &cdx_file);
    sbom(pushed, "spdx", &spdx_file);
    validate_cyclonedx(&cdx_file);
    validate_spdx(&spdx_file);

    let cdx = json(&std::fs::read(&cdx_file).unwrap());
    let spdx = json(&std::fs::read(&spdx_file).unwrap());
    let cdx_purls: BTreeSet<String> = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str().map(str::to_owned))
        .collect();
    let spdx_purls: BTreeSet<String> = spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .filter_map(|p| {
            p["externalRefs"][0]["referenceLocator"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(cdx_purls, spdx_purls, "both formats list the same packages");

    let runtime = uv_export(pushed.project.path(), "--no-dev");
    let python: BTreeSet<String> = cdx_purls
        .iter()
        .filter(|p| p.starts_with("pkg:pypi/"))
        .cloned()
        .collect();
    // pyship records the project's own metadata in the venv too: it is in the image.
    let pyproject: toml::Table =
        std::fs::read_to_string(pushed.project.path().join("pyproject.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let project = format!(
        "pkg:pypi/{}@{}",
        pyproject["project"]["name"].as_str().unwrap(),
        pyproject["project"]["version"].as_str().unwrap()
    );
    let mut expected = pypi_purls(&runtime);
    expected.insert(project);
    assert_eq!(
        python, expected,
        "every locked runtime package and the project, and nothing else"
    );
    let dev_only: BTreeSet<_> = uv_export(pushed.project.path(), "--only-group=dev")
        .difference(&runtime)
        .cloned()
        .collect();
    assert!(
        dev_only.iter().any(|(name, _)| name == "pytest"),
        "{dev_only:?}"
    );
    for (name, _) in &dev_only {
        assert!(
            !cdx_purls
                .iter()
                .any(|p| p.starts_with(&format!("pkg:pypi/{name}@"))),
            "dev package {name} is in the SBOM"
        );
    }

    let debs: BTreeSet<(String, String, String)> = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["purl"]
                .as_str()
                .is_some_and(|p| p.starts_with("pkg:deb/debian/"))
        })
        .map(|c| {
            let purl = c["purl"].as_str().unwrap();
            let arch = purl
                .split("arch=")
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap();
            assert!(purl.contains("distro=debian-12"), "{purl}");
            (
                c["name"].as_str().unwrap().to_owned(),
                c["version"].as_str().unwrap().to_owned(),
                arch.to_owned(),
            )
        })
        .collect();
    assert_eq!(debs, base_debs(), "every package dpkg says the base has");

    // A distribution's hash, read back from any image, is its installed RECORD's.
    let fastapi = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "fastapi")
        .unwrap();
    assert_eq!(
        fastapi["properties"][0]["value"],
        "the installed RECORD file, which lists each installed file's hash"
    );
    assert_eq!(
        cdx["metadata"]["component"]["version"],
        pushed.digest.as_str()
    );

    // The same image gives the same bytes.
    let again = dir.path().join("again.json");
    sbom(pushed, "cyclonedx", &again);
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(&cdx_file).unwrap()
    );
}

#[test]
fn a_push_attaches_both_sboms_the_provenance_and_signatures_as_referrers() {
    let pushed = pushed();
    let repo = repository(&pushed.signed);
    let listed = referrers(repo, &pushed.digest);
    let types: Vec<&str> = {
        let mut t: Vec<&str> = listed.iter().map(|(t, _)| t.as_str()).collect();
        t.sort();
        t
    };
    assert_eq!(
        types,
        [SPDX, CYCLONEDX, SIGSTORE_BUNDLE, IN_TOTO],
        "{listed:?}"
    );
    for (artifact_type, digest) in &listed {
        let manifest = json(&manifest_bytes(repo, digest));
        assert_eq!(manifest["subject"]["digest"], pushed.digest.as_str());
        assert_eq!(manifest["artifactType"], artifact_type.as_str());
        if artifact_type != SIGSTORE_BUNDLE {
            let signatures = referrers(repo, digest);
            assert_eq!(
                signatures.len(),
                1,
                "{artifact_type} is signed: {signatures:?}"
            );
            assert_eq!(signatures[0].0, SIGSTORE_BUNDLE);
        }
    }
    let document = |wanted: &str| {
        let (_, digest) = listed.iter().find(|(t, _)| t == wanted).unwrap();
        json(&artifact_document(repo, &manifest_bytes(repo, digest)))
    };

    // The attached SBOM carries the lock's wheel hashes.
    let lock: toml::Table = std::fs::read_to_string(pushed.project.path().join("uv.lock"))
        .unwrap()
        .parse()
        .unwrap();
    let locked_hashes: BTreeSet<String> = lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p.get("wheels")
                .and_then(|w| w.as_array())
                .cloned()
                .unwrap_or_default()
        })
        .map(|w| {
            w["hash"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:")
                .to_owned()
        })
        .collect();
    let cdx = document(CYCLONEDX);
    let python: Vec<&Value> = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["purl"].as_str().unwrap_or("").starts_with("pkg:pypi/"))
        .filter(|c| c["type"] == "library")
        .collect();
    assert!(python.len() > 5);
    let project: Vec<&Value> = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "application")
        .collect();
    assert_eq!(project.len(), 1, "{project:?}");
    assert_eq!(project[0]["name"], "hello-fastapi");
    for component in python {
        assert_eq!(
            component["properties"][0]["value"],
            "the wheel pinned by the lockfile"
        );
        let hash = component["hashes"][0]["content"].as_str().unwrap();
        assert!(
            locked_hashes.contains(hash),
            "{} hash {hash} is not in uv.lock",
            component["name"]
        );
    }
    assert_eq!(document(SPDX)["spdxVersion"], "SPDX-2.3");

    // What a push attaches is what `pyship sbom --project` writes for the image later:
    // the lock's wheel found again by name, version and the installed wheel's tags.
    for (format, artifact_type) in [("cyclonedx", CYCLONEDX), ("spdx", SPDX)] {
        let (_, digest) = listed.iter().find(|(t, _)| t == artifact_type).unwrap();
        let attached = artifact_document(repo, &manifest_bytes(repo, digest));
        let out = pushed.pyship.run(&[
            "sbom",
            &pushed.signed,
            "--format",
            format,
            "--project",
            pushed.project.path().to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            out.stdout == attached,
            "pyship sbom --project --format {format} differs from the attached SBOM"
        );
    }

    let statement = document(IN_TOTO);
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        pushed.digest.trim_start_matches("sha256:")
    );
    let definition = &statement["predicate"]["buildDefinition"];
    let lock_sha = sha256_hex(&std::fs::read(pushed.project.path().join("uv.lock")).unwrap());
    assert_eq!(
        definition["externalParameters"]["lockfiles"],
        serde_json::json!([{ "path": "uv.lock", "sha256": lock_sha }])
    );
    // The base is an index of two platforms: the build used its linux/amd64 manifest.
    let raw = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw"])
        .arg(format!("docker://{}", python_base()))
        .output()
        .unwrap();
    let raw: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    let base_digest = raw["manifests"]
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|m| m["platform"]["architecture"] == "amd64")
        })
        .expect("the test base is an index with a linux/amd64 image")["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let resolved = definition["resolvedDependencies"].as_array().unwrap();
    let named = |name: &str| resolved.iter().find(|r| r["name"] == name).unwrap();
    assert_eq!(named("base")["digest"]["sha256"], base_digest.as_str());
    assert_eq!(named("uv.lock")["digest"]["sha256"], lock_sha.as_str());
    let head = Command::new("git")
        .args(["-C"])
        .arg(pushed.project.path())
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    let source = named("source");
    assert_eq!(source["digest"]["gitCommit"], stdout(&head).trim());
    let uri = source["uri"].as_str().unwrap();
    assert!(
        uri.starts_with("git+https://example.invalid/acme/service.git@"),
        "{uri}"
    );
    assert!(
        !statement.to_string().contains("s3cret"),
        "the remote's token leaked"
    );
    let builder = &statement["predicate"]["runDetails"]["builder"];
    assert_eq!(builder["version"]["pyship"], env!("CARGO_PKG_VERSION"));

    // The bare push attached nothing.
    assert!(referrers(repository(&pushed.bare), &pushed.digest).is_empty());

    // Promotion's gate finds what the push attached, and nothing on the bare push.
    let pinned = format!("{REGISTRY}/{repo}@{}", pushed.digest);
    let gated = pushed
        .pyship
        .run(&["promote", &pinned, "gated", "--require", "signature,sbom"]);
    assert!(gated.status.success(), "{}", stderr(&gated));
    let bare = format!("{REGISTRY}/{}@{}", repository(&pushed.bare), pushed.digest);
    let refused = pushed
        .pyship
        .run(&["promote", &bare, "gated", "--require", "sbom"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
}

#[test]
fn sigstore_js_verifies_every_signature_and_rejects_a_tampered_manifest_or_another_key() {
    let pushed = pushed();
    let repo = repository(&pushed.signed);
    let key = pushed.keys.path().join("key.pub");
    let image = manifest_bytes(repo, &pushed.digest);
    let mut subjects = vec![pushed.digest.clone()];
    subjects.extend(
        referrers(repo, &pushed.digest)
            .into_iter()
            .filter(|(t, _)| t != SIGSTORE_BUNDLE)
            .map(|(_, d)| d),
    );
    assert_eq!(subjects.len(), 4);
    for subject in &subjects {
        let signed = manifest_bytes(repo, subject);
        let (_, bundle) = referrers(repo, subject)
            .into_iter()
            .find(|(t, _)| t == SIGSTORE_BUNDLE)
            .unwrap();
        let bundle = artifact_document(repo, &manifest_bytes(repo, &bundle));
        let out = sigstore_js(&bundle, &signed, &key);
        assert!(
            out.status.success(),
            "{subject}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        if *subject == pushed.digest {
            let tampered = String::from_utf8(image.clone())
                .unwrap()
                .replacen("sha256:", "sha256:0", 1);
            let out = sigstore_js(&bundle, tampered.as_bytes(), &key);
            assert!(!out.status.success(), "a tampered manifest verified");
            let out = sigstore_js(&bundle, &image, &pushed.keys.path().join("other.pub"));
            assert!(!out.status.success(), "another key verified");
        }
    }
}

fn verify_signature(pushed: &Pushed, image: &str, key: &Path) -> (Output, Value) {
    let out = pushed.pyship.run(&[
        "verify",
        image,
        "--public-key",
        key.to_str().unwrap(),
        "--static-only",
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let check = report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["id"] == "signature").cloned())
        .unwrap_or(Value::Null);
    (out, check)
}

#[test]
fn verify_public_key_passes_signed_fails_unsigned_until_pyship_sign() {
    let pushed = pushed();
    let key = pushed.keys.path().join("key.pub");
    let (out, check) = verify_signature(pushed, &pushed.signed, &key);
    assert_eq!(check["status"], "pass", "{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let (out, check) = verify_signature(
        pushed,
        &pushed.signed,
        &pushed.keys.path().join("other.pub"),
    );
    assert_eq!(check["status"], "fail");
    assert!(
        check["evidence"]
            .as_str()
            .unwrap()
            .contains("none by this key"),
        "{check}"
    );
    assert_eq!(out.status.code(), Some(1));

    // Its own repository, so signing it here changes no other test's image.
    let later = format!("{REGISTRY}/pyship-test-attest/later:{}", std::process::id());
    let out = build_push(
        &pushed.pyship,
        pushed.project.path(),
        &later,
        &["--no-attest"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (out, check) = verify_signature(pushed, &later, &key);
    assert_eq!(check["status"], "fail", "{}", stdout(&out));
    assert!(
        check["evidence"].as_str().unwrap().contains("no signature"),
        "{check}"
    );
    assert_eq!(out.status.code(), Some(1));

    let private = pushed.keys.path().join("key.pem");
    let out = pushed
        .pyship
        .run(&["sign", &later, "--key", private.to_str().unwrap()]);
    assert!(out.status.success(), "pyship sign: {}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("{}@{}", later.rsplit_once(':').unwrap().0, pushed.digest)
    );
    let (out, check) = verify_signature(pushed, &later, &key);
    assert_eq!(check["status"], "pass", "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn bad_keys_are_refused_in_one_line_before_anything_is_pushed() {
    let pushed = pushed();
    let dir = tempfile::tempdir().unwrap();
    let rsa = dir.path().join("rsa.pem");
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ],
        &rsa,
    );
    let ed = dir.path().join("ed.pem");
    openssl(&["genpkey", "-algorithm", "ED25519", "-out"], &ed);
    let p384 = dir.path().join("p384.pem");
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-out",
        ],
        &p384,
    );
    let public = pushed.keys.path().join("key.pub");
    let missing = dir.path().join("missing.pem");
    let cases: [(&PathBuf, &str); 5] = [
        (&rsa, "is an RSA key"),
        (&ed, "is an Ed25519 key"),
        (&p384, "is an EC key on another curve than P-256"),
        (&public, "is a public key"),
        (&missing, "cannot read the signing key"),
    ];
    let bare_referrers = || referrers(repository(&pushed.bare), &pushed.digest);
    for (key, message) in cases {
        let out = pushed
            .pyship
            .run(&["sign", &pushed.bare, "--key", key.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(message), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    assert!(
        bare_referrers().is_empty(),
        "a refused key attached something"
    );

    let never = format!("{REGISTRY}/pyship-test-attest/never:{}", std::process::id());
    let out = build_push(
        &pushed.pyship,
        pushed.project.path(),
        &never,
        &["--sign-key", rsa.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        registry_get(
            repository(&never),
            &format!("manifests/{}", never.rsplit(':').next().unwrap()),
            "*/*"
        )
        .is_none()
    );

    let layout = dir.path().join("layout");
    let key = pushed.keys.path().join("key.pem");
    let out = build_to_layout(
        &pushed.pyship,
        pushed.project.path(),
        &layout,
        &["--sign-key", key.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--sign-key signs a pushed image"),
        "{}",
        stderr(&out)
    );

    let out = pushed.pyship.run(&[
        "verify",
        &pushed.signed,
        "--public-key",
        key.to_str().unwrap(),
        "--static-only",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is a private key"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_registry_that_refuses_an_artifact_fails_the_push_before_the_tag_is_set() {
    let pushed = pushed();
    // A registry from before OCI 1.1: it takes images but refuses artifact manifests.
    let refusing = FakeServer::start(|request| {
        let here = format!("http://{}", request.header("host").unwrap_or(""));
        let artifact = request.method == "PUT"
            && request.path.contains("/manifests/")
            && String::from_utf8_lossy(&request.body).contains("\"artifactType\"");
        if artifact {
            return Reply::Full {
                status: 400,
                headers: Vec::new(),
                body: br#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}"#
                    .to_vec(),
            };
        }
        proxy(request, REGISTRY, &here)
    });
    let repository = format!("pyship-test-attest/refused-{}", std::process::id());
    let target = format!("{}/{repository}:v1", refusing.address);
    let out = build_push(&pushed.pyship, pushed.project.path(), &target, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let last = err.trim().lines().last().unwrap();
    assert!(last.starts_with("error: "), "{err}");
    assert!(
        last.contains("refused the application/vnd.cyclonedx+json attached to"),
        "{last}"
    );
    assert!(last.contains("--no-attest"), "{last}");
    assert!(
        registry_get(&repository, "manifests/v1", "*/*").is_none(),
        "the tag was set although the attestations were refused"
    );
}

#[test]
fn sbom_of_any_image_keeps_free_text_licenses_and_reads_distroless_package_files() {
    let pushed = pushed();
    let metadata = "Metadata-Version: 2.1\nName: Fake_Pkg\nVersion: 1.0\nLicense: Apache 2.0\n\nA description.\n";
    let status = "Package: tzfake\nVersion: 1:2024a-0+deb12u1\nArchitecture: all\n";
    let tag = docker_derived(
        &python_base(),
        "pyship-test-attest/derived",
        "COPY fake /usr/lib/python3/dist-packages/Fake_Pkg-1.0.dist-info\nCOPY tzfake tzfake.md5sums /var/lib/dpkg/status.d/",
        &[
            ("fake/METADATA", metadata),
            ("fake/RECORD", "Fake_Pkg-1.0.dist-info/METADATA,,\n"),
            ("tzfake", status),
            (
                "tzfake.md5sums",
                "d41d8cd98f00b204e9800998ecf8427e  usr/share/doc/tzfake\n",
            ),
        ],
    );
    let image = format!("docker:{tag}");
    let dir = tempfile::tempdir().unwrap();
    let (cdx_file, spdx_file) = (dir.path().join("cdx.json"), dir.path().join("spdx.json"));
    for (format, file) in [("cyclonedx", &cdx_file), ("spdx", &spdx_file)] {
        let out = pushed.pyship.run(&[
            "sbom",
            &image,
            "--format",
            format,
            "-o",
            file.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    validate_cyclonedx(&cdx_file);
    validate_spdx(&spdx_file);

    let cdx = json(&std::fs::read(&cdx_file).unwrap());
    let component = |name: &str| {
        cdx["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} is not in the SBOM"))
    };
    let fake = component("Fake_Pkg");
    assert_eq!(fake["purl"], "pkg:pypi/fake-pkg@1.0");
    assert_eq!(fake["licenses"][0]["license"]["name"], "Apache 2.0");
    let tzfake = component("tzfake");
    assert_eq!(
        tzfake["purl"],
        "pkg:deb/debian/tzfake@1:2024a-0%2Bdeb12u1?arch=all&distro=debian-12"
    );
    assert!(
        cdx["components"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "tzfake.md5sums"),
        "md5sums files are no packages"
    );

    let spdx = json(&std::fs::read(&spdx_file).unwrap());
    let fake = spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Fake_Pkg")
        .unwrap();
    let license = fake["licenseDeclared"].as_str().unwrap();
    assert!(license.starts_with("LicenseRef-"), "{license}");
    let extracted = &spdx["hasExtractedLicensingInfos"][0];
    assert_eq!(extracted["licenseId"], license);
    assert_eq!(extracted["extractedText"], "Apache 2.0");
}
