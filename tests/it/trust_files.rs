//! Files pyship writes and reads on this machine, under hostile or unlucky conditions: a
//! damaged cache, leftovers of interrupted writes, a file that grows while it is read,
//! symlinks that lead elsewhere, a full disk, and the modes users expect.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use sha2::{Digest as _, Sha256};

const EXAMPLE: &str = "hello-fastapi";

fn build_to(pyship: &Pyship, project: &Path, outputs: &[String]) -> Output {
    let base = python_base();
    let mut args = vec!["build", project.to_str().unwrap(), "--base", &base, "-q"];
    for output in outputs {
        args.extend(["--output", output.as_str()]);
    }
    pyship.run(&args)
}

fn oci(dir: &Path) -> String {
    format!("oci:{}", dir.display())
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// Every file under `dir` whose name is a sha256 digest, with what its bytes hash to.
fn blob_files(dir: &Path) -> Vec<(PathBuf, String)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().len() == 64)
        .map(|p| {
            let hash = sha256_hex(&p);
            (p, hash)
        })
        .collect()
}

fn assert_blobs_intact(dir: &Path) {
    let blobs = blob_files(dir);
    assert!(!blobs.is_empty(), "no blobs in {}", dir.display());
    for (path, hash) in blobs {
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            hash,
            "{} does not hold the bytes its name promises",
            path.display()
        );
    }
}

/// Checks that every blob the layout's manifest names is there with the right bytes.
fn assert_layout_complete(dir: &Path) {
    let manifest = layout_manifest(dir);
    let mut names: Vec<String> = layer_digests(&manifest);
    names.push(manifest["config"]["digest"].as_str().unwrap().to_owned());
    for name in names {
        let hex = name.trim_start_matches("sha256:");
        let path = dir.join("blobs/sha256").join(hex);
        assert_eq!(sha256_hex(&path), hex, "{} is damaged", path.display());
    }
}

fn manifest_digest(dir: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"].as_str().unwrap().to_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_leftover_partial_link_in_an_output_cannot_truncate_the_cache() {
    let pyship = Pyship::new();
    let project = copy_example(EXAMPLE);
    let outs = tempfile::tempdir().unwrap();
    let out = outs.path().join("image");
    let first = build_to(&pyship, project.path(), &[oci(&out)]);
    assert!(first.status.success(), "{}", stderr(&first));
    let digest = manifest_digest(&out);

    // What an interrupted write of an earlier version leaves: the blob not yet renamed
    // into place, and its temporary name hard-linked to the cached blob.
    let cache_blobs = pyship.cache.path().join("blobs/sha256");
    let layout_blobs = out.join("blobs/sha256");
    for (path, _) in blob_files(&layout_blobs) {
        let hex = path.file_name().unwrap().to_str().unwrap().to_owned();
        std::fs::remove_file(&path).unwrap();
        std::fs::hard_link(
            cache_blobs.join(&hex),
            layout_blobs.join(format!(".{hex}.partial")),
        )
        .unwrap();
    }

    let second = build_to(&pyship, project.path(), &[oci(&out)]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_blobs_intact(&cache_blobs);
    assert_layout_complete(&out);
    assert_eq!(manifest_digest(&out), digest);
    let empty: Vec<_> = blob_files(&cache_blobs)
        .into_iter()
        .filter(|(p, _)| std::fs::metadata(p).unwrap().len() == 0)
        .collect();
    assert!(empty.is_empty(), "emptied cache blobs: {empty:?}");
}

#[test]
fn damaged_cache_blobs_are_fetched_or_built_again_never_shipped() {
    let pyship = Pyship::new();
    let project = copy_example(EXAMPLE);
    let outs = tempfile::tempdir().unwrap();
    let first = build_to(&pyship, project.path(), &[oci(&outs.path().join("a"))]);
    assert!(first.status.success(), "{}", stderr(&first));
    let digest = manifest_digest(&outs.path().join("a"));

    // One flipped byte in every cached blob: wheels, base layers and config, pyship's
    // own layers (the dependency layer is reused by record), its config and manifest.
    let cache_blobs = pyship.cache.path().join("blobs/sha256");
    let damaged = blob_files(&cache_blobs);
    assert!(damaged.len() > 10, "too few cached blobs: {damaged:?}");
    for (path, _) in &damaged {
        let mut bytes = std::fs::read(path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(path, bytes).unwrap();
    }

    let archive = outs.path().join("b.tar");
    let second = build_to(
        &pyship,
        project.path(),
        &[
            oci(&outs.path().join("b")),
            format!("docker-archive:{}", archive.display()),
        ],
    );
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(
        manifest_digest(&outs.path().join("b")),
        digest,
        "the rebuilt image differs from the one built from a sound cache"
    );
    assert_layout_complete(&outs.path().join("b"));
    let unpacked = outs.path().join("b-archive");
    tar::Archive::new(std::fs::File::open(&archive).unwrap())
        .unpack(&unpacked)
        .unwrap();
    assert_blobs_intact(&unpacked.join("blobs/sha256"));
    assert_blobs_intact(&cache_blobs);
}

#[test]
fn a_file_that_grows_during_the_build_never_corrupts_the_project_layer() {
    let pyship = Pyship::new();
    let project = copy_example(EXAMPLE);
    let growing = project.path().join("app/events.log");
    // Large enough that reading and compressing it takes a while.
    std::fs::write(&growing, vec![b'x'; 48 << 20]).unwrap();
    let outs = tempfile::tempdir().unwrap();
    let out = outs.path().join("image");
    let done = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&growing)
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(300);
            while !done.load(Ordering::Relaxed) && Instant::now() < deadline {
                file.write_all(&[b'y'; 512]).unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let result = build_to(&pyship, project.path(), &[oci(&out)]);
        done.store(true, Ordering::Relaxed);
        result
    });
    if !result.status.success() {
        let err = stderr(&result);
        assert!(
            err.contains("events.log grew while the layer was written"),
            "{err}"
        );
        assert!(
            !out.join("index.json").exists(),
            "a failed build wrote an image"
        );
        return;
    }
    // The appends all fell outside the read: then the layer must still be whole.
    let manifest = layout_manifest(&out);
    let project_layer = layer_digests(&manifest).pop().unwrap();
    let blob = out
        .join("blobs/sha256")
        .join(project_layer.trim_start_matches("sha256:"));
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(blob).unwrap());
    let mut archive = tar::Archive::new(gz);
    let mut saw_log = false;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.expect("the project layer is a valid tar");
        let path = entry.path().unwrap().display().to_string();
        let size = entry.header().size().unwrap();
        let read = std::io::copy(&mut entry, &mut std::io::sink()).unwrap();
        assert_eq!(read, size, "{path}");
        saw_log |= path.ends_with("app/events.log");
    }
    assert!(saw_log, "events.log is missing from the project layer");
}

/// `pyship` run by bash with `umask 022` (and `setup` before it), in `dir`.
fn pyship_in_shell(pyship: &Pyship, setup: &str, dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(format!("umask 022; {setup} exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_pyship"))
        .args(args)
        .current_dir(dir)
        .env("PYSHIP_CACHE_DIR", pyship.cache.path())
        .env("NO_COLOR", "1");
    command.output().unwrap()
}

#[test]
fn written_files_follow_the_umask_and_replaced_files_keep_their_mode() {
    let pyship = Pyship::new();
    let project = copy_example(EXAMPLE);
    let dir = project.path();
    let init = ["init", ".", "--offline", "--base", "python:3.11-slim"];
    let out = pyship_in_shell(&pyship, "", dir, &init);
    assert!(out.status.success(), "{}", stderr(&out));
    for file in [
        "Dockerfile",
        ".dockerignore",
        "compose.yaml",
        ".github/workflows/container.yml",
    ] {
        assert_eq!(mode(&dir.join(file)), 0o644, "{file}");
    }

    std::fs::write(dir.join("Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::set_permissions(dir.join("Dockerfile"), PermissionsExt::from_mode(0o640)).unwrap();
    let forced = [&init[..], &["--force"]].concat();
    let out = pyship_in_shell(&pyship, "", dir, &forced);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(
        std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
        "FROM scratch\n"
    );
    assert_eq!(
        mode(&dir.join("Dockerfile")),
        0o640,
        "a replaced file keeps its mode"
    );

    let outs = tempfile::tempdir().unwrap();
    let layout = outs.path().join("image");
    let archive = outs.path().join("image.tar");
    let base = python_base();
    let out = pyship_in_shell(
        &pyship,
        "",
        dir,
        &[
            "build",
            ".",
            "--base",
            &base,
            "-q",
            "--output",
            &oci(&layout),
            "--output",
            &format!("docker-archive:{}", archive.display()),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&archive), 0o644, "docker-archive");
    assert_eq!(mode(&layout.join("index.json")), 0o644, "index.json");
    assert_eq!(mode(&layout.join("oci-layout")), 0o644, "oci-layout");
    for (blob, _) in blob_files(&layout.join("blobs/sha256")) {
        assert_eq!(mode(&blob), 0o644, "{}", blob.display());
    }
}

#[test]
fn init_refuses_to_write_through_a_symlink_out_of_the_project() {
    let pyship = Pyship::new();
    let project = copy_example(EXAMPLE);
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), project.path().join(".github")).unwrap();
    let out = pyship.run(&[
        "init",
        project.path().to_str().unwrap(),
        "--offline",
        "--force",
        "--base",
        "python:3.11-slim",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(".github is a symlink that leads out of the project"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(elsewhere.path()).unwrap().count(),
        0,
        "init wrote outside the project"
    );
    assert!(
        !project.path().join("Dockerfile").exists(),
        "init wrote some files before refusing"
    );

    // A link that stays inside the project is followed.
    std::fs::remove_file(project.path().join(".github")).unwrap();
    std::fs::create_dir(project.path().join("ci")).unwrap();
    std::os::unix::fs::symlink("ci", project.path().join(".github")).unwrap();
    let out = pyship.run(&[
        "init",
        project.path().to_str().unwrap(),
        "--offline",
        "--base",
        "python:3.11-slim",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(project.path().join("ci/workflows/container.yml").is_file());
}

/// A Dockerfile with a fixable finding (pip without `--no-cache-dir`), padded past 1 KiB.
fn fixable_dockerfile() -> String {
    let mut text = String::from("FROM python:3.12-slim\n");
    for n in 0..60 {
        text.push_str(&format!(
            "# padding line {n} to make the file larger than a block\n"
        ));
    }
    text.push_str(
        "RUN pip install -r requirements.txt\nUSER 10001\nCMD [\"python\", \"-m\", \"app\"]\n",
    );
    text
}

#[test]
fn lint_fix_replaces_the_file_whole_keeps_its_mode_and_never_follows_a_link() {
    let pyship = Pyship::new();
    let before = fixable_dockerfile();
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = dir.path().join("Dockerfile");
    std::fs::write(&dockerfile, &before).unwrap();
    std::fs::set_permissions(&dockerfile, PermissionsExt::from_mode(0o640)).unwrap();

    // A disk that fills up: the process may not write more than 1 KiB into any file.
    let lint = ["lint", "--fix", "--fail-level", "none", "Dockerfile"];
    let full = pyship_in_shell(&pyship, "trap '' XFSZ; ulimit -f 1;", dir.path(), &lint);
    assert_eq!(full.status.code(), Some(2), "{}", stderr(&full));
    assert!(
        stderr(&full).contains("cannot write the fix to Dockerfile"),
        "{}",
        stderr(&full)
    );
    assert_eq!(
        std::fs::read_to_string(&dockerfile).unwrap(),
        before,
        "a failed write changed the Dockerfile"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["Dockerfile"], "scratch files left behind");

    let fixed = pyship_in_shell(&pyship, "", dir.path(), &lint);
    assert!(fixed.status.success(), "{}", stderr(&fixed));
    let after = std::fs::read_to_string(&dockerfile).unwrap();
    assert!(after.contains("pip install --no-cache-dir"), "{after}");
    assert_eq!(mode(&dockerfile), 0o640);

    // A link (here to a file shared by other projects) is refused, and both stay as they were.
    let shared = tempfile::tempdir().unwrap();
    let target = shared.path().join("Dockerfile");
    std::fs::write(&target, &before).unwrap();
    let project = tempfile::tempdir().unwrap();
    let link = project.path().join("Dockerfile");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let refused = pyship_in_shell(&pyship, "", project.path(), &lint);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("Dockerfile is a symlink to"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), before);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}
