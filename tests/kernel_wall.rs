//! The worker's kernel wall (issue 15): Landlock confines its files to the vessel
//! directory, a seccomp filter refuses calls that reach beyond the process. The test-only
//! hook of debug builds (`REPY_KERNEL_WALL_PROBE`) makes the worker attempt a forbidden
//! operation natively after lock-down and print what the kernel answered; a binary without
//! the hook (the release build under `REPY_TEST_BINARY`) skips those tests, saying why.
//! Linux only: elsewhere the wall is a Job Object (Windows) or nothing.
#![cfg(target_os = "linux")]

mod common;

use common::{free_port, once, repy, repy_bin, Run, Vessel};

/// What `echo` prints when the exec probe was allowed to run it.
const EXEC_ALLOWED: &str = "kernel wall probe exec: allowed";

/// A vessel directory `v` inside a temporary directory (so a file created "outside" it
/// lands in this test's own directory), the program beside it.
struct Setup {
    vessel: Vessel,
}

impl Setup {
    fn new() -> Self {
        let vessel = Vessel::new();
        std::fs::create_dir(vessel.path().join("v")).unwrap();
        Self { vessel }
    }

    fn outside(&self) -> std::path::PathBuf {
        self.vessel.path().join("kernel-wall-probe")
    }

    /// `repy run [extra] --cwd v prog.py` with `env` set (and REPY_KERNEL_WALL unset unless
    /// given).
    fn run(&self, source: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
        self.vessel.write("prog.py", source);
        let mut command = repy();
        command.arg("run").args(extra).args(["--cwd", "v", "prog.py"]).current_dir(self.vessel.path());
        command.env_remove("REPY_KERNEL_WALL").env_remove("REPY_KERNEL_WALL_PROBE").env_remove("REPY_KERNEL_WALL_PROBE_ONLY");
        command.envs(env.iter().copied());
        let output = command.output().expect("repy runs");
        Run {
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// The probe's verdict on `probe` ("allowed", "refused: EPERM", ...) with the wall state
/// line, or None (having said why) when the binary has no probe hook.
fn probe(setup: &Setup, probe: &str, only: Option<&str>, extra: &[&str], env: &[(&str, &str)]) -> Option<(String, Run)> {
    let mut all = vec![("REPY_KERNEL_WALL_PROBE", probe)];
    if let Some(only) = only {
        all.push(("REPY_KERNEL_WALL_PROBE_ONLY", only));
    }
    all.extend_from_slice(env);
    let run = setup.run("print('no probe hook')\n", extra, &all);
    if run.stdout.contains("no probe hook") {
        println!("skipped: {} has no kernel wall probe hook (a release build)", repy_bin().display());
        return None;
    }
    assert_eq!(run.status, Some(0), "{run:?}");
    if let Some(runner) = std::env::var("REPY_TEST_RUNNER").ok().filter(|r| !r.trim().is_empty()) {
        // qemu-user answers seccomp() with ENOSYS and Landlock's calls likewise (and a
        // filter it passed on would judge qemu's own host calls): the wall cannot be
        // raised, or tested, under a user-mode emulator. Natively it must be.
        if let Some(line) = run.stdout.lines().find(|l| l.contains("calls: unavailable")) {
            println!("skipped: the kernel wall cannot be raised under the test runner '{runner}': {line}");
            return None;
        }
    }
    if probe == "exec" && run.stdout.contains(EXEC_ALLOWED) {
        return Some(("allowed".into(), run));
    }
    let prefix = format!("kernel wall probe {probe}: ");
    let verdict = run.stdout.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("no verdict: {run:?}")).to_owned();
    Some((verdict, run))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether this kernel has Landlock (the hook prints the wall's state).
fn landlock_enforced(setup: &Setup) -> Option<bool> {
    let (_, run) = probe(setup, "fork", Some("landlock"), &[], &[])?;
    let enforced = run.stdout.contains("files: enforced");
    if !enforced {
        println!("skipped: this kernel has no Landlock: {}", run.stdout.lines().next().unwrap_or(""));
    }
    Some(enforced)
}

const CALL_PROBES: [&str; 7] = ["exec", "ptrace", "raw-socket", "unix-socket", "mount", "unshare", "fork"];

#[test]
fn every_forbidden_operation_is_refused_by_default() {
    let setup = Setup::new();
    for name in CALL_PROBES {
        let Some((verdict, run)) = probe(&setup, name, None, &[], &[]) else { return };
        assert_eq!(verdict, "refused: EPERM", "{name}: {run:?}");
        assert!(run.stdout.contains("calls: enforced"), "{run:?}");
    }
    let Some((verdict, run)) = probe(&setup, "open-outside", None, &["--kernel-wall", "enforce"], &[]) else { return };
    if run.stdout.contains("files: enforced") {
        assert_eq!(verdict, "refused: EACCES", "{run:?}");
        assert!(!setup.outside().exists(), "nothing was created outside the vessel");
    }
}

#[test]
fn the_call_wall_holds_on_its_own() {
    let setup = Setup::new();
    for name in CALL_PROBES {
        let Some((verdict, run)) = probe(&setup, name, Some("seccomp"), &[], &[]) else { return };
        assert_eq!(verdict, "refused: EPERM", "{name}: {run:?}");
        assert!(run.stdout.contains("files: off"), "{run:?}");
    }
    // Files are not its concern: without Landlock the write outside goes through.
    let Some((verdict, run)) = probe(&setup, "open-outside", Some("seccomp"), &[], &[]) else { return };
    assert_eq!(verdict, "allowed", "{run:?}");
}

#[test]
fn the_file_wall_holds_on_its_own() {
    let setup = Setup::new();
    let Some(true) = landlock_enforced(&setup) else { return };
    // Landlock answers EACCES where seccomp would say EPERM: the refusal is its own.
    for (name, expected) in
        [("open-outside", "refused: EACCES"), ("exec", "refused: EACCES"), ("mount", "refused: EPERM"), ("ptrace", "refused: EPERM")]
    {
        let Some((verdict, run)) = probe(&setup, name, Some("landlock"), &[], &[]) else { return };
        assert_eq!(verdict, expected, "{name}: {run:?}");
        assert!(run.stdout.contains("calls: off"), "{run:?}");
    }
    assert!(!setup.outside().exists(), "nothing was created outside the vessel");
    // Calls are not its concern: without seccomp a second process starts.
    let Some((verdict, run)) = probe(&setup, "fork", Some("landlock"), &[], &[]) else { return };
    assert_eq!(verdict, "allowed", "{run:?}");
}

#[test]
fn report_mode_refuses_nothing_and_says_what_it_would() {
    let setup = Setup::new();
    // What any user may do without the wall; the rest needs root's privileges.
    let mut allowed = vec!["exec", "open-outside", "unix-socket", "fork"];
    if is_root() {
        allowed.extend(["ptrace", "raw-socket", "mount", "unshare"]);
    }
    for (i, name) in allowed.into_iter().enumerate() {
        // Alternately by the option and by the environment variable.
        let (extra, env): (&[&str], &[(&str, &str)]) =
            if i % 2 == 0 { (&["--kernel-wall", "report"], &[]) } else { (&[], &[("REPY_KERNEL_WALL", "report")]) };
        let Some((verdict, run)) = probe(&setup, name, None, extra, env) else { return };
        assert_eq!(verdict, "allowed", "{name}: {run:?}");
        assert_eq!(run.stderr.matches("repy: kernel wall (report mode)").count(), 1, "said once: {run:?}");
        if run.stderr.contains("Landlock ABI") {
            assert!(run.stderr.contains("would allow only"), "{run:?}");
        }
    }
    assert!(setup.outside().exists(), "the write outside went through");
}

#[test]
fn the_option_overrides_the_environment() {
    let setup = Setup::new();
    let Some((verdict, run)) = probe(&setup, "fork", None, &["--kernel-wall", "enforce"], &[("REPY_KERNEL_WALL", "report")]) else {
        return;
    };
    assert_eq!(verdict, "refused: EPERM", "{run:?}");
    assert!(!run.stderr.contains("report mode"), "{run:?}");
}

#[test]
fn a_spawned_worker_is_walled_too() {
    let setup = Setup::new();
    let Some((verdict, run)) = probe(&setup, "exec", None, &[], &[("REPY_SPAWN_WORKER", "1")]) else { return };
    assert_eq!(verdict, "refused: EPERM", "{run:?}");
}

#[test]
fn an_unknown_mode_is_a_usage_error() {
    let setup = Setup::new();
    let run = setup.run("print(1)\n", &["--kernel-wall", "off"], &[]);
    assert_eq!(run.status, Some(2), "{run:?}");
    let run = setup.run("print(1)\n", &[], &[("REPY_KERNEL_WALL", "off")]);
    assert_eq!(run.status, Some(2), "{run:?}");
    assert!(run.stderr.contains("REPY_KERNEL_WALL must be 'enforce' or 'report', not 'off'"), "{run:?}");
}

/// Files, a TCP loopback echo, timers on their own threads, name lookups and a rotating
/// log all work behind the wall.
fn normal_program(port: u16) -> String {
    once(&format!(
        "f = open('data.txt', 'w')\nf.write('kept')\nf.close()\nprint(open('data.txt', 'r').read(), sorted(listdir()))\nremovefile('data.txt')\n\
         print('after remove', listdir())\n\
         print(gethostbyname_ex('localhost')[2][0])\n\
         def serve(ip, port, sock, this, listener):\n    sock.send(sock.recv(100).upper())\n    sock.close()\n    stopcomm(listener)\n\
         waitforconn('127.0.0.1', {port}, serve)\ns = openconn('127.0.0.1', {port}, timeout=5)\ns.send('echo')\nprint('tcp', s.recv(100))\ns.close()\n\
         def tick(n):\n    print('timer', n)\n\
         settimer(0.05, tick, [1])\nsettimer(0.1, tick, [2])\nsleep(0.3)\n\
         for i in range(1000):\n    print('log line %d' % i + 'x' * 60)\n"
    ))
}

fn assert_normal(run: &Run, setup: &Setup) {
    assert_eq!(run.status, Some(0), "{run:?}");
    for expected in ["kept ['data.txt']", "after remove []", "127.0.0.1", "tcp ECHO", "timer 1", "timer 2", "log line 999"] {
        assert!(run.stdout.contains(expected), "{expected}: {run:?}");
    }
    let log = std::fs::read_to_string(setup.vessel.path().join("out.log.old")).unwrap()
        + &std::fs::read_to_string(setup.vessel.path().join("out.log.new")).unwrap();
    assert!(log.ends_with(&format!("log line 999{}\n", "x".repeat(60))), "the log rotated and kept the tail");
    assert!(!log.contains("kept"), "the log is bounded");
}

#[test]
fn a_normal_program_works_behind_the_wall() {
    // The log is beside the vessel directory, as the node manager keeps it.
    let setup = Setup::new();
    let run = setup.run(&normal_program(free_port()), &["--kernel-wall", "enforce", "--logfile", "out.log"], &[]);
    assert_normal(&run, &setup);
    let spawned = Setup::new();
    let run = spawned.run(&normal_program(free_port()), &["--logfile", "out.log"], &[("REPY_SPAWN_WORKER", "1")]);
    assert_normal(&run, &spawned);
}
