//! The program lifecycle and exit statuses of `repy run` (repy-api.md §2, cli.md).

mod common;

use common::{repy_in, run_program, Vessel};

#[test]
fn hello_example_prints_and_exits_zero() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = repy_in(root, &["run", "examples/hello.py", "tester"]);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert!(run.stdout.starts_with("Hello, tester!\nGoodbye after "), "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
}

#[test]
fn initialize_then_exit_run_share_mycontext_and_globals() {
    let run = run_program(
        "if callfunc == 'initialize':\n    mycontext['n'] = 1\n    x = 5\n    print('init', callargs)\nelse:\n    print('exit', mycontext['n'], x, callfunc)\n",
    );
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(run.stdout, "init []\nexit 1 5 exit\n");
}

#[test]
fn callargs_are_the_command_line_arguments() {
    let run = Vessel::new().run("if callfunc == 'initialize':\n    print(callargs)\n", &[], &["a", "--b", "3"]);
    assert_eq!(run.stdout, "['a', '--b', '3']\n", "{run:?}");
}

#[test]
fn exit_run_waits_for_timers() {
    let run = run_program(
        "def later():\n    print('timer')\nif callfunc == 'initialize':\n    settimer(0.2, later, [])\n    print('init')\nelse:\n    print('exit')\n",
    );
    assert_eq!(run.stdout, "init\ntimer\nexit\n", "{run:?}");
}

#[test]
fn exitall_ends_at_once_with_zero_and_no_exit_run() {
    let run = run_program(
        "if callfunc == 'initialize':\n    print('before')\n    try:\n        exitall()\n    finally:\n        print('finally ran')\n    print('after')\nelse:\n    print('exit run')\n",
    );
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(run.stdout, "before\n", "{run:?}");
}

#[test]
fn exitall_from_a_timer_thread_stops_everything() {
    let run = run_program(
        "def stop():\n    print('stopping')\n    exitall()\ndef spin():\n    while True:\n        sleep(0.01)\nif callfunc == 'initialize':\n    settimer(0, spin, [])\n    settimer(0.2, stop, [])\nelse:\n    print('exit run')\n",
    );
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(run.stdout, "stopping\n", "{run:?}");
}

#[test]
fn catching_base_exception_cannot_stop_exitall() {
    let run =
        run_program("if callfunc == 'initialize':\n    try:\n        exitall()\n    except BaseException:\n        print('caught')\n");
    assert_eq!((run.status, run.stdout.as_str()), (Some(0), ""), "{run:?}");
}

#[test]
fn uncaught_exception_exits_one_with_the_programs_own_traceback() {
    let run = run_program("def f(x):\n    return 1 / x\n\nif callfunc == 'initialize':\n    print('start')\n    f(0)\n");
    assert_eq!(run.status, Some(1), "{run:?}");
    assert_eq!(run.stdout, "start\n");
    let expected = "Traceback (most recent call last):\n  File \"prog.py\", line 6, in <module>\n    f(0)\n  File \"prog.py\", line 2, in f\n    return 1 / x\nZeroDivisionError: division by zero\n";
    assert_eq!(run.stderr, expected, "{run:?}");
}

#[test]
fn uncaught_exception_in_a_timer_ends_the_program_without_exit_run() {
    let run = run_program(
        "def bad():\n    raise ValueError('bad timer')\nif callfunc == 'initialize':\n    settimer(0, bad, [])\nelse:\n    print('exit run')\n",
    );
    assert_eq!(run.status, Some(1), "{run:?}");
    assert_eq!(run.stdout, "", "{run:?}");
    assert!(run.stderr.contains("line 2, in bad"), "{run:?}");
    assert!(run.stderr.ends_with("ValueError: bad timer\n"), "{run:?}");
}

#[test]
fn chained_exceptions_show_both_tracebacks() {
    let run = run_program("try:\n    {}['k']\nexcept KeyError as e:\n    raise RuntimeError('wrapped') from e\n");
    assert_eq!(run.status, Some(1), "{run:?}");
    assert!(run.stderr.contains("KeyError: 'k'\n\nThe above exception was the direct cause"), "{run:?}");
    assert!(run.stderr.ends_with("RuntimeError: wrapped\n"), "{run:?}");
}

#[test]
fn deep_recursion_raises_recursion_error_instead_of_crashing() {
    let run = run_program("def f(n):\n    return f(n + 1) + 1\nf(0)\n");
    assert_eq!(run.status, Some(1), "{run:?}");
    assert!(run.stderr.contains("RecursionError"), "{run:?}");
}

#[test]
fn recursion_in_a_timer_thread_raises_recursion_error_too() {
    let run = run_program("def f(n):\n    return f(n + 1) + 1\nif callfunc == 'initialize':\n    settimer(0, f, [0])\n");
    assert_eq!(run.status, Some(1), "{run:?}");
    assert!(run.stderr.contains("RecursionError"), "{run:?}");
}

#[test]
fn syntax_error_is_refused_before_anything_runs() {
    let run = run_program("print('ran')\nprint 'python 2'\n");
    assert_eq!(run.status, Some(3), "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.starts_with("prog.py:2:"), "{run:?}");
}

#[test]
fn unsafe_program_is_refused_with_status_three() {
    let run = run_program("print('ran')\nx = ().__class__\n");
    assert_eq!(run.status, Some(3), "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.starts_with("prog.py:2:8: "), "{run:?}");
}

#[test]
fn missing_program_is_a_usage_error() {
    let run = repy_in(std::path::Path::new("."), &["run", "/nonexistent/prog.py"]);
    assert_eq!(run.status, Some(2), "{run:?}");
    assert!(run.stderr.contains("/nonexistent/prog.py"), "{run:?}");
}

#[test]
fn unknown_option_is_a_usage_error() {
    let run = repy_in(std::path::Path::new("."), &["run", "--bogus", "x.py"]);
    assert_eq!(run.status, Some(2), "{run:?}");
}

#[test]
fn output_before_a_crash_is_never_lost() {
    let mut source = String::from("for i in range(2000):\n    print('line', i)\n");
    source.push_str("raise ValueError('end')\n");
    let run = run_program(&source);
    assert_eq!(run.status, Some(1));
    assert_eq!(run.stdout.lines().count(), 2000);
    assert!(run.stdout.ends_with("line 1999\n"));
}

#[test]
fn print_supports_sep_and_end_and_refuses_other_files() {
    let run = run_program("print('a', 1, [2], sep='-', end='!\\n')\nprint()\nprint('x', file=5)\n");
    assert_eq!(run.stdout, "a-1-[2]!\n\n", "{run:?}");
    assert!(run.stderr.contains("RepyArgumentError: print: file"), "{run:?}");
}

#[test]
fn logfile_keeps_output_in_a_circular_log() {
    let vessel = Vessel::new();
    let run = vessel.run("for i in range(3000):\n    print('line %d' % i)\n", &["--logfile", "out.log"], &[]);
    assert_eq!(run.status, Some(0), "{run:?}");
    let old = std::fs::read_to_string(vessel.path().join("out.log.old")).unwrap();
    let new = std::fs::read_to_string(vessel.path().join("out.log.new")).unwrap();
    let all = old + &new;
    assert!(all.ends_with("line 2999\n"));
    assert!(!all.contains("line 0\n"), "the log is bounded");
}

#[test]
fn vessel_directory_option_is_checked() {
    let vessel = Vessel::new();
    let run = vessel.run("print(1)\n", &["--cwd", "no-such-dir"], &[]);
    assert_eq!(run.status, Some(2), "{run:?}");
    assert!(run.stderr.contains("no-such-dir"), "{run:?}");
}

#[test]
fn a_program_can_come_from_a_pipe() {
    a_program_can_come_from_a_pipe_with(false);
}

/// Where the worker cannot be forked it is started again and handed the source.
#[test]
fn a_spawned_worker_runs_what_the_supervisor_checked() {
    a_program_can_come_from_a_pipe_with(true);
}

fn a_program_can_come_from_a_pipe_with(spawn: bool) {
    use std::io::Write;
    let mut command = common::repy();
    if spawn {
        command.env("REPY_SPAWN_WORKER", "1");
    }
    let mut child = command
        .args(["run", "/dev/stdin", "arg"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("repy starts");
    child.stdin.take().unwrap().write_all(b"print(callfunc, callargs)\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "initialize ['arg']\nexit ['arg']\n", "the worker runs what the supervisor read");
}

/// The worker must not outlive `repy run`, even when `repy run` is killed with SIGKILL and
/// cannot clean up (the node manager relies on this when it stops a vessel).
#[cfg(target_os = "linux")]
#[test]
fn a_killed_supervisor_leaves_no_worker_behind() {
    use std::io::{BufRead, BufReader};
    let vessel = Vessel::new();
    vessel.write("spin.py", "if callfunc == 'initialize':\n    print('running')\n    while True:\n        sleep(0.05)\n");
    let mut supervisor = common::repy()
        .args(["run", "spin.py"])
        .current_dir(vessel.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("repy starts");
    let mut first = String::new();
    BufReader::new(supervisor.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert_eq!(first, "running\n");
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", supervisor.id())).unwrap();
    let workers: Vec<i32> = children.split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert_eq!(workers.len(), 1, "one worker process: {children:?}");
    supervisor.kill().unwrap();
    supervisor.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    // Gone, or a zombie waiting to be reaped by init (state Z).
    let alive = || std::fs::read_to_string(format!("/proc/{}/stat", workers[0])).is_ok_and(|stat| !stat.contains(") Z "));
    while alive() {
        if std::time::Instant::now() > deadline {
            // SAFETY: signalling a process id. (Killed so the failing test does not hang on
            // the output pipe the orphan still holds.)
            unsafe { libc::kill(workers[0], libc::SIGKILL) };
            panic!("worker {} still ran after its supervisor was killed", workers[0]);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
