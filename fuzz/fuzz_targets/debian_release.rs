//! A suite's `InRelease` (OpenPGP clear-signature, then the release fields) never makes
//! pyship panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pyship::fuzzing::debian_release(data);
});
