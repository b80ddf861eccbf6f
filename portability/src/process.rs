//! Ending the current process.

/// Ends the process at once with `code`: no destructors, no atexit handlers, no unwinding of
/// other threads (which may be in the middle of running program code). Callers flush their
/// own output first.
pub fn exit_now(code: i32) -> ! {
    #[cfg(unix)]
    {
        // SAFETY: _exit is async-signal-safe and never returns.
        unsafe { libc::_exit(code) }
    }
    #[cfg(not(unix))]
    {
        std::process::exit(code)
    }
}

/// Writes `bytes` to standard error with one system call and no allocation (safe to call
/// from an allocator hook).
pub fn write_stderr_raw(bytes: &[u8]) {
    #[cfg(unix)]
    {
        // SAFETY: writing a valid buffer to fd 2; a short or failed write is acceptable here.
        unsafe {
            libc::write(2, bytes.as_ptr().cast(), bytes.len());
        }
    }
    #[cfg(not(unix))]
    {
        use std::io::Write;
        let _ = std::io::stderr().write_all(bytes);
    }
}
