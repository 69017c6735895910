//! `pyship cache info` and `pyship cache prune` on a cache a real build filled: the
//! numbers are the files', and a prune running over and over while a build uses old
//! blobs leaves that build's image whole.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use common::*;

const EXAMPLE: &str = "hello-fastapi";

/// Regular files under the cache's `blobs/`, `records/` and `tmp/`, with sizes.
fn cache_files(cache: &Path) -> Vec<(PathBuf, u64)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                walk(&entry.path(), out);
            } else {
                out.push((entry.path(), meta.len()));
            }
        }
    }
    let mut files = Vec::new();
    for dir in ["blobs", "records", "tmp"] {
        walk(&cache.join(dir), &mut files);
    }
    files
}

fn info(pyship: &Pyship) -> serde_json::Value {
    let out = pyship.run(&["cache", "info", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn age_everything(cache: &Path, by: Duration) {
    for (path, _) in cache_files(cache) {
        std::fs::File::options()
            .append(true)
            .open(&path)
            .unwrap()
            .set_modified(SystemTime::now() - by)
            .unwrap();
    }
}

#[test]
fn cache_info_counts_every_file_by_kind() {
    let pyship = Pyship::new();
    let project = copy_example(EXAMPLE);
    let out_dir = tempfile::tempdir().unwrap();
    let layout = out_dir.path().join("image");
    let built = build_to_layout(&pyship, project.path(), &layout, &["--format", "json"]);
    assert!(built.status.success(), "{}", stderr(&built));
    let summary: serde_json::Value = serde_json::from_slice(&built.stdout).unwrap();

    let info = info(&pyship);
    let files = cache_files(pyship.cache.path());
    assert_eq!(info["total"]["files"], files.len() as u64);
    assert_eq!(
        info["total"]["bytes"],
        files.iter().map(|(_, size)| size).sum::<u64>()
    );
    let kinds = &info["kinds"];
    let files_of = |kind: &str| kinds[kind]["files"].as_u64().unwrap();
    let packages = summary["packages"].as_array().unwrap().len() as u64;
    assert_eq!(
        files_of("wheels"),
        packages,
        "one wheel per installed package"
    );
    assert_eq!(files_of("layers"), 3, "runtime, dependencies, project");
    assert_eq!(files_of("images"), 2, "the built manifest and config");
    let base_layers = layer_digests(&layout_manifest(&layout)).len() as u64 - 3;
    assert_eq!(
        files_of("bases"),
        base_layers + 2,
        "the base's layers and config, and its interpreter lifted out to compile bytecode"
    );
    assert_eq!(
        files_of("sdists") + files_of("other") + files_of("scratch"),
        0
    );
    let wheel_bytes: u64 = files
        .iter()
        .filter(|(path, _)| std::fs::read(path).is_ok_and(|b| b.starts_with(b"PK\x03\x04")))
        .map(|(_, size)| size)
        .sum();
    assert_eq!(kinds["wheels"]["bytes"], wheel_bytes);
}

#[test]
fn prune_while_a_build_runs_leaves_its_image_whole() {
    let pyship = Pyship::new();
    let project = copy_example(EXAMPLE);
    let warm_dir = tempfile::tempdir().unwrap();
    let warm = build_to_layout(&pyship, project.path(), &warm_dir.path().join("image"), &[]);
    assert!(warm.status.success(), "{}", stderr(&warm));
    // Everything the next build needs was last used long ago, and one blob is
    // something no build needs.
    let cache = pyship.cache.path();
    let unused = cache.join("blobs/sha256").join("0".repeat(64));
    std::fs::write(&unused, b"unused").unwrap();
    age_everything(cache, Duration::from_secs(40 * 86_400));

    let tag = format!("pyship-e2e/pruned:{}", std::process::id());
    let base = python_base();
    let mut build = pyship
        .command()
        .args(["build", project.path().to_str().unwrap(), "--base", &base])
        .args(["--load", "-t", &tag])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Prune from the moment the build has found its old dependency layer: from then
    // on it relies on blobs that were last used long ago.
    let found = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let log = {
        let found = found.clone();
        let stderr = build.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut log = String::new();
            for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
                let line = line.unwrap();
                found.fetch_or(line.contains("layer reused"), Ordering::SeqCst);
                log.push_str(&line);
                log.push('\n');
            }
            log
        })
    };
    let mut prunes = 0;
    let mut removed_any = false;
    while build.try_wait().unwrap().is_none() {
        if !found.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let out = pyship.run(&["cache", "prune", "--older-than", "0"]);
        assert!(out.status.success(), "{}", stderr(&out));
        removed_any |= !stdout(&out).starts_with("removed 0 files");
        prunes += 1;
    }
    let built = build.wait().unwrap();
    let log = log.join().unwrap();
    assert!(built.success(), "after {prunes} prunes: {log}");
    assert!(prunes > 0, "the build ended before a prune ran: {log}");
    assert!(
        removed_any && !unused.exists(),
        "prune removed nothing while the build ran"
    );

    let (_container, port) = run_hardened(&tag);
    assert_eq!(
        wait_for_http(port, "/health", Duration::from_secs(10)),
        Some(200),
        "the image built under prune does not serve"
    );
    docker(&["rmi", "-f", &tag]);

    // With no build running, everything goes: prune is not just refusing.
    let out = pyship.run(&["cache", "prune", "--older-than", "0", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = cache_files(cache).len();
    assert!(
        stdout(&out).contains(&format!("would remove {before} files")),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        cache_files(cache).len(),
        before,
        "a dry run removes nothing"
    );
    let out = pyship.run(&["cache", "prune", "--max-size", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(info(&pyship)["total"]["files"], 0, "{}", stdout(&out));
}
