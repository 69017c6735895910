//! A build killed at any point (SIGKILL: no cleanup code runs) leaves a cache from which
//! the next build succeeds, gives the image a fresh cache gives, and clears the scratch
//! files the killed builds left.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::*;

const EXAMPLE: &str = "hello-fastapi";
const KILLS: usize = 5;

/// A fixed-seed pseudo-random sequence, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }
}

/// Kill delays spread over the first seconds of a build: resolving the base,
/// downloading and installing wheels, writing layers, writing the output.
fn kill_delays() -> Vec<Duration> {
    let mut random = Lcg(0x5eed_cafe_f00d_d00d);
    (0..KILLS)
        .map(|_| Duration::from_millis(100 + random.next() % 2_900))
        .collect()
}

/// Incompressible bytes, so writing the project layer takes long enough for kills to
/// land in the middle of it.
fn noise(len: usize) -> Vec<u8> {
    let mut random = Lcg(7);
    let mut bytes = Vec::with_capacity(len);
    while bytes.len() < len {
        bytes.extend_from_slice(&random.next().to_le_bytes());
    }
    bytes
}

fn build_args(project: &Path, base: &str, out: &Path) -> Vec<String> {
    vec![
        "build".into(),
        project.display().to_string(),
        "--base".into(),
        base.into(),
        "-q".into(),
        "--output".into(),
        format!("oci:{}", out.display()),
    ]
}

fn manifest_digest(dir: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"].as_str().unwrap().to_owned()
}

#[test]
fn builds_killed_at_random_points_leave_a_cache_the_next_build_completes_from() {
    let base = python_base();
    let project = copy_example(EXAMPLE);
    std::fs::write(project.path().join("app/model.bin"), noise(64 << 20)).unwrap();
    let outs = tempfile::tempdir().unwrap();
    let killed = Pyship::new();
    let out = outs.path().join("killed");
    for delay in kill_delays() {
        let mut child = killed
            .command()
            .args(build_args(project.path(), &base, &out))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        // Child::kill sends SIGKILL; a build that already finished is fine too.
        child.kill().ok();
        child.wait().unwrap();
    }

    let after = killed.run(
        &build_args(project.path(), &base, &out)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(
        after.status.success(),
        "the build after the kills failed: {}",
        stderr(&after)
    );
    assert_eq!(
        killed.leftovers(),
        Vec::<std::path::PathBuf>::new(),
        "scratch files of killed builds are still in the cache"
    );

    let fresh = Pyship::new();
    let reference = outs.path().join("fresh");
    let clean = fresh.run(
        &build_args(project.path(), &base, &reference)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(clean.status.success(), "{}", stderr(&clean));
    assert_eq!(
        manifest_digest(&out),
        manifest_digest(&reference),
        "the cache the kills left gives a different image than a fresh cache"
    );
    let blobs = out.join("blobs/sha256");
    for entry in std::fs::read_dir(&blobs).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
            name,
            "layout blob {name} is damaged"
        );
    }
}
