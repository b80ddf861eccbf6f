//! Test-only (debug builds): the forbidden operations, attempted natively, so a test can
//! see each wall refuse them after lock-down. Release builds have none of this.

use std::{ffi::CString, io};

/// One forbidden operation.
#[derive(Clone, Copy, Debug)]
pub enum Probe {
    /// Run `/bin/echo` (which, if it runs, prints that it was allowed).
    Exec,
    /// Attach to the supervisor (PTRACE_SEIZE, which does not stop it).
    Ptrace,
    /// Create a file beside the vessel directory.
    OpenOutside,
    /// Open a raw IPv4 socket.
    RawSocket,
    /// Open a Unix socket (a way to the host's daemons).
    UnixSocket,
    /// Mount a tmpfs over the vessel directory (unmounted again if it worked).
    Mount,
    /// Enter a new UTS namespace.
    Unshare,
    /// Start a second process.
    Fork,
}

/// The name exec's `echo` prints when it runs: the probe's report of being allowed.
pub const EXEC_ALLOWED: &str = "kernel wall probe exec: allowed";

impl Probe {
    pub fn parse(name: &str) -> Option<Probe> {
        Some(match name {
            "exec" => Probe::Exec,
            "ptrace" => Probe::Ptrace,
            "open-outside" => Probe::OpenOutside,
            "raw-socket" => Probe::RawSocket,
            "unix-socket" => Probe::UnixSocket,
            "mount" => Probe::Mount,
            "unshare" => Probe::Unshare,
            "fork" => Probe::Fork,
            _ => return None,
        })
    }

    /// Attempts the operation from the vessel directory: Ok when the kernel allowed it.
    pub fn attempt(self) -> io::Result<()> {
        // SAFETY (every call below): plain system calls with valid arguments; descriptors
        // they return are closed, a forked child only calls _exit.
        unsafe {
            match self {
                Probe::Exec => {
                    let program = CString::new("/bin/echo").unwrap();
                    let text = CString::new(EXEC_ALLOWED).unwrap();
                    let argv = [program.as_ptr(), text.as_ptr(), std::ptr::null()];
                    libc::execv(program.as_ptr(), argv.as_ptr());
                    Err(io::Error::last_os_error())
                }
                Probe::Ptrace => check(libc::ptrace(libc::PTRACE_SEIZE, libc::getppid(), 0usize, 0usize) as libc::c_int),
                Probe::OpenOutside => {
                    std::fs::OpenOptions::new().write(true).create(true).truncate(true).open("../kernel-wall-probe").map(drop)
                }
                Probe::RawSocket => close(libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP)),
                Probe::UnixSocket => close(libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0)),
                Probe::Mount => {
                    let target = CString::new(std::env::current_dir()?.into_os_string().into_encoded_bytes()).unwrap();
                    let fs = CString::new("tmpfs").unwrap();
                    check(libc::mount(fs.as_ptr(), target.as_ptr(), fs.as_ptr(), 0, std::ptr::null()))?;
                    check(libc::umount2(target.as_ptr(), libc::MNT_DETACH))
                }
                Probe::Unshare => check(libc::unshare(libc::CLONE_NEWUTS)),
                Probe::Fork => match libc::fork() {
                    0 => libc::_exit(0),
                    -1 => Err(io::Error::last_os_error()),
                    child => {
                        libc::waitpid(child, std::ptr::null_mut(), 0);
                        Ok(())
                    }
                },
            }
        }
    }
}

fn check(result: libc::c_int) -> io::Result<()> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn close(fd: libc::c_int) -> io::Result<()> {
    check(fd)?;
    // SAFETY: a descriptor just opened, closed once.
    unsafe { libc::close(fd) };
    Ok(())
}

/// The name of the error a refusal gave (`EPERM` from seccomp, `EACCES` from Landlock).
pub fn errno_name(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EPERM) => "EPERM".into(),
        Some(libc::EACCES) => "EACCES".into(),
        Some(libc::ENOSYS) => "ENOSYS".into(),
        Some(libc::EINVAL) => "EINVAL".into(),
        _ => e.to_string(),
    }
}
