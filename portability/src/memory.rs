//! Memory of a process: what the host sees (resident and proportional set sizes, for
//! reports and benchmarks), an optional kernel backstop on address space, and the counting
//! global allocator that enforces the `memory` limit inside the worker (restrictions.md
//! §4.3).

mod allocator;
mod growth;

pub use allocator::CountingAllocator;
pub use growth::with_address_space_growth;

use std::io;

/// Makes every thread of this process allocate from one heap; call it before the process
/// starts threads.
///
/// glibc gives threads other than the first arenas of their own, and such an arena grows by
/// one `mprotect` call per page: the worker's interpreter thread made about 600 of them just
/// to start (about 1.5 ms of a 13 ms `repy run`). The first arena grows with `brk` in
/// 128 KB steps; a vessel has few threads, and glibc's per-thread cache serves small
/// allocations without taking the arena's lock. With glibc's dynamic thresholds, one heap
/// made the TCP bulk benchmark (1 MB receive buffers allocated and freed in a loop) run at
/// 0.6 of its speed; fixed where the dynamic ones end up for such a program (blocks of
/// 32 MB and more mapped on their own, up to 64 MB of free heap kept), it runs as before.
/// Other allocators (musl, macOS, Windows) have no such arenas; there this does nothing.
pub fn use_one_heap() {
    // SAFETY: mallopt only sets allocator parameters.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

/// Resident set size of process `pid` in bytes (pages of it currently in RAM, shared pages
/// counted in full).
///
/// Linux: `/proc/PID/statm` × page size. macOS: `proc_pidinfo(PROC_PIDTASKINFO)`.
/// Windows: working-set size from `K32GetProcessMemoryInfo`.
pub fn resident_bytes(pid: u32) -> io::Result<u64> {
    imp::resident_bytes(pid)
}

/// Proportional set size of process `pid` in bytes: resident memory with each shared page
/// divided among the processes sharing it, the fairest single figure for "memory used".
///
/// Linux: the `Pss:` line of `/proc/PID/smaps_rollup` (or the sum over `/proc/PID/smaps`
/// on kernels before 4.14). macOS and Windows have no such figure; there this returns
/// [`resident_bytes`], an upper bound.
pub fn proportional_set_size(pid: u32) -> io::Result<u64> {
    imp::proportional_set_size(pid)
}

/// Caps the address space of the calling process (and of children it starts afterwards)
/// at `bytes`, as a kernel-enforced backstop behind the counting allocator.
///
/// Unix: `setrlimit(RLIMIT_AS)`, lowering both the soft and the hard limit so the process
/// cannot raise it again (never above an existing hard limit). macOS accepts but barely
/// enforces it. Windows: a Job Object holding this process with
/// `JOB_OBJECT_LIMIT_PROCESS_MEMORY`, which caps committed memory (Wine accepts the cap but
/// does not enforce it).
pub fn limit_address_space(bytes: u64) -> io::Result<()> {
    imp::limit_address_space(bytes)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::io;

    pub fn resident_bytes(pid: u32) -> io::Result<u64> {
        let pid = crate::pid::unix_pid(pid)?;
        let statm = std::fs::read_to_string(format!("/proc/{pid}/statm"))?;
        // Fields: size resident shared text lib data dt, in pages.
        let pages: u64 = statm
            .split_ascii_whitespace()
            .nth(1)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("unexpected /proc/{pid}/statm format")))?;
        Ok(pages.saturating_mul(page_size()?))
    }

    pub fn proportional_set_size(pid: u32) -> io::Result<u64> {
        let pid = crate::pid::unix_pid(pid)?;
        let text = match std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound && std::path::Path::new(&format!("/proc/{pid}")).exists() => {
                std::fs::read_to_string(format!("/proc/{pid}/smaps"))?
            }
            Err(e) => return Err(e),
        };
        sum_pss_kib(&text)
            .map(|kib| kib.saturating_mul(1024))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("no Pss figure for process {pid}")))
    }

    /// Sum of the `Pss:` lines (in kB) of smaps or smaps_rollup text; None if there is none.
    /// `Pss_Anon:` and the like are different lines and are not counted.
    pub(super) fn sum_pss_kib(text: &str) -> Option<u64> {
        let mut total = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("Pss:") {
                let kib: u64 = rest.split_ascii_whitespace().next()?.parse().ok()?;
                total = Some(total.unwrap_or(0u64).saturating_add(kib));
            }
        }
        total
    }

    fn page_size() -> io::Result<u64> {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        u64::try_from(size).ok().filter(|&s| s > 0).ok_or_else(|| io::Error::other("sysconf(_SC_PAGESIZE) failed"))
    }

    pub fn limit_address_space(bytes: u64) -> io::Result<()> {
        super::unix_limit_address_space(bytes)
    }
}

#[cfg(target_os = "macos")]
mod imp {
    use std::io;

    pub fn resident_bytes(pid: u32) -> io::Result<u64> {
        let pid = crate::pid::unix_pid(pid)?;
        // SAFETY: proc_taskinfo is plain old data.
        let mut info: libc::proc_taskinfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::proc_taskinfo>() as libc::c_int;
        // SAFETY: the buffer is a proc_taskinfo of `size` bytes, what PROC_PIDTASKINFO fills.
        let written = unsafe { libc::proc_pidinfo(pid, libc::PROC_PIDTASKINFO, 0, (&mut info as *mut libc::proc_taskinfo).cast(), size) };
        if written != size {
            return Err(io::Error::last_os_error());
        }
        Ok(info.pti_resident_size)
    }

    pub fn proportional_set_size(pid: u32) -> io::Result<u64> {
        resident_bytes(pid)
    }

    pub fn limit_address_space(bytes: u64) -> io::Result<()> {
        super::unix_limit_address_space(bytes)
    }
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "macos"))))]
mod imp {
    use std::io;

    pub fn resident_bytes(_pid: u32) -> io::Result<u64> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "resident size is not implemented on this system"))
    }

    pub fn proportional_set_size(pid: u32) -> io::Result<u64> {
        resident_bytes(pid)
    }

    pub fn limit_address_space(bytes: u64) -> io::Result<()> {
        super::unix_limit_address_space(bytes)
    }
}

#[cfg(unix)]
fn unix_limit_address_space(bytes: u64) -> io::Result<()> {
    let mut current = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: writes into `current`.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut current) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let wanted = libc::rlim_t::try_from(bytes).unwrap_or(libc::RLIM_INFINITY);
    // An unprivileged process may only lower its hard limit.
    let limit = if current.rlim_max == libc::RLIM_INFINITY { wanted } else { wanted.min(current.rlim_max) };
    let new = libc::rlimit { rlim_cur: limit, rlim_max: limit };
    // SAFETY: reads `new`.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &new) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(windows)]
mod imp {
    use std::{io, os::windows::io::AsRawHandle};

    use windows_sys::Win32::{
        Foundation::HANDLE,
        System::{
            ProcessStatus::{K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS},
            Threading::{PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_VM_READ},
        },
    };

    pub fn resident_bytes(pid: u32) -> io::Result<u64> {
        let process = crate::pid::open_process(pid, PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ)?;
        // SAFETY: PROCESS_MEMORY_COUNTERS is plain old data.
        let mut counters: PROCESS_MEMORY_COUNTERS = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
        counters.cb = size;
        // SAFETY: valid handle; `counters` is `size` bytes.
        // K32GetProcessMemoryInfo is the kernel32 export behind psapi's GetProcessMemoryInfo.
        if unsafe { K32GetProcessMemoryInfo(process.as_raw_handle() as HANDLE, &mut counters, size) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(counters.WorkingSetSize as u64)
    }

    pub fn proportional_set_size(pid: u32) -> io::Result<u64> {
        resident_bytes(pid)
    }

    /// Windows has no address-space limit; the nearest is a cap on committed memory, set
    /// on a Job Object holding this process (and any child it starts afterwards).
    pub fn limit_address_space(bytes: u64) -> io::Result<()> {
        crate::job::own_job()?.limit(false, None, Some(bytes))
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    const AS_CHILD_VAR: &str = "REPY_PORTABILITY_AS_CHILD";

    #[test]
    fn own_resident_and_proportional_sizes_are_plausible() {
        let me = std::process::id();
        // Touch 8 MiB so that at least that much is resident while measuring.
        let block = std::hint::black_box(vec![1u8; 8 << 20]);
        let rss = resident_bytes(me).unwrap();
        let pss = proportional_set_size(me).unwrap();
        assert!(rss >= 8 << 20, "resident {rss}");
        assert!(rss < 16 << 30, "resident {rss}");
        // Private pages count in full in both; shared ones count less in PSS.
        assert!(pss >= 8 << 20, "pss {pss}");
        assert!(pss <= rss + (1 << 20), "pss {pss} > rss {rss}");
        drop(block);
    }

    #[test]
    fn pss_lines_are_summed_and_others_ignored() {
        let text = "Rss: 100 kB\nPss: 40 kB\nPss_Anon: 30 kB\nPss: 2 kB\n";
        assert_eq!(imp::sum_pss_kib(text), Some(42));
        assert_eq!(imp::sum_pss_kib("Rss: 1 kB\n"), None);
    }

    #[test]
    fn sizes_of_missing_process_are_errors() {
        assert!(resident_bytes(0).is_err());
        assert!(resident_bytes(2_000_000_000).is_err());
        assert!(proportional_set_size(2_000_000_000).is_err());
    }

    /// Runs only as a re-executed child: there the limit is process-wide and permanent.
    #[test]
    fn address_space_child() {
        if std::env::var_os(AS_CHILD_VAR).is_none() {
            return;
        }
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: u64 = statm.split_whitespace().next().unwrap().parse().unwrap();
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
        limit_address_space(pages * page + (256 << 20)).unwrap();
        let mut small: Vec<u8> = Vec::new();
        assert!(small.try_reserve_exact(1 << 20).is_ok(), "1 MiB refused under the limit");
        let mut huge: Vec<u8> = Vec::new();
        assert!(huge.try_reserve_exact(1 << 30).is_err(), "1 GiB allowed under a 256 MiB margin");
        println!("ADDRESS-SPACE-LIMIT-HELD");
    }

    #[test]
    fn address_space_limit_refuses_large_allocations() {
        crate::test_support::run_child_test("memory::tests::address_space_child", AS_CHILD_VAR, "ADDRESS-SPACE-LIMIT-HELD");
    }
}
