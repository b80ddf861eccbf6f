//! Replays every input the fuzzers keep (fuzz/corpus/TARGET/) through the same entry points
//! the fuzz targets call, so what a fuzzing run found and minimised stays a test.

use std::path::Path;

/// Each fuzz target's corpus directory and entry point.
const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("check", repy_interpreter::fuzzing::check),
    ("file_name", repy_contract::fuzzing::file_name),
    ("request", repy_nodemanager::fuzzing::request),
    ("restrictions", repy_policy::fuzzing::restrictions),
];

#[test]
fn every_kept_fuzz_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (target, entry) in TARGETS {
        let dir = root.join(target);
        let mut inputs: Vec<_> =
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).map(|entry| entry.unwrap().path()).collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{}: no inputs", dir.display());
        for input in inputs {
            let data = std::fs::read(&input).unwrap();
            if std::panic::catch_unwind(|| entry(&data)).is_err() {
                panic!("{target}: {} fails (see the panic above)", input.display());
            }
        }
    }
}
