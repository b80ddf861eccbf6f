#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| repy_nodemanager::fuzzing::request(data));
