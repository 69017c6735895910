//! uv.lock parsing and the lock walk never panic, whatever the file says.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        pyship::fuzzing::uv_lock(text);
    }
});
