//! A Debian `Packages` index (deb822 paragraphs, relationship fields) and the closure
//! resolved over it never make pyship panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pyship::fuzzing::debian_packages(&String::from_utf8_lossy(data));
});
