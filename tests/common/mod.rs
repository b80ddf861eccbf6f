//! Running the `repy` binary as a user would, on programs written into a temporary vessel.
#![allow(dead_code)]

use std::{
    net::{Ipv4Addr, TcpListener, UdpSocket},
    path::{Path, PathBuf},
    process::{Command, Output},
};

pub mod node;
pub mod testbed;

pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Self {
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "status {:?}\n--- stdout\n{}--- stderr\n{}", self.status, self.stdout, self.stderr)
    }
}

/// The binary under test: the one this test build made, or `REPY_TEST_BINARY` (how
/// `.ci/run` runs the same tests against the release build without building them again).
pub fn repy_bin() -> PathBuf {
    std::env::var_os("REPY_TEST_BINARY").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_repy")))
}

/// A command running the binary under test, under `REPY_TEST_RUNNER` when set (test-only:
/// `./x cross` names qemu-user there, to run a cross-built repy; the repy processes it
/// starts honour the same variable).
pub fn repy() -> Command {
    repy_portability::child::repy_command(&repy_bin())
}

/// Runs `repy ARGS...` in `dir`.
pub fn repy_in(dir: &Path, args: &[&str]) -> Run {
    let output = repy().args(args).current_dir(dir).output().expect("repy runs");
    Run::from(output)
}

/// A temporary vessel directory.
pub struct Vessel {
    pub dir: tempfile::TempDir,
}

impl Vessel {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, text: &str) -> &Self {
        std::fs::write(self.dir.path().join(name), text).expect("write file");
        self
    }

    /// Writes `source` as `prog.py` and runs `repy run [extra...] prog.py [args...]`.
    pub fn run(&self, source: &str, extra: &[&str], args: &[&str]) -> Run {
        self.write("prog.py", source);
        let mut all = vec!["run"];
        all.extend_from_slice(extra);
        all.push("prog.py");
        all.extend_from_slice(args);
        repy_in(self.path(), &all)
    }
}

/// Runs a program under the default profile.
pub fn run_program(source: &str) -> Run {
    Vessel::new().run(source, &[], &[])
}

/// A restrictions file: the default profile with `changes` lines appended after removing
/// the lines for the resources they set.
pub fn restrictions_with(changes: &str) -> String {
    let default = repy_in(Path::new("."), &["restrictions", "show", "default"]).stdout;
    let changed: Vec<&str> =
        changes.lines().filter_map(|l| l.strip_prefix("resource ").and_then(|r| r.split_whitespace().next())).collect();
    let mut text: String = default
        .lines()
        .filter(|l| {
            let mut t = l.split_whitespace();
            !(t.next() == Some("resource") && t.next().is_some_and(|name| changed.contains(&name)))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    text.push_str(changes);
    text.push('\n');
    text
}

/// `source` wrapped so that it runs only in the initialize run (top-level code otherwise
/// runs again in the exit run).
pub fn once(source: &str) -> String {
    let body: String = source.lines().map(|l| format!("    {l}\n")).collect();
    format!("if callfunc == 'initialize':\n{body}")
}

/// A port free for both UDP and TCP on loopback right now.
pub fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}
