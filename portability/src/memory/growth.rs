//! A temporary ceiling on how far the address space may grow while one piece of work runs.
//!
//! The parser grows its own stack on the heap (segments mapped directly, outside the
//! counting allocator) for as deep as a source nests: about 1.7 KB a level, so a 10 MB line
//! of unary minus signs took 17 GB before anything refused it. That parse runs in the
//! supervisor of every `repy run`, before any limit of the vessel's applies.

use std::sync::Mutex;

/// One ceiling at a time: the limit is process-wide, and restoring one must not lift
/// another that is still in force.
static CEILING: Mutex<()> = Mutex::new(());

/// Runs `work` with the address space allowed to grow by at most `extra` bytes beyond what
/// is mapped when it starts (never above a limit already in force), then puts the previous
/// limit back. A mapping or allocation past the ceiling fails while `work` runs, in any
/// thread of the process.
///
/// Linux: mapped size from `/proc/self/statm`, soft `RLIMIT_AS`. Elsewhere `work` runs
/// without a ceiling.
pub fn with_address_space_growth<T>(extra: u64, work: impl FnOnce() -> T) -> T {
    let _one_at_a_time = CEILING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let restore = imp::lower_soft_limit(extra);
    let result = work();
    if let Some(previous) = restore {
        imp::set_soft_limit(previous);
    }
    result
}

#[cfg(target_os = "linux")]
mod imp {
    /// Lowers the soft limit to what is mapped plus `extra`; returns the soft limit to put
    /// back, or None if nothing was changed (the size could not be read).
    pub fn lower_soft_limit(extra: u64) -> Option<libc::rlim_t> {
        let mapped = mapped_bytes()?;
        let mut current = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: writes into `current`.
        if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut current) } != 0 {
            return None;
        }
        let ceiling = mapped.saturating_add(extra).min(current.rlim_cur).min(current.rlim_max);
        let lowered = libc::rlimit { rlim_cur: ceiling, rlim_max: current.rlim_max };
        // SAFETY: reads `lowered`.
        (unsafe { libc::setrlimit(libc::RLIMIT_AS, &lowered) } == 0).then_some(current.rlim_cur)
    }

    pub fn set_soft_limit(soft: libc::rlim_t) {
        let mut current = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: writes into `current`, then reads the new value; raising the soft limit
        // back up to the (unchanged) hard limit is always permitted.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_AS, &mut current) == 0 {
                let restored = libc::rlimit { rlim_cur: soft.min(current.rlim_max), rlim_max: current.rlim_max };
                libc::setrlimit(libc::RLIMIT_AS, &restored);
            }
        }
    }

    /// The process's virtual size: the first field of /proc/self/statm, in pages.
    fn mapped_bytes() -> Option<u64> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_ascii_whitespace().next()?.parse().ok()?;
        // SAFETY: sysconf has no preconditions.
        let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
        Some(pages.saturating_mul(page))
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub fn lower_soft_limit(_extra: u64) -> Option<()> {
        None
    }

    pub fn set_soft_limit(_soft: ()) {}
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    const CHILD_VAR: &str = "REPY_TEST_GROWTH_CHILD";

    fn map(bytes: usize) -> bool {
        // SAFETY: an anonymous private mapping, unmapped at once.
        unsafe {
            let p = libc::mmap(std::ptr::null_mut(), bytes, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
            if p == libc::MAP_FAILED {
                return false;
            }
            libc::munmap(p, bytes);
            true
        }
    }

    /// Runs only as a re-executed child: the ceiling is process-wide.
    #[test]
    fn growth_child() {
        if std::env::var_os(CHILD_VAR).is_none() {
            return;
        }
        let (small, large) = (16 << 20, 1 << 30);
        assert_eq!(with_address_space_growth(256 << 20, || (map(small), map(large))), (true, false));
        assert!(map(large), "the previous limit is back");
        println!("GROWTH-CEILING-HELD");
    }

    /// Work inside the ceiling succeeds, a mapping past it fails, and afterwards the same
    /// mapping succeeds again.
    #[test]
    fn a_mapping_past_the_ceiling_fails_and_the_limit_comes_back() {
        crate::test_support::run_child_test("memory::growth::tests::growth_child", CHILD_VAR, "GROWTH-CEILING-HELD");
    }
}
