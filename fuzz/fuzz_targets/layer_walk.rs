//! Walking arbitrary bytes as image layers, and reading base facts from them, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pyship::fuzzing::layer(data);
});
