//! The realistic corpus under `tests/fixtures/lint/corpus/`: Flask, FastAPI and Django
//! services built with uv, poetry and pip, single- and multi-stage, each with the
//! findings it must produce in `expected.txt` (`path:line RULE`, reviewed by hand).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use pyship::dockerfile::{Dockerfile, Kind};
use serde_json::Value;

fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint/corpus");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "corpus shrank to {}", dirs.len());
    dirs
}

fn lint_json(dir: &Path, extra: &[&str]) -> Value {
    let output = Command::cargo_bin("pyship")
        .unwrap()
        .current_dir(dir)
        .args(["lint", "--format", "json", "--fail-level", "none"])
        .args(extra)
        .arg(".")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn located(json: &Value) -> BTreeSet<String> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = f["path"].as_str().unwrap();
            format!(
                "{}:{} {}",
                path.strip_prefix("./").unwrap_or(path),
                f["line"],
                f["rule"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn corpus_findings_match_the_reviewed_expectations() {
    let mut mismatches = Vec::new();
    for dir in corpus() {
        let expected: BTreeSet<String> = std::fs::read_to_string(dir.join("expected.txt"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        let actual = located(&lint_json(&dir, &[]));
        for missing in expected.difference(&actual) {
            mismatches.push(format!("{}: missing {missing}", dir.display()));
        }
        for extra in actual.difference(&expected) {
            mismatches.push(format!("{}: unexpected {extra}", dir.display()));
        }
    }
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}

/// Copies a corpus project into a scratch directory so `--fix` can rewrite it.
fn scratch_copy(dir: &Path) -> tempfile::TempDir {
    let scratch = tempfile::tempdir().unwrap();
    for entry in ignore::WalkBuilder::new(dir).hidden(false).build() {
        let entry = entry.unwrap();
        let relative = entry.path().strip_prefix(dir).unwrap();
        let target = scratch.path().join(relative);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
    scratch
}

fn dockerfiles(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .to_lowercase()
                .contains("dockerfile")
        })
        .collect()
}

fn keywords(df: &Dockerfile) -> Vec<&'static str> {
    df.instructions.iter().map(|i| i.name()).collect()
}

#[test]
fn fix_output_relints_clean_and_keeps_the_structure() {
    let mut fixed_any = 0;
    for dir in corpus() {
        let scratch = scratch_copy(&dir);
        let before: Vec<(PathBuf, String)> = dockerfiles(scratch.path())
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                (p, text)
            })
            .collect();
        let fixed = lint_json(scratch.path(), &["--fix"]);
        let after = lint_json(scratch.path(), &[]);
        let fixable_left: Vec<&Value> = after["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["fixable"].as_bool().unwrap())
            .collect();
        assert!(
            fixable_left.is_empty(),
            "{}: fixable findings left: {fixable_left:?}",
            dir.display()
        );
        fixed_any += fixed["fixed"].as_array().unwrap().len();

        for (path, original) in before {
            let now = std::fs::read_to_string(&path).unwrap();
            let (old, new) = (Dockerfile::parse(&original), Dockerfile::parse(&now));
            assert!(
                new.errors.len() <= old.errors.len(),
                "{}: fix broke the syntax",
                path.display()
            );
            // The fix may add `ENV PYTHONUNBUFFERED=1`; everything else keeps its kind and order.
            let added_env = new.instructions.iter().filter(|i| matches!(&i.kind, Kind::Env(p) if p.iter().any(|kv| kv.key == "PYTHONUNBUFFERED" ))).count()
                - old.instructions.iter().filter(|i| matches!(&i.kind, Kind::Env(p) if p.iter().any(|kv| kv.key == "PYTHONUNBUFFERED"))).count();
            let mut expected = keywords(&old);
            let mut actual = keywords(&new);
            expected.retain(|k| *k != "ENV");
            actual.retain(|k| *k != "ENV");
            assert_eq!(expected, actual, "{}", path.display());
            assert_eq!(
                new.instructions
                    .iter()
                    .filter(|i| i.name() == "ENV")
                    .count(),
                old.instructions
                    .iter()
                    .filter(|i| i.name() == "ENV")
                    .count()
                    + added_env,
                "{}",
                path.display()
            );
            // Untouched lines survive byte for byte, in order.
            let touched: BTreeSet<usize> = fixed["fixed"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| path.ends_with(f["path"].as_str().unwrap().trim_start_matches("./")))
                .map(|f| f["line"].as_u64().unwrap() as usize)
                .collect();
            let mut remaining = now.lines();
            for (number, line) in original.lines().enumerate() {
                if touched.contains(&(number + 1)) {
                    continue;
                }
                assert!(
                    remaining.any(|l| l == line),
                    "{}: line {} changed or moved: {line:?}",
                    path.display(),
                    number + 1
                );
            }
        }
    }
    assert!(
        fixed_any >= 5,
        "the corpus should exercise --fix, applied {fixed_any}"
    );
}

/// The corpus under `tests/fixtures/lint/corpus-real/`: services in the shapes real
/// repositories have, and for every class of false alarm or miss a `*-trigger` project
/// and a `*-near-miss` one. `expected.txt` lists the findings judged true by hand (info
/// findings only where the class is about an info rule); whatever else is reported at
/// warning or error level is a false alarm.
#[test]
fn real_world_corpus_is_precise() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint/corpus-real");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let dockerfiles = dirs
        .iter()
        .map(|d| {
            ignore::WalkBuilder::new(d)
                .hidden(false)
                .build()
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().contains("Dockerfile"))
                .count()
        })
        .sum::<usize>();
    assert!(
        dockerfiles >= 40,
        "the corpus holds {dockerfiles} Dockerfiles"
    );
    let (mut true_positives, mut false_alarms, mut errors_false, mut missed) =
        (0usize, Vec::new(), Vec::new(), Vec::new());
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let expected: BTreeSet<String> = std::fs::read_to_string(dir.join("expected.txt"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        let json = lint_json(dir, &[]);
        let findings = json["findings"].as_array().unwrap();
        let mut reported = BTreeSet::new();
        for f in findings {
            let path = f["path"].as_str().unwrap();
            let key = format!(
                "{}:{} {}",
                path.strip_prefix("./").unwrap_or(path),
                f["line"],
                f["rule"].as_str().unwrap()
            );
            reported.insert(key.clone());
            match f["severity"].as_str().unwrap() {
                "info" => {}
                _ if expected.contains(&key) => true_positives += 1,
                "error" => errors_false.push(format!("{name}: {key}")),
                _ => false_alarms.push(format!("{name}: {key}")),
            }
        }
        missed.extend(
            expected
                .difference(&reported)
                .map(|m| format!("{name}: {m}")),
        );
    }
    let reported = true_positives + false_alarms.len() + errors_false.len();
    let precision = true_positives as f64 / reported.max(1) as f64;
    eprintln!(
        "corpus-real: {} projects, {dockerfiles} Dockerfiles, {reported} warning/error findings, {true_positives} true, precision {:.1}%, {} expected findings missed",
        dirs.len(),
        precision * 100.0,
        missed.len()
    );
    assert!(
        errors_false.is_empty(),
        "error-level false alarms:\n{}",
        errors_false.join("\n")
    );
    assert!(
        precision >= 0.95,
        "precision {:.1}% < 95%; false alarms:\n{}",
        precision * 100.0,
        false_alarms.join("\n")
    );
    // Each trigger must be caught: its class is what the project is there to show.
    let triggers: Vec<&String> = missed.iter().filter(|m| m.contains("-trigger:")).collect();
    assert!(triggers.is_empty(), "triggers not caught:\n{triggers:?}");
}
