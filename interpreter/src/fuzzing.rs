//! Entry point for the fuzzer (fuzz/) and its corpus replay (tests/fuzz_corpus.rs): any
//! bytes as a program. The static check must refuse or accept without a panic, and each
//! refusal must point into the source.

/// Checks `data` as a program file.
pub fn check(data: &[u8]) {
    let Err(violations) = crate::check::check_program(data) else { return };
    assert!(!violations.is_empty(), "a refusal without a violation");
    // Lines end at \n, \r\n or a lone \r, as Python counts them.
    let lines = data.iter().enumerate().filter(|&(i, &b)| b == b'\n' || (b == b'\r' && data.get(i + 1) != Some(&b'\n'))).count() + 1;
    for v in &violations {
        assert!(v.line >= 1 && v.line <= lines + 1 && v.col >= 1, "violation outside a {lines}-line source: {v:?}");
        assert!(!v.reason.contains("the parser failed"), "the parser panicked: {v:?}");
    }
}
