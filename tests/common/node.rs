//! A node's state directory for end-to-end tests: `repy node init` with fixed resources (so
//! that figures do not depend on the machine), and settings of `node.toml` changed after it.

use std::path::Path;

use super::repy;

/// `repy node init --dir STATE --owner OWNER --listen ADDR --vessels N` with 0.8 CPU, 2 GB of
/// memory and 400 MB of disk, then `more` arguments; returns what it printed, or panics with
/// its error.
pub fn init(state: &Path, owner: &Path, addr: &str, vessels: u32, more: &[&str]) -> String {
    let vessels = vessels.to_string();
    let mut args = vec![
        "node",
        "init",
        "--dir",
        state.to_str().unwrap(),
        "--owner",
        owner.to_str().unwrap(),
        "--listen",
        addr,
        "--vessels",
        &vessels,
        "--cpu",
        "0.8",
        "--memory",
        "2000000000",
        "--disk",
        "400000000",
    ];
    args.extend_from_slice(more);
    let out = repy().args(&args).output().expect("repy runs");
    assert!(out.status.success(), "node init failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Replaces settings of `STATE/node.toml`: each `key = value` line of `settings` takes the
/// place of the line init wrote for that key.
pub fn set(state: &Path, settings: &str) {
    let path = state.join("node.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    for setting in settings.lines().filter(|l| !l.trim().is_empty()) {
        let key = setting.split('=').next().unwrap().trim();
        let old = text.lines().find(|l| l.starts_with(&format!("{key} ="))).unwrap_or_else(|| panic!("{key} not in node.toml")).to_string();
        text = text.replace(&old, setting);
    }
    std::fs::write(&path, text).unwrap();
}
