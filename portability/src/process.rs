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
