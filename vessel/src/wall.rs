//! Raising the worker's kernel wall (issue 15) once its set-up is done: in the vessel
//! directory, address space capped, log and termination report open, and still a single
//! thread, so every thread the program's run starts is inside the wall.

use std::path::Path;

use repy_portability::kernel_wall::{lock_down, Mode, Plan};

/// Locks this worker down. In report mode it says on stderr, once, what each wall would
/// refuse; in enforce mode a wall the kernel lacks leaves the other and the sandbox.
pub fn raise(mode: Mode, vessel_dir: &Path, memory_cap: u64) {
    #[cfg(all(target_os = "linux", debug_assertions))]
    let (file_wall, call_wall) = probe_hook::walls();
    #[cfg(not(all(target_os = "linux", debug_assertions)))]
    let (file_wall, call_wall) = (true, true);
    let outcome = lock_down(&Plan { vessel_dir, memory_cap, file_wall, call_wall }, mode);
    if mode == Mode::Report {
        eprintln!("repy: kernel wall (report mode): files: {}; calls: {}", outcome.file_wall, outcome.call_wall);
    }
    #[cfg(all(target_os = "linux", debug_assertions))]
    probe_hook::run(&outcome);
}

/// The test-only hook of debug builds: `REPY_KERNEL_WALL_PROBE=NAME` makes the worker try
/// a forbidden operation natively right after lock-down, on a new thread, print whether
/// the kernel allowed it and exit; `REPY_KERNEL_WALL_PROBE_ONLY=landlock|seccomp` raises
/// that wall alone, to show each holds on its own.
#[cfg(all(target_os = "linux", debug_assertions))]
mod probe_hook {
    use std::io::Write;

    use repy_portability::kernel_wall::{
        probe::{errno_name, Probe},
        Outcome,
    };

    pub const PROBE_VAR: &str = "REPY_KERNEL_WALL_PROBE";
    pub const ONLY_VAR: &str = "REPY_KERNEL_WALL_PROBE_ONLY";

    /// Which walls to raise: (files, calls).
    pub fn walls() -> (bool, bool) {
        match std::env::var(ONLY_VAR).as_deref() {
            Ok("landlock") => (true, false),
            Ok("seccomp") => (false, true),
            _ => (true, true),
        }
    }

    pub fn run(outcome: &Outcome) {
        let Ok(name) = std::env::var(PROBE_VAR) else { return };
        println!("kernel wall: files: {}; calls: {}", outcome.file_wall, outcome.call_wall);
        let verdict = match Probe::parse(&name) {
            None => format!("unknown probe '{name}'"),
            // A thread started after lock-down: the walls must hold there too.
            Some(probe) => match std::thread::spawn(move || probe.attempt()).join() {
                Ok(Ok(())) => "allowed".to_owned(),
                Ok(Err(e)) => format!("refused: {}", errno_name(&e)),
                Err(_) => "the probe thread panicked".to_owned(),
            },
        };
        println!("kernel wall probe {name}: {verdict}");
        let _ = std::io::stdout().flush();
        repy_portability::process::exit_now(0)
    }
}
