//! Loading a program: read, decoded and checked against the static safety rules before
//! anything of it runs (cli.md: status 2 when it cannot be read, 3 when it is unsafe).

use std::path::Path;

use repy_contract::status::ExitStatus;
use repy_interpreter::check::{check_program, format_violations};

/// Reads and checks one program; Ok(source) if it is safe, else the status to exit with
/// (messages already printed).
pub fn checked_source(path: &Path) -> Result<String, u8> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        eprintln!("repy: cannot read program '{name}': {e}");
        u8::from(ExitStatus::Usage)
    })?;
    checked_bytes(&name, &bytes)
}

/// Checks the bytes of the program called `name`.
pub fn checked_bytes(name: &str, bytes: &[u8]) -> Result<String, u8> {
    check_program(bytes).map_err(|violations| {
        format_violations(name, &violations).iter().for_each(|l| eprintln!("{l}"));
        ExitStatus::CodeSafety.into()
    })
}
