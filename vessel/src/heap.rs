//! The worker's heap accounting (restrictions.md §4.3): every allocation of the process goes
//! through a counting allocator; once the program is about to start, an allocation that
//! would take the live heap over `memory` is refused and the vessel ends with status 4.

use repy_contract::termination::{self, StackLine, Termination};
use repy_portability::memory::CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator::new();

/// Arms the limit; the count starts from zero here.
pub fn start_counting(limit: u64) {
    ALLOCATOR.start_counting(usize::try_from(limit).unwrap_or(usize::MAX), memory_exceeded);
}

/// Counts memory the worker holds outside its heap (kernel socket buffers) against the
/// same limit; false if it does not fit.
pub fn reserve_outside_heap(bytes: usize) -> bool {
    ALLOCATOR.reserve(bytes)
}

/// Takes memory counted by [`reserve_outside_heap`] off the count.
pub fn release_outside_heap(bytes: usize) {
    ALLOCATOR.release(bytes)
}

/// (peak heap bytes since counting started, CPU time of this process in microseconds)
pub fn usage_figures() -> (u64, u64) {
    let cpu = repy_portability::cpu::self_cpu_time();
    (ALLOCATOR.peak_bytes() as u64, cpu.as_micros() as u64)
}

/// Called instead of an allocation that would cross the limit. It must not allocate: the
/// report and the message are formatted on the stack, and the process ends at once.
fn memory_exceeded(limit: usize) -> ! {
    let termination = Termination::MemoryLimit { limit: limit as u64 };
    termination::report(&termination);
    let mut message = StackLine::<128>::new();
    let _ = termination.message(&mut message);
    repy_portability::process::write_stderr_raw(message.as_bytes());
    repy_portability::process::exit_now(Termination::STATUS.code())
}
