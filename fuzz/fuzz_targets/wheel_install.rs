//! Installing arbitrary bytes as a wheel fails cleanly or stays inside the venv.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pyship::fuzzing::wheel(data);
});
