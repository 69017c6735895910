//! pyship as Python developers install tools: a maturin wheel carrying the binary,
//! installed into a fresh virtual environment, runs.

use std::process::Command;

use crate::common::*;

#[test]
fn maturin_wheel_installs_into_a_fresh_venv_and_runs() {
    let out_dir = tempfile::tempdir().unwrap();
    // Not optimized (what is tested is the packaging, not the code), and not the dev
    // profile either: that would rebuild target/debug/pyship while other tests run it.
    let built = Command::new("maturin")
        .args(["build", "--profile", "wheel-check", "--out"])
        .arg(out_dir.path())
        .current_dir(repo_root())
        .output()
        .expect("maturin is installed by .ci/run");
    assert!(built.status.success(), "maturin build: {}", stderr(&built));
    let wheels: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    let name = wheels[0].file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with(&format!("pyship-{}-py3-none-", env!("CARGO_PKG_VERSION"))),
        "a binary wheel works with any Python 3: {name}"
    );

    let venv = out_dir.path().join("venv");
    let made = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", stderr(&made));
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "--no-index", "--disable-pip-version-check", "-q"])
        .arg(&wheels[0])
        .output()
        .unwrap();
    assert!(installed.status.success(), "{}", stderr(&installed));
    let version = Command::new(venv.join("bin/pyship"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(version.status.success(), "{}", stderr(&version));
    assert_eq!(
        stdout(&version).trim(),
        format!("pyship {}", env!("CARGO_PKG_VERSION"))
    );
}

/// The workflow that publishes those wheels: what the generated workflows are held to.
#[test]
fn release_workflow_passes_zizmor_and_actionlint() {
    let path = repo_root().join(".github/workflows/release.yml");
    let zizmor = zizmor(&path);
    assert!(
        zizmor.status.success(),
        "zizmor: {}{}",
        stdout(&zizmor),
        stderr(&zizmor)
    );
    let lint = actionlint(&path);
    assert!(
        lint.status.success(),
        "actionlint: {}{}",
        stdout(&lint),
        stderr(&lint)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("args: --release --locked --out dist"),
        "{text}"
    );
    assert!(
        text.contains("id-token: write"),
        "trusted publishing, no stored token"
    );
}
