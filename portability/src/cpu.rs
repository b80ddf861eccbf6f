//! CPU time used by a process (restrictions.md §4.2): the supervisor samples the worker's
//! total user + system time, over all of its threads, every 0.1 s to decide how long to
//! suspend it.

use std::{io, time::Duration};

/// Total CPU time (user + system, all threads, including threads that have ended) used so
/// far by process `pid`.
///
/// Linux: `/proc/PID/stat` (clock-tick resolution, usually 10 ms). macOS:
/// `proc_pid_rusage`. Windows: `GetProcessTimes` (or the live threads' `GetThreadTimes`
/// when they add up to more, as under Wine).
pub fn process_cpu_time(pid: u32) -> io::Result<Duration> {
    imp::process_cpu_time(pid)
}

/// CPU time (user + system, all threads) used so far by the calling process; it cannot
/// fail, so it reports zero if the system refuses to answer.
pub fn self_cpu_time() -> Duration {
    imp::self_cpu_time()
}

#[cfg(target_os = "linux")]
mod imp {
    use std::{io, time::Duration};

    pub fn process_cpu_time(pid: u32) -> io::Result<Duration> {
        let pid = crate::pid::unix_pid(pid)?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let ticks = parse_stat_ticks(&stat)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("unexpected /proc/{pid}/stat format")))?;
        Ok(ticks_to_duration(ticks, clock_ticks_per_second()?))
    }

    /// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line. The command name (field
    /// 2) is in parentheses and may itself contain spaces or parentheses, so fields are
    /// counted from the last `)`.
    pub(super) fn parse_stat_ticks(stat: &str) -> Option<u64> {
        let after_name = &stat[stat.rfind(')')? + 1..];
        let mut fields = after_name.split_ascii_whitespace();
        // After the name: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt
        // majflt cmajflt utime(14) stime(15).
        let utime: u64 = fields.nth(11)?.parse().ok()?;
        let stime: u64 = fields.next()?.parse().ok()?;
        Some(utime.saturating_add(stime))
    }

    fn clock_ticks_per_second() -> io::Result<u64> {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        u64::try_from(hz).ok().filter(|&hz| hz > 0).ok_or_else(|| io::Error::other("sysconf(_SC_CLK_TCK) failed"))
    }

    fn ticks_to_duration(ticks: u64, hz: u64) -> Duration {
        let secs = ticks / hz;
        let nanos = (ticks % hz) * 1_000_000_000 / hz;
        Duration::new(secs, nanos as u32)
    }

    pub fn self_cpu_time() -> Duration {
        super::unix_self_cpu_time()
    }
}

#[cfg(target_os = "macos")]
mod imp {
    use std::{io, time::Duration};

    pub fn process_cpu_time(pid: u32) -> io::Result<Duration> {
        let pid = crate::pid::unix_pid(pid)?;
        // SAFETY: rusage_info_v2 is plain old data; all-zero is a valid value.
        let mut info: libc::rusage_info_v2 = unsafe { std::mem::zeroed() };
        // SAFETY: the buffer is a rusage_info_v2, which is what flavor V2 writes (the API
        // declares the parameter as a pointer to `rusage_info_t`, hence the cast).
        let rc = unsafe {
            libc::proc_pid_rusage(pid, libc::RUSAGE_INFO_V2, (&mut info as *mut libc::rusage_info_v2).cast::<libc::rusage_info_t>())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // The times are in Mach absolute-time units (nanoseconds on Intel, not on Apple
        // silicon), so they are scaled by the timebase.
        Ok(mach_ticks_to_duration(info.ri_user_time.saturating_add(info.ri_system_time)))
    }

    #[allow(deprecated)] // libc points to the mach2 crate; one call does not justify it.
    fn mach_ticks_to_duration(ticks: u64) -> Duration {
        let mut timebase = libc::mach_timebase_info { numer: 0, denom: 0 };
        // SAFETY: writes the two fields of `timebase`.
        unsafe { libc::mach_timebase_info(&mut timebase) };
        if timebase.denom == 0 {
            return Duration::from_nanos(ticks);
        }
        let nanos = u128::from(ticks) * u128::from(timebase.numer) / u128::from(timebase.denom);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    pub fn self_cpu_time() -> Duration {
        super::unix_self_cpu_time()
    }
}

/// Other Unix systems (the BSDs): only the calling process can be measured portably.
#[cfg(all(unix, not(any(target_os = "linux", target_os = "macos"))))]
mod imp {
    use std::{io, time::Duration};

    pub fn process_cpu_time(_pid: u32) -> io::Result<Duration> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "process CPU time is not implemented on this system"))
    }

    pub fn self_cpu_time() -> Duration {
        super::unix_self_cpu_time()
    }
}

/// CLOCK_PROCESS_CPUTIME_ID counts every thread of the process, including ended ones, at
/// nanosecond resolution (getrusage would split user and system at coarser resolution).
#[cfg(unix)]
fn unix_self_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: writes into `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(u64::try_from(ts.tv_sec).unwrap_or(0), u32::try_from(ts.tv_nsec).unwrap_or(0))
}

#[cfg(windows)]
mod imp {
    use std::{io, os::windows::io::AsRawHandle, time::Duration};

    use windows_sys::Win32::{
        Foundation::{FILETIME, HANDLE},
        System::Threading::{
            GetCurrentProcess, GetProcessTimes, GetThreadTimes, PROCESS_QUERY_LIMITED_INFORMATION, THREAD_QUERY_LIMITED_INFORMATION,
        },
    };

    use crate::pid::filetime_to_duration;

    /// `GetProcessTimes`, or the sum of `GetThreadTimes` over the live threads when that is
    /// more: a process has used at least what its threads have. On Windows the process
    /// total is never less; Wine answers the caller's own times for another process, and
    /// there the threads' sum (right, but without threads that ended) is the figure.
    pub fn process_cpu_time(pid: u32) -> io::Result<Duration> {
        let process = crate::pid::open_process(pid, PROCESS_QUERY_LIMITED_INFORMATION)?;
        let total = times(process.as_raw_handle() as HANDLE)?;
        let mut threads = Duration::ZERO;
        let summed = crate::pid::for_each_thread(pid, THREAD_QUERY_LIMITED_INFORMATION, |thread| {
            let zero = FILETIME { dwLowDateTime: 0, dwHighDateTime: 0 };
            let (mut creation, mut exit, mut kernel, mut user) = (zero, zero, zero, zero);
            // SAFETY: a valid thread handle with query rights; four live out-pointers.
            if unsafe { GetThreadTimes(thread, &mut creation, &mut exit, &mut kernel, &mut user) } == 0 {
                return u32::MAX;
            }
            threads += filetime_to_duration(&kernel) + filetime_to_duration(&user);
            0
        });
        Ok(if summed.is_ok() { total.max(threads) } else { total })
    }

    pub fn self_cpu_time() -> Duration {
        // SAFETY: the pseudo-handle of the current process needs no closing.
        times(unsafe { GetCurrentProcess() }).unwrap_or(Duration::ZERO)
    }

    fn times(process: HANDLE) -> io::Result<Duration> {
        let zero = FILETIME { dwLowDateTime: 0, dwHighDateTime: 0 };
        let (mut creation, mut exit, mut kernel, mut user) = (zero, zero, zero, zero);
        // SAFETY: valid handle with query rights; the four out-pointers are live locals.
        let ok = unsafe { GetProcessTimes(process, &mut creation, &mut exit, &mut kernel, &mut user) };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(filetime_to_duration(&kernel) + filetime_to_duration(&user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{thread::sleep, time::Instant};

    #[cfg(target_os = "linux")]
    #[test]
    fn stat_parsing_counts_from_the_last_parenthesis() {
        let line = "42 (a) b) c) R 1 42 42 0 -1 4194560 100 0 0 0 250 17 0 0 20 0 1 0 5 0 0";
        assert_eq!(imp::parse_stat_ticks(line), Some(267));
        assert_eq!(imp::parse_stat_ticks("42 (x) R 1 2"), None);
        assert_eq!(imp::parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn busy_child_accumulates_cpu_time() {
        #[cfg(windows)]
        if crate::test_support::under_wine() {
            // The threads' sum is only a floor, so the caller's own times win whenever they
            // are more, and a test that sleeps while the child spins cannot tell.
            eprintln!("skipped under Wine: GetProcessTimes on another process answers the caller's own times");
            return;
        }
        let mut child = crate::test_support::busy_child();
        let pid = child.id();
        // Until it spins: the child is this test binary again, which takes a while to
        // start (about a second under Wine).
        let deadline = Instant::now() + Duration::from_secs(10);
        while process_cpu_time(pid).is_ok_and(|t| t < Duration::from_millis(50)) && Instant::now() < deadline {
            sleep(Duration::from_millis(20));
        }
        sleep(Duration::from_millis(100));
        let first = process_cpu_time(pid);
        sleep(Duration::from_millis(300));
        let second = process_cpu_time(pid);
        let _ = child.kill();
        let _ = child.wait();
        let (first, second) = (first.expect("first sample"), second.expect("second sample"));
        // A spinning process gets close to 300 ms of one core; allow for a loaded machine.
        assert!(second > first, "CPU time did not grow: {first:?} -> {second:?}");
        assert!(second - first >= Duration::from_millis(100), "grew only {:?}", second - first);
        assert!(second - first <= Duration::from_millis(1000), "grew {:?} in 0.3 s", second - first);
    }

    #[test]
    fn missing_or_invalid_process_is_an_error() {
        assert!(process_cpu_time(0).is_err());
        assert!(process_cpu_time(u32::MAX).is_err());
        // Beyond the default and usual pid_max of 4194304.
        assert!(process_cpu_time(2_000_000_000).is_err());
    }

    #[test]
    fn self_cpu_time_grows_with_work() {
        let before = self_cpu_time();
        let start = Instant::now();
        let mut x = 0u64;
        // Spin until the clock shows 20 ms of work; a clock that does not move fails here.
        while self_cpu_time() < before + Duration::from_millis(20) {
            assert!(start.elapsed() < Duration::from_secs(2), "self CPU time stuck at {before:?}");
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        #[cfg(target_os = "linux")]
        {
            let via_proc = process_cpu_time(std::process::id()).unwrap();
            // /proc has tick resolution; the two clocks must agree within a few ticks.
            let later = self_cpu_time();
            assert!(via_proc <= later + Duration::from_millis(50), "{via_proc:?} vs {later:?}");
        }
    }
}
