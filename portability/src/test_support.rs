//! Helpers shared by the crate's tests.

use std::process::{Child, Stdio};

/// Set in a child made by [`busy_child`]: the test [`spin_when_asked`] then spins.
const SPIN_VAR: &str = "REPY_PORTABILITY_SPIN";

/// Runs the test `name` of this test binary again in a child process with `var` set, for a
/// test whose effect is process-wide (a resource limit); asserts that it passed and printed
/// `marker`.
#[cfg(target_os = "linux")]
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

/// A child process spinning on the CPU until killed: this test binary again, running only
/// [`spin_when_asked`] (no shell needed, so it works on Windows too).
pub fn busy_child() -> Child {
    busy_child_with(|cmd| cmd.spawn())
}

/// [`busy_child`], started by `spawn`.
pub fn busy_child_with(spawn: impl FnOnce(&mut std::process::Command) -> std::io::Result<Child>) -> Child {
    let mut cmd = crate::child::repy_command(&std::env::current_exe().unwrap());
    cmd.args(["test_support::spin_when_asked", "--exact", "--test-threads=1"])
        .env(SPIN_VAR, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    spawn(&mut cmd).expect("spawn busy loop")
}

/// Spins forever in a child made by [`busy_child`]; passes at once otherwise.
#[test]
fn spin_when_asked() {
    if std::env::var_os(SPIN_VAR).is_some() {
        let mut x = 0u64;
        loop {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

/// The state letter (field 3) of /proc/PID/stat: `R`, `S`, `T`...
#[cfg(target_os = "linux")]
pub fn proc_state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat[stat.rfind(')').unwrap() + 1..].trim_start().chars().next().unwrap()
}

/// Whether this Windows program runs under Wine (its ntdll exports `wine_get_version`), for
/// tests of what Wine does differently from Windows, which name the function concerned.
#[cfg(windows)]
pub fn under_wine() -> bool {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleA, GetProcAddress};
    // SAFETY: NUL-terminated names; ntdll is loaded in every process.
    unsafe {
        let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
        !ntdll.is_null() && GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_some()
    }
}
