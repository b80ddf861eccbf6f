//! The worker's heap accounting (restrictions.md §4.3): every allocation of the process goes
//! through a counting allocator; once the program is about to start, an allocation that
//! would take the live heap over `memory` is refused and the vessel ends with status 4.

use repy_portability::memory::CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator::new();

/// Arms the limit; the count starts from zero here.
pub fn start_counting(limit: u64) {
    ALLOCATOR.start_counting(usize::try_from(limit).unwrap_or(usize::MAX), memory_exceeded);
}

/// (peak heap bytes since counting started, CPU time of this process in microseconds)
pub fn usage_figures() -> (u64, u64) {
    let cpu = repy_portability::cpu::self_cpu_time();
    (ALLOCATOR.peak_bytes() as u64, cpu.as_micros() as u64)
}

/// Called instead of an allocation that would cross the limit. It must not allocate: it
/// formats into a stack buffer and ends the process at once.
fn memory_exceeded(limit: usize) -> ! {
    let mut buffer = [0u8; 128];
    let mut len = 0;
    let mut push = |bytes: &[u8]| {
        for &b in bytes {
            if len < buffer.len() {
                buffer[len] = b;
                len += 1;
            }
        }
    };
    push(b"repy: terminated: memory limit exceeded (limit ");
    let mut digits = [0u8; 20];
    let mut n = limit;
    let mut count = 0;
    loop {
        digits[19 - count] = b'0' + (n % 10) as u8;
        count += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    push(&digits[20 - count..]);
    push(b" bytes)\n");
    repy_portability::process::write_stderr_raw(&buffer[..len]);
    repy_portability::process::exit_now(4)
}
