//! Where per-user settings live, as each system's users expect: `$XDG_CONFIG_HOME` or
//! `~/.config` on Linux and other Unix systems (macOS included: a command-line tool's users
//! look there rather than in `~/Library`), `%APPDATA%` on Windows.

use std::path::PathBuf;

/// The directory for the settings of the program `name` (`~/.config/NAME`), or None when the
/// environment names no home.
pub fn config_dir(name: &str) -> Option<PathBuf> {
    base().map(|base| base.join(name))
}

#[cfg(not(windows))]
fn base() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    xdg.or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|home| PathBuf::from(home).join(".config")))
}

#[cfg(windows)]
fn base() -> Option<PathBuf> {
    std::env::var_os("APPDATA").filter(|a| !a.is_empty()).map(PathBuf::from)
}
