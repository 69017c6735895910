//! `pyship build` end to end: a real base from the loopback registry, real wheels from
//! the package index, a real Docker Engine running the result.

use crate::common;

use std::time::{Duration, Instant};

use common::*;

const EXAMPLE: &str = "hello-fastapi";

#[test]
fn example_runs_hardened_from_its_bytecode_as_app_and_stops_cleanly() {
    let pyship = Pyship::new();
    let project = copy_example(EXAMPLE);
    let tag = format!("pyship-e2e/hello:{}", std::process::id());
    let out = pyship.run(&[
        "build",
        project.path().to_str().unwrap(),
        "--base",
        &python_base(),
        "--load",
        "-t",
        &tag,
    ]);
    assert!(out.status.success(), "build failed: {}", stderr(&out));
    assert!(
        stdout(&out).contains("@sha256:"),
        "no pinned reference printed: {}",
        stdout(&out)
    );

    let (container, port) = run_hardened(&tag);
    assert_eq!(
        wait_for_http(port, "/health", Duration::from_secs(10)),
        Some(200),
        "no 200 from /health within 10 s"
    );
    assert_eq!(docker_ok(&["exec", &container.0, "id", "-u"]), "1001");
    assert_eq!(docker_ok(&["exec", &container.0, "whoami"]), "app");
    assert_not_importable(&container, &["pytest", "httpx"]);

    // Bytecode the base's Python reads: the project's checks its source, the
    // dependencies' does not; and imports load it rather than compile.
    let site = "/app/.venv/lib/python3.11/site-packages";
    let dependency = format!("{site}/fastapi/applications.py");
    assert_pyc(&container, "/app/app/main.py", 3);
    assert_pyc(&container, &dependency, 1);
    let verbose = docker(&[
        "exec",
        &container.0,
        "python",
        "-v",
        "-c",
        "import app.main",
    ]);
    let log = stderr(&verbose);
    assert!(verbose.status.success(), "{log}");
    for module in [
        "/app/app/__pycache__/main",
        &format!("{site}/fastapi/__pycache__/applications"),
    ] {
        let loaded = format!("code object from '{module}.cpython-311.pyc'");
        assert!(
            log.contains(&loaded),
            "{module} was compiled at start, not loaded from its pyc"
        );
    }
    // The pycs leave every RECORD true, as an uninstall or an audit reads it.
    let record_check = "import base64, hashlib, importlib.metadata as m\n\
        bad = [str(f) for d in m.distributions() for f in d.files or () if f.hash and \
        base64.urlsafe_b64encode(hashlib.sha256(f.read_binary()).digest()).rstrip(b'=').decode() != f.hash.value]\n\
        print(len(list(m.distributions())), bad)";
    let records = docker_ok(&["exec", &container.0, "python", "-c", record_check]);
    assert!(
        records.ends_with(" []") && !records.starts_with("0 "),
        "RECORD rows that no longer match: {records}"
    );
    let tooling = docker(&[
        "exec",
        &container.0,
        "sh",
        "-c",
        "command -v uv || command -v uvx || ls -d /root/.cache/uv /root/.cache/pip /home/app/.cache /app/.venv/bin/uv 2>/dev/null",
    ]);
    assert!(
        stdout(&tooling).trim().is_empty(),
        "build tooling or caches in the image: {}",
        stdout(&tooling)
    );
    let logs = docker_ok(&["logs", &container.0]);
    let all_logs = format!("{logs}{}", stderr(&docker(&["logs", &container.0])));
    assert!(
        all_logs.contains("starting hello-fastapi"),
        "startup log missing from docker logs: {all_logs}"
    );

    let started = Instant::now();
    docker_ok(&["stop", "-t", "10", &container.0]);
    let took = started.elapsed();
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &container.0]),
        "0",
        "SIGTERM did not end the app with 0"
    );
    assert!(
        took < Duration::from_secs(8),
        "stop took {took:?}: the app did not handle SIGTERM"
    );
    docker(&["rmi", &tag]);
}

#[test]
fn same_inputs_give_same_digest_and_source_edit_changes_only_project_layer() {
    let pyship = Pyship::new();
    let base = python_base();
    let build = |project: &std::path::Path, out: &std::path::Path| {
        let output = format!("oci:{}", out.display());
        let result = pyship.run(&[
            "build",
            project.to_str().unwrap(),
            "--base",
            &base,
            "--output",
            &output,
            "-q",
        ]);
        assert!(result.status.success(), "build failed: {}", stderr(&result));
        layout_manifest(out)
    };
    let (a, b) = (copy_example(EXAMPLE), copy_example(EXAMPLE));
    let outs = tempfile::tempdir().unwrap();
    let first = build(a.path(), &outs.path().join("a"));
    // The second build must not reuse the first's layers by luck: give it its own cache.
    let second_cache = Pyship::new();
    let output = format!("oci:{}", outs.path().join("b").display());
    let result = second_cache.run(&[
        "build",
        b.path().to_str().unwrap(),
        "--base",
        &base,
        "--output",
        &output,
        "-q",
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    let second = layout_manifest(&outs.path().join("b"));
    assert_eq!(
        first, second,
        "two directories, two caches: the manifests differ"
    );

    let main_py = b.path().join("app/main.py");
    let mut text = std::fs::read_to_string(&main_py).unwrap();
    text.push_str("\n# a source-only edit\n");
    std::fs::write(&main_py, text).unwrap();
    let edited = build(b.path(), &outs.path().join("c"));
    let (before, after) = (layer_digests(&first), layer_digests(&edited));
    assert_eq!(before.len(), after.len());
    let last = before.len() - 1;
    assert_eq!(
        before[..last],
        after[..last],
        "a source edit changed base, user or dependency layers"
    );
    assert_ne!(
        before[last], after[last],
        "the project layer did not change"
    );
}

#[test]
fn outputs_are_read_by_skopeo_umoci_and_a_pushed_image_pulls_and_runs() {
    let pyship = Pyship::new();
    let project = copy_example(EXAMPLE);
    let outs = tempfile::tempdir().unwrap();
    let layout = outs.path().join("layout");
    let archive = outs.path().join("image.tar");
    let repo = format!("{REGISTRY}/pyship-e2e/pushed");
    let tag = format!("run-{}", std::process::id());
    let reference = format!("{repo}:{tag}");
    let out = pyship.run(&[
        "build",
        project.path().to_str().unwrap(),
        "--base",
        &python_base(),
        "--output",
        &format!("oci:{}", layout.display()),
        "--output",
        &format!("docker-archive:{}", archive.display()),
        "--push",
        &reference,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let pinned = printed
        .lines()
        .find(|l| l.starts_with(&repo))
        .expect("pinned push reference printed")
        .to_owned();
    assert!(pinned.contains("@sha256:"), "{pinned}");

    for source in [
        format!("oci:{}", layout.display()),
        format!("docker-archive:{}", archive.display()),
    ] {
        let inspect = std::process::Command::new("skopeo")
            .args(["inspect", &source])
            .output()
            .unwrap();
        assert!(
            inspect.status.success(),
            "skopeo rejects {source}: {}",
            stderr(&inspect)
        );
        let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
        assert_eq!(
            json["Labels"]["org.opencontainers.image.title"],
            "hello-fastapi"
        );
        assert!(
            json["Labels"]["org.opencontainers.image.base.digest"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );
    }
    let umoci = std::process::Command::new("umoci")
        .args(["stat", "--image", &format!("{}:{tag}", layout.display())])
        .output()
        .unwrap();
    assert!(
        umoci.status.success(),
        "umoci rejects the layout: {}",
        stderr(&umoci)
    );
    let unpacked = outs.path().join("bundle");
    let unpack = std::process::Command::new("umoci")
        .args([
            "unpack",
            "--rootless",
            "--image",
            &format!("{}:{tag}", layout.display()),
            unpacked.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        unpack.status.success(),
        "umoci cannot unpack: {}",
        stderr(&unpack)
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(unpacked.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["process"]["user"]["uid"], 1001);
    assert!(unpacked.join("rootfs/app/.venv/bin/uvicorn").exists());
    assert!(
        std::fs::symlink_metadata(unpacked.join("rootfs/app/.venv/bin/python"))
            .unwrap()
            .file_type()
            .is_symlink()
    );

    docker_ok(&["pull", &pinned]);
    let (container, port) = run_hardened(&pinned);
    assert_eq!(
        wait_for_http(port, "/health", Duration::from_secs(10)),
        Some(200)
    );
    drop(container);
    docker(&["rmi", &pinned]);
}

#[test]
fn base_from_oci_layout_or_docker_archive_gives_the_same_filesystem() {
    let base = python_base();
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("base-layout");
    let archive = dir.path().join("base.tar");
    for dest in [
        format!("oci:{}:base", layout.display()),
        format!("docker-archive:{}", archive.display()),
    ] {
        let copy = std::process::Command::new("skopeo")
            .args([
                "copy",
                "--src-tls-verify=false",
                &format!("docker://{base}"),
                &dest,
            ])
            .output()
            .unwrap();
        assert!(
            copy.status.success(),
            "skopeo copy to {dest}: {}",
            stderr(&copy)
        );
    }
    let project = copy_example(EXAMPLE);
    let diff_ids = |base_arg: &str, name: &str| {
        let out_dir = dir.path().join(name);
        let pyship = Pyship::new();
        let out = pyship.run(&[
            "build",
            project.path().to_str().unwrap(),
            "--base",
            base_arg,
            "-q",
            "--output",
            &format!("oci:{}", out_dir.display()),
        ]);
        assert!(
            out.status.success(),
            "build from {base_arg}: {}",
            stderr(&out)
        );
        let manifest = layout_manifest(&out_dir);
        assert_eq!(
            manifest["annotations"]["org.opencontainers.image.base.name"],
            base_arg
        );
        let config_digest = manifest["config"]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_owned();
        let config: serde_json::Value = serde_json::from_slice(
            &std::fs::read(out_dir.join("blobs/sha256").join(config_digest)).unwrap(),
        )
        .unwrap();
        config["rootfs"]["diff_ids"].clone()
    };
    let from_registry = diff_ids(&base, "r");
    assert_eq!(
        diff_ids(&format!("oci:{}:base", layout.display()), "o"),
        from_registry
    );
    assert_eq!(
        diff_ids(&format!("docker-archive:{}", archive.display()), "d"),
        from_registry
    );
}

/// While a new base is read, pyship downloads the wheels for the target it guesses; a
/// wrong guess must not reach the dependency layer. This base's config claims Python 3.12 but it
/// carries 3.11: the image must hold cp311 wheels and equal a build that did not guess.
#[test]
fn a_wrong_guess_about_the_base_is_caught_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {}\nENV PYTHON_VERSION=3.12.1\n", python_base()),
    )
    .unwrap();
    let lying = format!("{REGISTRY}/pyship-test/lying-python:3.11");
    let built = std::process::Command::new(docker_cli())
        .args(["build", "-q", "-t", &lying])
        .arg(dir.path())
        .env("DOCKER_BUILDKIT", "1")
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", stderr(&built));
    docker_ok(&["push", "-q", &lying]);

    let pyship = Pyship::new();
    let project = copy_example(EXAMPLE);
    let build = |name: &str| {
        let out_dir = dir.path().join(name);
        let out = pyship.run(&[
            "build",
            project.path().to_str().unwrap(),
            "--base",
            &lying,
            "-q",
            "--output",
            &format!("oci:{}", out_dir.display()),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        layout_manifest(&out_dir)
    };
    let guessed = build("cold");
    let known = build("warm");
    assert_eq!(
        guessed, known,
        "the build that guessed differs from the one that knew the base"
    );
    let deps_layer = layer_digests(&guessed)[layer_digests(&guessed).len() - 2]
        .trim_start_matches("sha256:")
        .to_owned();
    let listing = std::process::Command::new("tar")
        .arg("tzf")
        .arg(dir.path().join("cold/blobs/sha256").join(deps_layer))
        .output()
        .unwrap();
    let files = stdout(&listing);
    assert!(
        files.contains("cpython-311-x86_64-linux-gnu.so"),
        "no cp311 extension in the dependency layer"
    );
    assert!(
        !files.contains("cpython-312"),
        "cp312 wheels from the wrong guess were installed"
    );
}
