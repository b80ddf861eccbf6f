#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| repy_contract::fuzzing::file_name(data));
