#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| repy_policy::fuzzing::restrictions(data));
