//! The operating-system layer: everything the sandbox asks of the host that differs between
//! Linux, macOS and Windows lives behind the functions of this crate.
//!
//! Support by system (Linux means every architecture, ARM included: nothing here is
//! architecture-specific). "Written" means implemented but never built. Windows
//! (x86_64-pc-windows-gnu) is built by `./x cross windows` and tested under Wine 8.0:
//! "Wine-tested" means a unit test of this crate or a run of `repy` passed there.
//!
//! | Function | Linux | macOS | Windows |
//! |---|---|---|---|
//! | [`cpu::process_cpu_time`] | `/proc/PID/stat` | `proc_pid_rusage` (written) | `GetProcessTimes`, or the live threads' `GetThreadTimes` when more (Wine answers the caller's own times; `cpu 0.1` held there by the threads' sum) |
//! | [`cpu::self_cpu_time`] | `CLOCK_PROCESS_CPUTIME_ID` | same (written) | `GetProcessTimes` (Wine-tested) |
//! | [`suspend::suspend`] / [`suspend::resume`] | SIGSTOP / SIGCONT | same (written) | per-thread `SuspendThread` / `ResumeThread` (Wine: the CPU share holds) |
//! | [`memory::resident_bytes`] | `/proc/PID/statm` | `proc_pidinfo` (written) | `K32GetProcessMemoryInfo` (built, untested) |
//! | [`memory::proportional_set_size`] | `smaps_rollup` | = resident (written) | = resident |
//! | [`memory::limit_address_space`] | `RLIMIT_AS` | `RLIMIT_AS`, weakly enforced (written) | committed-memory cap of a Job Object holding the process (Wine accepts, does not enforce) |
//! | [`memory::CountingAllocator`] | yes | yes | yes (Wine: a memory bomb ends with status 4) |
//! | [`memory::use_one_heap`] (one malloc arena, fixed mmap/trim thresholds) | `mallopt` (glibc; nothing under musl) | nothing (no such arenas) | nothing (no such arenas) |
//! | [`child::spawn_supervised`] | process group + `PR_SET_PDEATHSIG` | process group only (written) | a Job Object per child, killed on close, the child started suspended until it is in it (Wine-tested) |
//! | [`child::fork_supervised`] / [`child::wait_for_exit`] (start a worker without a second exec) | `fork` + `PR_SET_PDEATHSIG`, `waitpid` | `fork`, `waitpid` (written; `repy run` spawns there, as [`child::is_single_threaded`] is false) | not available: `repy run` spawns |
//! | [`child::signal_group`] / [`child::signal_process`] | `killpg` / `kill` | same (written) | the child's job: `TerminateJobObject`, Ctrl-Break, suspend of each process; `TerminateProcess` (Kill Wine-tested) |
//! | [`child::process_exists`] | `kill(pid, 0)` | same (written) | `GetExitCodeProcess` (Wine-tested) |
//! | [`machine::physical_memory`] / [`machine::free_disk_space`] | `sysconf` / `statvfs` | same (written) | `GlobalMemoryStatusEx` / `GetDiskFreeSpaceExW` (Wine-tested) |
//! | [`machine::process_tree_usage`] | `/proc` | not yet | not yet |
//! | [`machine::link_speeds_mbit`] (`repy node init --percent`) | `/sys/class/net` | unknown (a default is used) | unknown (a default is used) |
//! | [`service::is_privileged`] / [`service::owner_uid`] / the service managers of `repy node install` | `geteuid` / `stat`; `systemctl` | same; `launchctl` (written) | token elevation / none; `schtasks` (written) |
//! | [`child::detach_from_session`] | `setsid` | same (written) | `DETACHED_PROCESS` (built, untested) |
//! | [`interfaces::all_interfaces`] / [`interfaces::interface_ipv4_addresses`] | `getifaddrs` | same (written) | `GetAdaptersAddresses` (Wine: unknown names are refused) |
//! | [`readiness::wait_readable`] | `poll` | same (written) | `WSAPoll` (Wine-tested) |
//! | [`resolve::ipv4_addresses`] | `getaddrinfo` | same | `getaddrinfo` (Wine-tested) |
//! | [`nofollow::open_regular_file`] / [`nofollow::refuse_links`] | `O_NOFOLLOW \| O_NONBLOCK` | same | `FILE_FLAG_OPEN_REPARSE_POINT` (built, untested) |
//! | [`files::create_new`] (key files) | permission bits | same | the directory's access list (no bits) |
//! | [`kernel_wall::lock_down`] (the worker's second wall) | Landlock + seccomp filter | nothing | the process's Job Object: memory cap, one process, killed on close (built; `repy run` works behind it under Wine, which does not enforce the cap) |
//! | [`netns`] (the testbed's `--netns`) | `ip netns`, veth pairs on a bridge | `Unsupported` | `Unsupported` |
//! | [`paths::config_dir`] (the client's settings) | `$XDG_CONFIG_HOME` or `~/.config` | same | `%APPDATA%` |
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
pub mod netns;
pub mod nofollow;
pub mod paths;
mod pid;
pub mod process;
pub mod readiness;
pub mod resolve;
pub mod service;
pub mod suspend;
#[cfg(test)]
mod test_support;
