//! Landlock by its raw system calls (the C library has no wrappers): a ruleset that handles
//! every file right the kernel knows, rules that give some back beneath the vessel
//! directory and on a few read-only files, then `landlock_restrict_self`.
//!
//! The log needs no rule: its two files are open before the wall goes up, and an open file
//! keeps the rights it was opened with.

use std::{ffi::CString, io, os::unix::ffi::OsStrExt, path::Path};

// The access rights of <linux/landlock.h>, by the ABI version that introduced them.
/// Never granted (checked by the tests).
#[cfg(test)]
const FS_EXECUTE: u64 = 1 << 0;
const FS_WRITE_FILE: u64 = 1 << 1;
const FS_READ_FILE: u64 = 1 << 2;
const FS_READ_DIR: u64 = 1 << 3;
const FS_REMOVE_FILE: u64 = 1 << 5;
const FS_MAKE_REG: u64 = 1 << 8;
/// Every right of ABI 1 (bits 0 to 12).
const FS_ABI1: u64 = (1 << 13) - 1;
const FS_REFER: u64 = 1 << 13; // ABI 2
const FS_TRUNCATE: u64 = 1 << 14; // ABI 3
const FS_IOCTL_DEV: u64 = 1 << 15; // ABI 5
/// ABI 6: no connecting to abstract Unix sockets or signalling processes outside the
/// domain (the supervisor above all).
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

const CREATE_RULESET_VERSION: libc::c_uint = 1 << 0;
const RULE_PATH_BENEATH: libc::c_int = 1;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// `struct landlock_path_beneath_attr`, packed in the kernel's header too.
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The Landlock ABI version of the running kernel, or None without Landlock.
pub fn abi() -> Option<u32> {
    // SAFETY: the version query takes no attribute pointer.
    let version =
        unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<RulesetAttr>(), 0usize, CREATE_RULESET_VERSION) };
    u32::try_from(version).ok().filter(|v| *v > 0)
}

/// The file rights the ruleset handles (so refuses unless a rule grants them).
fn handled(abi: u32) -> u64 {
    let mut rights = FS_ABI1;
    for (version, right) in [(2, FS_REFER), (3, FS_TRUNCATE), (5, FS_IOCTL_DEV)] {
        if abi >= version {
            rights |= right;
        }
    }
    rights
}

/// What the program's file API does in its directory: open, read, write, create,
/// truncate, list and remove regular files. Not: run them, make directories or links.
fn vessel_rights(abi: u32) -> u64 {
    (FS_READ_FILE | FS_WRITE_FILE | FS_READ_DIR | FS_REMOVE_FILE | FS_MAKE_REG | FS_TRUNCATE) & handled(abi)
}

/// The wall as words, for the report mode.
pub fn describe(abi: u32, vessel_dir: &Path, read_only: &[&Path]) -> String {
    let files: Vec<String> = read_only.iter().map(|p| p.display().to_string()).collect();
    let scope = if abi >= 6 { "; no signals or abstract sockets outside the vessel" } else { "" };
    format!(
        "Landlock ABI {abi} would allow only: read, write, create, truncate, list and remove files beneath '{}'; read {}{scope}",
        vessel_dir.display(),
        files.join(", ")
    )
}

/// Confines the calling thread (and every thread it starts from now on).
pub fn restrict(abi: u32, vessel_dir: &Path, read_only: &[&Path]) -> io::Result<()> {
    let attr = RulesetAttr {
        handled_access_fs: handled(abi),
        handled_access_net: 0,
        scoped: if abi >= 6 { SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL } else { 0 },
    };
    // An older kernel accepts the larger structure as long as the fields it does not know
    // are zero; `scoped` is only set where it is known.
    // SAFETY: `attr` is a live ruleset attribute of the size passed.
    let ruleset = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, &attr as *const RulesetAttr, size_of::<RulesetAttr>(), 0u32) };
    if ruleset < 0 {
        return Err(io::Error::last_os_error());
    }
    let ruleset = ruleset as libc::c_int;
    let result = add_rules(ruleset, abi, vessel_dir, read_only).and_then(|()| {
        // SAFETY: restricts this thread with the ruleset just built.
        match unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) } {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    });
    // SAFETY: the ruleset descriptor is ours and closed once.
    unsafe { libc::close(ruleset) };
    result
}

fn add_rules(ruleset: libc::c_int, abi: u32, vessel_dir: &Path, read_only: &[&Path]) -> io::Result<()> {
    add_rule(ruleset, vessel_dir, vessel_rights(abi))?;
    for file in read_only {
        add_rule(ruleset, file, FS_READ_FILE)?;
    }
    Ok(())
}

/// Grants `rights` beneath `path` (or on it, for a file).
fn add_rule(ruleset: libc::c_int, path: &Path, rights: u64) -> io::Result<()> {
    let name = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `name` is a NUL-terminated path; O_PATH opens it for reference only.
    let fd = unsafe { libc::open(name.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let rule = PathBeneathAttr { allowed_access: rights, parent_fd: fd };
    // SAFETY: `rule` is a live path-beneath attribute; `fd` stays open during the call.
    let added = unsafe { libc::syscall(libc::SYS_landlock_add_rule, ruleset, RULE_PATH_BENEATH, &rule as *const PathBeneathAttr, 0u32) };
    let result = if added == 0 { Ok(()) } else { Err(io::Error::last_os_error()) };
    // SAFETY: `fd` is ours and closed once.
    unsafe { libc::close(fd) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_follow_the_abi() {
        assert_eq!(handled(1), FS_ABI1);
        assert_eq!(vessel_rights(1) & FS_TRUNCATE, 0, "ABI 1 cannot grant a right it does not handle");
        assert_ne!(vessel_rights(3) & FS_TRUNCATE, 0);
        assert_eq!(vessel_rights(6) & (FS_EXECUTE | FS_REFER), 0, "nothing runs or moves out of the vessel");
    }
}
