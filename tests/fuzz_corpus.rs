//! Replays every input the fuzzers keep (fuzz/corpus/TARGET/) through the same entry points
//! the fuzz targets call, so what a fuzzing run found and minimised stays a test.

use std::path::Path;

/// Each fuzz target, its entry point, and where its inputs are: the corpus a run keeps,
/// and seeds that stand elsewhere in the repository already (a directory that does not
/// exist yet is skipped).
const TARGETS: &[(&str, fn(&[u8]), &[&str])] = &[
    ("check", repy_interpreter::fuzzing::check, &["fuzz/corpus/check", "tests/repy"]),
    ("file_name", repy_contract::fuzzing::file_name, &["fuzz/corpus/file_name"]),
    ("request", repy_nodemanager::fuzzing::request, &["fuzz/corpus/request"]),
    ("restrictions", repy_policy::fuzzing::restrictions, &["fuzz/corpus/restrictions"]),
];

#[test]
fn every_kept_fuzz_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (target, entry, dirs) in TARGETS {
        let mut inputs: Vec<_> = dirs
            .iter()
            .map(|dir| root.join(dir))
            .filter(|dir| dir.is_dir())
            .flat_map(|dir| std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_file())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{target}: no inputs in {dirs:?}");
        for input in inputs {
            let data = std::fs::read(&input).unwrap();
            if std::panic::catch_unwind(|| entry(&data)).is_err() {
                panic!("{target}: {} fails (see the panic above)", input.display());
            }
        }
    }
}
