//! Entry point for the fuzzer (fuzz/) and its corpus replay (tests/fuzz_corpus.rs): any
//! bytes as a file name. The rule must never panic, and its answers must agree.

use crate::file_name;

/// Checks the file-name rule on `data` (as UTF-8, where it is).
pub fn file_name(data: &[u8]) {
    let Ok(name) = std::str::from_utf8(data) else { return };
    let problem = file_name::problem(name);
    assert_eq!(file_name::is_valid(name), problem.is_none(), "is_valid and problem disagree on {name:?}");
    if problem.is_none() {
        // What a path may be built from: no separator, no parent, nothing hidden.
        assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)), "{name:?} passed the rule");
        assert!(!name.starts_with('.') && name.len() <= file_name::MAX_CHARS, "{name:?} passed the rule");
    }
    assert_eq!(file_name::user_problem(name).is_none(), problem.is_none() && !file_name::is_private(name), "{name:?}");
}
