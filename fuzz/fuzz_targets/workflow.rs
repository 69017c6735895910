//! Any text must lint as a workflow without a panic: `cargo +nightly fuzz run workflow`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for draft in pyship::lint::workflow::check(text) {
            assert!(text.get(draft.span.clone()).is_some());
        }
    }
});
