//! Loading a program: read, decoded and checked against the static safety rules before
//! anything of it runs, with every library it imports (cli.md: status 2 when it cannot be
//! read, 3 when it or a library is unsafe or missing).

use std::path::{Path, PathBuf};

use repy_contract::status::ExitStatus;
use repy_interpreter::check::{check_program, format_violations};
use repy_libraries::{Library, SearchPath};

/// A program that passed the check, and its libraries.
pub struct Loaded {
    pub source: String,
    pub libraries: Vec<Library>,
}

/// Reads and checks one program and its libraries (searched beside it, then in `lib_dirs`,
/// then among the built-in ones); else the status to exit with (messages already printed).
pub fn load(path: &Path, lib_dirs: &[PathBuf]) -> Result<Loaded, u8> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        eprintln!("repy: cannot read program '{name}': {e}");
        u8::from(ExitStatus::Usage)
    })?;
    load_bytes(path, &bytes, lib_dirs)
}

/// Checks the bytes of the program at `path` (shown as given), and its libraries.
pub fn load_bytes(path: &Path, bytes: &[u8], lib_dirs: &[PathBuf]) -> Result<Loaded, u8> {
    let name = path.display().to_string();
    let refuse = |lines: Vec<String>| {
        lines.iter().for_each(|l| eprintln!("{l}"));
        u8::from(ExitStatus::CodeSafety)
    };
    let checked = check_program(bytes).map_err(|violations| refuse(format_violations(&name, &violations)))?;
    let libraries = repy_libraries::resolve(&name, &checked, &SearchPath::for_program(path, lib_dirs)).map_err(refuse)?;
    Ok(Loaded { source: checked.text, libraries })
}
