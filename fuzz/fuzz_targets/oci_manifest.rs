//! Reading arbitrary bytes as an OCI manifest or index fails cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pyship::fuzzing::manifest(data);
});
