//! Registering a program with the system's service manager so that it starts at boot and is
//! restarted when it fails (`repy node install`): the calls to `systemctl`, `launchctl` and
//! `schtasks`, and the facts that decide which of them applies. The text of the unit, plist
//! or task definition is made elsewhere (the node manager's `service` module), so that it is
//! tested on every system.

use std::{
    io,
    path::Path,
    process::{Command, Stdio},
};

/// Whether the caller may register a service for the whole machine: effective user id 0 on
/// Unix, an elevated (administrator) token on Windows.
pub fn is_privileged() -> bool {
    imp::is_privileged()
}

/// The user id that owns `path` (Unix); None elsewhere or when it cannot be read.
pub fn owner_uid(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| m.uid())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Whether systemd manages this machine: the test of `sd_booted(3)`, the directory
/// `/run/systemd/system` exists. Not so in most containers, where `systemctl` cannot start
/// anything and only the unit file can be written.
pub fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// Runs `systemctl [--user] ARGS...` and waits for it.
pub fn systemctl(user: bool, args: &[&str]) -> Result<(), String> {
    let mut all = Vec::new();
    if user {
        all.push("--user");
    }
    all.extend_from_slice(args);
    run_tool("systemctl", &all)
}

/// Runs `launchctl ARGS...` (macOS) and waits for it.
pub fn launchctl(args: &[&str]) -> Result<(), String> {
    run_tool("launchctl", args)
}

/// Runs `schtasks ARGS...` (Windows) and waits for it.
pub fn schtasks(args: &[&str]) -> Result<(), String> {
    run_tool("schtasks", args)
}

/// Writes `text` as UTF-16LE with a byte-order mark, the encoding `schtasks /Create /XML`
/// reads a task definition in (it refuses UTF-8 files that declare UTF-16).
pub fn write_utf16(path: &Path, text: &str) -> io::Result<()> {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    std::fs::write(path, bytes)
}

/// Runs `program ARGS...` with no input and its output captured; a failure names the whole
/// command line and carries what the tool printed.
fn run_tool(program: &str, args: &[&str]) -> Result<(), String> {
    let shown = std::iter::once(program).chain(args.iter().copied()).collect::<Vec<_>>().join(" ");
    let output = Command::new(program).args(args).stdin(Stdio::null()).output().map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
    let said = if said.is_empty() { String::from_utf8_lossy(&output.stdout).trim().to_string() } else { said };
    Err(format!("`{shown}` failed ({}): {said}", output.status))
}

#[cfg(unix)]
mod imp {
    pub fn is_privileged() -> bool {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }
}

#[cfg(windows)]
mod imp {
    use windows_sys::Win32::{
        Foundation::{CloseHandle, HANDLE},
        Security::{GetTokenInformation, TokenElevation, TOKEN_ELEVATION, TOKEN_QUERY},
        System::Threading::{GetCurrentProcess, OpenProcessToken},
    };

    pub fn is_privileged() -> bool {
        let mut token: HANDLE = std::ptr::null_mut();
        // SAFETY: the pseudo-handle of the current process and an output handle.
        if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
            return false;
        }
        let mut elevation = TOKEN_ELEVATION { TokenIsElevated: 0 };
        let mut size = 0u32;
        // SAFETY: a token opened for query and a buffer of the size passed.
        let ok = unsafe {
            GetTokenInformation(
                token,
                TokenElevation,
                (&mut elevation as *mut TOKEN_ELEVATION).cast(),
                size_of::<TOKEN_ELEVATION>() as u32,
                &mut size,
            )
        };
        // SAFETY: the handle was opened above and is closed once.
        unsafe { CloseHandle(token) };
        ok != 0 && elevation.TokenIsElevated != 0
    }
}

#[cfg(not(any(unix, windows)))]
mod imp {
    pub fn is_privileged() -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_tool_is_named_with_what_it_said() {
        let e = run_tool("repy-no-such-tool", &["x"]).unwrap_err();
        assert!(e.contains("cannot run `repy-no-such-tool x`"), "{e}");
        #[cfg(unix)]
        {
            let e = run_tool("sh", &["-c", "echo nope >&2; exit 3"]).unwrap_err();
            assert!(e.contains("`sh -c") && e.contains("nope") && e.contains('3'), "{e}");
            assert!(run_tool("true", &[]).is_ok());
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_owner_of_a_new_file_is_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: geteuid has no preconditions.
        assert_eq!(owner_uid(dir.path()), Some(unsafe { libc::geteuid() }));
        assert_eq!(owner_uid(&dir.path().join("missing")), None);
    }

    #[test]
    fn utf16_files_start_with_a_byte_order_mark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("task.xml");
        write_utf16(&path, "<é>").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), [0xFF, 0xFE, b'<', 0, 0xE9, 0, b'>', 0]);
    }
}
