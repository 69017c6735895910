//! Assembling arbitrary bytes as a Debian base's package fails cleanly or stays inside the root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pyship::fuzzing::deb(data);
});
