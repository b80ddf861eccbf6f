//! The operating-system layer: everything the sandbox asks of the host that differs between
//! Linux, macOS and Windows lives behind the functions of this crate.
//!
//! Support by system (Linux means every architecture, ARM included: nothing here is
//! architecture-specific). "Written" means implemented but built and tested on Linux only.
//!
//! | Function | Linux | macOS | Windows |
//! |---|---|---|---|
//! | [`cpu::process_cpu_time`] | `/proc/PID/stat` | `proc_pid_rusage` (written) | `GetProcessTimes` (written) |
//! | [`cpu::self_cpu_time`] | `CLOCK_PROCESS_CPUTIME_ID` | same (written) | `GetProcessTimes` (written) |
//! | [`suspend::suspend`] / [`suspend::resume`] | SIGSTOP / SIGCONT | same (written) | per-thread `SuspendThread` / `ResumeThread` (written) |
//! | [`memory::resident_bytes`] | `/proc/PID/statm` | `proc_pidinfo` (written) | `K32GetProcessMemoryInfo` (written) |
//! | [`memory::proportional_set_size`] | `smaps_rollup` | = resident (written) | = resident (written) |
//! | [`memory::limit_address_space`] | `RLIMIT_AS` | `RLIMIT_AS`, weakly enforced (written) | no-op |
//! | [`memory::CountingAllocator`] | yes | yes | yes (portable Rust) |
//! | [`memory::use_one_heap`] (one malloc arena, fixed mmap/trim thresholds) | `mallopt` (glibc; nothing under musl) | nothing (no such arenas) | nothing (no such arenas) |
//! | [`child::configure_child`] | process group + `PR_SET_PDEATHSIG` | process group only (written) | `CREATE_NEW_PROCESS_GROUP` (written) |
//! | [`child::fork_supervised`] / [`child::wait_for_exit`] (start a worker without a second exec) | `fork` + `PR_SET_PDEATHSIG`, `waitpid` | `fork`, `waitpid` (written; `repy run` spawns there, as [`child::is_single_threaded`] is false) | not available: `repy run` spawns |
//! | [`child::signal_group`] / [`child::signal_process`] | `killpg` / `kill` | same (written) | Ctrl-Break, `TerminateProcess`, suspend (written) |
//! | [`machine::physical_memory`] / [`machine::free_disk_space`] | `sysconf` / `statvfs` | same (written) | not yet: the node manager is Unix-only |
//! | [`machine::process_tree_usage`] | `/proc` | not yet | not yet |
//! | [`child::detach_from_session`] | `setsid` | same (written) | `DETACHED_PROCESS` (written) |
//! | [`interfaces::all_interfaces`] / [`interfaces::interface_ipv4_addresses`] | `getifaddrs` | same (written) | `GetAdaptersAddresses` (written) |
//! | [`readiness::wait_readable`] | `poll` | same (written) | `WSAPoll` (written) |
//! | [`nofollow::open_regular_file`] | `O_NOFOLLOW \| O_NONBLOCK` | same | `FILE_FLAG_OPEN_REPARSE_POINT` (written) |
//! | [`kernel_wall::lock_down`] (the worker's second wall) | Landlock + seccomp filter | nothing | Job Object (written) |
//! | [`process::exit_now`] / [`process::write_stderr_raw`] | `_exit` / `write(2)` | same | `std` fallbacks |
//!
//! Other Unix systems get the portable parts; per-process CPU time and resident size
//! report `Unsupported` there.

pub mod child;
pub mod cpu;
pub mod files;
pub mod interfaces;
#[cfg(windows)]
mod job;
pub mod kernel_wall;
pub mod machine;
pub mod memory;
pub mod nofollow;
mod pid;
pub mod process;
pub mod readiness;
pub mod resolve;
pub mod suspend;
#[cfg(test)]
mod test_support;
