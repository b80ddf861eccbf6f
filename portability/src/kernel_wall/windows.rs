//! The Windows wall (written, built on Windows only): the process puts itself in a Job
//! Object that caps its committed memory, allows no second process, and kills whatever is
//! in it when its last handle closes (the handle is kept until the process ends). Windows
//! has no file wall to match Landlock here; the sandbox's own file rule stands alone.

use windows_sys::Win32::System::{
    JobObjects::{
        AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation, SetInformationJobObject,
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JOB_OBJECT_LIMIT_ACTIVE_PROCESS, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
        JOB_OBJECT_LIMIT_PROCESS_MEMORY,
    },
    Threading::GetCurrentProcess,
};

use super::{Mode, Outcome, Plan, WallState};

pub fn lock_down(plan: &Plan, mode: Mode) -> Outcome {
    let file_wall = WallState::Unavailable("no file wall on Windows".into());
    let what = format!("Job Object: {} bytes of memory, one process, killed on close", plan.memory_cap);
    let call_wall = match (plan.call_wall, mode) {
        (false, _) => WallState::Off,
        (true, Mode::Report) => WallState::Reported(what),
        (true, Mode::Enforce) => match join_job(plan.memory_cap) {
            Ok(()) => WallState::Enforced(what),
            Err(e) => WallState::Unavailable(format!("the Job Object was refused: {e}")),
        },
    };
    Outcome { file_wall, call_wall }
}

fn join_job(memory_cap: u64) -> std::io::Result<()> {
    // SAFETY: an unnamed job with default security; the handle is deliberately never
    // closed, so the job lives as long as this process.
    let job = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
    if job.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a zeroed limit structure is valid; the fields set below are plain numbers.
    let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    limits.BasicLimitInformation.LimitFlags =
        JOB_OBJECT_LIMIT_PROCESS_MEMORY | JOB_OBJECT_LIMIT_ACTIVE_PROCESS | JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    limits.BasicLimitInformation.ActiveProcessLimit = 1;
    limits.ProcessMemoryLimit = usize::try_from(memory_cap).unwrap_or(usize::MAX);
    // SAFETY: `limits` is the structure the information class names, of the size passed.
    let set = unsafe {
        SetInformationJobObject(
            job,
            JobObjectExtendedLimitInformation,
            &limits as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION as *const core::ffi::c_void,
            size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        )
    };
    // SAFETY: both handles are valid; the pseudo-handle of this process needs no closing.
    if set == 0 || unsafe { AssignProcessToJobObject(job, GetCurrentProcess()) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
