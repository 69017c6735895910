//! Any text must parse and lint without a panic: `cargo +nightly fuzz run dockerfile
//! -- -dict=fuzz/dockerfile.dict fuzz/seeds` (seeds: copy `tests/fixtures/lint` Dockerfiles).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pyship::dockerfile::Dockerfile;
use pyship::lint::config::Config;
use pyship::lint::discover::FileKind;
use pyship::lint::project::Project;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let df = Dockerfile::parse(text);
    for instruction in &df.instructions {
        assert!(text.get(instruction.span.clone()).is_some());
    }
    let findings = pyship::lint::lint_text(
        Path::new("Dockerfile"),
        text,
        FileKind::Dockerfile,
        &Project::default(),
        &Config::default(),
    );
    for finding in &findings {
        assert!(text.get(finding.span.clone()).is_some());
    }
});
