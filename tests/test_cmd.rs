//! `repy test` (cli.md): the project's own Repy test suite under tests/repy, and the
//! harness itself: pragmas, failures, timeouts, placeholders, vessels.

mod common;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use common::{repy_in, Run};

/// Writes `files` (name, text) into a new directory and runs `repy test ARGS...` there.
fn suite(files: &[(&str, &str)], args: &[&str]) -> (tempfile::TempDir, Run) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let mut all = vec!["test"];
    all.extend_from_slice(args);
    let run = repy_in(dir.path(), &all);
    (dir, run)
}

fn last_line(run: &Run) -> &str {
    run.stdout.lines().last().unwrap_or("")
}

#[test]
fn the_repy_test_suite_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = repy_in(root, &["test", "tests/repy"]);
    assert_eq!(run.status, Some(0), "{run:?}");
    let tests: Vec<String> = std::fs::read_dir(root.join("tests/repy"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ut_") && n.ends_with(".py"))
        .collect();
    assert!(tests.len() >= 15, "{tests:?}");
    for name in &tests {
        assert!(run.stdout.lines().any(|l| l == format!("PASS {name}")), "no PASS line for {name}: {run:?}");
    }
    assert_eq!(last_line(&run), format!("{} passed, 0 failed", tests.len()), "{run:?}");
}

#[test]
fn every_api_function_is_exercised_by_the_repy_suite() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/repy");
    let mut code = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "py") {
            code.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    for name in repy_api::exposed_names() {
        assert!(code.contains(&format!("{name}(")), "no test program calls {name}()");
    }
}

#[test]
fn passing_and_failing_tests_are_reported_with_the_differing_output() {
    let (_dir, run) = suite(
        &[
            ("ut_good.py", "#pragma out hello\nif callfunc == 'initialize':\n    print('well, hello there')\n"),
            ("ut_bad.py", "#pragma out expected text\nif callfunc == 'initialize':\n    print('actual text')\n"),
            ("helper.py", "print('not a test')\n"),
        ],
        &[],
    );
    assert_eq!(run.status, Some(1), "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "FAIL ut_bad.py: stdout has no line containing 'expected text'", "{run:?}");
    assert_eq!(lines[1], "  stdout:");
    assert_eq!(lines[2], "  | actual text");
    assert_eq!(lines[3], "PASS ut_good.py");
    assert_eq!(lines[4], "1 passed, 1 failed");
    assert_eq!(lines.len(), 5, "{run:?}");
}

#[test]
fn output_must_match_the_pragmas_exactly_as_the_spec_says() {
    let (_dir, run) = suite(
        &[
            // No pragma: silence and status 0 pass.
            ("ut_silent.py", "x = 1\n"),
            // No out pragma: any stdout fails.
            ("ut_chatty.py", "print('hi')\n"),
            // An empty out text allows any output.
            ("ut_any.py", "#pragma out\nprint('anything')\n"),
            // Texts in order, each on a later line.
            ("ut_order.py", "#pragma out two\n#pragma out one\nif callfunc == 'initialize':\n    print('one')\n    print('two')\n"),
            // No error pragma: a non-zero status fails even with silent stderr.
            ("ut_status.py", "#pragma repy\nraise ValueError('boom')\n"),
            // An error pragma accepts the traceback and status 1.
            ("ut_raises.py", "#pragma error ValueError: boom\nraise ValueError('boom')\n"),
            // Unknown pragma kinds are refused with their line.
            ("ut_typo.py", "x = 1\n#pragma outt hello\n"),
            // Two repy lines are refused.
            ("ut_tworepy.py", "#pragma repy a\n#pragma repy b\n"),
        ],
        &[],
    );
    assert_eq!(run.status, Some(1), "{run:?}");
    let has = |line: &str| run.stdout.lines().any(|l| l == line);
    let starts = |prefix: &str| run.stdout.lines().any(|l| l.starts_with(prefix));
    assert!(has("PASS ut_silent.py"), "{run:?}");
    assert!(has("FAIL ut_chatty.py: unexpected stdout (the test has no '#pragma out' line)"), "{run:?}");
    assert!(has("PASS ut_any.py"), "{run:?}");
    assert!(has("FAIL ut_order.py: stdout has no line containing 'one' after the line containing 'two'"), "{run:?}");
    assert!(starts("FAIL ut_status.py: exit status 1 (the test has no '#pragma error' line); unexpected stderr"), "{run:?}");
    assert!(run.stdout.contains("  | ValueError: boom"), "the traceback is shown: {run:?}");
    assert!(has("PASS ut_raises.py"), "{run:?}");
    assert!(has("FAIL ut_typo.py: bad pragma: line 2: unknown pragma 'outt' (expected repy, out or error)"), "{run:?}");
    assert!(has("FAIL ut_tworepy.py: bad pragma: line 2: a second '#pragma repy' line (the first is line 1)"), "{run:?}");
    assert_eq!(last_line(&run), "3 passed, 5 failed", "{run:?}");
}

#[test]
fn repy_pragma_gives_restrictions_and_arguments() {
    let restrictions = common::restrictions_with("resource events 2");
    let (_dir, run) = suite(
        &[
            ("few.restrictions", &restrictions),
            (
                "ut_restricted.py",
                "#pragma repy few.restrictions a b\n#pragma out args ['a', 'b']\n#pragma out refused\n\
                 def f():\n    pass\nif callfunc == 'initialize':\n    print('args', callargs)\n    settimer(5, f, [])\n\
                 \x20   try:\n        settimer(5, f, [])\n    except ResourceExhaustedError:\n        print('refused')\n    exitall()\n",
            ),
            // The first token names no file beside the test: it is an argument, on the default profile.
            (
                "ut_args.py",
                "#pragma repy x y\n#pragma out args ['x', 'y'] 2\ndef f():\n    pass\nif callfunc == 'initialize':\n\
                 \x20   settimer(5, f, [])\n    settimer(5, f, [])\n    print('args', callargs, 2)\n    exitall()\n",
            ),
            // A bad restrictions file stops the test before the program runs (status 2).
            ("broken.restrictions", "resauce events 10\n"),
            ("ut_broken.py", "#pragma repy broken.restrictions\n#pragma error line 1\nprint('never')\n"),
        ],
        &[],
    );
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(last_line(&run), "3 passed, 0 failed", "{run:?}");
}

#[test]
fn a_hanging_test_is_killed_after_the_timeout() {
    let started = Instant::now();
    let (_dir, run) = suite(
        &[
            // It holds a UDP port while it hangs: once killed, the port is free again.
            (
                "ut_hang.py",
                "#pragma out\nif callfunc == 'initialize':\n    recvmess('127.0.0.1', <port>, print)\n    print('started', <port>)\n    while True:\n        sleep(0.1)\n",
            ),
            ("ut_quick.py", "x = 1\n"),
        ],
        &["--timeout", "1.5"],
    );
    let elapsed = started.elapsed();
    assert_eq!(run.status, Some(1), "{run:?}");
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "FAIL ut_hang.py: timed out after 1.5 s (killed)", "{run:?}");
    let port: u16 = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("  | started "))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the output so far is shown: {run:?}"));
    std::net::UdpSocket::bind(("127.0.0.1", port)).expect("the killed test's processes are gone and its port is free");
    assert!(run.stdout.lines().any(|l| l == "PASS ut_quick.py"), "{run:?}");
    assert_eq!(last_line(&run), "1 passed, 1 failed");
}

#[test]
fn the_timeout_must_be_a_positive_number() {
    for bad in ["0", "-1", "soon"] {
        let (_dir, run) = suite(&[], &["--timeout", bad]);
        assert_eq!(run.status, Some(2), "{bad}: {run:?}");
        assert!(run.stderr.contains(&format!("'{bad}' is not a number of seconds greater than 0")), "{run:?}");
    }
}

#[test]
fn placeholders_become_the_same_free_ports_in_the_test_and_its_restrictions() {
    // Only the placeholder ports are allowed: the program can listen on them only if the
    // restrictions file got the same numbers.
    let restrictions: String = common::restrictions_with("")
        .lines()
        .filter(|l| !l.contains("messport") && !l.contains("connport"))
        .map(|l| format!("{l}\n"))
        .chain(["resource messport <port1>\n".into(), "resource connport <port2>\n".into()])
        .collect();
    let program = "#pragma repy net.restrictions <port2> <port>\n#pragma out ports <port> <port2>\n#pragma out ok\n\
                   def f(*args):\n    pass\n\
                   if callfunc == 'initialize':\n    print('ports', <port>, <port2>)\n\
                   \x20   assert <port> == <port1> and <port1> != <port2>\n\
                   \x20   assert callargs == [str(<port2>), str(<port1>)]\n\
                   \x20   stopcomm(recvmess('127.0.0.1', <port1>, f))\n    stopcomm(waitforconn('127.0.0.1', <port2>, f))\n\
                   \x20   try:\n        recvmess('127.0.0.1', <port2>, f)\n    except ResourceForbiddenError:\n        print('ok')\n";
    let (_dir, run) = suite(&[("net.restrictions", &restrictions), ("ut_ports.py", program)], &[]);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(last_line(&run), "1 passed, 0 failed", "{run:?}");

    // The substituted numbers are real ports, different in two tests run together.
    let show = "#pragma out x\nif callfunc == 'initialize':\n    print(<port>, <port2>)\n";
    let (_dir, run) = suite(&[("ut_a.py", show), ("ut_b.py", show)], &[]);
    let ports: Vec<u32> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  | "))
        .flat_map(|l| l.split_whitespace().map(|p| p.parse::<u32>().expect("a port number")))
        .collect();
    assert_eq!(ports.len(), 4, "{run:?}");
    assert!(ports.iter().all(|&p| (1024..=65535).contains(&p)), "{ports:?}");
    let distinct: std::collections::HashSet<_> = ports.iter().collect();
    assert_eq!(distinct.len(), 4, "{ports:?}");
}

#[test]
fn each_test_gets_its_own_vessel_with_copies_of_the_files_beside_it() {
    let program = "#pragma out files ['data.txt']\n#pragma out data 'original'\n\
                   if callfunc == 'initialize':\n    print('files', listdir())\n\
                   \x20   print('data', repr(open('data.txt').read()))\n\
                   \x20   f = open('data.txt', 'w')\n    f.write('changed')\n    f.close()\n";
    let (dir, run) = suite(
        &[("sub/data.txt", "original"), ("sub/ut_one.py", program), ("sub/ut_two.py", program), ("sub/deeper/ut_three.py", "x = 1\n")],
        &[],
    );
    assert_eq!(run.status, Some(0), "{run:?}");
    // Names are relative to the PATH argument, in order.
    assert_eq!(run.stdout, "PASS sub/deeper/ut_three.py\nPASS sub/ut_one.py\nPASS sub/ut_two.py\n3 passed, 0 failed\n");
    assert_eq!(std::fs::read_to_string(dir.path().join("sub/data.txt")).unwrap(), "original", "the original is untouched");

    // A PATH may also be a single test file, named by its file name.
    let run = repy_in(dir.path(), &["test", "sub/ut_one.py"]);
    assert_eq!(run.stdout, "PASS ut_one.py\n1 passed, 0 failed\n", "{run:?}");
}

#[test]
fn bad_paths_are_usage_errors() {
    let (_dir, run) = suite(&[("notes.txt", "x")], &["missing"]);
    assert_eq!(run.status, Some(2), "{run:?}");
    assert!(run.stderr.contains("cannot read test path 'missing'"), "{run:?}");
    let (_dir, run) = suite(&[("notes.txt", "x")], &["notes.txt"]);
    assert_eq!(run.status, Some(2), "{run:?}");
    assert!(run.stderr.contains("'notes.txt' is not a test program (test files are named ut_*.py)"), "{run:?}");
    // An empty directory is not an error, but it is said.
    let (_dir, run) = suite(&[("notes.txt", "x")], &[]);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(run.stdout, "0 passed, 0 failed\n");
    assert!(run.stderr.contains("no ut_*.py tests under '.'"), "{run:?}");
}

#[cfg(unix)]
#[test]
fn symbolic_links_to_directories_are_not_followed() {
    let (dir, _) = suite(&[("a/ut_one.py", "x = 1\n")], &["--help"]);
    std::os::unix::fs::symlink(dir.path().join("a"), dir.path().join("a/loop")).unwrap();
    let run = repy_in(dir.path(), &["test", "a"]);
    assert_eq!(run.stdout, "PASS ut_one.py\n1 passed, 0 failed\n", "{run:?}");
}

/// Two tests that can only pass together: each waits for the other over UDP on fixed ports.
/// Each registers before it sends and answers what it hears before it ends, so whichever
/// hears first, the other hears too.
#[test]
fn tests_run_in_parallel() {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        eprintln!("one core: tests run one at a time");
        return;
    }
    let free = || std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (a, b) = (free(), free());
    let side = |me: u16, peer: u16, says: &str| {
        format!(
            "#pragma out heard\n\
             def heard(ip, port, message, handle):\n    print('heard', message)\n\
             \x20   sendmess('127.0.0.1', {peer}, 'bye', '127.0.0.1', {me})\n    exitall()\n\
             def say():\n    sendmess('127.0.0.1', {peer}, '{says}', '127.0.0.1', {me})\n    settimer(0.1, say, [])\n\
             if callfunc == 'initialize':\n    recvmess('127.0.0.1', {me}, heard)\n    say()\n"
        )
    };
    let (_dir, run) = suite(&[("ut_a.py", &side(a, b, "ping")), ("ut_b.py", &side(b, a, "pong"))], &["--timeout", "20"]);
    assert_eq!(run.stdout, "PASS ut_a.py\nPASS ut_b.py\n2 passed, 0 failed\n", "{run:?}");
}
