//! The size of the machine a node manager donates: logical CPUs, physical memory, free disk
//! space, network link speed, and what a process and its descendants use (for `repy node
//! status`).

use std::{io, path::Path, time::Duration};

/// Physical memory in bytes (Unix `sysconf`; Windows `GlobalMemoryStatusEx`).
pub fn physical_memory() -> io::Result<u64> {
    imp::physical_memory()
}

/// Bytes available to the caller on the file system holding `dir` (Unix `statvfs`;
/// Windows `GetDiskFreeSpaceExW`, which counts the caller's disk quota).
pub fn free_disk_space(dir: &Path) -> io::Result<u64> {
    imp::free_disk_space(dir)
}

/// Logical CPUs this process may run on (std's `available_parallelism`: the affinity mask
/// and, on Linux, a cgroup quota), at least 1.
pub fn logical_cpus() -> u64 {
    std::thread::available_parallelism().map(|n| n.get() as u64).unwrap_or(1)
}

/// The link speed in Mbit/s of every hardware network interface that is up, as `(name,
/// speed)`. Virtual interfaces (loopback, veth pairs, bridges, tunnels: no `device` link in
/// sysfs) are left out, as their nominal speed says nothing of the machine's uplink; so is an
/// interface whose driver does not report a speed (most virtual machines' and containers'
/// `eth0`), so an empty list means "unknown". Linux: `/sys/class/net/NAME/{device,operstate,
/// type,speed}`; elsewhere `Unsupported`.
pub fn link_speeds_mbit() -> io::Result<Vec<(String, u64)>> {
    #[cfg(target_os = "linux")]
    {
        link_speeds_in(Path::new("/sys/class/net"))
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(io::Error::new(io::ErrorKind::Unsupported, "link speeds are read from Linux /sys/class/net only"))
    }
}

/// [`link_speeds_mbit`] on a copy of `/sys/class/net` at `root` (tests give a fake one).
pub fn link_speeds_in(root: &Path) -> io::Result<Vec<(String, u64)>> {
    // ARPHRD_LOOPBACK in `type`: the loopback device, whatever its name.
    const LOOPBACK: &str = "772";
    let read = |dir: &Path, file: &str| std::fs::read_to_string(dir.join(file)).map(|t| t.trim().to_string());
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root)?.flatten() {
        let dir = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let virtual_device = !dir.join("device").exists();
        if virtual_device || read(&dir, "type").is_ok_and(|t| t == LOOPBACK) || read(&dir, "operstate").map_or(true, |s| s != "up") {
            continue;
        }
        // `speed` is -1, or unreadable (EINVAL), when the driver does not know it.
        if let Some(speed) = read(&dir, "speed").ok().and_then(|s| s.parse::<i64>().ok()).filter(|&s| s > 0) {
            out.push((name, speed as u64));
        }
    }
    out.sort();
    Ok(out)
}

/// CPU time and resident bytes of process `root` and all its descendants (Linux `/proc`).
pub fn process_tree_usage(root: u32) -> io::Result<(Duration, u64)> {
    imp::process_tree_usage(root)
}

#[cfg(unix)]
mod imp {
    use std::{io, path::Path, time::Duration};

    fn sysconf(name: libc::c_int) -> io::Result<u64> {
        // SAFETY: sysconf has no preconditions.
        let value = unsafe { libc::sysconf(name) };
        u64::try_from(value).ok().filter(|&v| v > 0).ok_or_else(io::Error::last_os_error)
    }

    pub fn physical_memory() -> io::Result<u64> {
        Ok(sysconf(libc::_SC_PHYS_PAGES)?.saturating_mul(sysconf(libc::_SC_PAGESIZE)?))
    }

    pub fn free_disk_space(dir: &Path) -> io::Result<u64> {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "the path contains a NUL byte"))?;
        // SAFETY: statvfs is plain old data; all zeroes is a valid value.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid C string and output buffer.
        if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
            return Err(io::Error::last_os_error());
        }
        #[allow(clippy::unnecessary_cast)] // the field types differ between systems
        Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
    }

    #[cfg(target_os = "linux")]
    pub fn process_tree_usage(root: u32) -> io::Result<(Duration, u64)> {
        let (ticks, page) = (sysconf(libc::_SC_CLK_TCK)?, sysconf(libc::_SC_PAGESIZE)?);
        // (pid, parent, cpu ticks, resident pages) of every process.
        let mut procs = Vec::new();
        for entry in std::fs::read_dir("/proc")?.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            // Fields after the command name, which is in parentheses and may contain spaces.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // fields[0] is field 3 (state): ppid = 4, utime = 14, stime = 15, rss = 24.
            if fields.len() < 22 {
                continue;
            }
            let num = |i: usize| fields[i].parse::<u64>().unwrap_or(0);
            procs.push((pid, num(1) as u32, num(11) + num(12), num(21)));
        }
        let mut members = vec![root];
        let mut i = 0;
        while i < members.len() {
            let parent = members[i];
            members.extend(procs.iter().filter(|p| p.1 == parent).map(|p| p.0));
            i += 1;
        }
        let mine: Vec<_> = procs.iter().filter(|p| members.contains(&p.0)).collect();
        if mine.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("no process {root}")));
        }
        let cpu: u64 = mine.iter().map(|p| p.2).sum();
        let rss: u64 = mine.iter().map(|p| p.3).sum();
        Ok((Duration::from_secs_f64(cpu as f64 / ticks as f64), rss * page))
    }

    #[cfg(not(target_os = "linux"))]
    pub fn process_tree_usage(_root: u32) -> io::Result<(Duration, u64)> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "process tree usage needs Linux /proc"))
    }
}

#[cfg(windows)]
mod imp {
    use std::{io, os::windows::ffi::OsStrExt, path::Path, time::Duration};

    use windows_sys::Win32::{
        Storage::FileSystem::GetDiskFreeSpaceExW,
        System::SystemInformation::{GlobalMemoryStatusEx, MEMORYSTATUSEX},
    };

    pub fn physical_memory() -> io::Result<u64> {
        // SAFETY: plain old data; dwLength must be set before the call.
        let mut status: MEMORYSTATUSEX = unsafe { std::mem::zeroed() };
        status.dwLength = size_of::<MEMORYSTATUSEX>() as u32;
        // SAFETY: a properly sized MEMORYSTATUSEX.
        if unsafe { GlobalMemoryStatusEx(&mut status) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(status.ullTotalPhys)
    }

    pub fn free_disk_space(dir: &Path) -> io::Result<u64> {
        let wide: Vec<u16> = dir.as_os_str().encode_wide().chain(std::iter::once(0)).collect();
        if wide[..wide.len() - 1].contains(&0) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "the path contains a NUL character"));
        }
        let mut available = 0u64;
        // SAFETY: a NUL-terminated wide path; the other two figures are not asked for.
        if unsafe { GetDiskFreeSpaceExW(wide.as_ptr(), &mut available, std::ptr::null_mut(), std::ptr::null_mut()) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(available)
    }

    pub fn process_tree_usage(_root: u32) -> io::Result<(Duration, u64)> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "process tree usage is implemented for Linux /proc only"))
    }
}

#[cfg(not(any(unix, windows)))]
mod imp {
    use std::{io, path::Path, time::Duration};

    fn unsupported<T>() -> io::Result<T> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "not implemented on this system"))
    }

    pub fn physical_memory() -> io::Result<u64> {
        unsupported()
    }

    pub fn free_disk_space(_dir: &Path) -> io::Result<u64> {
        unsupported()
    }

    pub fn process_tree_usage(_root: u32) -> io::Result<(Duration, u64)> {
        unsupported()
    }
}

/// Windows: the figures are plausible and a missing directory is an error.
#[cfg(all(test, windows))]
mod windows_tests {
    use super::*;

    #[test]
    fn the_machine_has_memory_and_disk() {
        assert!(physical_memory().unwrap() > 64 << 20);
        let here = std::env::current_dir().unwrap();
        assert!(free_disk_space(&here).unwrap() > 0);
        assert!(free_disk_space(Path::new("C:\\no\\such\\dir")).is_err());
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_machine_has_memory_and_disk() {
        assert!(physical_memory().unwrap() > 64 << 20);
        assert!(free_disk_space(Path::new("/")).unwrap() > 0);
        assert!(free_disk_space(Path::new("/no/such/dir")).is_err());
    }

    #[test]
    fn link_speeds_skip_loopback_down_and_unknown_interfaces() {
        let root = tempfile::tempdir().unwrap();
        let iface = |name: &str, kind: &str, state: &str, speed: Option<&str>| {
            let dir = root.path().join(name);
            std::fs::create_dir(&dir).unwrap();
            if !name.starts_with("veth") {
                std::fs::create_dir(dir.join("device")).unwrap();
            }
            std::fs::write(dir.join("type"), format!("{kind}\n")).unwrap();
            std::fs::write(dir.join("operstate"), format!("{state}\n")).unwrap();
            if let Some(speed) = speed {
                std::fs::write(dir.join("speed"), format!("{speed}\n")).unwrap();
            }
        };
        iface("lo", "772", "unknown", Some("10000"));
        iface("eth0", "1", "up", Some("1000"));
        iface("eth1", "1", "down", Some("10000"));
        iface("veth0", "1", "up", Some("10000"));
        iface("vnet0", "1", "up", Some("-1"));
        iface("wlan0", "1", "up", None);
        iface("eth2", "1", "up", Some("2500"));
        assert_eq!(link_speeds_in(root.path()).unwrap(), [("eth0".to_string(), 1000), ("eth2".to_string(), 2500)]);
        assert!(link_speeds_in(&root.path().join("missing")).is_err());
        // The real machine: whatever it reports is a plausible speed.
        assert!(link_speeds_mbit().unwrap().iter().all(|(_, s)| (1..=1_000_000).contains(s)));
        assert!(logical_cpus() >= 1);
    }

    #[test]
    fn a_tree_counts_its_children() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        // Just after the fork the child may still be exec'ing, with no resident pages yet.
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        let alone = loop {
            let (_, alone) = process_tree_usage(child.id()).unwrap();
            if alone > 0 || std::time::Instant::now() > deadline {
                break alone;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let (_, with_child) = process_tree_usage(std::process::id()).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(alone > 0 && with_child > alone, "{alone} {with_child}");
        assert!(process_tree_usage(u32::MAX).is_err());
    }
}
