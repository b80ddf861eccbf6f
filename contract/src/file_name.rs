//! Repy file names (repy-api.md §6; nodemanager.md §5): 1 to 120 characters of `a-z 0-9 . _ -`,
//! not starting with `.`. The same rule holds for a program's `open()` and for a node
//! manager's AddFileToVessel; names with [`PRIVATE_PREFIX`] are further kept from vessel users.

/// The longest file name.
pub const MAX_CHARS: usize = 120;

/// Names the node operator keeps for itself: vessel users cannot add, list or read them.
pub const PRIVATE_PREFIX: &str = "private_";

/// Why `name` is not a Repy file name, if it is not.
pub fn problem(name: &str) -> Option<String> {
    let shown: String = name.chars().take(MAX_CHARS + 10).collect();
    if name.is_empty() || name.chars().count() > MAX_CHARS {
        return Some(format!("file name '{shown}' must be 1 to {MAX_CHARS} characters"));
    }
    if name.starts_with('.') {
        return Some(format!("file name '{shown}' starts with '.'"));
    }
    name.chars().find(|&c| !allowed(c)).map(|c| format!("file name '{shown}' contains {c:?} (allowed: a-z 0-9 . _ -)"))
}

/// Whether `name` is a Repy file name.
pub fn is_valid(name: &str) -> bool {
    problem(name).is_none()
}

/// Why a vessel's user may not name a file `name` (through the node manager), if they may
/// not: the Repy rule, and the operator's [`PRIVATE_PREFIX`].
pub fn user_problem(name: &str) -> Option<String> {
    problem(name)
        .or_else(|| is_private(name).then(|| format!("file name '{name}' is reserved for the node operator ({PRIVATE_PREFIX} prefix)")))
}

/// Whether `name` is kept for the node operator.
pub fn is_private(name: &str) -> bool {
    name.starts_with(PRIVATE_PREFIX)
}

fn allowed(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_and_its_messages() {
        assert!(is_valid("data-1.txt") && is_valid("a") && is_valid(&"x".repeat(120)));
        assert_eq!(problem("").unwrap(), "file name '' must be 1 to 120 characters");
        assert!(problem(&"x".repeat(121)).unwrap().contains("1 to 120"));
        assert_eq!(problem(".hidden").unwrap(), "file name '.hidden' starts with '.'");
        assert_eq!(problem("a/b").unwrap(), "file name 'a/b' contains '/' (allowed: a-z 0-9 . _ -)");
        assert_eq!(problem("Upper").unwrap(), "file name 'Upper' contains 'U' (allowed: a-z 0-9 . _ -)");
        for bad in ["..", "sp ace", "é", "a\\b"] {
            assert!(problem(bad).is_some(), "{bad}");
        }
        assert!(is_private("private_key") && !is_private("key"));
        assert_eq!(user_problem("private_key").unwrap(), "file name 'private_key' is reserved for the node operator (private_ prefix)");
        assert_eq!(user_problem("Bad"), problem("Bad"));
        assert_eq!(user_problem("key"), None);
    }
}
