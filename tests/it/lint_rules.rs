//! Every rule has a fixture that triggers it and a near-miss that must not, under
//! `tests/fixtures/lint/rules/<ID>/{trigger,near-miss}/`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint/rules")
}

/// The rule IDs `pyship lint --format json` reports for a directory.
fn reported(dir: &Path) -> Vec<String> {
    let output = Command::cargo_bin("pyship")
        .unwrap()
        .current_dir(dir)
        .args(["lint", "--format", "json", "--fail-level", "none", "."])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

/// The IDs from `--list-rules`, so a new rule without fixtures fails this test.
fn rule_ids() -> Vec<String> {
    let output = Command::cargo_bin("pyship")
        .unwrap()
        .args(["lint", "--list-rules"])
        .output()
        .unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn every_rule_triggers_and_spares_its_near_miss() {
    let ids = rule_ids();
    assert!(ids.len() >= 40, "only {} rules listed", ids.len());
    let mut failures = Vec::new();
    for id in &ids {
        let trigger = fixtures().join(id).join("trigger");
        let near = fixtures().join(id).join("near-miss");
        if !trigger.is_dir() || !near.is_dir() {
            failures.push(format!("{id}: missing fixture directories"));
            continue;
        }
        if !reported(&trigger).contains(id) {
            failures.push(format!("{id}: not reported for {}", trigger.display()));
        }
        if reported(&near).contains(id) {
            failures.push(format!(
                "{id}: reported for the near-miss {}",
                near.display()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
