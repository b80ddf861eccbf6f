//! `repy restrictions show NAME` and `repy restrictions check FILE`.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use repy_contract::status::ExitStatus;
use repy_policy::{builtin_profile, builtin_profile_names, Restrictions};

#[derive(Subcommand)]
pub enum Action {
    /// Print a built-in profile (e.g. `default`).
    Show { name: String },
    /// Check a restrictions file and report every error with its line.
    Check { file: PathBuf },
}

pub fn run(action: Action) -> u8 {
    match action {
        Action::Show { name } => match builtin_profile(&name) {
            Some(text) => {
                print!("{text}");
                ExitStatus::Ok.into()
            }
            None => {
                eprintln!("repy: no built-in restrictions profile '{name}' (available: {})", builtin_profile_names().join(", "));
                ExitStatus::Usage.into()
            }
        },
        Action::Check { file } => match load(&file) {
            Ok(_) => ExitStatus::Ok.into(),
            Err(lines) => {
                lines.iter().for_each(|l| eprintln!("{l}"));
                ExitStatus::Usage.into()
            }
        },
    }
}

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
