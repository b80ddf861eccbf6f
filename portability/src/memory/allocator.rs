//! The counting global allocator (restrictions.md §4.3).
//!
//! The worker installs it with `#[global_allocator]`. Until [`CountingAllocator::start_counting`]
//! it only forwards to the system allocator; from then on it keeps the number of live heap
//! bytes allocated since that moment and refuses, before calling the system allocator, any
//! allocation that would take the count over the limit.

use std::{
    alloc::{GlobalAlloc, Layout},
    ptr,
    sync::atomic::{AtomicBool, AtomicIsize, AtomicPtr, AtomicUsize, Ordering},
};

/// The allocator underneath the count: the system's, or mimalloc with the `mimalloc`
/// feature (an A/B build setting, docs/benchmarks.md).
#[cfg(not(feature = "mimalloc"))]
static BACKING: std::alloc::System = std::alloc::System;
#[cfg(feature = "mimalloc")]
static BACKING: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A [`GlobalAlloc`] over the backing allocator that counts live heap bytes and enforces a limit.
///
/// The count is signed: it is "bytes allocated since counting started minus bytes freed
/// since then". Freeing memory that was allocated before counting started (the
/// interpreter's start-up data) drives it down, possibly below zero, without wrapping; the
/// limit then holds the heap to its size at start plus the limit. [`live_bytes`] reports
/// negative counts as zero.
///
/// Cost per call: deallocation is one relaxed `fetch_sub`; allocation is one acquire load
/// of the armed flag and, once armed, one `fetch_add` plus relaxed loads of the limit and
/// the peak.
///
/// [`live_bytes`]: CountingAllocator::live_bytes
pub struct CountingAllocator {
    /// Live bytes since counting started (meaningless before).
    live: AtomicIsize,
    /// Highest value of `live` since counting started.
    peak: AtomicUsize,
    limit: AtomicUsize,
    /// The `on_exceeded` function, stored as a pointer so the struct is const-constructible.
    on_exceeded: AtomicPtr<()>,
    armed: AtomicBool,
}

impl CountingAllocator {
    /// An allocator that forwards everything to the backing allocator until counting starts; usable in
    /// a `static`.
    pub const fn new() -> Self {
        Self {
            live: AtomicIsize::new(0),
            peak: AtomicUsize::new(0),
            limit: AtomicUsize::new(usize::MAX),
            on_exceeded: AtomicPtr::new(ptr::null_mut()),
            armed: AtomicBool::new(false),
        }
    }

    /// Resets the count and the peak to zero and, from now on, counts every allocation and
    /// refuses any that would take the count over `limit` bytes. Instead of performing such
    /// an allocation the allocator calls `on_exceeded(limit)`, which must end the process.
    ///
    /// `on_exceeded` runs inside the allocator, so it **must not allocate** (an allocation
    /// would be counted, refused again and recurse until the stack overflows): format into
    /// a stack buffer, write it with a raw `write(2)` (see
    /// [`crate::process::write_stderr_raw`]) and leave with [`crate::process::exit_now`].
    ///
    /// Calling it again re-arms with the new limit and starts again from zero.
    pub fn start_counting(&self, limit: usize, on_exceeded: fn(usize) -> !) {
        self.limit.store(limit, Ordering::Relaxed);
        self.on_exceeded.store(on_exceeded as *mut (), Ordering::Relaxed);
        self.live.store(0, Ordering::Relaxed);
        self.peak.store(0, Ordering::Relaxed);
        // Publishes the three stores above to any thread that sees `armed`.
        self.armed.store(true, Ordering::Release);
    }

    /// Live heap bytes allocated since counting started (0 before it started).
    pub fn live_bytes(&self) -> usize {
        if !self.armed.load(Ordering::Acquire) {
            return 0;
        }
        usize::try_from(self.live.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// The highest [`live_bytes`](Self::live_bytes) since counting started.
    pub fn peak_bytes(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Adds `size` bytes to the count, or, if that would exceed the limit, takes them off
    /// again and calls the handler. Returns whether anything was counted (so a failed
    /// allocation can be taken back).
    #[inline]
    fn charge(&self, size: usize) -> bool {
        if !self.armed.load(Ordering::Acquire) {
            return false;
        }
        let limit = self.limit.load(Ordering::Relaxed);
        // One request beyond the limit (up to isize::MAX bytes) is refused before it is
        // added, so the sum below cannot wrap past isize::MAX and pass the check.
        if size > limit {
            self.exceeded(limit);
        }
        // Layout sizes never exceed isize::MAX.
        let delta = size as isize;
        let before = self.live.fetch_add(delta, Ordering::Relaxed);
        let after = before.checked_add(delta);
        if after.is_none_or(|after| after > 0 && after as usize > limit) {
            self.live.fetch_sub(delta, Ordering::Relaxed);
            self.exceeded(limit);
        }
        let after = after.expect("checked above");
        if after > 0 && after as usize > self.peak.load(Ordering::Relaxed) {
            self.peak.fetch_max(after as usize, Ordering::Relaxed);
        }
        true
    }

    /// Counts `size` bytes the process holds outside the heap (kernel socket buffers) as
    /// if they were allocated: true if they fit under the limit, else nothing is counted
    /// and the caller refuses the operation that wanted them. Always true before counting
    /// starts. [`release`](Self::release) takes them off again.
    pub fn reserve(&self, size: usize) -> bool {
        if !self.armed.load(Ordering::Acquire) {
            return true;
        }
        let limit = self.limit.load(Ordering::Relaxed);
        let Ok(delta) = isize::try_from(size) else { return false };
        if size > limit {
            return false;
        }
        let before = self.live.fetch_add(delta, Ordering::Relaxed);
        match before.checked_add(delta) {
            Some(after) if after <= 0 || after as usize <= limit => {
                if after > 0 {
                    self.peak.fetch_max(after as usize, Ordering::Relaxed);
                }
                true
            }
            _ => {
                self.live.fetch_sub(delta, Ordering::Relaxed);
                false
            }
        }
    }

    /// Takes bytes counted by [`reserve`](Self::reserve) off the count.
    pub fn release(&self, size: usize) {
        if let Ok(delta) = isize::try_from(size) {
            self.live.fetch_sub(delta, Ordering::Relaxed);
        }
    }

    #[cold]
    fn exceeded(&self, limit: usize) -> ! {
        let handler = self.on_exceeded.load(Ordering::Relaxed);
        if handler.is_null() {
            // Unreachable: the handler is stored before `armed`.
            std::process::abort();
        }
        // SAFETY: the only non-null value ever stored is a `fn(usize) -> !`.
        let handler: fn(usize) -> ! = unsafe { std::mem::transmute::<*mut (), fn(usize) -> !>(handler) };
        handler(limit)
    }

    #[inline]
    fn uncharge(&self, size: usize) {
        self.live.fetch_sub(size as isize, Ordering::Relaxed);
    }

    /// The system refused a counted allocation within the limit: the address-space limit
    /// behind the count was reached, which is the memory limit too. Ending here, through
    /// the handler, replaces the abort Rust would make of the null.
    #[cold]
    fn refused(&self, size: usize) -> ! {
        self.uncharge(size);
        self.exceeded(self.limit.load(Ordering::Relaxed))
    }
}

impl Default for CountingAllocator {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every allocation is performed by the backing allocator with the caller's layout, or not at all
// (null is returned only when the backing allocator returns null); counting never touches the memory.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let counted = self.charge(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { BACKING.alloc(layout) };
        if p.is_null() && counted {
            self.refused(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let counted = self.charge(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { BACKING.alloc_zeroed(layout) };
        if p.is_null() && counted {
            self.refused(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Unconditional: before counting starts the value is reset anyway, and one atomic
        // is cheaper than checking first.
        self.uncharge(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { BACKING.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old_size = layout.size();
        if new_size > old_size {
            let growth = new_size - old_size;
            let counted = self.charge(growth);
            // SAFETY: forwarded with the caller's guarantees.
            let p = unsafe { BACKING.realloc(ptr, layout, new_size) };
            if p.is_null() && counted {
                self.refused(growth);
            }
            p
        } else {
            // SAFETY: forwarded with the caller's guarantees.
            let p = unsafe { BACKING.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                self.uncharge(old_size - new_size);
            }
            p
        }
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use super::CountingAllocator;

    /// Stands in for the worker's handler (which ends the process) so the test can go on.
    fn refuse(limit: usize) -> ! {
        panic!("refused at limit {limit}")
    }

    #[test]
    fn a_request_beyond_the_limit_is_refused_without_counting_it() {
        let counter = CountingAllocator::new();
        counter.start_counting(1000, refuse);
        assert!(counter.charge(600));
        for size in [isize::MAX as usize, usize::MAX / 2 + 1, 401] {
            assert!(catch_unwind(AssertUnwindSafe(|| counter.charge(size))).is_err(), "{size} bytes were accepted");
            assert_eq!(counter.live_bytes(), 600, "after refusing {size} bytes");
        }
        assert!(counter.charge(400));
    }

    #[test]
    fn memory_outside_the_heap_is_reserved_within_the_limit_or_refused() {
        let counter = CountingAllocator::new();
        assert!(counter.reserve(usize::MAX), "nothing is counted before counting starts");
        counter.start_counting(1000, refuse);
        assert!(counter.charge(300));
        assert!(counter.reserve(600));
        assert!(!counter.reserve(101), "300 + 600 + 101 > 1000");
        assert!(!counter.reserve(usize::MAX));
        assert_eq!(counter.live_bytes(), 900, "a refused reservation counts nothing");
        assert_eq!(counter.peak_bytes(), 900);
        counter.release(600);
        assert!(counter.reserve(700));
        assert_eq!(counter.live_bytes(), 1000);
    }

    #[test]
    fn a_sum_past_isize_max_is_refused_not_wrapped() {
        let counter = CountingAllocator::new();
        counter.start_counting(usize::MAX, refuse);
        assert!(counter.charge(isize::MAX as usize));
        assert!(catch_unwind(AssertUnwindSafe(|| counter.charge(isize::MAX as usize))).is_err());
        assert_eq!(counter.live_bytes(), isize::MAX as usize);
    }
}
