//! Running a vessel's program (nodemanager.md §2.3): spawning `repy run` in its own process
//! group with a parent-death signal, keeping the last 4096 bytes of its stderr, stopping it
//! (SIGTERM to the group, grace period, SIGKILL) and classifying how it ended: from its exit
//! code and the termination report it leaves (repy_contract::termination), never from the
//! text of its stderr, which is only shown to users as the reason.

use std::{
    io::Read,
    path::PathBuf,
    process::Stdio,
    sync::{
        mpsc::{self, Receiver, RecvTimeoutError},
        Arc, Mutex,
    },
    time::Duration,
};

use repy_contract::termination::{self, Termination};
use repy_portability::child::{exit_signal, repy_command, signal_group, spawn_supervised, Signal};

use crate::state::{Layout, Network, Status};

pub const STDERR_TAIL: usize = 4096;
pub const REASON_CHARS: usize = 256;

/// How a process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stderr_tail: Vec<u8>,
    /// Why the vessel ended it, if it did (its termination report).
    pub termination: Option<Termination>,
}

impl ExitInfo {
    /// The status of §2.3 for a process that ended by itself (`stopped` = the NM signalled it).
    pub fn status(&self, stopped: bool) -> Status {
        if stopped {
            Status::Stopped
        } else if matches!(self.termination, Some(Termination::ThreadErr { .. })) {
            Status::ThreadErr
        } else {
            Status::Terminated
        }
    }

    /// The last non-empty stderr line, at most 256 characters.
    pub fn reason(&self) -> String {
        let text = String::from_utf8_lossy(&self.stderr_tail);
        let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
        line.chars().take(REASON_CHARS).collect()
    }
}

/// A message from a vessel's watcher thread to the node: the process `pid` of `vessel` ended.
#[derive(Debug)]
pub struct Ended {
    pub vessel: String,
    pub pid: u32,
}

/// A running vessel process.
pub struct Running {
    pub pid: u32,
    exit: Receiver<ExitInfo>,
}

/// What to run.
pub struct Launch<'a> {
    pub repy: PathBuf,
    pub layout: &'a Layout,
    pub network: &'a Network,
    pub vessel: &'a str,
    pub program: &'a str,
    pub args: &'a [String],
}

impl Launch<'_> {
    /// The argument vector after the binary.
    pub fn argv(&self) -> Vec<std::ffi::OsString> {
        let mut argv: Vec<std::ffi::OsString> = vec!["run".into()];
        for ip in &self.network.ip {
            argv.push("--ip".into());
            argv.push(ip.into());
        }
        for iface in &self.network.iface {
            argv.push("--iface".into());
            argv.push(iface.into());
        }
        if self.network.nootherips {
            argv.push("--nootherips".into());
        }
        argv.push("--restrictions".into());
        argv.push(self.layout.restrictions(self.vessel).into());
        argv.push("--cwd".into());
        argv.push(self.layout.vessel_dir(self.vessel).into());
        argv.push("--logfile".into());
        argv.push(self.layout.log_base(self.vessel).into());
        argv.push("--".into());
        argv.push(self.layout.vessel_dir(self.vessel).join(self.program).into());
        argv.extend(self.args.iter().map(Into::into));
        argv
    }

    /// Spawns the process; a watcher thread reads its stderr, reaps it and reports on `ended`.
    ///
    /// Call this from a thread that lives as long as the node manager: on Linux the parent-death
    /// signal fires when the spawning thread ends.
    pub fn spawn(&self, notify: impl FnOnce(Ended) + Send + 'static) -> std::io::Result<Running> {
        let report = self.layout.termination_report(self.vessel);
        match std::fs::remove_file(&report) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut command = repy_command(&self.repy);
        command.args(self.argv()).env(termination::REPORT_VAR, &report).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = spawn_supervised(&mut command, true, true)?;
        let pid = child.id();
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        let vessel = self.vessel.to_string();
        // One thread keeps the stderr tail; another reaps the process. The reaper does not wait
        // for the end of stderr beyond a moment, in case a descendant keeps the pipe open.
        let tail = Arc::new(Mutex::new(Vec::new()));
        let (eof_tx, eof_rx) = mpsc::channel::<()>();
        let reader_tail = tail.clone();
        std::thread::Builder::new().name(format!("stderr-{vessel}")).spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut tail = reader_tail.lock().unwrap_or_else(|p| p.into_inner());
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > STDERR_TAIL {
                    let excess = tail.len() - STDERR_TAIL;
                    tail.drain(..excess);
                }
            }
            drop(eof_tx);
        })?;
        std::thread::Builder::new().name(format!("reap-{vessel}")).spawn(move || {
            let status = child.wait();
            let _ = eof_rx.recv_timeout(Duration::from_secs(2));
            let stderr_tail = tail.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let (termination, report_problem) = match termination::read_report(&report) {
                Ok(termination) => (termination, None),
                Err(problem) => (None, Some(problem)),
            };
            let mut info = match status {
                Ok(status) => ExitInfo { code: status.code(), signal: exit_signal(&status), stderr_tail, termination },
                Err(e) => ExitInfo { code: None, signal: None, stderr_tail: format!("wait failed: {e}").into_bytes(), termination },
            };
            if let Some(problem) = report_problem {
                info.stderr_tail.extend_from_slice(format!("\n[node manager] {problem}\n").as_bytes());
            }
            let _ = tx.send(info);
            notify(Ended { vessel, pid });
        })?;
        Ok(Running { pid, exit: rx })
    }
}

impl Running {
    /// The exit information if the process has already ended.
    pub fn try_exit(&self) -> Option<ExitInfo> {
        self.exit.try_recv().ok()
    }

    /// Stops the process group: SIGTERM, up to `grace` to end, then SIGKILL; returns once the
    /// process has been reaped, with whether it had ended on its own before the signal.
    pub fn stop(self, grace: Duration) -> (ExitInfo, bool) {
        if let Ok(info) = self.exit.try_recv() {
            return (info, true);
        }
        let _ = signal_group(self.pid, Signal::Terminate);
        let info = match self.exit.recv_timeout(grace) {
            Ok(info) => info,
            Err(RecvTimeoutError::Timeout) => {
                let _ = signal_group(self.pid, Signal::Kill);
                self.exit.recv().unwrap_or_else(|_| lost())
            }
            Err(RecvTimeoutError::Disconnected) => lost(),
        };
        (info, false)
    }
}

fn lost() -> ExitInfo {
    ExitInfo { code: None, signal: None, stderr_tail: b"the watcher thread ended unexpectedly".to_vec(), termination: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_and_reason() {
        let e = |code, text: &str| ExitInfo { code, signal: None, stderr_tail: text.as_bytes().to_vec(), termination: None };
        let ended = |termination| ExitInfo { termination: Some(termination), ..e(Some(4), "") };
        assert_eq!(e(Some(0), "").status(false), Status::Terminated);
        assert_eq!(ended(Termination::MemoryLimit { limit: 5 }).status(false), Status::Terminated);
        assert_eq!(ended(Termination::ThreadErr { detail: "no thread".into() }).status(false), Status::ThreadErr);
        // What a program prints is no evidence: only the report counts.
        assert_eq!(e(Some(4), "repy: terminated: ThreadErr: cannot start thread\n").status(false), Status::Terminated);
        assert_eq!(e(None, "").status(true), Status::Stopped);
        assert_eq!(e(Some(1), "Traceback\n  x\nValueError: bad\n\n  \n").reason(), "ValueError: bad");
        assert_eq!(e(Some(1), &"x".repeat(300)).reason().len(), 256);
    }

    /// Unix only: the fake repy is a shell script.
    #[cfg(unix)]
    #[test]
    fn spawned_process_is_watched_stopped_and_keeps_the_stderr_tail() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        std::fs::create_dir(layout.logs_dir()).unwrap();
        // A fake `repy`: a shell script that prints a lot to stderr and then waits or exits.
        let script = dir.path().join("fake-repy");
        std::fs::write(
            &script,
            "#!/bin/sh\ni=0\nwhile [ $i -lt 300 ]; do echo \"line $i of stderr output\" >&2; i=$((i+1)); done\n\
case \"$*\" in *wait*) exec sleep 30;; *threaderr*) echo 'threaderr no thread' > \"$REPY_TERMINATION_REPORT\"; exit 4;; \
*) echo 'last words' >&2; exit 3;; esac\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let network = Network { ip: vec!["1.2.3.4".into()], iface: vec!["lo".into()], nootherips: true };
        let (tx, rx) = mpsc::channel();
        let launch = |args: &[String]| {
            Launch { repy: script.clone(), layout: &layout, network: &network, vessel: "v1", program: "p.r2py", args }
                .spawn({
                    let tx = tx.clone();
                    move |e| tx.send(e).unwrap()
                })
                .unwrap()
        };
        let quick = launch(&["x".to_string()]);
        let ended = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!((ended.vessel.as_str(), ended.pid), ("v1", quick.pid));
        let info = quick.try_exit().unwrap();
        assert_eq!(info.code, Some(3));
        assert_eq!(info.reason(), "last words");
        assert_eq!(info.stderr_tail.len(), STDERR_TAIL);
        assert_eq!(info.status(false), Status::Terminated);

        let refused = launch(&["threaderr".to_string()]);
        rx.recv_timeout(Duration::from_secs(20)).unwrap();
        let info = refused.try_exit().unwrap();
        assert_eq!(info.termination, Some(Termination::ThreadErr { detail: "no thread".into() }));
        assert_eq!(info.status(false), Status::ThreadErr);

        let slow = launch(&["wait".to_string()]);
        let start = std::time::Instant::now();
        let (info, by_itself) = slow.stop(Duration::from_secs(5));
        assert!(!by_itself);
        assert_eq!(info.signal, Some(libc::SIGTERM));
        assert!(start.elapsed() < Duration::from_secs(5));

        let argv: Vec<String> =
            Launch { repy: script.clone(), layout: &layout, network: &network, vessel: "v7", program: "p.r2py", args: &["a".into()] }
                .argv()
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
        let root = dir.path().display();
        assert_eq!(
            argv,
            [
                "run".to_string(),
                "--ip".into(),
                "1.2.3.4".into(),
                "--iface".into(),
                "lo".into(),
                "--nootherips".into(),
                "--restrictions".into(),
                format!("{root}/resources/v7.restrictions"),
                "--cwd".into(),
                format!("{root}/vessels/v7"),
                "--logfile".into(),
                format!("{root}/logs/v7.log"),
                "--".into(),
                format!("{root}/vessels/v7/p.r2py"),
                "a".into(),
            ]
        );
    }
}
