//! The pragma lines of a test program (cli.md `repy test`) and the comparison of a run's
//! output against them.

/// What a test program asks for in its `#pragma` lines.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pragmas {
    /// The tokens of the `#pragma repy` line (restrictions file and/or arguments), if any.
    pub repy: Option<Vec<String>>,
    /// `#pragma out` texts in file order; `None` when there is no `out` pragma.
    pub out: Option<Vec<String>>,
    /// `#pragma error` texts in file order; `None` when there is no `error` pragma.
    pub error: Option<Vec<String>>,
}

/// Reads the pragmas of `source`. A line is a pragma when, after leading spaces, it starts
/// with the word `#pragma`; its second word must be `repy`, `out` or `error`. The text of
/// `out`/`error` is the rest of the line with surrounding white space removed. Errors name
/// the line.
pub fn parse(source: &str) -> Result<Pragmas, String> {
    let mut pragmas = Pragmas::default();
    let mut repy_line = None;
    for (index, line) in source.lines().enumerate() {
        let number = index + 1;
        let Some(rest) = line.trim_start().strip_prefix("#pragma") else { continue };
        if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
            continue;
        }
        let rest = rest.trim();
        let (kind, text) = match rest.split_once(char::is_whitespace) {
            Some((kind, text)) => (kind, text.trim()),
            None => (rest, ""),
        };
        match kind {
            "repy" => {
                if let Some(first) = repy_line {
                    return Err(format!("line {number}: a second '#pragma repy' line (the first is line {first})"));
                }
                repy_line = Some(number);
                pragmas.repy = Some(text.split_whitespace().map(str::to_owned).collect());
            }
            "out" => pragmas.out.get_or_insert_with(Vec::new).push(text.to_owned()),
            "error" => pragmas.error.get_or_insert_with(Vec::new).push(text.to_owned()),
            "" => return Err(format!("line {number}: '#pragma' without a kind (expected repy, out or error)")),
            other => return Err(format!("line {number}: unknown pragma '{other}' (expected repy, out or error)")),
        }
    }
    Ok(pragmas)
}

/// Checks `output` against the expected texts of one stream. `None`: the stream must be
/// empty. Otherwise each non-empty text must be a substring of a line that comes after the
/// line matched by the previous text; empty texts match anything. Returns why it does not
/// match.
pub fn check_stream(stream: &str, expected: Option<&[String]>, output: &str) -> Result<(), String> {
    let Some(expected) = expected else {
        if output.is_empty() {
            return Ok(());
        }
        let pragma = if stream == "stdout" { "out" } else { "error" };
        return Err(format!("unexpected {stream} (the test has no '#pragma {pragma}' line)"));
    };
    let mut lines = output.lines();
    let mut previous: Option<&str> = None;
    for text in expected.iter().filter(|t| !t.is_empty()) {
        if !lines.by_ref().any(|line| line.contains(text.as_str())) {
            return Err(match previous {
                None => format!("{stream} has no line containing '{text}'"),
                Some(p) => format!("{stream} has no line containing '{text}' after the line containing '{p}'"),
            });
        }
        previous = Some(text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pragmas_are_collected_in_order() {
        let p = parse("#pragma repy r.txt a b\n  #pragma out one two \nx = 1\n#pragma out\n#pragma error Boom\n#pragmatic\n").unwrap();
        assert_eq!(p.repy, Some(texts(&["r.txt", "a", "b"])));
        assert_eq!(p.out, Some(texts(&["one two", ""])));
        assert_eq!(p.error, Some(texts(&["Boom"])));
    }

    #[test]
    fn bad_pragmas_name_the_line() {
        assert_eq!(parse("\n#pragma outt x").unwrap_err(), "line 2: unknown pragma 'outt' (expected repy, out or error)");
        assert_eq!(parse("#pragma repy\n#pragma repy a").unwrap_err(), "line 2: a second '#pragma repy' line (the first is line 1)");
        assert!(parse("#pragma").unwrap_err().contains("without a kind"));
    }

    #[test]
    fn no_pragmas_means_silence() {
        assert_eq!(parse("print(1)\n").unwrap(), Pragmas::default());
        assert!(check_stream("stdout", None, "").is_ok());
        assert!(check_stream("stdout", None, "x\n").unwrap_err().contains("unexpected stdout"));
    }

    #[test]
    fn texts_match_lines_in_order() {
        let out = "alpha beta\ngamma\ndelta\n";
        assert!(check_stream("stdout", Some(&texts(&["beta", "delta"])), out).is_ok());
        assert!(check_stream("stdout", Some(&texts(&["", "gamma"])), out).is_ok());
        assert!(check_stream("stdout", Some(&texts(&[""])), "").is_ok());
        let e = check_stream("stdout", Some(&texts(&["delta", "gamma"])), out).unwrap_err();
        assert_eq!(e, "stdout has no line containing 'gamma' after the line containing 'delta'");
        // Two texts need two lines.
        assert!(check_stream("stdout", Some(&texts(&["alpha", "beta"])), out).is_err());
    }
}
