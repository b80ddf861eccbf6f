//! Entry point for the fuzzer (fuzz/) and its corpus replay (tests/fuzz_corpus.rs): any
//! bytes as a restrictions file. The parser must never panic, and every error it reports
//! must name a line of the file.

/// Parses `data` (as UTF-8, where it is) as restrictions text.
pub fn restrictions(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(errors) = crate::parse(text) {
        assert!(!errors.is_empty(), "a refusal without an error");
        let lines = text.matches('\n').count() + 1;
        for error in &errors {
            if let Some(line) = error.line {
                assert!((1..=lines).contains(&line), "error on line {line} of a {lines}-line file: {error:?}");
            }
            assert!(!error.reason.is_empty(), "an error without a reason");
        }
    }
}
