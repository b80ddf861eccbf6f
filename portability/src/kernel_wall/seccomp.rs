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

    #[test]
    fn the_filter_assembles_with_forward_jumps() {
        let program = assemble(&steps(0, 0)).unwrap();
        assert!(program.len() < 255, "{} instructions", program.len());
        // The last four are the verdicts.
        let returns = program.iter().rev().take(4).filter(|i| i.code == (libc::BPF_RET | libc::BPF_K) as u16).count();
        assert_eq!(returns, 4);
    }
}
