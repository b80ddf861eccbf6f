//! Helpers shared by the crate's Linux tests.

use std::process::{Child, Command, Stdio};

/// Runs the test `name` of this test binary again in a child process with `var` set, for a
/// test whose effect is process-wide (a resource limit); asserts that it passed and printed
/// `marker`.
pub fn run_child_test(name: &str, var: &str, marker: &str) {
    let output = crate::child::repy_command(&std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(var, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains(marker),
        "child failed: {:?}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A child process spinning on the CPU until killed.
pub fn busy_child() -> Child {
    Command::new("sh").args(["-c", "while :; do :; done"]).stdin(Stdio::null()).spawn().expect("spawn busy loop")
}

/// The state letter (field 3) of /proc/PID/stat: `R`, `S`, `T`...
pub fn proc_state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat[stat.rfind(')').unwrap() + 1..].trim_start().chars().next().unwrap()
}
