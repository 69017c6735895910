//! poetry.lock and pyproject.toml reading, the content hash and the lock walk never
//! panic, whatever the files say. The input is the pyproject, a NUL, then the lock.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let (pyproject, lock) = text.split_once('\0').unwrap_or(("", text));
        pyship::fuzzing::poetry_lock(lock, pyproject);
    }
});
