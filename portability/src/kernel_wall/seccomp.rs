//! The call wall: a classic BPF seccomp filter, installed for every thread (TSYNC).
//!
//! A deny-list, not an allow-list: the interpreter, the allocator, the network runtime and
//! the C library between them make well over a hundred different calls that change with
//! their versions (clone3, rseq, new futex and poll variants), and a missing one would end
//! working vessels in the field. What is refused instead is every call that reaches beyond
//! the process (programs, other processes, file systems, namespaces, kernel modules, keys,
//! BPF, io_uring, the clock, reboot), plus allow-lists where an argument decides: `socket`
//! only for TCP and UDP over IPv4/IPv6 and route netlink (what `getifaddrs` uses), `clone`
//! only for threads without new namespaces. `clone3` passes its flags in memory a filter
//! cannot read, so it answers ENOSYS and the C library falls back to `clone`.

use std::io;

use libc::{sock_filter, sock_fprog};

#[cfg(target_arch = "x86_64")]
const ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

/// Offsets into `struct seccomp_data`: the call number, the architecture, and the low
/// 32 bits of argument `i` (little-endian on both architectures).
const NR: u32 = 0;
const ARCH_FIELD: u32 = 4;
const fn arg(i: u32) -> u32 {
    16 + 8 * i
}

/// The namespace flags `clone` takes (CLONE_NEWTIME is only for unshare and clone3; in
/// `clone` that bit is part of the exit signal).
const CLONE_NAMESPACES: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;

/// Calls refused outright, with EPERM.
const DENIED: &[libc::c_long] = &[
    // Running programs, and processes beyond this one.
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_process_madvise,
    libc::SYS_pidfd_getfd,
    libc::SYS_kcmp,
    // File systems and namespaces.
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_mount_setattr,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_quotactl,
    libc::SYS_quotactl_fd,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_fanotify_init,
    // The kernel's larger interfaces.
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_personality,
    // The machine itself.
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_reboot,
    libc::SYS_acct,
    libc::SYS_syslog,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_vhangup,
    // A second process escapes the supervisor's CPU and memory accounting.
    #[cfg(target_arch = "x86_64")]
    libc::SYS_fork,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_vfork,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ioperm,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_modify_ldt,
];

/// Where a jump goes: the next instruction, a block of this filter, or a verdict.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum To {
    Next,
    Block(&'static str),
    Allow,
    Deny,
    NoSys,
    Foreign,
}

enum Step {
    Load(u32),
    And(u32),
    /// `if (A op k) then else`, op one of BPF_JEQ, BPF_JGE, BPF_JSET.
    Jump(u32, u32, To, To),
    Return(u32),
    /// Where a [`To::Block`] or verdict lands.
    Label(To),
}

fn eq(k: u32, then: To, otherwise: To) -> Step {
    Step::Jump(libc::BPF_JEQ, k, then, otherwise)
}

fn set(k: u32, then: To, otherwise: To) -> Step {
    Step::Jump(libc::BPF_JSET, k, then, otherwise)
}

/// The filter's steps; `deny` and `foreign` are the verdicts of the mode.
fn steps(deny: u32, foreign: u32) -> Vec<Step> {
    use Step::*;
    let mut p = vec![Load(ARCH_FIELD), eq(ARCH, To::Next, To::Foreign), Load(NR)];
    // The x32 calls of x86_64 have the same architecture and numbers with bit 30 set.
    #[cfg(target_arch = "x86_64")]
    p.push(Jump(libc::BPF_JGE, 0x4000_0000, To::Deny, To::Next));
    p.extend(DENIED.iter().map(|&nr| eq(nr as u32, To::Deny, To::Next)));
    p.extend([
        eq(libc::SYS_clone3 as u32, To::NoSys, To::Next),
        eq(libc::SYS_clone as u32, To::Block("clone"), To::Next),
        eq(libc::SYS_socket as u32, To::Block("socket"), To::Next),
        Return(libc::SECCOMP_RET_ALLOW),
        // Threads (thread creation always has CLONE_THREAD), in no new namespace.
        Label(To::Block("clone")),
        Load(arg(0)),
        set(CLONE_NAMESPACES, To::Deny, To::Next),
        set(libc::CLONE_THREAD as u32, To::Allow, To::Deny),
        Label(To::Block("socket")),
        Load(arg(0)),
        eq(libc::AF_INET as u32, To::Block("inet"), To::Next),
        eq(libc::AF_INET6 as u32, To::Block("inet"), To::Next),
        eq(libc::AF_NETLINK as u32, To::Block("netlink"), To::Deny),
        // TCP and UDP only: no raw or packet sockets (the type's flags masked off).
        Label(To::Block("inet")),
        Load(arg(1)),
        And(0xf),
        eq(libc::SOCK_STREAM as u32, To::Allow, To::Next),
        eq(libc::SOCK_DGRAM as u32, To::Allow, To::Deny),
        // The routing table's netlink (read by getifaddrs), no other netlink family.
        Label(To::Block("netlink")),
        Load(arg(2)),
        eq(libc::NETLINK_ROUTE as u32, To::Allow, To::Deny),
        Label(To::Allow),
        Return(libc::SECCOMP_RET_ALLOW),
        Label(To::Deny),
        Return(deny),
        Label(To::NoSys),
        Return(libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        Label(To::Foreign),
        Return(foreign),
    ]);
    p
}

/// The steps as BPF instructions, jumps resolved (all jumps go forward).
fn assemble(steps: &[Step]) -> io::Result<Vec<sock_filter>> {
    let mut at = Vec::new();
    let mut count = 0usize;
    for step in steps {
        match step {
            Step::Label(to) => at.push((*to, count)),
            _ => count += 1,
        }
    }
    let target = |to: To, here: usize| -> io::Result<u8> {
        let offset = match to {
            To::Next => 0,
            to => {
                let (_, position) =
                    at.iter().find(|(label, _)| *label == to).ok_or_else(|| io::Error::other(format!("no label {to:?}")))?;
                position.checked_sub(here + 1).ok_or_else(|| io::Error::other("backward jump"))?
            }
        };
        u8::try_from(offset).map_err(|_| io::Error::other("jump too far"))
    };
    let mut program = Vec::with_capacity(count);
    for step in steps {
        let here = program.len();
        let (code, jt, jf, k) = match *step {
            Step::Label(_) => continue,
            Step::Load(offset) => (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, offset),
            Step::And(k) => (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K, 0, 0, k),
            Step::Jump(op, k, then, otherwise) => (libc::BPF_JMP | op | libc::BPF_K, target(then, here)?, target(otherwise, here)?, k),
            Step::Return(k) => (libc::BPF_RET | libc::BPF_K, 0, 0, k),
        };
        program.push(sock_filter { code: code as u16, jt, jf, k });
    }
    Ok(program)
}

/// Whether the kernel knows the filter action `action`.
fn action_available(action: u32) -> bool {
    // SAFETY: the query reads one u32 from the pointer given.
    unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_GET_ACTION_AVAIL, 0u32, &action as *const u32) == 0 }
}

/// Installs the filter on every thread of the process; returns what it is.
pub fn install(mode: super::Mode) -> io::Result<String> {
    let (deny, foreign, what) = match mode {
        super::Mode::Enforce => (libc::SECCOMP_RET_ERRNO | libc::EPERM as u32, libc::SECCOMP_RET_KILL_PROCESS, "seccomp filter, EPERM"),
        super::Mode::Report => {
            if !action_available(libc::SECCOMP_RET_LOG) {
                return Err(io::Error::other("the kernel cannot log seccomp actions"));
            }
            (libc::SECCOMP_RET_LOG, libc::SECCOMP_RET_LOG, "seccomp logs to the kernel log the calls it would refuse")
        }
    };
    let mut program = assemble(&steps(deny, foreign))?;
    let prog = sock_fprog { len: program.len() as u16, filter: program.as_mut_ptr() };
    // SAFETY: `prog` points at the live instructions for the duration of the call.
    let done = unsafe {
        libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, libc::SECCOMP_FILTER_FLAG_TSYNC, &prog as *const sock_fprog)
    };
    match done {
        0 => Ok(format!("{what}, {} instructions", program.len())),
        // A thread that could not be synchronised, by its id.
        tid if tid > 0 => Err(io::Error::other(format!("thread {tid} could not take the filter"))),
        _ => Err(io::Error::last_os_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DENY: u32 = 1;
    const FOREIGN: u32 = 2;

    /// Runs the filter on one call the way the kernel would (only the instructions the
    /// filter uses), returning its verdict.
    fn verdict(arch: u32, nr: libc::c_long, args: [u64; 3]) -> u32 {
        let program = assemble(&steps(DENY, FOREIGN)).unwrap();
        let word = |offset: u32| -> u32 {
            match offset {
                NR => nr as u32,
                ARCH_FIELD => arch,
                o => args[((o - 16) / 8) as usize] as u32,
            }
        };
        let (mut pc, mut a) = (0usize, 0u32);
        loop {
            let i = &program[pc];
            pc += 1;
            let code = i.code as u32;
            match code & 0x07 {
                libc::BPF_LD => a = word(i.k),
                libc::BPF_ALU => a &= i.k,
                libc::BPF_RET => return i.k,
                libc::BPF_JMP => {
                    let taken = match code & 0xf0 {
                        libc::BPF_JEQ => a == i.k,
                        libc::BPF_JGE => a >= i.k,
                        libc::BPF_JSET => a & i.k != 0,
                        other => panic!("unexpected jump {other:#x}"),
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
                other => panic!("unexpected class {other:#x}"),
            }
        }
    }

    fn call(nr: libc::c_long, args: [u64; 3]) -> u32 {
        verdict(ARCH, nr, args)
    }

    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    const NOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

    #[test]
    fn the_filter_assembles_with_forward_jumps() {
        let program = assemble(&steps(0, 0)).unwrap();
        assert!(program.len() < 255, "{} instructions", program.len());
    }

    #[test]
    fn threads_start_and_other_processes_do_not() {
        let thread = (libc::CLONE_VM | libc::CLONE_FS | libc::CLONE_FILES | libc::CLONE_SIGHAND | libc::CLONE_THREAD) as u64;
        assert_eq!(call(libc::SYS_clone, [thread, 0, 0]), ALLOW);
        assert_eq!(call(libc::SYS_clone, [libc::SIGCHLD as u64, 0, 0]), DENY, "fork");
        assert_eq!(call(libc::SYS_clone, [thread | libc::CLONE_NEWUSER as u64, 0, 0]), DENY, "a thread in a new namespace");
        assert_eq!(call(libc::SYS_clone3, [0, 0, 0]), NOSYS, "falls back to clone");
        for nr in [libc::SYS_execve, libc::SYS_ptrace, libc::SYS_mount, libc::SYS_unshare, libc::SYS_bpf, libc::SYS_personality] {
            assert_eq!(call(nr, [0, 0, 0]), DENY, "call {nr}");
        }
        for nr in [libc::SYS_read, libc::SYS_mmap, libc::SYS_futex, libc::SYS_landlock_restrict_self, libc::SYS_getrandom] {
            assert_eq!(call(nr, [0, 0, 0]), ALLOW, "call {nr}");
        }
    }

    #[test]
    fn only_tcp_udp_and_route_netlink_sockets_open() {
        let socket = |family: i32, kind: i32, protocol: i32| call(libc::SYS_socket, [family as u64, kind as u64, protocol as u64]);
        assert_eq!(socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0), ALLOW);
        assert_eq!(socket(libc::AF_INET6, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, 0), ALLOW);
        assert_eq!(socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE), ALLOW);
        assert_eq!(socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP), DENY);
        assert_eq!(socket(libc::AF_INET, 10, 0), DENY, "SOCK_PACKET, the old packet socket");
        assert_eq!(socket(libc::AF_PACKET, libc::SOCK_DGRAM, 0), DENY);
        assert_eq!(socket(libc::AF_UNIX, libc::SOCK_STREAM, 0), DENY);
        assert_eq!(socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_AUDIT), DENY);
    }

    #[test]
    fn other_call_conventions_are_refused() {
        assert_eq!(verdict(0x4000_0003, libc::SYS_read, [0, 0, 0]), FOREIGN, "the i386 convention");
        #[cfg(target_arch = "x86_64")]
        assert_eq!(call(0x4000_0000 | libc::SYS_execve, [0, 0, 0]), DENY, "x32");
    }
}
