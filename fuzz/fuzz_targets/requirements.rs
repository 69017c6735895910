//! requirements.txt reading (includes, options, hashes, markers) never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        pyship::fuzzing::requirements(text);
    }
});
