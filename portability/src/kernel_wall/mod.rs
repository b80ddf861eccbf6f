//! The second wall in the kernel (issue 15): once the worker has finished its set-up, the
//! operating system itself confines it, so a way out of the Python sandbox would still
//! find the process unable to touch files outside its vessel, start programs, trace
//! processes or reach the kernel's riskier interfaces.
//!
//! | system | file wall | call wall |
//! |---|---|---|
//! | Linux | Landlock: read and write beneath the vessel directory, read the resolver's files | seccomp filter (`seccomp.rs`) |
//! | Windows | none | the process's Job Object caps memory, forbids child processes, kills on close (built by `./x cross windows`) |
//! | other | none | none |
//!
//! Both walls are best-effort against the kernel: one the kernel lacks is recorded in the
//! [`Outcome`] and the vessel goes on behind the other and the sandbox itself.

use std::{fmt, path::Path};

#[cfg(target_os = "linux")]
mod landlock;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(all(target_os = "linux", debug_assertions))]
pub mod probe;
#[cfg(target_os = "linux")]
mod seccomp;
#[cfg(windows)]
mod windows;

/// Whether the wall refuses, or only says what it would refuse (for debugging).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Report,
}

impl Mode {
    /// The mode named `enforce` or `report`.
    pub fn parse(name: &str) -> Option<Mode> {
        match name {
            "enforce" => Some(Mode::Enforce),
            "report" => Some(Mode::Report),
            _ => None,
        }
    }
}

/// What the worker keeps once locked down.
pub struct Plan<'a> {
    /// The one directory whose files the program may read, write, create and remove.
    pub vessel_dir: &'a Path,
    /// The most memory the process may commit (the Windows job's cap; Linux has its own
    /// address-space limit).
    pub memory_cap: u64,
    /// Raise the file wall (Landlock). Off only for a test proving the other holds alone.
    pub file_wall: bool,
    /// Raise the call wall (seccomp). Off only for a test proving the other holds alone.
    pub call_wall: bool,
}

/// How one wall stands after [`lock_down`].
#[derive(Debug)]
pub enum WallState {
    /// Refusing, with what it is (for instance `Landlock ABI 6`).
    Enforced(String),
    /// Reporting only: what it would do.
    Reported(String),
    /// The kernel cannot raise it: why.
    Unavailable(String),
    /// Not asked for.
    Off,
}

/// The state of both walls.
#[derive(Debug)]
pub struct Outcome {
    pub file_wall: WallState,
    pub call_wall: WallState,
}

impl fmt::Display for WallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WallState::Enforced(what) => write!(f, "enforced ({what})"),
            WallState::Reported(what) => write!(f, "report only: {what}"),
            WallState::Unavailable(why) => write!(f, "unavailable ({why})"),
            WallState::Off => write!(f, "off"),
        }
    }
}

/// Locks this process down as `plan` says. Call it while the process has a single thread
/// where possible: Landlock confines the calling thread and the threads it starts later.
pub fn lock_down(plan: &Plan, mode: Mode) -> Outcome {
    #[cfg(target_os = "linux")]
    return linux::lock_down(plan, mode);
    #[cfg(windows)]
    return windows::lock_down(plan, mode);
    #[cfg(not(any(target_os = "linux", windows)))]
    {
        let _ = (plan, mode);
        let none = || WallState::Unavailable("not on this system".into());
        Outcome { file_wall: none(), call_wall: none() }
    }
}
