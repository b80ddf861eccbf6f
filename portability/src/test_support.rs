//! Helpers shared by the crate's Linux tests.

use std::process::{Child, Command, Stdio};

/// A child process spinning on the CPU until killed.
pub fn busy_child() -> Child {
    Command::new("sh").args(["-c", "while :; do :; done"]).stdin(Stdio::null()).spawn().expect("spawn busy loop")
}

/// The state letter (field 3) of /proc/PID/stat: `R`, `S`, `T`...
pub fn proc_state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat[stat.rfind(')').unwrap() + 1..].trim_start().chars().next().unwrap()
}
