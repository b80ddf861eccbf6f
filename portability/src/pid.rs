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

#[cfg(windows)]
use windows_sys::Win32::{
    Foundation::{HANDLE, INVALID_HANDLE_VALUE},
    System::{
        Diagnostics::ToolHelp::{CreateToolhelp32Snapshot, Thread32First, Thread32Next, TH32CS_SNAPTHREAD, THREADENTRY32},
        Threading::OpenThread,
    },
};

/// Applies `action` (which returns u32::MAX on failure) to every thread of `pid`, opened
/// with `access`. Threads that end meanwhile are skipped; finding no thread at all is an
/// error.
#[cfg(windows)]
pub(crate) fn for_each_thread(pid: u32, access: u32, mut action: impl FnMut(HANDLE) -> u32) -> io::Result<()> {
    if pid == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "process id 0 is not a valid target"));
    }
    // SAFETY: plain Win32 call; the result is checked. A thread snapshot always covers
    // the whole system, so the owner is filtered below.
    let raw = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0) };
    if raw == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
    // SAFETY: fresh handle owned by nobody else.
    let snapshot = unsafe { OwnedHandle::from_raw_handle(raw) };
    // SAFETY: THREADENTRY32 is plain old data.
    let mut entry: THREADENTRY32 = unsafe { std::mem::zeroed() };
    entry.dwSize = std::mem::size_of::<THREADENTRY32>() as u32;
    let mut found = 0usize;
    // SAFETY: `entry` is a properly sized THREADENTRY32.
    let mut more = unsafe { Thread32First(snapshot.as_raw_handle() as HANDLE, &mut entry) } != 0;
    while more {
        if entry.th32OwnerProcessID == pid {
            // SAFETY: plain Win32 call; null means the thread is gone or inaccessible.
            let thread = unsafe { OpenThread(access, 0, entry.th32ThreadID) };
            if !thread.is_null() {
                // SAFETY: fresh handle owned by nobody else.
                let thread = unsafe { OwnedHandle::from_raw_handle(thread) };
                if action(thread.as_raw_handle() as HANDLE) != u32::MAX {
                    found += 1;
                }
            }
        }
        // SAFETY: as for Thread32First.
        more = unsafe { Thread32Next(snapshot.as_raw_handle() as HANDLE, &mut entry) } != 0;
    }
    if found == 0 {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("no thread of process {pid} could be reached")));
    }
    Ok(())
}
