//! The Windows wall: the Job Object holding this process (the one
//! [`crate::memory::limit_address_space`] made, or a new one) caps its committed memory,
//! allows no second process, and kills whatever is in it when its last handle closes (the
//! handle is kept until the process ends). Windows has no file wall to match Landlock here;
//! the sandbox's own file rule stands alone.

use super::{Mode, Outcome, Plan, WallState};

pub fn lock_down(plan: &Plan, mode: Mode) -> Outcome {
    let file_wall = WallState::Unavailable("no file wall on Windows".into());
    let what = format!("Job Object: {} bytes of memory, one process, killed on close", plan.memory_cap);
    let call_wall = match (plan.call_wall, mode) {
        (false, _) => WallState::Off,
        (true, Mode::Report) => WallState::Reported(what),
        (true, Mode::Enforce) => match crate::job::own_job().and_then(|job| job.limit(true, Some(1), Some(plan.memory_cap))) {
            Ok(()) => WallState::Enforced(what),
            Err(e) => WallState::Unavailable(format!("the Job Object was refused: {e}")),
        },
    };
    Outcome { file_wall, call_wall }
}
