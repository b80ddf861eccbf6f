//! Starting and signalling supervised children: the worker process of `repy run` must not
//! outlive its supervisor, and the supervisor must be able to stop, continue and end it
//! (with any processes it started, when it has a process group of its own).

use std::{
    io,
    path::Path,
    process::{Child, Command},
};

/// What to do to a process or process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Ask to end (Unix SIGTERM; Windows: Ctrl-Break to a group, TerminateProcess to a
    /// single process).
    Terminate,
    /// End at once (Unix SIGKILL; Windows TerminateProcess).
    Kill,
    /// Stop all threads (Unix SIGSTOP; Windows [`crate::suspend::suspend`]).
    Stop,
    /// Continue after [`Signal::Stop`] (Unix SIGCONT; Windows [`crate::suspend::resume`]).
    Continue,
}

/// Test-only: a program (with arguments, split at spaces) that runs every repy process
/// repy itself starts, for instance `qemu-aarch64 -L /usr/aarch64-linux-gnu` when the test
/// suite runs a cross-built repy on a machine whose kernel cannot run it by itself (no
/// `binfmt_misc`). `./x cross` sets it; debug builds only, release builds ignore it.
pub const TEST_RUNNER_VAR: &str = "REPY_TEST_RUNNER";

/// A command that runs the repy executable (or a test binary) `exe`: directly, or in a debug build under the
/// program named by [`TEST_RUNNER_VAR`].
///
/// Windows ignores the variable: there a Windows program starts Windows programs itself, also
/// under Wine, and a runner (a Unix program) would start a child that no Job Object can hold.
pub fn repy_command(exe: &Path) -> Command {
    if cfg!(debug_assertions) && !cfg!(windows) {
        if let Some(runner) = std::env::var(TEST_RUNNER_VAR).ok().filter(|r| !r.trim().is_empty()) {
            let mut words = runner.split_whitespace();
            let mut cmd = Command::new(words.next().expect("not empty"));
            cmd.args(words).arg(exe);
            return cmd;
        }
    }
    Command::new(exe)
}

/// Starts `cmd` as a supervised child.
///
/// * `new_process_group`: the child leads a new process group whose id is its pid, so
///   [`signal_group`] reaches it and its descendants but not the supervisor (Unix
///   `setpgid(0, 0)`; Windows: a Job Object of its own, which its descendants join, plus
///   `CREATE_NEW_PROCESS_GROUP` for Ctrl-Break; any creation flags set before are replaced).
/// * `die_with_parent`: the child is ended when the supervisor ends, even by SIGKILL or
///   `TerminateProcess`. Linux: `PR_SET_PDEATHSIG`, where "parent" is the *thread* that
///   spawns the child, so spawn from a thread that lives as long as the supervision (e.g.
///   the main thread). Windows: the job kills on close, and its handle closes with this
///   process. macOS has no equivalent and ignores it.
///
/// On Windows the child starts suspended and runs only once it is in its job, so nothing it
/// starts escapes the job.
pub fn spawn_supervised(cmd: &mut Command, new_process_group: bool, die_with_parent: bool) -> io::Result<Child> {
    imp::spawn_supervised(cmd, new_process_group, die_with_parent)
}

/// The signal that ended a process, if one did (Unix; never on Windows, which has none).
pub fn exit_signal(status: &std::process::ExitStatus) -> Option<i32> {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.signal()
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        None
    }
}

/// Makes `cmd`'s child leave the caller's session and terminal (Unix `setsid`; Windows
/// `DETACHED_PROCESS` with a new process group), so that it outlives the command that started
/// it and a Ctrl-C in that command's terminal.
pub fn detach_from_session(cmd: &mut Command) {
    imp::detach_from_session(cmd)
}

/// Which side of [`fork_supervised`] the caller is on.
#[cfg(unix)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// The new process: a copy of the caller with only the calling thread.
    Child,
    /// The caller, with the child's pid.
    Parent(u32),
}

/// Forks the calling process (no exec): the child continues from here with the parent's
/// memory, so work already done (arguments parsed, files read and checked) is not done
/// again. On Linux the child gets SIGKILL when the calling thread ends, as with
/// [`spawn_supervised`]'s `die_with_parent`.
///
/// # Safety
/// The process must have a single thread: a child forked from a multi-threaded process may
/// find locks held by threads that do not exist in it. See [`is_single_threaded`].
#[cfg(unix)]
pub unsafe fn fork_supervised() -> io::Result<Forked> {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the caller guarantees a single thread, so the child's copy of every lock and
    // allocator state is consistent.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            #[cfg(target_os = "linux")]
            // SAFETY: plain system calls.
            unsafe {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 || libc::getppid() != parent {
                    libc::_exit(1);
                }
            }
            #[cfg(not(target_os = "linux"))]
            let _ = parent;
            Ok(Forked::Child)
        }
        pid => Ok(Forked::Parent(pid as u32)),
    }
}

/// Whether the calling process has exactly one thread (Linux: `/proc/self/task`; elsewhere
/// unknown, reported as false so callers take the path that needs no such guarantee).
pub fn is_single_threaded() -> bool {
    #[cfg(target_os = "linux")]
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        return tasks.count() == 1;
    }
    false
}

/// Waits for child `pid` (from [`fork_supervised`]) to end and returns how it ended.
#[cfg(unix)]
pub fn wait_for_exit(pid: u32) -> io::Result<std::process::ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let pid = crate::pid::unix_pid(pid)?;
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer; `pid` is our child.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            return Ok(std::process::ExitStatus::from_raw(status));
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Sends `signal` to every process in process group `pgid` (Unix `killpg`). Group 0 (which
/// would mean the caller's own group) is refused. On Windows, `Terminate` sends Ctrl-Break
/// to the console process group and the other signals act on the group leader only.
pub fn signal_group(pgid: u32, signal: Signal) -> io::Result<()> {
    imp::signal_group(pgid, signal)
}

/// Whether process `pid` exists (Unix `kill(pid, 0)`, which also counts a zombie not yet
/// reaped; Windows: it can be opened and has not ended).
pub fn process_exists(pid: u32) -> bool {
    imp::process_exists(pid)
}

/// Sends `signal` to the single process `pid` (Unix `kill`). Pid 0 is refused.
pub fn signal_process(pid: u32, signal: Signal) -> io::Result<()> {
    imp::signal_process(pid, signal)
}

#[cfg(unix)]
mod imp {
    use super::Signal;
    use std::{
        io,
        os::unix::process::CommandExt,
        process::{Child, Command},
    };

    pub fn spawn_supervised(cmd: &mut Command, new_process_group: bool, die_with_parent: bool) -> io::Result<Child> {
        if new_process_group {
            cmd.process_group(0);
        }
        #[cfg(target_os = "linux")]
        if die_with_parent {
            // SAFETY: getpid has no preconditions.
            let parent = unsafe { libc::getpid() };
            // SAFETY: the hook runs between fork and exec and only makes async-signal-safe
            // system calls; it does not allocate (a raw OS error needs no allocation).
            unsafe {
                cmd.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    // The parent may have died before prctl took effect: then nobody would
                    // ever send the signal.
                    if libc::getppid() != parent {
                        libc::_exit(1);
                    }
                    Ok(())
                });
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = die_with_parent;
        cmd.spawn()
    }

    pub fn detach_from_session(cmd: &mut Command) {
        // SAFETY: setsid is async-signal-safe and allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    fn number(signal: Signal) -> libc::c_int {
        match signal {
            Signal::Terminate => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
            Signal::Stop => libc::SIGSTOP,
            Signal::Continue => libc::SIGCONT,
        }
    }

    pub fn signal_group(pgid: u32, signal: Signal) -> io::Result<()> {
        let pgid = crate::pid::unix_pid(pgid)?;
        // SAFETY: killpg has no memory preconditions; `pgid` is positive.
        if unsafe { libc::killpg(pgid, number(signal)) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub fn process_exists(pid: u32) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        crate::pid::unix_pid(pid)
            .is_ok_and(|pid| unsafe { libc::kill(pid, 0) } == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
    }

    pub fn signal_process(pid: u32, signal: Signal) -> io::Result<()> {
        let pid = crate::pid::unix_pid(pid)?;
        // SAFETY: kill has no memory preconditions; `pid` names one process.
        if unsafe { libc::kill(pid, number(signal)) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(windows)]
mod imp {
    use super::Signal;
    use std::{
        io,
        os::windows::{io::AsRawHandle, process::CommandExt},
        process::{Child, Command},
    };

    use windows_sys::Win32::{
        Foundation::{HANDLE, STILL_ACTIVE},
        System::{
            Console::{GenerateConsoleCtrlEvent, CTRL_BREAK_EVENT},
            Threading::{
                GetExitCodeProcess, TerminateProcess, CREATE_NEW_PROCESS_GROUP, CREATE_SUSPENDED, DETACHED_PROCESS,
                PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_TERMINATE,
            },
        },
    };

    use crate::job::{keep_child_job, with_child_job, Job};

    /// The exit code of processes ended by [`Signal::Kill`] (and of a group ended because a
    /// Ctrl-Break could not be delivered).
    const KILLED: u32 = 1;

    pub fn spawn_supervised(cmd: &mut Command, new_process_group: bool, die_with_parent: bool) -> io::Result<Child> {
        if !new_process_group && !die_with_parent {
            return cmd.spawn();
        }
        let job = Job::new()?;
        job.limit(die_with_parent, None, None)?;
        let group = if new_process_group { CREATE_NEW_PROCESS_GROUP } else { 0 };
        cmd.creation_flags(CREATE_SUSPENDED | group);
        let mut child = cmd.spawn()?;
        let started = job.assign(child.as_raw_handle() as HANDLE).and_then(|()| crate::suspend::resume(child.id()));
        if let Err(e) = started {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        keep_child_job(child.id(), job);
        Ok(child)
    }

    pub fn detach_from_session(cmd: &mut Command) {
        cmd.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP);
    }

    /// A group started by [`spawn_supervised`] is its job: Kill ends the job, Stop and
    /// Continue act on each of its processes, Terminate sends Ctrl-Break (which reaches the
    /// group only when it shares our console) and ends the job when that cannot be sent.
    /// Any other group is reached through its leader alone.
    pub fn signal_group(pgid: u32, signal: Signal) -> io::Result<()> {
        if pgid == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "process group 0 is not a valid target"));
        }
        let in_job = with_child_job(pgid, |job| match signal {
            Signal::Kill => job.terminate(KILLED),
            Signal::Terminate => {
                // SAFETY: plain Win32 call.
                if unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pgid) } != 0 {
                    Ok(())
                } else {
                    job.terminate(KILLED)
                }
            }
            Signal::Stop | Signal::Continue => {
                let mut result = Ok(());
                for pid in job.process_ids()? {
                    let done = if signal == Signal::Stop { crate::suspend::suspend(pid) } else { crate::suspend::resume(pid) };
                    result = result.and(done);
                }
                result
            }
        });
        match in_job {
            Some(result) => result,
            None if signal == Signal::Terminate => {
                // SAFETY: plain Win32 call.
                if unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pgid) } == 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            }
            None => signal_process(pgid, signal),
        }
    }

    pub fn process_exists(pid: u32) -> bool {
        let Ok(process) = crate::pid::open_process(pid, PROCESS_QUERY_LIMITED_INFORMATION) else { return false };
        let mut code = 0u32;
        // SAFETY: a valid handle with query rights and a live out-pointer.
        unsafe { GetExitCodeProcess(process.as_raw_handle() as HANDLE, &mut code) != 0 && code == STILL_ACTIVE as u32 }
    }

    pub fn signal_process(pid: u32, signal: Signal) -> io::Result<()> {
        match signal {
            Signal::Stop => crate::suspend::suspend(pid),
            Signal::Continue => crate::suspend::resume(pid),
            Signal::Terminate | Signal::Kill => {
                let process = crate::pid::open_process(pid, PROCESS_TERMINATE)?;
                // SAFETY: valid handle with PROCESS_TERMINATE rights.
                if unsafe { TerminateProcess(process.as_raw_handle() as HANDLE, KILLED) } == 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::{
        os::unix::process::ExitStatusExt,
        process::{Child, ExitStatus, Stdio},
        thread::sleep,
        time::{Duration, Instant},
    };

    fn sleeper() -> Command {
        let mut cmd = Command::new("sleep");
        cmd.arg("30").stdin(Stdio::null());
        cmd
    }

    /// Waits up to 2 s for the child to end; kills it and fails the test otherwise.
    fn wait_briefly(child: &mut Child) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > Duration::from_secs(2) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("child {} did not end", child.id());
            }
            sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn child_gets_its_own_group_and_signal_group_terminates_it() {
        let mut cmd = sleeper();
        let mut child = spawn_supervised(&mut cmd, true, true).unwrap();
        let pid = child.id();
        // SAFETY: getpgid has no memory preconditions.
        let (child_group, own_group) = unsafe { (libc::getpgid(pid as libc::pid_t), libc::getpgid(0)) };
        if child_group != pid as libc::pid_t {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child group {child_group}, expected {pid} (own group {own_group})");
        }
        assert_ne!(child_group, own_group);
        signal_group(pid, Signal::Terminate).unwrap();
        assert_eq!(wait_briefly(&mut child).signal(), Some(libc::SIGTERM));
    }

    #[test]
    fn without_new_group_child_shares_ours() {
        let mut cmd = sleeper();
        let mut child = spawn_supervised(&mut cmd, false, false).unwrap();
        // SAFETY: as above.
        let same = unsafe { libc::getpgid(child.id() as libc::pid_t) == libc::getpgid(0) };
        signal_process(child.id(), Signal::Kill).unwrap();
        assert_eq!(wait_briefly(&mut child).signal(), Some(libc::SIGKILL));
        assert!(same, "child left our process group");
    }

    /// PR_SET_PDEATHSIG fires when the spawning *thread* ends, which lets a test play the
    /// dying parent without dying itself.
    #[test]
    fn die_with_parent_kills_child_when_spawning_thread_ends() {
        let spawn_in_thread = |die_with_parent: bool| {
            std::thread::spawn(move || {
                let mut cmd = sleeper();
                spawn_supervised(&mut cmd, false, die_with_parent).unwrap()
            })
            .join()
            .unwrap()
        };
        let mut guarded = spawn_in_thread(true);
        let mut unguarded = spawn_in_thread(false);
        let guarded_status = wait_briefly(&mut guarded);
        sleep(Duration::from_millis(100));
        let survived = unguarded.try_wait().unwrap().is_none();
        let _ = unguarded.kill();
        let _ = unguarded.wait();
        assert_eq!(guarded_status.signal(), Some(libc::SIGKILL));
        assert!(survived, "a child without die_with_parent died with its thread");
    }

    #[test]
    fn a_detached_child_leads_a_session_of_its_own() {
        let mut cmd = sleeper();
        detach_from_session(&mut cmd);
        let mut child = cmd.spawn().unwrap();
        // SAFETY: getsid has no memory preconditions.
        let (session, ours) = unsafe { (libc::getsid(child.id() as libc::pid_t), libc::getsid(0)) };
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(session, child.id() as libc::pid_t);
        assert_ne!(session, ours);
    }

    #[test]
    fn stop_and_continue_by_signal() {
        let mut child = sleeper().spawn().unwrap();
        let pid = child.id();
        let state = || crate::test_support::proc_state(pid);
        signal_process(pid, Signal::Stop).unwrap();
        sleep(Duration::from_millis(50));
        let stopped = state();
        signal_process(pid, Signal::Continue).unwrap();
        sleep(Duration::from_millis(50));
        let continued = state();
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(stopped, 'T');
        assert_eq!(continued, 'S');
    }

    #[test]
    fn zero_and_negative_ids_are_refused() {
        assert_eq!(signal_group(0, Signal::Terminate).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(signal_process(0, Signal::Kill).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(signal_process(u32::MAX, Signal::Kill).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}

/// Windows: a supervised child is in a job of its own, which signal_group ends as a whole.
#[cfg(all(test, windows))]
mod windows_tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_group_is_its_job_and_kill_ends_it() {
        let mut child = crate::test_support::busy_child_with(|cmd| spawn_supervised(cmd, true, true));
        let pid = child.id();
        assert!(process_exists(pid));
        signal_group(pid, Signal::Kill).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the job's process did not end");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(1));
        assert!(!process_exists(pid));
        assert_eq!(signal_group(0, Signal::Kill).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
