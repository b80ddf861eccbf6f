//! The Linux wall: no new privileges, then Landlock (files), then the seccomp filter
//! (calls). Landlock comes first: its own system calls must still be allowed when it runs.

use std::path::Path;

use super::{landlock, seccomp, Mode, Outcome, Plan, WallState};

/// Files the C library's resolver reads on every `gethostbyname_ex` (the only paths
/// outside the vessel the running worker needs; found by running the suite with the wall
/// on). Those missing on this host are left out.
const RESOLVER_FILES: [&str; 5] = ["/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf"];

/// The process's own size, read after lock-down by the bound on a parse's growth.
const OWN_SIZE_FILE: &str = "/proc/self/statm";

pub fn lock_down(plan: &Plan, mode: Mode) -> Outcome {
    // Both walls need it (Landlock and seccomp refuse an unprivileged caller without it),
    // and it keeps a set-uid program from ever gaining rights here.
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        let why = format!("no_new_privs refused: {}", std::io::Error::last_os_error());
        return Outcome { file_wall: WallState::Unavailable(why.clone()), call_wall: WallState::Unavailable(why) };
    }
    // The parse of VirtualNamespace code reads the process's own size to bound its growth
    // (memory/growth.rs); the rule opens /proc/self now, so it names this process's file.
    let read_only: Vec<&Path> = RESOLVER_FILES.iter().chain(&[OWN_SIZE_FILE]).map(Path::new).filter(|p| p.exists()).collect();
    let file_wall = if !plan.file_wall {
        WallState::Off
    } else {
        match (mode, landlock::abi()) {
            (_, None) => WallState::Unavailable("the kernel has no Landlock".into()),
            (Mode::Report, Some(abi)) => WallState::Reported(landlock::describe(abi, plan.vessel_dir, &read_only)),
            (Mode::Enforce, Some(abi)) => match landlock::restrict(abi, plan.vessel_dir, &read_only) {
                Ok(()) => WallState::Enforced(format!("Landlock ABI {abi}")),
                Err(e) => WallState::Unavailable(format!("Landlock refused the rules: {e}")),
            },
        }
    };
    let call_wall = if !plan.call_wall {
        WallState::Off
    } else {
        match seccomp::install(mode) {
            Ok(what) if mode == Mode::Enforce => WallState::Enforced(what),
            Ok(what) => WallState::Reported(what),
            Err(e) => WallState::Unavailable(format!("seccomp refused the filter: {e}")),
        }
    };
    Outcome { file_wall, call_wall }
}
