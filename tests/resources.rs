//! Resource control of `repy run` (restrictions.md §4): memory, disk, CPU, renewable
//! waits, the usage report, and signals to the supervisor.

mod common;

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use common::{once, repy, restrictions_with, Run, Vessel};

/// Runs `repy run` with a kill deadline; returns the run and its wall time.
fn run_with_deadline(vessel: &Vessel, source: &str, extra: &[&str], deadline: Duration) -> (Run, Duration) {
    vessel.write("prog.py", source);
    let start = Instant::now();
    let mut child = repy()
        .arg("run")
        .args(extra)
        .arg("prog.py")
        .current_dir(vessel.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > deadline {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let elapsed = start.elapsed();
    let output = child.wait_with_output().unwrap();
    let run = Run {
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    (run, elapsed)
}

#[test]
fn memory_bombs_end_the_vessel_with_status_4() {
    for bomb in ["x = 'a' * 10**10", "x = [0] * 10**10", "x = 2 ** (10**9)", "x = []\nwhile True:\n    x.append('y' * 100000)"] {
        let vessel = Vessel::new();
        let (run, elapsed) = run_with_deadline(&vessel, &once(&format!("print('start')\n{bomb}")), &[], Duration::from_secs(20));
        assert_eq!(run.status, Some(4), "{bomb}: {run:?}");
        assert_eq!(run.stdout, "start\n", "{bomb}");
        assert_eq!(run.stderr, "repy: terminated: memory limit exceeded (limit 100000000 bytes)\n", "{bomb}");
        assert!(elapsed < Duration::from_secs(20), "{bomb} took {elapsed:?}");
    }
}

#[test]
fn memory_limit_follows_the_restrictions_file() {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource memory 5000000"));
    let (small, _) =
        run_with_deadline(&vessel, &once("x = 'a' * 1000000\nprint(len(x))"), &["--restrictions", "r.txt"], Duration::from_secs(20));
    assert_eq!((small.status, small.stdout.as_str()), (Some(0), "1000000\n"), "{small:?}");
    let (big, _) = run_with_deadline(&vessel, &once("x = 'a' * 6000000"), &["--restrictions", "r.txt"], Duration::from_secs(20));
    assert_eq!(big.status, Some(4), "{big:?}");
    assert!(big.stderr.contains("memory limit exceeded (limit 5000000 bytes)"), "{big:?}");
}

#[test]
fn a_vessel_already_over_its_disk_limit_does_not_start() {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource diskused 20000"));
    vessel.write("big.dat", &"x".repeat(10_000));
    let (run, _) = run_with_deadline(&vessel, &once("print('ran')"), &["--restrictions", "r.txt"], Duration::from_secs(20));
    assert_eq!(run.status, Some(4), "{run:?}");
    assert_eq!(run.stdout, "");
    // prog.py + r.txt + big.dat, each plus 4096.
    assert!(run.stderr.starts_with("repy: terminated: disk limit exceeded (used "), "{run:?}");
    assert!(run.stderr.ends_with(", limit 20000 bytes)\n"), "{run:?}");
}

#[test]
fn disk_growth_outside_the_api_is_caught_by_the_rescan() {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource diskused 100000"));
    vessel.write("prog.py", &once("print('sleeping')\nsleep(30)"));
    let mut child = repy()
        .args(["run", "--restrictions", "r.txt", "prog.py"])
        .current_dir(vessel.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    vessel.write("grown.dat", &"x".repeat(200_000));
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&output.stderr).contains("disk limit exceeded"));
    assert!(vessel.path().join("grown.dat").exists(), "nothing is deleted");
}

/// Unix only: it measures with wait4, which counts the worker's CPU time once reaped.
#[cfg(unix)]
#[test]
fn cpu_bound_programs_are_held_near_their_fraction() {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource cpu 0.1"));
    vessel.write(
        "prog.py",
        "def stop():\n    exitall()\nif callfunc == 'initialize':\n    settimer(2, stop, [])\n    while True:\n        pass\n",
    );
    let start = Instant::now();
    #[allow(clippy::zombie_processes)]
    let child = repy().args(["run", "--restrictions", "r.txt", "prog.py"]).current_dir(vessel.path()).spawn().unwrap();
    // wait4 reports the CPU time of this child and of the worker it reaped, and of nothing
    // else (other tests run their own children concurrently); it also reaps the child.
    let mut status = 0;
    // SAFETY: plain syscall on our own child with out-parameters we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    let elapsed = start.elapsed();
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let used = secs(usage.ru_utime) + secs(usage.ru_stime);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "status {status}");
    // Unthrottled, the loop would use about `elapsed` CPU seconds; at 0.1 it uses a tenth.
    assert!(used < elapsed.as_secs_f64() * 0.3, "used {used:.2} s of CPU in {elapsed:?}");
    assert!(used > 0.05, "the loop did run ({used:.3} s)");
}

#[test]
fn output_beyond_the_lograte_waits() {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource lograte 2000"));
    // 6000 bytes at 2000 B/s after a one-second burst: at least about two seconds.
    let (run, elapsed) = run_with_deadline(
        &vessel,
        &once("for i in range(60):\n    print('x' * 99)"),
        &["--restrictions", "r.txt"],
        Duration::from_secs(30),
    );
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(run.stdout.len(), 6000);
    assert!(elapsed > Duration::from_millis(1800), "took only {elapsed:?}");
}

#[test]
fn usage_report_lists_every_resource() {
    let vessel = Vessel::new();
    let (run, _) =
        run_with_deadline(&vessel, &once("print('hi')\nsettimer(0, print, ['t'])\nrandomfloat()"), &["--usage"], Duration::from_secs(20));
    assert_eq!(run.status, Some(0), "{run:?}");
    for resource in ["cpu", "memory", "diskused", "events", "filewrite", "lograte", "random", "messport", "connport"] {
        assert!(run.stderr.lines().any(|l| l.starts_with(resource)), "{resource} missing: {run:?}");
    }
    let lograte = run.stderr.lines().find(|l| l.starts_with("lograte")).unwrap();
    assert!(lograte.split_whitespace().nth(2) == Some("5"), "'hi\\n' + 't\\n' = 5 bytes: {lograte}");
    let events = run.stderr.lines().find(|l| l.starts_with("events")).unwrap();
    assert!(events.split_whitespace().nth(2) == Some("2"), "{events}");
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_vessel_with_128_plus_the_signal() {
    let vessel = Vessel::new();
    vessel.write("prog.py", &once("print('up')\nsleep(60)"));
    let mut child = repy().args(["run", "prog.py"]).current_dir(vessel.path()).stdout(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
}

/// Runs `prog.py` with the termination report named in the environment; returns the run and
/// the report's text.
fn run_reporting(vessel: &Vessel, extra_env: &[(&str, &str)], args: &[&str]) -> (Run, String) {
    let outside = tempfile::tempdir().unwrap();
    let report = outside.path().join("v1.ended");
    let output = repy()
        .arg("run")
        .args(args)
        .arg("prog.py")
        .env("REPY_TERMINATION_REPORT", &report)
        .envs(extra_env.iter().copied())
        .current_dir(vessel.path())
        .output()
        .unwrap();
    let run = Run {
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    (run, std::fs::read_to_string(&report).unwrap_or_default())
}

#[test]
fn the_vessel_reports_why_it_was_ended_to_whoever_started_it() {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource memory 5000000\nresource diskused 40000"));
    vessel.write("prog.py", &once("x = 'a' * 6000000"));
    // The worker hits the memory limit, forked or started as a new process.
    for env in [&[][..], &[("REPY_SPAWN_WORKER", "1")][..]] {
        let (run, report) = run_reporting(&vessel, env, &["--restrictions", "r.txt"]);
        assert_eq!(run.status, Some(4), "{env:?} {run:?}");
        assert_eq!(report, "memory 5000000\n", "{env:?} {run:?}");
    }
    // The supervisor finds the disk limit crossed.
    vessel.write("prog.py", &once("f = open('big.dat', 'w')\nf.write('x' * 30000)\nf.close()"));
    let (run, report) = run_reporting(&vessel, &[], &["--restrictions", "r.txt"]);
    assert_eq!(run.status, Some(4), "{run:?}");
    assert!(report.starts_with("disk ") && report.ends_with(" 40000\n"), "{report:?} {run:?}");
    // A normal end and an uncaught exception leave no record.
    vessel.write("prog.py", &once("raise ValueError('no')"));
    let (run, report) = run_reporting(&vessel, &[], &[]);
    assert_eq!((run.status, report.as_str()), (Some(1), ""), "{run:?}");
}

#[test]
fn an_unusable_termination_report_is_named_and_nothing_runs() {
    let vessel = Vessel::new();
    vessel.write("prog.py", &once("print('ran')"));
    let output = repy()
        .args(["run", "prog.py"])
        .env("REPY_TERMINATION_REPORT", "/no/such/dir/v1.ended")
        .current_dir(vessel.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot open the termination report '/no/such/dir/v1.ended' (REPY_TERMINATION_REPORT)"), "{stderr}");
    assert_eq!(output.stdout, b"");
}
