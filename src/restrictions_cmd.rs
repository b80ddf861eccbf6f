//! `repy restrictions show NAME` and `repy restrictions check FILE`.

use std::path::PathBuf;

use clap::Subcommand;
use repy_contract::status::ExitStatus;
use repy_policy::{builtin_profile, builtin_profile_names};
use repy_vessel::restrictions_file::load;

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
