//! Multi-platform builds: the example service built for linux/amd64 and linux/arm64 in
//! one run, pushed as an OCI image index to the loopback registry, each platform pulled
//! and run hardened by Docker (arm64 through qemu-user-static, which only the test's
//! engine uses), its compiled wheels checked in the pushed layers; the same index from
//! another cache; an oci: layout skopeo reads and copies; --load and docker-archive.

use crate::common;

use std::io::Read;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use sha2::Digest as _;

const PLATFORMS: &str = "linux/amd64,linux/arm64";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

pub(crate) fn skopeo(args: &[&str]) -> Vec<u8> {
    let out = Command::new("skopeo").args(args).output().unwrap();
    assert!(out.status.success(), "skopeo {args:?}: {}", stderr(&out));
    out.stdout
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// The example pushed once for both platforms, shared by the tests below.
struct Pushed {
    pyship: Pyship,
    project: tempfile::TempDir,
    /// key.pem signed the push; key.pub checks it.
    keys: tempfile::TempDir,
    repository: String,
    summary: serde_json::Value,
}

fn pushed() -> &'static Pushed {
    static PUSHED: OnceLock<Pushed> = OnceLock::new();
    PUSHED.get_or_init(|| {
        let (pyship, project) = (Pyship::new(), copy_example("hello-fastapi"));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let repository = format!("{REGISTRY}/pyship-multi/hello-{nanos}");
        let keys = tempfile::tempdir().unwrap();
        let key = keys.path().join("key.pem");
        for args in [
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
            ][..],
            &["pkey", "-in", key.to_str().unwrap(), "-pubout", "-out"][..],
        ] {
            let out = keys.path().join(if args[0] == "genpkey" {
                "key.pem"
            } else {
                "key.pub"
            });
            let status = Command::new("openssl")
                .args(args)
                .arg(&out)
                .status()
                .unwrap();
            assert!(status.success(), "openssl {args:?}");
        }
        let base = python_base();
        let out = pyship.run(&[
            "build",
            project.path().to_str().unwrap(),
            "--base",
            &base,
            "--platform",
            PLATFORMS,
            "--push",
            &format!("{repository}:v1"),
            "--sign-key",
            key.to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let summary = serde_json::from_slice(&out.stdout).unwrap();
        Pushed {
            pyship,
            project,
            keys,
            repository,
            summary,
        }
    })
}

/// Each platform's manifest digest in the pushed index, by architecture.
pub(crate) fn platform_digest(index: &serde_json::Value, arch: &str) -> String {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == arch)
        .unwrap_or_else(|| panic!("no {arch} in {index}"))["digest"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The ELF machine of every shared object of pydantic-core in the image's pushed
/// layers, read from the registry (not from any engine or builder).
pub(crate) fn pydantic_core_machines(reference: &str) -> Vec<u16> {
    let dir = tempfile::tempdir().unwrap();
    let layout = format!("oci:{}", dir.path().display());
    skopeo(&[
        "copy",
        "-q",
        "--src-tls-verify=false",
        &format!("docker://{reference}"),
        &layout,
    ]);
    let manifest = layout_manifest(dir.path());
    let mut machines = Vec::new();
    for digest in layer_digests(&manifest) {
        let blob = dir
            .path()
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"));
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(blob).unwrap());
        for entry in tar::Archive::new(gz).entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            if path.contains("site-packages/pydantic_core/") && path.ends_with(".so") {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).unwrap();
                machines.push(goblin::elf::Elf::parse(&bytes).unwrap().header.e_machine);
            }
        }
    }
    machines
}

/// Pulls `arch`'s image of the pushed `index` and runs it hardened until its health
/// path answers, after checking that its pushed layers hold pydantic-core compiled for
/// that CPU. Emulated start-up is slow: arm64 gets time.
pub(crate) fn run_platform(
    repository: &str,
    index: &serde_json::Value,
    arch: &str,
) -> (Container, u16) {
    let machine = match arch {
        "amd64" => goblin::elf::header::EM_X86_64,
        _ => goblin::elf::header::EM_AARCH64,
    };
    let pinned = format!("{repository}@{}", platform_digest(index, arch));
    let machines = pydantic_core_machines(&pinned);
    assert!(
        !machines.is_empty() && machines.iter().all(|m| *m == machine),
        "{arch}: pydantic-core's shared objects are for ELF machines {machines:?}"
    );
    docker_ok(&[
        "pull",
        "-q",
        "--platform",
        &format!("linux/{arch}"),
        &pinned,
    ]);
    let (container, port) = run_hardened(&pinned);
    assert_eq!(
        wait_for_http(port, pyship::contract::HEALTH_PATH, Duration::from_secs(90)),
        Some(200),
        "{arch}: {}",
        stdout(&docker(&["logs", &container.0]))
    );
    (container, port)
}

#[test]
fn two_platforms_push_one_index_and_each_runs_hardened_on_its_own_cpu() {
    let pushed = pushed();
    let reference = format!("{}:v1", pushed.repository);
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{reference}"),
    ]);
    let index: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(index["mediaType"], OCI_INDEX, "{index}");
    assert_eq!(
        pushed.summary["digest"],
        sha256(&raw),
        "the summary names the index"
    );
    let arm = &index["manifests"][1]["platform"];
    assert_eq!(
        (&arm["architecture"], &arm["variant"]),
        (&"arm64".into(), &"v8".into())
    );
    let platforms = pushed.summary["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 2);
    for (summary, arch) in platforms.iter().zip(["amd64", "arm64"]) {
        assert_eq!(summary["platform"], format!("linux/{arch}"));
        assert_eq!(summary["digest"], platform_digest(&index, arch));
    }

    for (arch, uname) in [("amd64", "x86_64"), ("arm64", "aarch64")] {
        let (container, _) = run_platform(&pushed.repository, &index, arch);
        assert_eq!(docker_ok(&["exec", &container.0, "uname", "-m"]), uname);
    }

    // Each platform carries its own SBOMs and provenance (the tag-schema fallback of
    // this registry names them by the manifest's digest).
    let tags = skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}", pushed.repository),
    ]);
    let tags = String::from_utf8(tags).unwrap();
    for arch in ["amd64", "arm64"] {
        let schema_tag = platform_digest(&index, arch).replace(':', "-");
        assert!(tags.contains(&schema_tag), "no referrers of {arch}: {tags}");
    }

    // verify reads the engine's platform of the index unless told another, and checks
    // that platform's signature.
    let public = pushed.keys.path().join("key.pub");
    let public = public.to_str().unwrap();
    let out = pushed.pyship.run(&[
        "verify",
        &reference,
        "--static-only",
        "--public-key",
        public,
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("platform linux/amd64, the engine's"),
        "{}",
        stderr(&out)
    );
    let out = pushed.pyship.run(&[
        "verify",
        &reference,
        "--static-only",
        "--public-key",
        public,
        "--platform",
        "linux/arm64",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // The index itself is signed, so promotion can require it; all of it is promoted.
    let out = pushed
        .pyship
        .run(&["promote", &reference, "stable", "--require", "signature"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let promoted = format!("docker://{}:stable", pushed.repository);
    assert_eq!(
        sha256(&skopeo(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &promoted
        ])),
        sha256(&raw)
    );
}

#[test]
fn another_cache_gives_the_same_index_in_an_oci_layout_skopeo_copies() {
    let pushed = pushed();
    let (pyship, out_dir) = (Pyship::new(), tempfile::tempdir().unwrap());
    let layout = out_dir.path().join("image");
    let base = python_base();
    let out = pyship.run(&[
        "build",
        pushed.project.path().to_str().unwrap(),
        "--base",
        &base,
        "--platform",
        PLATFORMS,
        "--output",
        &format!("oci:{}", layout.display()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let want = pushed.summary["digest"].as_str().unwrap();
    assert_eq!(
        stdout(&out).trim(),
        format!("oci:{}@{want}", layout.display())
    );

    let raw = skopeo(&["inspect", "--raw", &format!("oci:{}", layout.display())]);
    assert_eq!(sha256(&raw), want, "skopeo reads the layout's index");
    let copy = format!("{}:copied", pushed.repository);
    skopeo(&[
        "copy",
        "-q",
        "--all",
        "--dest-tls-verify=false",
        &format!("oci:{}", layout.display()),
        &format!("docker://{copy}"),
    ]);
    let copied = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{copy}"),
    ]);
    assert_eq!(
        sha256(&copied),
        want,
        "skopeo copies the whole index unchanged"
    );
}

#[test]
fn load_takes_the_engines_platform_and_a_docker_archive_is_refused() {
    let pushed = pushed();
    let base = python_base();
    let project = pushed.project.path().to_str().unwrap();
    // The platforms from [tool.pyship]: refused before anything is built.
    let configured = copy_example("hello-fastapi");
    let pyproject = configured.path().join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    let text = format!("{text}\n[tool.pyship]\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n");
    std::fs::write(&pyproject, text).unwrap();
    let file = configured.path().join("image.tar");
    let out = Pyship::new().run(&[
        "build",
        configured.path().to_str().unwrap(),
        "--base",
        &base,
        "--output",
        &format!("docker-archive:{}", file.display()),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("docker-archive:")
            && err.contains("linux/amd64,linux/arm64")
            && err.contains("oci:DIR"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!file.exists());

    // The platforms from PYSHIP_PLATFORM.
    let tag = "pyship-multi/load:latest";
    let out = pushed
        .pyship
        .command()
        .args(["build", project, "--base", &base, "--load", "-t", tag])
        .env("PYSHIP_PLATFORM", PLATFORMS)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("linux/amd64 only: the engine's own platform"),
        "{}",
        stderr(&out)
    );
    let arch = docker_ok(&["image", "inspect", "--format", "{{.Architecture}}", tag]);
    docker(&["image", "rm", "-f", tag]);
    assert_eq!(arch, "amd64");
}
