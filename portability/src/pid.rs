//! Turning the `u32` process ids of the public API into what each system call expects.
//!
//! On Unix a careless cast is dangerous: `kill(0, …)` signals our own process group and
//! `kill(-1, …)` every process we may signal, so ids that are 0 or do not fit a positive
//! `pid_t` are refused here rather than passed on.

use std::io;

/// The id as a positive `pid_t`, or `InvalidInput`.
#[cfg(unix)]
pub(crate) fn unix_pid(pid: u32) -> io::Result<libc::pid_t> {
    match libc::pid_t::try_from(pid) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(io::Error::new(io::ErrorKind::InvalidInput, format!("process id {pid} is not a valid target"))),
    }
}

/// Opens process `pid` with `access` rights; the handle is closed when dropped.
#[cfg(windows)]
pub(crate) fn open_process(pid: u32, access: u32) -> io::Result<std::os::windows::io::OwnedHandle> {
    use std::os::windows::io::{FromRawHandle, OwnedHandle};
    use windows_sys::Win32::System::Threading::OpenProcess;
    if pid == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "process id 0 is not a valid target"));
    }
    // SAFETY: plain Win32 call; a null result means failure and is checked.
    let handle = unsafe { OpenProcess(access, 0, pid) };
    if handle.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `handle` is a freshly opened handle that nothing else owns.
    Ok(unsafe { OwnedHandle::from_raw_handle(handle) })
}

/// Converts a Win32 FILETIME-style (high, low) pair of 100 ns units to a Duration.
#[cfg(windows)]
pub(crate) fn filetime_to_duration(ft: &windows_sys::Win32::Foundation::FILETIME) -> std::time::Duration {
    let ticks = (u64::from(ft.dwHighDateTime) << 32) | u64::from(ft.dwLowDateTime);
    std::time::Duration::from_nanos(ticks.saturating_mul(100))
}
