//! Loading a restrictions file, with errors that name the file and line.

use std::path::Path;

use repy_policy::Restrictions;

/// Reads and parses a restrictions file; on failure, one message per error in the format of
/// restrictions.md §1.3.
pub fn load(path: &Path) -> Result<Restrictions, Vec<String>> {
    let shown = path.display();
    let text = std::fs::read(path).map_err(|e| vec![format!("repy: restrictions file '{shown}': cannot read: {e}")])?;
    let text = String::from_utf8(text).map_err(|e| {
        let before = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        vec![format!("repy: restrictions file '{shown}', line {line}: not valid UTF-8 text")]
    })?;
    repy_policy::parse(&text).map_err(|errors| errors.iter().map(|e| format!("repy: restrictions file '{shown}', {e}")).collect())
}
