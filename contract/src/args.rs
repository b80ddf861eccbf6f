//! The arguments of a vessel's program (nodemanager.md StartVessel): the program's name and
//! then its `callargs`, each printable ASCII without spaces, within these limits.

/// Most arguments, the program's name included.
pub const MAX_ARGS: usize = 64;
/// Longest single argument, in characters.
pub const MAX_ARG_CHARS: usize = 1024;
/// Most characters over all arguments.
pub const MAX_ARGS_TOTAL: usize = 16 * 1024;

/// Why `args` (program first) cannot start a vessel, if they cannot.
pub fn problem(args: &[String]) -> Option<String> {
    if args.is_empty() || args.len() > MAX_ARGS {
        return Some(format!("'args' must have 1 to {MAX_ARGS} elements, not {}", args.len()));
    }
    let mut total = 0;
    for (i, a) in args.iter().enumerate() {
        if a.is_empty() || a.len() > MAX_ARG_CHARS || !a.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            let shown: String = a.chars().take(40).collect();
            return Some(format!("argument {i} '{shown}' must be 1-{MAX_ARG_CHARS} printable ASCII characters without spaces"));
        }
        total += a.len();
    }
    (total > MAX_ARGS_TOTAL).then(|| format!("the arguments total {total} characters, over {MAX_ARGS_TOTAL}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(n: usize, each: &str) -> Vec<String> {
        vec![each.to_owned(); n]
    }

    #[test]
    fn limits() {
        assert_eq!(problem(&strings(64, "a")), None);
        assert_eq!(problem(&[]).unwrap(), "'args' must have 1 to 64 elements, not 0");
        assert_eq!(problem(&strings(65, "a")).unwrap(), "'args' must have 1 to 64 elements, not 65");
        assert!(problem(&["p.py".into(), "a b".into()]).unwrap().starts_with("argument 1 'a b'"));
        assert!(problem(&strings(2, &"x".repeat(1025))).unwrap().starts_with("argument 0"));
        assert_eq!(problem(&strings(17, &"x".repeat(1000))).unwrap(), "the arguments total 17000 characters, over 16384");
    }
}
