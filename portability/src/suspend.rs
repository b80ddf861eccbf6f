//! Suspending and resuming a whole process (restrictions.md §4.2): the supervisor stops the
//! worker for the time it has overdrawn its CPU share, then lets it continue.

use std::io;

/// Stops every thread of process `pid` until [`resume`].
///
/// Unix: SIGSTOP (cannot be caught or ignored by the worker). Windows: `SuspendThread` on
/// each thread found by a Toolhelp snapshot (`NtSuspendProcess` would do it in one call but
/// is undocumented); threads the worker starts after the snapshot are not stopped, which
/// only shortens a pause.
pub fn suspend(pid: u32) -> io::Result<()> {
    imp::suspend(pid)
}

/// Lets process `pid` run again after [`suspend`]. Unix: SIGCONT. Windows: `ResumeThread` on
/// each thread.
pub fn resume(pid: u32) -> io::Result<()> {
    imp::resume(pid)
}

#[cfg(unix)]
mod imp {
    use std::io;

    pub fn suspend(pid: u32) -> io::Result<()> {
        send(pid, libc::SIGSTOP)
    }

    pub fn resume(pid: u32) -> io::Result<()> {
        send(pid, libc::SIGCONT)
    }

    fn send(pid: u32, signal: libc::c_int) -> io::Result<()> {
        let pid = crate::pid::unix_pid(pid)?;
        // SAFETY: kill has no memory preconditions; `pid` is a positive single process.
        if unsafe { libc::kill(pid, signal) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(windows)]
mod imp {
    use std::io;

    use windows_sys::Win32::{
        Foundation::HANDLE,
        System::Threading::{ResumeThread, SuspendThread, THREAD_SUSPEND_RESUME},
    };

    pub fn suspend(pid: u32) -> io::Result<()> {
        // SAFETY: valid thread handle with THREAD_SUSPEND_RESUME rights.
        for_each_thread(pid, |thread| unsafe { SuspendThread(thread) })
    }

    pub fn resume(pid: u32) -> io::Result<()> {
        // SAFETY: as above.
        for_each_thread(pid, |thread| unsafe { ResumeThread(thread) })
    }

    fn for_each_thread(pid: u32, action: impl FnMut(HANDLE) -> u32) -> io::Result<()> {
        crate::pid::for_each_thread(pid, THREAD_SUSPEND_RESUME, action)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::cpu::process_cpu_time;
    use std::{thread::sleep, time::Duration};

    use crate::test_support::proc_state as state;

    #[test]
    fn suspend_stops_cpu_use_and_resume_restarts_it() {
        let mut child = crate::test_support::busy_child();
        let pid = child.id();
        let result = std::panic::catch_unwind(|| {
            sleep(Duration::from_millis(50));
            suspend(pid).unwrap();
            sleep(Duration::from_millis(50)); // let the stop take effect
            assert_eq!(state(pid), 'T', "not stopped after suspend");
            let stopped_at = process_cpu_time(pid).unwrap();
            sleep(Duration::from_millis(250));
            let still = process_cpu_time(pid).unwrap();
            assert_eq!(stopped_at, still, "CPU time grew while suspended");

            resume(pid).unwrap();
            sleep(Duration::from_millis(250));
            assert_ne!(state(pid), 'T', "still stopped after resume");
            let resumed = process_cpu_time(pid).unwrap();
            assert!(resumed >= still + Duration::from_millis(50), "CPU time after resume: {still:?} -> {resumed:?}");
        });
        let _ = child.kill();
        let _ = child.wait();
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }

    #[test]
    fn refuses_pids_that_would_signal_groups() {
        // 0 would stop our own process group and u32::MAX (-1 as pid_t) everything we own.
        assert_eq!(suspend(0).unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(suspend(u32::MAX).unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(resume(0).unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    }
}
