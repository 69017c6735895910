//! Reading arbitrary bytes as a docker-archive fails cleanly and reads nothing outside it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pyship::fuzzing::docker_archive(data);
});
