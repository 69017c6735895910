//! A package index's project page, JSON or HTML, never makes the reader panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pyship::fuzzing::simple_page(data);
});
